"""End to end on synthetic DR1-like catalogs: the science the later stages rely on holds."""

from __future__ import annotations

import json
import math

import pytest
from trainconfig import CONFIGS, compose_train

from desivoid_ml.analysis.config import load_config as analysis_config
from desivoid_ml.analysis.run import analyze
from desivoid_ml.embed.inference import embed
from desivoid_ml.features.build import build
from desivoid_ml.features.config import load_config
from desivoid_ml.ingest.config import load_options
from desivoid_ml.ingest.runner import ingest
from desivoid_ml.ingest.validate import run_checks
from desivoid_ml.report.environment import environment_is_input
from desivoid_ml.report.page import write_report
from desivoid_ml.runs import get_run, list_runs
from desivoid_ml.synth import PLANTED, write_catalogs
from desivoid_ml.training import train

GALAXIES = 20_000


@pytest.fixture(scope="module")
def pipeline(module_db, tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    write_catalogs(raw, GALAXIES, seed=7)
    ingest(module_db, [raw], load_options())
    build(module_db, load_config())
    return module_db


def test_validation_passes(pipeline) -> None:
    failed = [c for c in run_checks(pipeline) if not c.passed]
    assert failed == []


def _train(db, experiment: str, out) -> None:
    cfg = compose_train(
        db,
        out,
        [
            f"experiment={experiment}",
            "trainer.max_epochs=10",
            "test=false",
            # a larger test split: the environment AUCs are scored on it, and VoidFinder's
            # volume-limited sample keeps a few hundred of these 20k galaxies per 10 %
            "data.fractions={train:0.6,val:0.1,test:0.3}",
        ],
    )
    train(cfg)


@pytest.fixture(scope="module")
def trained(pipeline, tmp_path_factory):
    """ae8, then ae16 (the newest run): both on galaxy properties only."""
    for experiment in ("ae8", "ae16"):
        _train(pipeline, experiment, tmp_path_factory.mktemp(experiment))
    return pipeline


def test_autoencoder_beats_pca_by_a_fifth(trained) -> None:
    """At 8-d (16 properties: ae16 has no bottleneck, PCA with 16 components is exact)."""
    run = next(r for r in list_runs(trained) if r.code_dim == 8)
    metrics = run.metrics
    assert math.isfinite(metrics["val/recon_mse_best"])
    assert metrics["val/recon_mse_best"] < 0.8 * metrics["val/pca_recon_mse"], metrics


def test_analyze_recovers_the_planted_shifts_at_fixed_redshift_and_luminosity(
    pipeline, tmp_path
) -> None:
    """The plant is defined at fixed redshift and luminosity: match on exactly those. It is
    recovered within 3 jackknife sigma by the default samples and, beside them, with the
    hole-surface galaxies left out (the synthetic surface galaxies sit just outside their holes,
    so neither depends on float rounding)."""
    cfg = analysis_config(
        [
            "algorithms=[VoidFinder]",
            "properties=[g_r,log_ssfr,logmstar]",
            "control.match=[z,abs_mag_r]",
        ]
    )
    rows = {r["property"]: r for r in analyze(pipeline, cfg, tmp_path).rows}
    planted = {
        "g_r": PLANTED.delta_gr,
        "log_ssfr": PLANTED.delta_log_ssfr,
        "logmstar": PLANTED.delta_logmstar,
    }
    for prop, effect in planted.items():
        row = rows[prop]
        assert row["interval_method"] == "jackknife" and row["regions"] >= 50, row
        assert row["control"] == "z,abs_mag_r" and row["n_void_exclude"] > 500
        for shift, low, high in (
            ("matched_shift", "matched_lo", "matched_hi"),
            ("matched_shift_exclude", "matched_exclude_lo", "matched_exclude_hi"),
        ):
            sigma = (row[high] - row[low]) / 2
            assert abs(row[shift] - effect) < 3 * sigma, (prop, shift, row)
            if prop != "log_ssfr":  # a bimodal property's median jumps between the modes
                assert sigma < abs(effect) / 3, (prop, shift, sigma)  # detected beyond 3 sigma


@pytest.fixture(scope="module")
def reported(trained, tmp_path_factory):
    """ae16 (properties only) embedded, analyze run with defaults, then the report."""
    out = tmp_path_factory.mktemp("reports")
    embed(trained, "latest")
    analyze(trained, analysis_config(["bootstrap.resamples=100"]), out / "analysis")
    page = write_report(trained, "latest", out)
    return trained, page


def test_embedding_sees_environment_it_was_not_given(reported) -> None:
    """On the run's own test split: embedding beats log M* (interval of the difference above 0)
    and keeps >= 95 % of the raw inputs' AUC above 0.5."""
    db, page = reported
    run = get_run(db, "latest")
    assert environment_is_input(run) == []
    auc = json.loads((page.parent / "summary.json").read_text())["environment_auc"]["vf"]
    assert auc["n"] > 500  # VoidFinder void + wall (vflag 1 or 0) in the 30 % test split
    difference, low, _ = auc["embedding_minus_logmstar"]
    assert low > 0, auc
    embedding, inputs = auc["auc"]["embedding"][0], auc["auc"]["inputs"][0]
    assert embedding - 0.5 >= 0.95 * (inputs - 0.5), auc
    assert run.metrics["env_auc/vf/embedding_lo"] == pytest.approx(auc["auc"]["embedding"][1])


def test_report_shows_the_void_wall_table_and_split(reported) -> None:
    _, page = reported
    text = page.read_text()
    assert "Void vs wall galaxies" in text and "matched shift [68 %]" in text
    for algorithm in ("VoidFinder", "VIDE", "ZOBOV", "REVOLVER"):
        assert f"<td>{algorithm}</td><td>g_r</td>" in text
    assert (page.parent / "void_wall_g_r.png").stat().st_size > 10_000
    assert "<b>test split</b>" in text and "raw inputs (ceiling)" in text


def test_feature_sets_keep_properties_and_environment_apart() -> None:
    from hydra import compose, initialize_config_dir

    def features(*overrides: str) -> dict:
        with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
            return dict(compose("train", overrides=list(overrides)).data.features)

    properties, environment = features("experiment=ae16"), features("data/feature_set=environment")
    assert properties == features()  # the default set
    assert features("experiment=ae16_env") == {**properties, **environment}
    distance_or_environment = ("void", "density", "flux", "kcorr")
    assert "z" not in properties
    assert not [n for n in properties if any(m in n for m in distance_or_environment)]
