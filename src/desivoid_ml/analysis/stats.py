"""Void-minus-wall shifts of one property: raw and at fixed control variables, with intervals.

Pure numpy/scipy (no I/O). Medians are exact (`medians.weighted_median`); intervals come from
replicates of count tables (`resampling`): a delete-one jackknife over sky regions by default,
or a Poisson bootstrap. The matched shift is `matching`'s.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from desivoid_ml.analysis.matching import control_cells, matched_shift
from desivoid_ml.analysis.medians import (
    bin_of,
    histogram_median,
    quantile_edges,
    weighted_median,
)
from desivoid_ml.analysis.resampling import BOOTSTRAP, Resampling

KS_FLOOR = 1e-300  # a KS p-value that underflows to 0 is stored as "< 1e-300"
PROPERTY_BINS = 1024


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
    interval_method: str
    regions: int | None  # jackknife: sky regions holding galaxies of this comparison
    resamples: int | None  # bootstrap

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Distributions:
    """What the figures draw: void values, wall values and the wall's matching weights."""

    void: np.ndarray
    wall: np.ndarray
    wall_matched: np.ndarray
    wall_weights: np.ndarray


def compare(
    values: np.ndarray,
    void: np.ndarray,
    controls: np.ndarray,
    bins: int,
    resampling: Resampling,
    property_bins: int = PROPERTY_BINS,
) -> tuple[Comparison, Distributions]:
    """Void-minus-wall medians of `values`, raw and with the wall matched on `controls` (n, k).
    `void` is True for void and False for wall galaxies; `resampling` is aligned with the rows."""
    finite = np.isfinite(values)
    void_rows, wall_rows = finite & void, finite & ~void
    v, w = values[void_rows], values[wall_rows]
    units = _units(resampling, void_rows | wall_rows)
    if len(v) == 0 or len(w) == 0:
        return _empty(len(v), len(w), units), Distributions(v, w, w[:0], w[:0])
    edges = quantile_edges(values[finite], property_bins)
    pbin = bin_of(np.where(finite, values, edges[0]), edges)
    raw = _raw(v, w, void_rows, wall_rows, pbin, edges, resampling)
    usable = finite & np.isfinite(controls).all(axis=1)
    cells = np.full(len(values), -1, dtype=np.int64)
    cells[usable] = control_cells(controls[usable], bins)
    m = matched_shift(
        values, void_rows & usable, wall_rows & usable, cells, pbin, edges, resampling
    )
    comparison = Comparison(
        len(v),
        len(w),
        *raw,
        *_two_sample_p(v, w),
        m.n_void,
        m.n_wall,
        m.median_wall,
        m.shift,
        m.low,
        m.high,
        *units,
    )
    return comparison, Distributions(v, w, values[m.wall_rows], m.wall_weights)


def _units(resampling: Resampling, rows: np.ndarray) -> tuple[str, int | None, int | None]:
    """(method, regions, resamples) as the outputs record them."""
    count = resampling.units(rows)
    if resampling.method == BOOTSTRAP:
        return resampling.method, None, count
    return resampling.method, count, None


def _empty(n_void: int, n_wall: int, units: tuple) -> Comparison:
    nan = float("nan")
    return Comparison(n_void, n_wall, *([nan] * 5), "", "", 0, 0, *([nan] * 4), *units)


def _raw(v, w, void_rows, wall_rows, pbin, edges, resampling: Resampling) -> tuple[float, ...]:
    """Void and wall medians, their difference and its interval."""
    nb = len(edges) - 1
    parts = [(void_rows, pbin[void_rows]), (wall_rows, pbin[wall_rows])]
    reps = [
        histogram_median(tv, edges) - histogram_median(tw, edges)
        for tv, tw in resampling.tables(parts, nb)
    ]
    tv, tw = (np.bincount(entry, minlength=nb).astype(float) for _, entry in parts)
    centre = float(histogram_median(tv, edges)[0] - histogram_median(tw, edges)[0])
    mv, mw = weighted_median(v), weighted_median(w)
    return (mv, mw, mv - mw, *resampling.interval(mv - mw, np.concatenate(reps), centre))


def _two_sample_p(v: np.ndarray, w: np.ndarray) -> tuple[str, str]:
    """KS and Anderson-Darling p-values as text; a value at a limit is a bound ("< 0.001")."""
    ks = float(stats.ks_2samp(v, w).pvalue)
    ks_text = p_text(ks) if ks > 0 else f"< {KS_FLOOR:g}"
    if np.ptp(np.concatenate([v, w])) == 0:
        return ks_text, "n/a"  # Anderson-Darling needs two distinct values
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ad = float(stats.anderson_ksamp([v, w]).pvalue)
    said = " ".join(str(c.message) for c in caught)
    if "p-value floored" in said:
        return ks_text, f"< {ad:g}"
    if "p-value capped" in said:
        return ks_text, f"> {ad:g}"
    return ks_text, p_text(ad)


def p_text(p: float) -> str:
    """A p-value as stored: three significant digits."""
    return f"{p:.3g}"
