"""Nearest-neighbour queries of a KD-tree in spatial order: consecutive query points then walk
the same branches of the tree (cache hits), which is several times faster than table order on
a chunk of galaxies scattered over the sky. The answers are the same, returned in input order."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

ORDER_CELL_MPCH = 5.0  # query points are sorted by (x, y, z) cells of this size


def spatial_order(xyz: np.ndarray) -> np.ndarray:
    """Indices that put the points in lexicographic order of their (x, y, z) cells."""
    cells = np.floor(xyz / ORDER_CELL_MPCH).astype(np.int64)
    cells -= cells.min(axis=0, initial=0)
    key = (cells[:, 0] << 42) | (cells[:, 1] << 21) | cells[:, 2]
    return np.argsort(key, kind="stable")


def nearest(tree: cKDTree, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance, index) of each point's nearest tree point, as `tree.query(xyz, k=1)` gives."""
    if len(xyz) == 0:
        return tree.query(xyz, k=1)
    order = spatial_order(xyz)
    found, index = tree.query(xyz[order], k=1, workers=-1)
    distance = np.empty_like(found)
    position = np.empty_like(index)
    distance[order] = found
    position[order] = index
    return distance, position
