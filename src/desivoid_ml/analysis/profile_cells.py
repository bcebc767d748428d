"""One algorithm's property profile, counted chunk by chunk: per (mass bin, r/R_void bin) cell,
the weighted value tables of the raw and the redshift-matched galaxies (profile_stats), so the
temporaries stay one chunk in size at millions of galaxies.

Pass 1 counts each cell's redshift mix (z cells per mass bin); the matching weight of a galaxy is
its mass bin's share over its cell's share of its z cell. Pass 2 adds the galaxies' value bins
to the two (region, cell, bin) tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desivoid_ml.analysis.profile_stats import (
    QUANTILES,
    CellQuantiles,
    count_table,
    grid_of,
    matching_ratio,
    table_quantiles,
    z_cell,
    z_cell_edges,
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
    """The galaxies of one algorithm's sample with a value: row numbers, cell and mass bin."""

    rows: np.ndarray  # into the read columns
    cell: np.ndarray  # mass bin * r bins + r bin
    mass_bin: np.ndarray
    cells: int
    r_bins: int


def select(
    keep: np.ndarray, r_bin: np.ndarray, m_bin: np.ndarray, r_bins: int, m_bins: int
) -> Cells:
    """The kept galaxies (in the sample, both bins known, value finite) and their cells."""
    rows = np.flatnonzero(keep & (r_bin >= 0) & (m_bin >= 0))
    mass = m_bin[rows].astype(np.int64)
    return Cells(rows, mass * r_bins + r_bin[rows], mass, m_bins * r_bins, r_bins)


def profile_cells(
    cells: Cells,
    values: np.ndarray,
    z: np.ndarray,
    region: np.ndarray,
    regions: int,
    z_cells: int,
) -> CellProfile:
    """Raw and z-matched quantiles of `values` (all read rows; cells.rows picks them)."""
    groups = cells.cells // cells.r_bins
    counts = np.bincount(cells.cell, minlength=cells.cells)
    if not len(cells.rows):
        nothing = CellQuantiles(
            *(np.full((cells.cells, len(QUANTILES)), np.nan),) * 2, np.zeros(cells.cells)
        )
        return CellProfile(counts, nothing, nothing)
    zs = z[cells.rows]
    known_z = np.isfinite(zs)
    edges = z_cell_edges(zs[known_z], cells.mass_bin[known_z], groups, z_cells)
    shares = np.zeros(cells.cells * z_cells)
    for part in _chunks(len(cells.rows)):
        zc = z_cell(zs[part], cells.mass_bin[part], edges)
        ok = known_z[part]
        shares += np.bincount(
            (cells.cell[part] * z_cells + zc)[ok], minlength=cells.cells * z_cells
        )
    ratio = matching_ratio(
        shares.reshape(cells.cells, z_cells), np.arange(cells.cells) // cells.r_bins
    )
    grid = grid_of(values[cells.rows])
    shape = (regions, cells.cells, grid.bins)
    raw, matched = np.zeros(shape), np.zeros(shape)
    for part in _chunks(len(cells.rows)):
        rows, cell = cells.rows[part], cells.cell[part]
        vbin, where = grid.bin(values[rows].astype(np.float64)), region[rows]
        weights = ratio[cell, z_cell(zs[part], cells.mass_bin[part], edges)]
        weights[~known_z[part]] = 0.0
        raw += count_table(vbin, cell, where, shape)
        matched += count_table(vbin, cell, where, shape, weights)
    edges_v = grid.edges
    return CellProfile(counts, table_quantiles(raw, edges_v), table_quantiles(matched, edges_v))


def _chunks(n: int):
    for start in range(0, n, CHUNK):
        yield slice(start, min(start + CHUNK, n))
