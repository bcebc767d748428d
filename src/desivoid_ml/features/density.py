"""Local density from the distance to the k-th nearest galaxy in comoving space."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def kth_neighbour_density(xyz: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(distance to the k-th other galaxy in Mpc/h, number density k / (4/3 π d³) in (Mpc/h)^-3)."""
    if k < 1:
        raise ValueError("density.k must be at least 1")
    if len(xyz) <= k:
        nan = np.full(len(xyz), np.nan)
        return nan, nan.copy()
    tree = cKDTree(xyz)
    # Querying in the tree's own leaf order keeps successive queries in cache: 3-4x faster on
    # millions of galaxies than querying in table order (same answers).
    order = tree.indices
    distance = np.empty(len(xyz))
    found, _ = tree.query(xyz[order], k=[k + 1], workers=-1)  # neighbour 1 is the galaxy itself
    distance[order] = found[:, 0]
    with np.errstate(divide="ignore"):
        density = k / (4.0 / 3.0 * np.pi * distance**3)
    return distance, density
