"""The primary configs (features, ingest, analysis): composed one way, typed by their dataclass
schemas, and every bad value stopped with one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from fitsfactory import fastspec_like
from omegaconf import OmegaConf
from psycopg import sql

from desivoid_ml.analysis.config import AnalysisConfig
from desivoid_ml.analysis.config import load_config as analysis_config
from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.config import FeaturesConfig
from desivoid_ml.features.config import load_config as features_config
from desivoid_ml.ingest.config import IngestOptions, load_options
from desivoid_ml.settings import compose_config, config_dir


def test_the_primary_configs_sit_side_by_side_and_are_typed() -> None:
    names = {p.stem for p in config_dir().glob("*.yaml")}
    assert {"train", "features", "ingest", "analysis"} <= names
    assert not any((config_dir() / group).exists() for group in ("features", "ingest", "analysis"))
    assert OmegaConf.get_type(features_config()) is FeaturesConfig
    assert OmegaConf.get_type(analysis_config()) is AnalysisConfig
    options = load_options()
    assert isinstance(options, IngestOptions) and "HALPHA_FLUX" in options.fastspec_columns


def test_overrides_reach_every_config() -> None:
    cfg = features_config(["density.k=7", "voidfinder.boundary_policy=toolkit"])
    assert cfg.density.k == 7 and cfg.voidfinder.boundary_policy == "toolkit"
    added = features_config(["+properties.twice_z={value: 2 * z}"])
    assert added.properties.twice_z.value == "2 * z" and "ra" in added.properties
    assert analysis_config(["bootstrap.resamples=50"]).bootstrap.resamples == 50
    assert load_options(overrides=["chunk_rows=5000"]).chunk_rows == 5000


@pytest.mark.parametrize(
    ("load", "override", "message"),
    [
        (features_config, "density.kk=3", "features config density.kk: Key 'kk' not in"),
        (features_config, "+density.kk=3", "features config density.kk: Key 'kk' not in"),
        (features_config, "+properties.g={value: g, vaild: x}", "properties.g=.*takes only"),
        (analysis_config, "bootstrap.seeds=1", "analysis config bootstrap.seeds: Key 'seeds'"),
        (load_options, "+chunk_row=5", "ingest config chunk_row: Key 'chunk_row' not in"),
    ],
)
def test_unknown_keys_are_rejected(load, override: str, message: str) -> None:
    with pytest.raises(DesivoidError, match=message):
        load(overrides=[override]) if load is load_options else load([override])


@pytest.mark.parametrize(
    ("load", "override", "message"),
    [
        (features_config, "density.k=abc", "features config density.k='abc': Value 'abc'"),
        (features_config, "density.omegam=x", "features config density.omegam='x'"),
        (analysis_config, "control.bins=many", "analysis config control.bins='many'"),
        (load_options, "chunk_rows=lots", "ingest config chunk_rows='lots'"),
    ],
)
def test_wrong_types_are_rejected(load, override: str, message: str) -> None:
    with pytest.raises(DesivoidError, match=message):
        load(overrides=[override]) if load is load_options else load([override])


@pytest.mark.parametrize(
    ("load", "override", "message"),
    [
        (features_config, "density.k=0", r"features config density.k=0: must be an integer >= 1"),
        (features_config, "density.omegam=2", r"density.omegam=2.0: must be in \(0, 1\]"),
        (features_config, "voidfinder.boundary_policy=maybe", "boundary_policy='maybe': must be"),
        (features_config, "void_catalogs.omegam=0", r"void_catalogs.omegam=0.0: must be null"),
        (features_config, "v2.position_tolerance_mpch=0", "position_tolerance_mpch=0.0: must"),
        (features_config, "+properties.g={valid: x}", "properties.g=.*has no `value`"),
        (features_config, "properties.logmstar.range=[13,6]", "logmstar.range=.*low < high"),
        (features_config, "sample_z.max=0", r"sample_z.min=0.01: must be >= 0 and below"),
        (analysis_config, "algorithms=[VoidFinder,Voids]", "unknown algorithm 'Voids'"),
        (analysis_config, "algorithms=[]", r"analysis config algorithms=\[\]: is empty"),
        (analysis_config, "properties=[]", r"analysis config properties=\[\]: is empty"),
        (analysis_config, "bootstrap.resamples=5", "bootstrap.resamples=5: must be an integer"),
        (analysis_config, "properties=[g_r,z]", "'z' is among its own control variables"),
        (load_options, "chunk_rows=0", "ingest config chunk_rows=0: must be an integer >= 1"),
    ],
)
def test_range_and_choice_rules_are_named(load, override: str, message: str) -> None:
    with pytest.raises(DesivoidError, match=message) as error:
        load(overrides=[override]) if load is load_options else load([override])
    assert "\n" not in str(error.value)


def test_a_bad_override_and_a_missing_file_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(DesivoidError, match="features config error: Error parsing override"):
        features_config(["density.k=="])
    with pytest.raises(DesivoidError, match="nothing.yaml not found"):
        compose_config("nothing")
    with pytest.raises(DesivoidError, match="ingest config not found; pass --config"):
        load_options(tmp_path / "absent.yaml")


def test_an_ingest_config_file_is_composed_and_checked(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("fastspec_columns: [HALPHA_*]\nchunk_rows: 700\n")  # names no schema
    assert load_options(mine) == IngestOptions(["HALPHA_*"], 700)
    assert load_options(mine, ["chunk_rows=9"]).chunk_rows == 9
    mine.write_text("fastspec_columns: [HALPHA_*]\nchunk_row: 700\n")
    with pytest.raises(DesivoidError, match=r"config .*mine.yaml chunk_row: Key 'chunk_row'"):
        load_options(mine)
    mine.write_text("fastspec_columns: HALPHA_*\n")
    with pytest.raises(DesivoidError, match="mine.yaml fastspec_columns='HALPHA_\\*'"):
        load_options(mine)


def test_desivoid_ingest_takes_a_config_file_and_overrides(db, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from desivoid_ml.cli import app

    fits_file = fastspec_like(tmp_path / "f.fits", n=30, extra_fastspec=True)
    mine = tmp_path / "only_flux.yaml"
    mine.write_text("defaults: [ingest_schema, _self_]\nfastspec_columns: [HALPHA_FLUX]\n")
    env = {"DESIVOID_NAMESPACE": db.ns.prefix}
    args = ["ingest", str(fits_file), "--config", str(mine)]
    bad = CliRunner().invoke(app, [*args, "chunk_rows=0"], env=env)  # main() prints it, exit 2
    assert isinstance(bad.exception, DesivoidError)
    assert f"config {mine} chunk_rows=0: must be an integer >= 1" == str(bad.exception)
    nothing = CliRunner().invoke(app, ["ingest", "chunk_rows=7"], env=env)
    assert "no FITS file or folder given" in str(nothing.exception)
    good = CliRunner().invoke(app, [*args, "chunk_rows=7"], env=env)
    assert good.exit_code == 0, good.output
    with db.connect() as conn:
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = 'galaxies'",
                (db.ns.raw,),
            )
        }
        rows = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(db.ns.raw, "galaxies"))
        ).fetchone()[0]
    assert rows == 30 and "halpha_flux" in columns
    assert not {"halpha_flux_ivar", "hbeta_flux"} & columns


def test_training_reads_the_same_config_root(tmp_path) -> None:
    """DESIVOID_CONFIG_DIR moves training's configs too, not only features/ingest/analysis."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "DESIVOID_CONFIG_DIR": str(tmp_path)}
    code = "from desivoid_ml import train_command, settings; print(train_command.CONFIGS)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == str(tmp_path.resolve())
