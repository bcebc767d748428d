"""Void-minus-wall shifts of one property: raw and at fixed control variables, with intervals.

Pure numpy/scipy (no I/O). The matched shift reweights the wall sample to the void sample's
distribution over control cells (quantile bins of each control variable): wall galaxies in a
cell weigh (void count / wall count) of that cell; cells without wall galaxies drop their void
galaxies. Intervals come from a Poisson bootstrap of count tables (control cell x property
quantile bin): resampling N galaxies with replacement is, to a very good approximation, giving
each table entry a Poisson(count) draw, so a resample costs the table's size, not N's.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

LOW_Q, HIGH_Q = 15.865, 84.135  # central 68 % (one sigma) of the bootstrap
CHUNK_RESAMPLES = 25  # resamples drawn at once: bounds the memory of the Poisson draws


@dataclass(frozen=True)
class Comparison:
    """One property in one algorithm's analysis sample."""

    n_void: int
    n_wall: int
    median_void: float
    median_wall: float
    shift: float
    shift_lo: float
    shift_hi: float
    ks_p: float
    ad_p: float
    n_void_matched: int
    n_wall_matched: int
    median_wall_matched: float
    matched_shift: float
    matched_lo: float
    matched_hi: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Distributions:
    """What the figures draw: void values, wall values and the wall's matching weights."""

    void: np.ndarray
    wall: np.ndarray
    wall_matched: np.ndarray
    wall_weights: np.ndarray


@dataclass(frozen=True)
class Bootstrap:
    resamples: int = 400
    property_bins: int = 2048
    seed: int = 0


def compare(
    values: np.ndarray,
    void: np.ndarray,
    controls: np.ndarray,
    bins: int,
    boot: Bootstrap,
) -> tuple[Comparison, Distributions]:
    """Void-minus-wall medians of `values`, raw and with the wall matched on `controls` (n, k)."""
    finite = np.isfinite(values)
    v, w = values[finite & void], values[finite & ~void]
    if len(v) == 0 or len(w) == 0:
        return _empty(len(v), len(w)), Distributions(v, w, w[:0], w[:0])
    edges = _property_edges(values[finite], boot.property_bins)
    rng = np.random.default_rng(boot.seed)
    raw = _raw(v, w, edges, boot.resamples, rng)
    usable = finite & np.isfinite(controls).all(axis=1)
    cells = _cells(controls[usable], bins)
    in_void = void[usable]
    x = values[usable]
    matched, dist = _matched(x, in_void, cells, edges, boot.resamples, rng)
    return Comparison(len(v), len(w), *raw, *_two_sample_p(v, w), *matched), dist


def _empty(n_void: int, n_wall: int) -> Comparison:
    nan = float("nan")
    return Comparison(n_void, n_wall, *([nan] * 7), 0, 0, *([nan] * 4))


def _two_sample_p(v: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """KS and Anderson-Darling p-values (scipy clips the AD one to [0.001, 0.25])."""
    ks = float(stats.ks_2samp(v, w).pvalue)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ad = float(stats.anderson_ksamp([v, w]).pvalue)
    return ks, ad


def _property_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    return np.unique(np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1)))


def _bin(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def _cells(controls: np.ndarray, bins: int) -> np.ndarray:
    """Cell number of each row: quantile bins of every control variable, combined."""
    cell = np.zeros(len(controls), dtype=np.int64)
    for column in controls.T:
        edges = np.unique(np.quantile(column, np.linspace(0.0, 1.0, bins + 1)))
        cell = cell * bins + _bin(column, edges)
    return cell


def histogram_median(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Median of each row of (r, bins) counts, linear within the bin that holds it."""
    counts = np.atleast_2d(counts)
    cum = np.cumsum(counts, axis=1)
    half = cum[:, -1] / 2.0
    idx = np.argmax(cum >= half[:, None], axis=1)
    rows = np.arange(len(counts))
    before = np.where(idx > 0, cum[rows, np.maximum(idx - 1, 0)], 0.0)
    inside = np.maximum(counts[rows, idx], 1e-300)
    frac = np.clip((half - before) / inside, 0.0, 1.0)
    return edges[idx] + frac * (edges[idx + 1] - edges[idx])


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The smallest value at which the cumulative weight reaches half the total."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2.0)])


def _interval(estimate: float, replicates: np.ndarray, centre: float) -> tuple[float, float]:
    """Basic shift: the bootstrap spread around the table estimate, placed on the exact one."""
    low, high = np.nanpercentile(replicates, [LOW_Q, HIGH_Q])
    return float(estimate + low - centre), float(estimate + high - centre)


def _raw(v, w, edges, resamples: int, rng) -> tuple[float, ...]:
    nb = len(edges) - 1
    tv = np.bincount(_bin(v, edges), minlength=nb).astype(float)
    tw = np.bincount(_bin(w, edges), minlength=nb).astype(float)
    reps = []
    for size in _chunk_sizes(resamples):
        pv = rng.poisson(tv, (size, nb))
        pw = rng.poisson(tw, (size, nb))
        reps.append(histogram_median(pv, edges) - histogram_median(pw, edges))
    centre = float(histogram_median(tv, edges)[0] - histogram_median(tw, edges)[0])
    mv, mw = float(np.median(v)), float(np.median(w))
    return (mv, mw, mv - mw, *_interval(mv - mw, np.concatenate(reps), centre))


def _matched(x, in_void, cells, edges, resamples: int, rng):
    """Matched medians (exact), their shift, and its bootstrap interval from count tables."""
    n_cells = int(cells.max()) + 1 if len(cells) else 1
    nb = len(edges) - 1
    pbin = _bin(x, edges)
    tv = _table(cells[in_void], pbin[in_void], n_cells, nb)
    tw = _table(cells[~in_void], pbin[~in_void], n_cells, nb)
    cv, cw = tv.sum(axis=1), tw.sum(axis=1)
    keep_cell = (cv > 0) & (cw > 0)
    ratio = np.where(keep_cell, cv / np.maximum(cw, 1), 0.0)
    void_rows = in_void & keep_cell[cells]
    wall_rows = ~in_void & keep_cell[cells]
    nan = float("nan")
    dist_wall = x[~in_void]
    if not void_rows.any():
        return (0, int(wall_rows.sum()), nan, nan, nan, nan), Distributions(
            x[in_void], dist_wall, dist_wall[:0], dist_wall[:0]
        )
    weights = ratio[cells[wall_rows]]
    mv = float(np.median(x[void_rows]))
    mw = weighted_median(x[wall_rows], weights)
    reps = []
    for size in _chunk_sizes(resamples):
        reps.append(
            _matched_replicates(
                rng.poisson(tv, (size, *tv.shape)), rng.poisson(tw, (size, *tw.shape)), edges
            )
        )
    centre = _matched_replicates(tv[None], tw[None], edges)[0]
    low, high = _interval(mv - mw, np.concatenate(reps), centre)
    summary = (int(void_rows.sum()), int(wall_rows.sum()), mw, mv - mw, low, high)
    dist = Distributions(x[in_void], dist_wall, x[wall_rows], weights)
    return summary, dist


def _table(cells, pbin, n_cells: int, nb: int) -> np.ndarray:
    flat = np.bincount(cells * nb + pbin, minlength=n_cells * nb)
    return flat.reshape(n_cells, nb).astype(float)


def _matched_replicates(tv: np.ndarray, tw: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Matched shift of each resampled (r, cells, bins) table pair."""
    cv, cw = tv.sum(axis=2), tw.sum(axis=2)
    keep = (cv > 0) & (cw > 0)
    ratio = np.where(keep, cv / np.maximum(cw, 1), 0.0)
    void_hist = (tv * keep[:, :, None]).sum(axis=1)
    wall_hist = (tw * ratio[:, :, None]).sum(axis=1)
    return histogram_median(void_hist, edges) - histogram_median(wall_hist, edges)


def _chunk_sizes(total: int) -> list[int]:
    full, rest = divmod(total, CHUNK_RESAMPLES)
    return [CHUNK_RESAMPLES] * full + ([rest] if rest else [])
