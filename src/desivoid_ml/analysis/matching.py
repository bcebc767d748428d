"""The matched shift: the wall sample reweighted to the void sample's mix of control variables.

Void and wall galaxies are binned in quantile cells of every control variable; a wall galaxy
weighs (void count / wall count) of its cell, and cells without wall galaxies drop their void
galaxies. Replicates for the interval work on (cell x property bin) count tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desivoid_ml.analysis.medians import bin_of, histogram_median, weighted_median
from desivoid_ml.analysis.resampling import Resampling


@dataclass(frozen=True)
class Matched:
    n_void: int
    n_wall: int
    median_wall: float
    shift: float
    low: float
    high: float
    wall_rows: np.ndarray  # bool, the wall galaxies that carry weight
    wall_weights: np.ndarray  # their weights


def control_cells(controls: np.ndarray, bins: int) -> np.ndarray:
    """Cell number of each row: quantile bins of every control variable, combined."""
    cell = np.zeros(len(controls), dtype=np.int64)
    for column in controls.T:
        edges = np.unique(np.quantile(column, np.linspace(0.0, 1.0, bins + 1)))
        cell = cell * bins + bin_of(column, edges)
    return cell


def matched_shift(
    values: np.ndarray,
    void_rows: np.ndarray,
    wall_rows: np.ndarray,
    cells: np.ndarray,
    pbin: np.ndarray,
    edges: np.ndarray,
    resampling: Resampling,
) -> Matched:
    """Exact matched medians and shift; the interval from replicated count tables. Rows are
    boolean masks over all rows; `cells` and `pbin` hold every row's cell and property bin."""
    nb = len(edges) - 1
    n_cells = int(cells.max()) + 1 if len(cells) else 1
    entry = np.maximum(cells, 0) * nb + pbin
    size = n_cells * nb
    tv = np.bincount(entry[void_rows], minlength=size).reshape(n_cells, nb).astype(float)
    tw = np.bincount(entry[wall_rows], minlength=size).reshape(n_cells, nb).astype(float)
    cv, cw = tv.sum(axis=1), tw.sum(axis=1)
    keep_cell = (cv > 0) & (cw > 0)
    ratio = np.where(keep_cell, cv / np.maximum(cw, 1), 0.0)
    cell = np.maximum(cells, 0)
    kept_void = void_rows & keep_cell[cell]
    kept_wall = wall_rows & keep_cell[cell]
    weights = ratio[cell[kept_wall]]
    nan = float("nan")
    if not kept_void.any():
        return Matched(0, int(kept_wall.sum()), nan, nan, nan, nan, kept_wall, weights)
    mv = weighted_median(values[kept_void])
    mw = weighted_median(values[kept_wall], weights)
    parts = [(void_rows, entry[void_rows]), (wall_rows, entry[wall_rows])]
    reps = [
        _replicate_shift(rv.reshape(-1, n_cells, nb), rw.reshape(-1, n_cells, nb), edges)
        for rv, rw in resampling.tables(parts, size)
    ]
    centre = float(_replicate_shift(tv[None], tw[None], edges)[0])
    low, high = resampling.interval(mv - mw, np.concatenate(reps), centre)
    return Matched(
        int(kept_void.sum()), int(kept_wall.sum()), mw, mv - mw, low, high, kept_wall, weights
    )


def _replicate_shift(tv: np.ndarray, tw: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Matched shift of each replicated (r, cells, bins) table pair."""
    cv, cw = tv.sum(axis=2), tw.sum(axis=2)
    keep = (cv > 0) & (cw > 0)
    ratio = np.where(keep, cv / np.maximum(cw, 1), 0.0)
    void_hist = (tv * keep[:, :, None]).sum(axis=1)
    wall_hist = (tw * ratio[:, :, None]).sum(axis=1)
    return histogram_median(void_hist, edges) - histogram_median(wall_hist, edges)
