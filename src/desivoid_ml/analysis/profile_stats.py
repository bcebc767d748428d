"""Weighted quantiles of many cells at once, with delete-one jackknife errors over sky regions.

Values are binned once into VALUE_BINS quantile bins of the whole sample; one weighted count
table per (region, cell) then gives every cell's quantiles (interpolated inside the bin) and
every jackknife replicate (the whole table minus one region's). Memory is regions x cells x
VALUE_BINS float64 whatever the number of galaxies; the binning moves a quantile by at most one
bin, 1/VALUE_BINS of the sample (far below any jackknife error here)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VALUE_BINS = 1024
QUANTILES = (0.5, 0.16, 0.84)


@dataclass
class CellQuantiles:
    """(cells, len(QUANTILES)) estimates and their jackknife sigmas; weight per cell."""

    value: np.ndarray
    sigma: np.ndarray
    weight: np.ndarray
    count: np.ndarray


def value_edges(values: np.ndarray) -> np.ndarray:
    """Quantile bin edges of the finite values (strictly increasing)."""
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, VALUE_BINS + 1)))
    if len(edges) < 2:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    return edges


def cell_quantiles(
    values: np.ndarray,
    cell: np.ndarray,
    cells: int,
    region: np.ndarray,
    regions: int,
    weights: np.ndarray | None = None,
) -> CellQuantiles:
    """QUANTILES of `values` in each cell (0 .. cells-1) with jackknife sigmas over `regions`."""
    edges = value_edges(values)
    bins = len(edges) - 1
    vbin = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
    index = (region * cells + cell) * bins + vbin
    table = np.bincount(index, weights, minlength=regions * cells * bins)
    table = table.reshape(regions, cells, bins)
    total = table.sum(axis=0)
    estimate = _quantiles(total, edges)
    active = np.flatnonzero(table.sum(axis=(1, 2)) > 0)
    replicates = np.stack([_quantiles(total - table[k], edges) for k in active])
    counts = np.bincount(cell, minlength=cells)
    return CellQuantiles(estimate, _jackknife_sigma(replicates), total.sum(axis=1), counts)


def _quantiles(tables: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(rows, len(QUANTILES)) interpolated quantiles of weighted histograms (rows, bins)."""
    cum = np.cumsum(tables, axis=1)
    total = cum[:, -1]
    out = np.full((len(tables), len(QUANTILES)), np.nan)
    rows = np.flatnonzero(total > 0)
    for i, q in enumerate(QUANTILES):
        target = q * total[rows]
        j = np.minimum((cum[rows] < target[:, None]).sum(axis=1), tables.shape[1] - 1)
        before = np.where(j > 0, cum[rows, np.maximum(j - 1, 0)], 0.0)
        inside = tables[rows, j]
        frac = np.where(inside > 0, (target - before) / np.where(inside > 0, inside, 1.0), 0.5)
        out[rows, i] = edges[j] + np.clip(frac, 0.0, 1.0) * (edges[j + 1] - edges[j])
    return out


def _jackknife_sigma(replicates: np.ndarray) -> np.ndarray:
    """sqrt((K-1)/K * sum_k (theta_k - mean)^2) over the first axis, ignoring NaN replicates."""
    k = np.sum(np.isfinite(replicates), axis=0)
    mean = np.nanmean(replicates, axis=0) if len(replicates) else np.nan
    spread = np.nansum((replicates - mean) ** 2, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(k > 1, np.sqrt((k - 1) / np.maximum(k, 1) * spread), np.nan)


def matching_weights(
    cell: np.ndarray, group: np.ndarray, z: np.ndarray, cells: int, z_cells: int
) -> np.ndarray:
    """Weights that give every cell the redshift mix of its group (all cells of one mass bin):
    z quantile cells per group; weight = group share / cell share of the galaxy's z cell."""
    weights = np.zeros(len(z))
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        edges = np.quantile(z[rows], np.linspace(0.0, 1.0, z_cells + 1))[1:-1]
        zc = np.searchsorted(edges, z[rows], side="right")
        reference = np.bincount(zc, minlength=z_cells) / len(rows)
        local = np.bincount(cell[rows] * z_cells + zc, minlength=cells * z_cells)
        local = local.reshape(cells, z_cells)
        share = local / np.maximum(local.sum(axis=1, keepdims=True), 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(share > 0, reference[None, :] / share, 0.0)
        weights[rows] = ratio[cell[rows], zc]
    return weights
