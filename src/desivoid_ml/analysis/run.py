"""`desivoid analyze`: per algorithm and property, void vs wall medians, shifts and p-values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from desivoid_ml.analysis.config import algorithm_prefixes, controls_for
from desivoid_ml.analysis.figures import property_figure
from desivoid_ml.analysis.sample import AnalysisData, load
from desivoid_ml.analysis.stats import Bootstrap, Distributions, compare
from desivoid_ml.analysis.store import write_files, write_table
from desivoid_ml.db.connection import Database

# What each output column means (shown by `desivoid analyze --help` and in the README).
COLUMNS = {
    "label": "run id, or 'analysis' (the reports/ folder of this output)",
    "algorithm": "void finder: VoidFinder, VIDE, ZOBOV or REVOLVER (NGC + SGC), or consensus",
    "property": "galaxy property (column of features.galaxy)",
    "control": "control variables of the matched shift",
    "n_void": "galaxies of the algorithm's input sample inside its voids, property known",
    "n_wall": "the same sample outside voids",
    "median_void": "median of the property over void galaxies",
    "median_wall": "median over wall galaxies",
    "shift": "median_void - median_wall (raw: mixes in the voids' fainter, lower-mass mix)",
    "shift_lo": "16th percentile of the shift (bootstrap; with shift_hi a 68 % interval)",
    "shift_hi": "84th percentile of the shift",
    "ks_p": "two-sample Kolmogorov-Smirnov p-value, void vs wall",
    "ad_p": "k-sample Anderson-Darling p-value (scipy clips it to [0.001, 0.25])",
    "n_void_matched": "void galaxies in control cells that hold wall galaxies",
    "n_wall_matched": "wall galaxies in control cells that hold void galaxies",
    "median_wall_matched": "weighted median of the wall reweighted to the voids' control mix",
    "matched_shift": "median_void (matched) - median_wall_matched: the shift at fixed controls",
    "matched_lo": "16th percentile of the matched shift (bootstrap)",
    "matched_hi": "84th percentile of the matched shift",
    "figure": "PNG of the void / wall / matched-wall distributions",
}


@dataclass
class AnalysisResult:
    rows: list[dict]
    out: Path
    csv: Path
    json: Path
    figures: list[Path]
    galaxies: int


def analyze(
    db: Database,
    cfg: DictConfig,
    out: Path,
    label: str = "analysis",
    log: Callable[[str], None] = lambda _: None,
) -> AnalysisResult:
    """Compute every (algorithm, property) comparison; write files, figures and ml.void_wall."""
    data = load(db, cfg)
    log(f"read {data.rows:,} galaxies in at least one analysis sample")
    out.mkdir(parents=True, exist_ok=True)
    boot = Bootstrap(**cfg.bootstrap)
    rows, figures = [], []
    for prop in cfg.properties:
        controls = controls_for(cfg, prop)
        figure = out / f"void_wall_{prop}.png"
        panels: dict[str, tuple[Distributions, str]] = {}
        for prefix, algorithm in algorithm_prefixes(cfg).items():
            comparison, dist = _compare_one(data, prefix, prop, controls, cfg.control.bins, boot)
            panels[algorithm] = (dist, " + ".join(controls))
            rows.append(
                {
                    "label": label,
                    "algorithm": algorithm,
                    "property": prop,
                    "control": ",".join(controls),
                    **comparison.as_dict(),
                    "figure": str(figure),
                }
            )
            log(f"{algorithm:>10} {prop:<10} matched shift {comparison.matched_shift:+.4f}")
        property_figure(prop, panels, figure)
        figures.append(figure)
    csv_path, json_path = write_files(rows, out)
    write_table(db, rows)
    return AnalysisResult(rows, out, csv_path, json_path, figures, data.rows)


def _compare_one(data: AnalysisData, prefix: str, prop: str, controls: list[str], bins, boot):
    sample = data.in_input[prefix]
    values = data.columns[prop][sample]
    void = data.in_void[prefix][sample]
    matrix = np.stack([data.columns[c][sample] for c in controls], axis=1)
    return compare(values.astype(np.float64), void, matrix.astype(np.float64), bins, boot)
