"""`desivoid analyze`: per algorithm and property, void vs wall medians, shifts and p-values.

Void and wall are `<prefix>_sample`; an algorithm without a void or a wall sample is one line and
no row. For VoidFinder the matched shift is also computed with the hole-surface galaxies in
neither sample (boundary_policy `exclude`) and stored beside the default one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from desivoid_ml.analysis.checks import check_analysable, missing_sample
from desivoid_ml.analysis.columns import COLUMNS
from desivoid_ml.analysis.config import algorithm_prefixes, controls_for
from desivoid_ml.analysis.figures import property_figure
from desivoid_ml.analysis.regions import sky_regions
from desivoid_ml.analysis.resampling import JACKKNIFE, Resampling
from desivoid_ml.analysis.sample import NEITHER, VOID, AnalysisData, load
from desivoid_ml.analysis.stats import Comparison, Distributions, compare
from desivoid_ml.analysis.store import write_files, write_table
from desivoid_ml.db.connection import Database

__all__ = ["COLUMNS", "AnalysisResult", "analyze"]
INTERVAL_FIELDS = ("interval_method", "regions", "resamples")
EXCLUDE_COLUMNS = {  # column -> field of the exclude comparison
    "n_void_exclude": "n_void_matched",
    "n_wall_exclude": "n_wall_matched",
    "matched_shift_exclude": "matched_shift",
    "matched_exclude_lo": "matched_lo",
    "matched_exclude_hi": "matched_hi",
}


@dataclass
class AnalysisResult:
    rows: list[dict]
    out: Path
    csv: Path
    json: Path
    figures: list[Path]
    galaxies: int
    skipped: list[str]  # one line per algorithm left out (no void or no wall sample)


def analyze(
    db: Database,
    cfg: DictConfig,
    out: Path,
    label: str = "analysis",
    log: Callable[[str], None] = lambda _: None,
) -> AnalysisResult:
    """Compute every (algorithm, property) comparison; write files, figures and ml.void_wall."""
    data = load(db, cfg)
    algorithms = _analysable(cfg, data)
    log(f"read {data.rows:,} galaxies in at least one void or wall sample")
    for line in skipped_lines(cfg, data):
        log(line)
    out.mkdir(parents=True, exist_ok=True)
    region = _regions(cfg, data)
    rows, figures = [], []
    for prop in cfg.properties:
        controls = controls_for(cfg, prop)
        figure = out / f"void_wall_{prop}.png"
        panels: dict[str, tuple[Distributions, str]] = {}
        for prefix, algorithm in algorithms.items():
            comparison, dist = _compare_one(cfg, data, region, data.labels[prefix], prop, controls)
            panels[algorithm] = (dist, " + ".join(controls))
            exclude = _exclude(cfg, data, region, prefix, prop, controls)
            rows.append(_row(label, algorithm, prop, controls, comparison, exclude, figure))
            log(
                f"{algorithm:>10} {prop:<10} matched shift {comparison.matched_shift:+.4f}"
                + _exclude_text(rows[-1])
            )
        property_figure(prop, panels, figure)
        figures.append(figure)
    csv_path, json_path = write_files(rows, out)
    write_table(db, rows)
    skipped = skipped_lines(cfg, data)
    return AnalysisResult(rows, out, csv_path, json_path, figures, data.rows, skipped)


def skipped_lines(cfg: DictConfig, data: AnalysisData) -> list[str]:
    """One line per algorithm left out for an empty void or wall sample."""
    lines = [missing_sample(name, *data.counts(p)) for p, name in algorithm_prefixes(cfg).items()]
    return [line for line in lines if line]


def _analysable(cfg: DictConfig, data: AnalysisData) -> dict[str, str]:
    """Algorithms with both samples; none is one line (nothing is written then)."""
    check_analysable(skipped_lines(cfg, data), len(cfg.algorithms))
    return {
        p: name
        for p, name in algorithm_prefixes(cfg).items()
        if missing_sample(name, *data.counts(p)) is None
    }


def _regions(cfg: DictConfig, data: AnalysisData) -> np.ndarray | None:
    """Sky region of every row read (the same regions for every algorithm), for the jackknife."""
    if cfg.intervals.method != JACKKNIFE:
        return None
    return sky_regions(data.columns["ra"], data.columns["dec"], cfg.intervals.regions)


def _exclude(cfg, data: AnalysisData, region, prefix: str, prop: str, controls: list[str]):
    """VoidFinder's comparison with hole-surface galaxies in neither sample; None otherwise."""
    if prefix != "vf" or data.on_boundary is None:
        return None
    labels = np.where(data.on_boundary, NEITHER, data.labels[prefix]).astype(np.int8)
    return _compare_one(cfg, data, region, labels, prop, controls)[0]


def _row(label, algorithm, prop, controls, comparison: Comparison, exclude, figure) -> dict:
    """One output row: the comparison, the exclude columns beside it, then how the intervals
    were made."""
    stats = comparison.as_dict()
    interval = {k: stats.pop(k) for k in INTERVAL_FIELDS}
    side = {
        column: None if exclude is None else getattr(exclude, field)
        for column, field in EXCLUDE_COLUMNS.items()
    }
    head = {"label": label, "algorithm": algorithm, "property": prop, "control": ",".join(controls)}
    return head | stats | side | interval | {"figure": str(figure)}


def _exclude_text(row: dict) -> str:
    value = row["matched_shift_exclude"]
    return "" if value is None else f", boundary galaxies excluded {value:+.4f}"


def _compare_one(cfg, data: AnalysisData, region, labels, prop: str, controls: list[str]):
    sample = labels >= 0
    values = data.columns[prop][sample]
    matrix = np.stack([data.columns[c][sample] for c in controls], axis=1)
    resampling = Resampling(
        cfg.intervals.method,
        None if region is None else region[sample],
        cfg.bootstrap.resamples,
        cfg.bootstrap.seed,
    )
    return compare(
        values.astype(np.float64),
        labels[sample] == VOID,
        matrix.astype(np.float64),
        cfg.control.bins,
        resampling,
        cfg.intervals.property_bins,
    )
