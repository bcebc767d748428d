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
KS_FLOOR = 1e-300  # a KS p-value that underflows to 0 is stored as "< 1e-300"


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
    ks_p: str
    ad_p: str
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
    return Comparison(n_void, n_wall, *([nan] * 5), "", "", 0, 0, *([nan] * 4))


def _two_sample_p(v: np.ndarray, w: np.ndarray) -> tuple[str, str]:
    """KS and Anderson-Darling p-values as text; a value at a limit is a bound ("< 0.001")."""
    ks = float(stats.ks_2samp(v, w).pvalue)
    if np.ptp(np.concatenate([v, w])) == 0:
        return p_text(ks), "n/a"  # Anderson-Darling needs two distinct values
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ad = float(stats.anderson_ksamp([v, w]).pvalue)
    said = " ".join(str(w.message) for w in caught)
    if "p-value floored" in said:
        ad_text = f"< {ad:g}"
    elif "p-value capped" in said:
        ad_text = f"> {ad:g}"
    else:
        ad_text = p_text(ad)
    return (p_text(ks) if ks > 0 else f"< {KS_FLOOR:g}"), ad_text


def p_text(p: float) -> str:
    """A p-value as stored: three significant digits."""
    return f"{p:.3g}"


def _property_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Quantile edges; a constant property gets one empty-width bin."""
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1)))
    return edges if len(edges) > 1 else np.repeat(edges, 2)


def _bin(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value (edges from np.unique: one edge, a constant, is one bin)."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max(len(edges) - 2, 0))


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


def weighted_median(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The one median of the analysis, void and wall, raw and matched: each value sits at the
    middle of its weight on the cumulative-weight axis, linear in between (unit weights give
    numpy's median; zero weights drop out). NaN when no weight is left."""
    weights = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)
    keep = weights > 0
    x, w = values[keep], weights[keep]
    if len(x) == 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, cum = x[order], np.cumsum(w[order])
    return float(np.interp(cum[-1] / 2.0, cum - w[order] / 2.0, x))


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
    mv, mw = weighted_median(v), weighted_median(w)
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
    mv = weighted_median(x[void_rows])
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
