"""VoidFinder environment: inside any HOLES sphere, else wall / edge / outside (VAST's vflag).

A void is the union of its holes; a point strictly inside a hole (d < RADIUS) is in that void.
Where spheres of several voids cover a point, VAST's toolkit reports the smallest void id: so do
we (checked against the toolkit's own classification in tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from desivoid_ml.features.cosmology import sky_from_cartesian
from desivoid_ml.features.void_catalogs import VoidFinderCatalog

WALL, IN_VOID, EDGE, OUTSIDE = 0, 1, 2, 9
EDGE_STEP_MPCH = 10.0  # VAST: a ±10 Mpc/h step along x, y or z that leaves the survey = edge
HOLES_PER_QUERY = 4096  # bounds the memory of the sphere-galaxy pair lists


@dataclass(frozen=True)
class SkyMask:
    """Survey footprint as an RA/Dec grid of cells holding galaxies (VAST's mask, MSKRES cells
    per degree), plus the catalog's comoving distance limits."""

    cells: np.ndarray  # bool, (360 * resolution, 180 * resolution)
    resolution: int
    distance_limits: tuple[float, float]

    def contains(self, xyz: np.ndarray) -> np.ndarray:
        ra, dec, r = sky_from_cartesian(xyz)
        i, j = self._cell(ra, dec)
        low, high = self.distance_limits
        return self.cells[i, j] & (r >= low) & (r <= high)

    def _cell(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        i = np.clip((ra * self.resolution).astype(np.int64), 0, self.cells.shape[0] - 1)
        j = np.clip(
            ((np.nan_to_num(dec) + 90.0) * self.resolution).astype(np.int64),
            0,
            self.cells.shape[1] - 1,
        )
        return i, j


def sky_mask(
    ra: np.ndarray, dec: np.ndarray, distance_limits: tuple[float, float], resolution: int = 1
) -> SkyMask:
    """The footprint of a galaxy sample: every RA/Dec cell with at least one galaxy."""
    cells = np.zeros((360 * resolution, 180 * resolution), dtype=bool)
    mask = SkyMask(cells, resolution, distance_limits)
    i, j = mask._cell(np.asarray(ra) % 360.0, np.asarray(dec))
    cells[i, j] = True
    return mask


def smallest_containing_void(xyz: np.ndarray, catalog: VoidFinderCatalog) -> np.ndarray:
    """Per point, the smallest void id among the holes that strictly contain it, else -1."""
    result = np.full(len(xyz), np.iinfo(np.int64).max, dtype=np.int64)
    if len(xyz) == 0 or len(catalog.hole_radius) == 0:
        return np.full(len(xyz), -1, dtype=np.int64)
    tree = cKDTree(xyz)
    for start in range(0, len(catalog.hole_radius), HOLES_PER_QUERY):
        stop = start + HOLES_PER_QUERY
        centres = catalog.hole_xyz[start:stop]
        radii = catalog.hole_radius[start:stop]
        hits = tree.query_ball_point(centres, radii, return_sorted=False)
        counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
        if counts.sum() == 0:
            continue
        points = np.fromiter((p for h in hits for p in h), dtype=np.int64, count=counts.sum())
        holes = np.repeat(np.arange(len(hits)), counts)
        # the ball query includes d == R; VAST's membership is strict
        inside = np.einsum("ij,ij->i", xyz[points] - centres[holes], xyz[points] - centres[holes])
        strict = inside < radii[holes] ** 2
        np.minimum.at(result, points[strict], catalog.hole_void[start:stop][holes[strict]])
    result[result == np.iinfo(np.int64).max] = -1
    return result


def nearest_void_distance(
    xyz: np.ndarray, void_xyz: np.ndarray, void_radius: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest void centre and the distance to it over that void's radius."""
    if len(void_xyz) == 0:
        return np.full(len(xyz), -1), np.full(len(xyz), np.nan)
    distance, index = cKDTree(void_xyz).query(xyz, k=1)
    return index, distance / void_radius[index]


def vflag(xyz: np.ndarray, void_id: np.ndarray, mask: SkyMask | None) -> np.ndarray:
    """VAST's environment flag: 1 in a void, else 9 outside the survey, 2 near its edge, 0 wall."""
    flags = np.where(void_id >= 0, IN_VOID, WALL).astype(np.int16)
    if mask is None:
        return flags
    outside = ~mask.contains(xyz)
    near_edge = np.zeros(len(xyz), dtype=bool)
    for axis in range(3):
        for sign in (-1.0, 1.0):
            stepped = xyz.copy()
            stepped[:, axis] += sign * EDGE_STEP_MPCH
            near_edge |= ~mask.contains(stepped)
    flags[(flags == WALL) & near_edge] = EDGE
    flags[(flags != IN_VOID) & outside] = OUTSIDE
    return flags


def classify(
    xyz: np.ndarray, catalog: VoidFinderCatalog, mask: SkyMask | None
) -> dict[str, np.ndarray]:
    """in_void, void_id, vflag, r/R_void (to the nearest maximal sphere centre) and in_input
    (inside the survey mask and distance limits: VoidFinder's own sample) per point."""
    void_id = smallest_containing_void(xyz, catalog)
    _, r_over_r = nearest_void_distance(xyz, catalog.void_xyz, catalog.void_radius)
    in_input = mask.contains(xyz) if mask is not None else np.ones(len(xyz), dtype=bool)
    return {
        "in_input": in_input,
        "in_void": void_id >= 0,
        "void_id": void_id,
        "vflag": vflag(xyz, void_id, mask),
        "r_over_rvoid": r_over_r,
    }
