"""Local density from the distance to the k-th nearest galaxy in comoving space."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial import cKDTree

QUERY_ROWS = 262_144  # galaxies per KD-tree query: bounds the (rows, k + 1) result arrays


def kth_neighbour_distance(
    xyz: np.ndarray, k: int, progress: Callable[[int], None] | None = None
) -> np.ndarray:
    """Distance (Mpc/h, float32) from each point to its k-th nearest other point; NaN with <= k
    points.

    The tree is built over `xyz` itself (no copy: pass C-contiguous float64) and queried in
    blocks in the tree's own leaf order, which keeps successive queries in cache (3-4x faster on
    millions of galaxies than table order) and the memory to one block of results.
    """
    if k < 1:
        raise ValueError("density.k must be at least 1")
    distance = np.full(len(xyz), np.nan, dtype=np.float32)
    if len(xyz) <= k:
        return distance
    tree = cKDTree(xyz, copy_data=False, balanced_tree=False, compact_nodes=False)
    order = tree.indices
    for start in range(0, len(order), QUERY_ROWS):
        rows = order[start : start + QUERY_ROWS]
        found, _ = tree.query(xyz[rows], k=[k + 1], workers=-1)  # neighbour 1 is the point
        distance[rows] = found[:, 0]
        if progress is not None:
            progress(len(rows))
    return distance


def density_from_distance(distance: np.ndarray, k: int) -> np.ndarray:
    """Number density k / (4/3 π d³) in (Mpc/h)^-3."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return k / (4.0 / 3.0 * np.pi * distance**3)


def kth_neighbour_density(xyz: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(distance to the k-th other galaxy in Mpc/h, number density k / (4/3 π d³) in (Mpc/h)^-3)."""
    distance = kth_neighbour_distance(np.ascontiguousarray(xyz, dtype=np.float64), k)
    distance = distance.astype(np.float64)
    return distance, density_from_distance(distance, k)
