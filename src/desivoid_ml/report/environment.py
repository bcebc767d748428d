"""Does the embedding see the environment? ROC AUC of void membership per algorithm from the
embedding, log M*, log M* + g-r and the run's raw inputs, on the run's own test split."""

from __future__ import annotations

import json

import numpy as np
import torch
from omegaconf import DictConfig
from psycopg import sql

from desivoid_ml.analysis.config import load_config
from desivoid_ml.analysis.environment_auc import compare_inputs
from desivoid_ml.analysis.regions import sky_regions
from desivoid_ml.analysis.resampling import JACKKNIFE, Resampling
from desivoid_ml.db.connection import Database
from desivoid_ml.models.autoencoder import AutoencoderModule
from desivoid_ml.report.sample import Sample
from desivoid_ml.runs import Run

ENVIRONMENT_MARKERS = ("in_void", "r_over_rvoid", "density", "vflag", "void_id")


def environment_inputs(model: AutoencoderModule, sample: Sample) -> dict[str, np.ndarray]:
    """The inputs compared: the embedding, log M*, log M* + g-r, and the model's own inputs
    (standardised, 0 where missing, plus the missing-value mask)."""
    z, mask = model.normalization.apply(torch.from_numpy(sample.features))
    return {
        "embedding": sample.codes.astype(np.float64),
        "logmstar": sample.logmstar[:, None].astype(np.float64),
        "logmstar_g_r": np.stack([sample.logmstar, sample.g_r], axis=1).astype(np.float64),
        "inputs": torch.cat([z, mask], dim=1).numpy().astype(np.float64),
    }


def environment_auc(
    model: AutoencoderModule, sample: Sample, intervals: DictConfig | None = None
) -> dict[str, dict]:
    """Per algorithm: AUCs with 95 % intervals, on galaxies of its sample with M* and g-r.
    Intervals as `desivoid analyze` makes them (configs/analysis.yaml: `intervals`,
    `bootstrap`), the sky regions drawn over the whole sample."""
    cfg = intervals if intervals is not None else load_config()
    region = None
    if cfg.intervals.method == JACKKNIFE:
        region = sky_regions(sample.ra, sample.dec, cfg.intervals.regions)
    inputs = environment_inputs(model, sample)
    known = np.isfinite(sample.logmstar) & np.isfinite(sample.g_r)
    results = {}
    for prefix, labels in sample.labels.items():
        rows = known & (labels >= 0)
        y = labels[rows].astype(int)
        resampling = Resampling(
            cfg.intervals.method,
            None if region is None else region[rows],
            cfg.bootstrap.resamples,
            cfg.bootstrap.seed,
        )
        results[prefix] = compare_inputs({k: x[rows] for k, x in inputs.items()}, y, resampling)
    return results


def environment_is_input(run: Run) -> list[str]:
    """Input features of the run that are environment columns (then the AUC is by construction)."""
    return [
        name
        for name, expr in run.features.items()
        if any(marker in f"{name} {expr}" for marker in ENVIRONMENT_MARKERS)
    ]


def auc_metrics(auc: dict[str, dict]) -> dict[str, float]:
    """Flat `env_auc/<alg>/<input>[_lo|_hi]` metrics for ml.runs.metrics."""
    flat: dict[str, float] = {}
    for prefix, result in auc.items():
        entries = dict(result.get("auc", {}))
        for extra in ("embedding_minus_logmstar", "embedding_share_of_inputs"):
            if extra in result:
                entries[extra] = result[extra]
        for name, (value, low, high) in entries.items():
            key = f"env_auc/{prefix}/{name}"
            flat.update({key: value, f"{key}_lo": low, f"{key}_hi": high})
    return flat


def merge_metrics(db: Database, run: Run, metrics: dict[str, float]) -> None:
    """Add these keys to the run's metrics jsonb (others kept)."""
    clean = {k: (v if np.isfinite(v) else None) for k, v in metrics.items()}
    with db.connect() as conn:
        conn.execute(
            sql.SQL("UPDATE {} SET metrics = metrics || %s::jsonb WHERE run_id = %s").format(
                sql.Identifier(db.ns.ml, "runs")
            ),
            (json.dumps(clean), run.run_id),
        )
