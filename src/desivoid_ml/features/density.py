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
    distance, _ = cKDTree(xyz).query(xyz, k=[k + 1], workers=-1)  # neighbour 1 is the galaxy
    distance = distance[:, 0]
    with np.errstate(divide="ignore"):
        density = k / (4.0 / 3.0 * np.pi * distance**3)
    return distance, density
