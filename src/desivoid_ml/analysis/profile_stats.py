"""Weighted quantiles of many cells at once, with delete-one jackknife errors over sky regions.

Values are binned on a fine uniform grid (VALUE_BINS bins over their central 99.8 %); a weighted
count table per (region, cell) then gives every cell's quantiles (interpolated inside the bin)
and every jackknife replicate (the whole table minus one region's). Tables add up, so galaxies
can be counted chunk by chunk: memory is regions x cells x VALUE_BINS float64 plus one chunk,
whatever the number of galaxies. The binning moves a quantile by less than one bin, 1/VALUE_BINS
of the central range (far below any jackknife error here)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VALUE_BINS = 1024
TAIL = 0.001  # values beyond these quantiles share the two outermost bins
EDGE_SAMPLE = 200_000  # grid ranges and z cells come from a strided subsample of this many
QUANTILES = (0.5, 0.16, 0.84)


@dataclass
class CellQuantiles:
    """(cells, len(QUANTILES)) estimates and their jackknife sigmas; total weight per cell."""

    value: np.ndarray
    sigma: np.ndarray
    weight: np.ndarray


@dataclass(frozen=True)
class Grid:
    """A uniform grid over [lo, lo + VALUE_BINS * width] plus an underflow and an overflow bin
    reaching the extreme values."""

    lo: float
    width: float
    vmin: float
    vmax: float

    @property
    def bins(self) -> int:
        return VALUE_BINS + 2

    @property
    def edges(self) -> np.ndarray:
        grid = self.lo + self.width * np.arange(VALUE_BINS + 1)
        return np.concatenate([[min(self.vmin, grid[0])], grid, [max(self.vmax, grid[-1])]])

    def bin(self, values: np.ndarray) -> np.ndarray:
        """Bin number 0 .. bins - 1 of finite values: arithmetic, not a search."""
        index = np.floor((values - self.lo) / self.width)
        return (np.clip(index, -1, VALUE_BINS) + 1).astype(np.int64)


def grid_of(values: np.ndarray) -> Grid:
    """The grid of finite values, its range from an evenly strided subsample."""
    sample = values[:: max(len(values) // EDGE_SAMPLE, 1)]
    lo, hi = np.quantile(sample, [TAIL, 1.0 - TAIL])
    if not hi > lo:
        lo, hi = lo - 0.5, lo + 0.5
    return Grid(float(lo), float(hi - lo) / VALUE_BINS, float(values.min()), float(values.max()))


def table_index(
    vbin: np.ndarray, cell: np.ndarray, region: np.ndarray, shape: tuple[int, int, int]
) -> np.ndarray:
    """Flat index into a (regions, cells, bins) table of each galaxy."""
    _, cells, bins = shape
    return (region.astype(np.int64) * cells + cell) * bins + vbin


def count_table(
    vbin: np.ndarray,
    cell: np.ndarray,
    region: np.ndarray,
    shape: tuple[int, int, int],
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """(regions, cells, bins) weighted counts (add chunks' tables together)."""
    index = table_index(vbin, cell, region, shape)
    return np.bincount(index, weights, minlength=int(np.prod(shape))).reshape(shape)


def table_quantiles(table: np.ndarray, edges: np.ndarray) -> CellQuantiles:
    """QUANTILES of every cell of a (regions, cells, bins) table, with jackknife sigmas."""
    total = table.sum(axis=0)
    estimate = _quantiles(total, edges)
    active = np.flatnonzero(table.sum(axis=(1, 2)) > 0)
    replicates = np.stack([_quantiles(total - table[k], edges) for k in active])
    return CellQuantiles(estimate, _jackknife_sigma(replicates), total.sum(axis=1))


def cell_quantiles(
    values: np.ndarray,
    cell: np.ndarray,
    cells: int,
    region: np.ndarray,
    regions: int,
    weights: np.ndarray | None = None,
) -> CellQuantiles:
    """QUANTILES of `values` in each cell with jackknife sigmas (all in memory at once)."""
    grid = grid_of(values)
    table = count_table(grid.bin(values), cell, region, (regions, cells, grid.bins), weights)
    return table_quantiles(table, grid.edges)


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
    if not len(replicates) or not k.any():
        return np.full(replicates.shape[1:], np.nan)
    mean = np.nanmean(np.where(k > 0, replicates, 0.0), axis=0)
    spread = np.nansum((replicates - mean) ** 2, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(k > 1, np.sqrt((k - 1) / np.maximum(k, 1) * spread), np.nan)


def z_cell_edges(z: np.ndarray, group: np.ndarray, groups: int, z_cells: int) -> np.ndarray:
    """(groups, z_cells - 1) inner redshift-quantile edges per group (mass bin)."""
    edges = np.zeros((groups, max(z_cells - 1, 0)))
    for g in range(groups):
        rows = np.flatnonzero(group == g)
        if len(rows):
            sample = z[rows[:: max(len(rows) // EDGE_SAMPLE, 1)]]
            edges[g] = np.quantile(sample, np.linspace(0.0, 1.0, z_cells + 1))[1:-1]
    return edges


def z_cell(z: np.ndarray, group: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Redshift cell 0 .. z_cells - 1 of each galaxy within its group (0 outside any group)."""
    out = np.zeros(len(z), dtype=np.int8)
    for g in range(len(edges)):
        rows = group == g
        out[rows] = np.searchsorted(edges[g], z[rows], side="right")
    return out


def matching_ratio(shares: np.ndarray, group_of_cell: np.ndarray) -> np.ndarray:
    """(cells, z_cells) weights from (cells, z_cells) counts: every cell gets its group's z mix
    (weight = group share / cell share of the z cell; 0 where the cell has none)."""
    groups = np.zeros((group_of_cell.max() + 1, shares.shape[1]))
    np.add.at(groups, group_of_cell, shares)
    reference = groups / np.maximum(groups.sum(axis=1, keepdims=True), 1)
    local = shares / np.maximum(shares.sum(axis=1, keepdims=True), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(local > 0, reference[group_of_cell] / np.where(local > 0, local, 1), 0.0)
