"""One algorithm's property profile, counted chunk by chunk: per (mass bin, r/R_void bin) cell,
the weighted value tables of the raw and the redshift-matched galaxies (profile_stats), so the
temporaries stay one chunk in size at millions of galaxies.

Pass 1 counts each cell's redshift mix (the galaxies' z cells within their mass bin, computed
once per algorithm); the matching weight of a galaxy is its mass bin's share over its cell's
share of its z cell. Pass 2 adds the galaxies' value bins to the two (region, cell, bin) tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desivoid_ml.analysis.profile_stats import (
    QUANTILES,
    CellQuantiles,
    grid_of,
    matching_ratio,
    table_index,
    table_quantiles,
)

CHUNK = 1_000_000  # galaxies per pass step


@dataclass
class CellProfile:
    """Per cell: galaxies, raw and z-matched quantiles."""

    counts: np.ndarray
    raw: CellQuantiles
    matched: CellQuantiles


@dataclass(frozen=True)
class Cells:
    """The galaxies of one algorithm's sample with a value: row numbers and cells."""

    rows: np.ndarray  # into the read columns
    cell: np.ndarray  # mass bin * r bins + r bin
    cells: int
    r_bins: int


def select(
    keep: np.ndarray, r_bin: np.ndarray, m_bin: np.ndarray, r_bins: int, m_bins: int
) -> Cells:
    """The kept galaxies (in the sample, both bins known, value finite) and their cells."""
    rows = np.flatnonzero(keep & (r_bin >= 0) & (m_bin >= 0))
    cell = m_bin[rows].astype(np.int64) * r_bins + r_bin[rows]
    return Cells(rows, cell, m_bins * r_bins, r_bins)


def profile_cells(
    cells: Cells,
    values: np.ndarray,
    z_known: np.ndarray,
    z_cells: np.ndarray,
    region: np.ndarray,
    regions: int,
) -> CellProfile:
    """Raw and z-matched quantiles of `values` (all read rows; cells.rows picks them);
    `z_cells` is each galaxy's redshift cell within its mass bin (z_cell_edges, z_cell)."""
    counts = np.bincount(cells.cell, minlength=cells.cells)
    if not len(cells.rows):
        nothing = CellQuantiles(
            *(np.full((cells.cells, len(QUANTILES)), np.nan),) * 2, np.zeros(cells.cells)
        )
        return CellProfile(counts, nothing, nothing)
    n_z = int(z_cells.max()) + 1
    shares = np.zeros(cells.cells * n_z)
    for part in _chunks(len(cells.rows)):
        rows = cells.rows[part]
        key = cells.cell[part] * n_z + z_cells[rows]
        shares += np.bincount(key[z_known[rows]], minlength=cells.cells * n_z)
    group_of_cell = np.arange(cells.cells) // cells.r_bins
    ratio = matching_ratio(shares.reshape(cells.cells, n_z), group_of_cell)
    grid = grid_of(values[cells.rows])
    shape = (regions, cells.cells, grid.bins)
    raw, matched = np.zeros(shape), np.zeros(shape)
    for part in _chunks(len(cells.rows)):
        rows, cell = cells.rows[part], cells.cell[part]
        index = table_index(grid.bin(values[rows].astype(np.float64)), cell, region[rows], shape)
        weights = np.where(z_known[rows], ratio[cell, z_cells[rows]], 0.0)
        raw += np.bincount(index, minlength=raw.size).reshape(shape)
        matched += np.bincount(index, weights, minlength=raw.size).reshape(shape)
    edges = grid.edges
    return CellProfile(counts, table_quantiles(raw, edges), table_quantiles(matched, edges))


def _chunks(n: int):
    for start in range(0, n, CHUNK):
        yield slice(start, min(start + CHUNK, n))
