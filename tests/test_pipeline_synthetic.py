"""End to end on synthetic DR1-like catalogs: the science the later stages rely on holds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from psycopg import sql
from trainconfig import CONFIGS

from desivoid_ml.embed.inference import embed
from desivoid_ml.embed.report import environment_auc, load_sample
from desivoid_ml.embed.runs import get_run
from desivoid_ml.features.build import build
from desivoid_ml.features.config import load_config
from desivoid_ml.ingest.config import load_options
from desivoid_ml.ingest.runner import ingest
from desivoid_ml.ingest.validate import run_checks
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


def test_planted_environment_effect_is_recovered(pipeline) -> None:
    with pipeline.connect() as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT z, logmstar, g_r, vf_in_void FROM {} "
                "WHERE is_galaxy AND logmstar IS NOT NULL "
                "AND g_r IS NOT NULL AND logmstar BETWEEN 6 AND 13 AND vf_vflag IN (0, 1, 2)"
            ).format(sql.Identifier(pipeline.ns.features, "galaxy"))
        ).fetchall()
    z, mass, colour, void = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    for values, planted in ((mass, PLANTED.delta_logmstar), (colour, PLANTED.delta_gr)):
        offset, error = _offset_at_fixed_redshift(z, values, void.astype(bool))
        assert abs(offset - planted) < 3 * error + 0.02, (offset, error, planted)
        assert offset < 0 and error < abs(planted) / 3


def _offset_at_fixed_redshift(z, values, void, bins: int = 8) -> tuple[float, float]:
    """Void-minus-wall mean difference in redshift bins, inverse-variance averaged."""
    edges = np.quantile(z, np.linspace(0, 1, bins + 1))
    diffs, variances = [], []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (z >= low) & (z < high)
        a, b = values[inside & void], values[inside & ~void]
        if len(a) > 20 and len(b) > 20:
            diffs.append(a.mean() - b.mean())
            variances.append(a.var() / len(a) + b.var() / len(b))
    weights = 1 / np.array(variances)
    return float(np.sum(weights * diffs) / weights.sum()), float(np.sqrt(1 / weights.sum()))


@pytest.fixture(scope="module")
def trained(pipeline, tmp_path_factory):
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    out = tmp_path_factory.mktemp("train")
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "train",
            return_hydra_config=True,
            overrides=[
                "experiment=ae16",
                f"db.dsn='{pipeline.dsn}'",
                f"db.namespace={pipeline.ns.prefix}",
                "trainer.max_epochs=10",
                "test=false",
            ],
        )
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        cfg.trainer.enable_progress_bar = False
        del cfg.hydra
    train(cfg)
    return pipeline


def test_autoencoder_beats_pca_by_a_fifth(trained) -> None:
    metrics = get_run(trained, "latest").metrics
    assert math.isfinite(metrics["val/recon_mse_best"])
    assert metrics["val/recon_mse_best"] < 0.8 * metrics["val/pca_recon_mse"], metrics


def test_embedding_predicts_void_membership_better_than_mass(trained) -> None:
    embed(trained, "latest")
    auc = environment_auc(load_sample(trained, get_run(trained, "latest")))
    assert auc["n_test"] > 1000
    assert auc["auc_embedding"] > auc["auc_logmstar"] + 0.1, auc
