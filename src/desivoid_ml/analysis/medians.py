"""The medians of the analysis: one interpolated weighted median for exact values, and the
median read off binned counts for the replicates of an interval."""

from __future__ import annotations

import numpy as np


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


def quantile_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Quantile bin edges; a constant gets one bin of zero width."""
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1)))
    return edges if len(edges) > 1 else np.repeat(edges, 2)


def bin_of(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value; values outside the edges go to the first or last bin."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max(len(edges) - 2, 0))
