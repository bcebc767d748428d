"""`desivoid analyze` on the real SDSS galaxies and the VAST toolkit's own void catalogs
(tests/data/real): it reads the toolkit's samples, leaves out ZOBOV (no in-volume wall galaxy),
puts the hole-surface comparison beside VoidFinder's, and recovers an effect planted on the
void samples within 3 jackknife sigma over the real sky."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from omegaconf import OmegaConf
from psycopg import sql

from desivoid_ml.analysis.config import load_config as analysis_config
from desivoid_ml.analysis.run import analyze
from desivoid_ml.features.build import build
from desivoid_ml.features.config import load_config
from desivoid_ml.ingest.config import IngestOptions
from desivoid_ml.ingest.runner import ingest

PLANT = {"plant_vf": -0.08, "plant_vide": 0.06}  # void - wall at fixed mass and redshift


def _as_fastspec(real_fits: Path, out: Path, logmstar: np.ndarray) -> Path:
    """The 10k VAST test galaxies in FastSpecFit's layout, TARGETID = input row."""
    galaxies = Table.read(real_fits / "vast-test-galaxies-10k.fits")
    n = len(galaxies)
    ids = [
        fits.Column("TARGETID", "K", array=np.arange(n)),
        fits.Column("SURVEY", "4A", array=np.full(n, "main")),
        fits.Column("PROGRAM", "6A", array=np.full(n, "bright")),
        fits.Column("HEALPIX", "J", array=np.zeros(n, dtype=np.int32)),
    ]
    meta = ids + [
        fits.Column(name.upper(), "D", array=np.asarray(galaxies[name], dtype=np.float64))
        for name in ("ra", "dec", "z")
    ]
    specphot = [fits.Column(c.name, c.format, array=c.array) for c in ids] + [
        fits.Column("LOGMSTAR", "E", array=logmstar.astype(np.float32)),
        fits.Column("LOGMSTAR_IVAR", "E", array=np.ones(n, dtype=np.float32)),
    ]
    fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.BinTableHDU.from_columns(meta, name="METADATA"),
            fits.BinTableHDU.from_columns(specphot, name="SPECPHOT"),
        ]
    ).writeto(out)
    return out


def _truth(real_fits: Path) -> dict[str, np.ndarray]:
    """The toolkit's samples per input row: 1 void, 0 wall, -1 neither."""
    vf = Table.read(real_fits / "voids" / "TEST10K_VoidFinder_membership.fits")
    out = {"vf": np.select([vf["vflag"] == 1, vf["vflag"] == 0], [1, 0], -1)}
    for name in ("VIDE", "ZOBOV"):
        t = Table.read(real_fits / "voids" / f"TEST10K_V2_{name}_membership.fits")
        inside = (np.asarray(t["zone"]) >= 0) & (np.asarray(t["out"]) == 0)
        out[name.lower()] = np.where(inside, (np.asarray(t["in_void"]) == 1).astype(int), -1)
    return out


def _stored_void(db, prefix: str, n: int) -> np.ndarray:
    """Rows (by TARGETID = input row) whose <prefix>_sample is 'void' in features.galaxy."""
    with db.connect() as conn:
        ids = conn.execute(
            sql.SQL("SELECT targetid FROM {} WHERE {} = 'void'").format(
                sql.Identifier(db.ns.features, "galaxy"), sql.Identifier(f"{prefix}_sample")
            )
        ).fetchall()
    void = np.zeros(n, dtype=bool)
    void[[i for (i,) in ids]] = True
    return void


def _plant(db, logmstar: np.ndarray, z: np.ndarray) -> None:
    """Columns plant_vf / plant_vide: a colour-like property following mass and redshift, plus
    the planted offset for the void galaxies of that algorithm (its stored sample: for VIDE the
    toolkit's own, see the first test)."""
    rng = np.random.default_rng(11)
    table = sql.Identifier(db.ns.features, "galaxy")
    for column, effect in PLANT.items():
        void = _stored_void(db, column.removeprefix("plant_"), len(z))
        value = 0.3 * (logmstar - 10) + 2 * z + rng.normal(0, 0.1, len(z)) + effect * void
        with db.connect() as conn:
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} double precision").format(
                    table, sql.Identifier(column)
                )
            )
            conn.execute(
                sql.SQL(
                    "UPDATE {} g SET {} = v.value FROM unnest(%s::bigint[], %s::float8[]) "
                    "AS v(targetid, value) WHERE g.targetid = v.targetid"
                ).format(table, sql.Identifier(column)),
                (list(range(len(z))), value.tolist()),
            )


@pytest.fixture(scope="module")
def real(module_db, real_fits: Path, tmp_path_factory):
    db = module_db
    z = np.asarray(Table.read(real_fits / "vast-test-galaxies-10k.fits")["z"], dtype=float)
    logmstar = np.random.default_rng(3).normal(10.3, 0.5, len(z))
    galaxies = _as_fastspec(real_fits, tmp_path_factory.mktemp("sdss") / "sdss.fits", logmstar)
    voids = sorted((real_fits / "voids").glob("TEST10K_*[!p].fits"))
    ingest(db, [galaxies, *voids], IngestOptions([]))
    cfg = load_config()
    cfg.properties = OmegaConf.create(
        {name: {"value": name} for name in ("ra", "dec", "z", "logmstar")}
    )
    build(db, cfg)
    _plant(db, logmstar, z)
    out = tmp_path_factory.mktemp("analysis")
    lines: list[str] = []
    overrides = [
        "algorithms=[VoidFinder,VIDE,ZOBOV]",
        f"properties=[{','.join(PLANT)}]",
        "sample=all",
        "control.match=[logmstar,z]",
    ]
    result = analyze(db, analysis_config(overrides), out, log=lines.append)
    return result, lines, _truth(real_fits), db


def _stored_counts(db, prefix: str) -> tuple[int, int]:
    with db.connect() as conn:
        return conn.execute(
            sql.SQL(
                "SELECT count(*) FILTER (WHERE {0} = 'void'), "
                "count(*) FILTER (WHERE {0} = 'wall') FROM {1}"
            ).format(sql.Identifier(f"{prefix}_sample"), sql.Identifier(db.ns.features, "galaxy"))
        ).fetchone()


def test_samples_are_the_stored_ones_and_the_toolkits(real) -> None:
    """analyze counts exactly what <prefix>_sample holds, and that is the toolkit's own split:
    V2 in-volume void / wall exactly, VoidFinder vflag 1 / 0 to within 0.1 % of the 10,000 rows
    (row for row is the features' test, tests/test_samples_real.py)."""
    result, _, truth, db = real
    rows = {(r["algorithm"], r["property"]): r for r in result.rows}
    vide = rows["VIDE", "plant_vide"]
    toolkit = ((truth["vide"] == 1).sum(), (truth["vide"] == 0).sum())
    assert (vide["n_void"], vide["n_wall"]) == toolkit == _stored_counts(db, "vide")
    vf = rows["VoidFinder", "plant_vf"]
    assert (vf["n_void"], vf["n_wall"]) == _stored_counts(db, "vf")
    toolkit = ((truth["vf"] == 1).sum(), (truth["vf"] == 0).sum())  # vflag 1 and 0
    assert abs(vf["n_void"] - toolkit[0]) + abs(vf["n_wall"] - toolkit[1]) <= 10, (vf, toolkit)


def test_zobov_without_in_volume_walls_is_one_line_and_no_row(real) -> None:
    result, lines, _, _ = real
    line = "ZOBOV: every in-volume galaxy is in a void; no wall sample"
    assert result.skipped == [line] and line in lines
    assert {r["algorithm"] for r in result.rows} == {"VoidFinder", "VIDE"}


def test_planted_effects_recovered_within_three_jackknife_sigma(real) -> None:
    result, _, _, _ = real
    for row in result.rows:
        algorithm = {"VoidFinder": "vf", "VIDE": "vide"}[row["algorithm"]]
        if row["property"] != f"plant_{algorithm}":
            continue
        assert row["interval_method"] == "jackknife" and row["regions"] >= 50, row
        sigma = (row["matched_hi"] - row["matched_lo"]) / 2
        effect = PLANT[row["property"]]
        assert abs(row["matched_shift"] - effect) < 3 * sigma, row
        assert sigma < abs(effect) / 3, row  # detected, not merely consistent


def test_voidfinder_hole_surfaces_get_their_own_matched_shift(real) -> None:
    """About one VoidFinder galaxy in five sits on a hole surface in the real catalog."""
    result, _, _, _ = real
    vf = next(r for r in result.rows if r["algorithm"] == "VoidFinder")
    vide = next(r for r in result.rows if r["algorithm"] == "VIDE")
    excluded = (
        vf["n_void_matched"] + vf["n_wall_matched"] - vf["n_void_exclude"] - vf["n_wall_exclude"]
    )
    assert excluded > 0.05 * (vf["n_void_matched"] + vf["n_wall_matched"]), vf
    sigma = (vf["matched_exclude_hi"] - vf["matched_exclude_lo"]) / 2
    assert abs(vf["matched_shift_exclude"] - PLANT["plant_vf"]) < 3 * sigma + 0.01, vf
    assert vide["matched_shift_exclude"] is None
