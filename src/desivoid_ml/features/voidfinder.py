"""VoidFinder environment: inside any HOLES sphere, else wall / edge / outside (VAST's vflag).

A void is the union of its holes; a point strictly inside a hole (d < RADIUS) is in that void.
Galaxies on a hole's surface (within a tolerance) are flagged and follow a configurable policy.
Where spheres of several voids cover a point, VAST's toolkit reports the smallest void id: so do
we (checked against the toolkit's own classification in tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np
from scipy.spatial import cKDTree

from desivoid_ml.errors import DesivoidError
from desivoid_ml.features import tree_query
from desivoid_ml.features.sky_mask import SkyMask
from desivoid_ml.features.void_catalogs import VoidFinderCatalog

WALL, IN_VOID, EDGE, OUTSIDE = 0, 1, 2, 9
EDGE_STEP_MPCH = 10.0  # VAST: a ±10 Mpc/h step along x, y or z that leaves the survey = edge
HOLES_PER_QUERY = 1024  # bounds the memory of the sphere-galaxy pair lists (Python lists)


@dataclass(frozen=True)
class BoundaryRule:
    """Galaxies on a hole's surface. VoidFinder grows each hole until four galaxies touch it, so
    "d < R" decides them by rounding. A galaxy is on the boundary when its margin, min over holes
    of (d - R), is within tolerance_mpch + tolerance_relative * (its distance from us) of 0; the
    relative part covers the toolkit's own distances (c = 299792 km/s, float32), which differ
    from astropy's by up to 7e-6 relative. Policy `toolkit` keeps d < R (the VAST toolkit's
    answer, rounding included); `wall`: in a void only when margin < -tolerance; `exclude`: as
    `wall`, and boundary galaxies are in neither the void nor the wall sample."""

    tolerance_mpch: float = 1e-3
    tolerance_relative: float = 1e-5
    policy: str = "toolkit"

    def __post_init__(self) -> None:
        if self.policy not in BOUNDARY_POLICIES:
            raise DesivoidError(
                f"voidfinder.boundary_policy={self.policy!r} is not one of "
                f"{', '.join(BOUNDARY_POLICIES)}"
            )

    def tolerance(self, xyz: np.ndarray) -> np.ndarray:
        """Per point, in Mpc/h."""
        return self.tolerance_mpch + self.tolerance_relative * np.linalg.norm(xyz, axis=1)


BOUNDARY_POLICIES = ("toolkit", "wall", "exclude")


def hole_margin(
    xyz: np.ndarray, catalog: VoidFinderCatalog, tolerance: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point: min over holes of (distance to centre - radius), +inf where no hole is within
    its radius + `tolerance`; the smallest void id among holes with d < R (the toolkit's rule); and
    among holes with d < R - tolerance (clear of the surface). -1 for none."""
    tolerance = np.zeros(len(xyz)) if tolerance is None else tolerance
    none = np.iinfo(np.int64).max
    margin = np.full(len(xyz), np.inf)
    strict = np.full(len(xyz), none, dtype=np.int64)
    clear = np.full(len(xyz), none, dtype=np.int64)
    if len(xyz) and len(catalog.hole_radius):
        tree = cKDTree(xyz)
        reach = float(tolerance.max())
        for start in range(0, len(catalog.hole_radius), HOLES_PER_QUERY):
            stop = start + HOLES_PER_QUERY
            centres = catalog.hole_xyz[start:stop]
            radii = catalog.hole_radius[start:stop]
            hits = tree.query_ball_point(centres, radii + reach, return_sorted=False)
            counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
            if counts.sum() == 0:
                continue
            points = np.fromiter(chain.from_iterable(hits), dtype=np.int64, count=counts.sum())
            holes = np.repeat(np.arange(len(hits)), counts)
            pair = centre_distance(xyz[points], centres[holes]) - radii[holes]
            void = catalog.hole_void[start:stop][holes]
            np.minimum.at(margin, points, pair)
            np.minimum.at(strict, points[pair < 0], void[pair < 0])
            deep = pair < -tolerance[points]
            np.minimum.at(clear, points[deep], void[deep])
    strict[strict == none] = -1
    clear[clear == none] = -1
    return margin, strict, clear


def centre_distance(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """sqrt(dx² + dy² + dz²) in float64, summed in that order as the toolkit's vflag does:
    d - R < 0 exactly when its d < R, so surface galaxies get its answer."""
    offset = centres - points
    return np.sqrt(offset[:, 0] ** 2 + offset[:, 1] ** 2 + offset[:, 2] ** 2)


def smallest_containing_void(xyz: np.ndarray, catalog: VoidFinderCatalog) -> np.ndarray:
    """Per point, the smallest void id among the holes that strictly contain it, else -1."""
    return hole_margin(xyz, catalog)[1]


def nearest_void_distance(
    xyz: np.ndarray,
    void_xyz: np.ndarray,
    void_radius: np.ndarray,
    tree: tree_query.NearestTree | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest void centre and the distance to it over that void's radius
    (`tree`: a NearestTree of void_xyz, if the caller keeps one)."""
    if len(void_xyz) == 0:
        return np.full(len(xyz), -1), np.full(len(xyz), np.nan)
    tree = tree if tree is not None else tree_query.NearestTree(void_xyz)
    distance, index = tree.nearest(xyz)
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
    xyz: np.ndarray,
    catalog: VoidFinderCatalog,
    mask: SkyMask | None,
    rule: BoundaryRule | None = None,
) -> dict[str, np.ndarray]:
    """in_void, void_id, vflag, on_boundary, r/R_void (to the nearest maximal sphere centre) and
    in_input (inside the survey mask and distance limits: VoidFinder's own sample) per point."""
    rule = rule or BoundaryRule()
    tolerance = rule.tolerance(xyz)
    margin, strict, clear = hole_margin(xyz, catalog, tolerance)
    on_boundary = np.abs(margin) <= tolerance
    void_id = strict if rule.policy == "toolkit" else clear
    _, r_over_r = nearest_void_distance(
        xyz, catalog.void_xyz, catalog.void_radius, catalog.void_tree
    )
    in_input = mask.contains(xyz) if mask is not None else np.ones(len(xyz), dtype=bool)
    return {
        "in_input": in_input,
        "in_void": void_id >= 0,
        "void_id": void_id,
        "vflag": vflag(xyz, void_id, mask),
        "on_boundary": on_boundary,
        "r_over_rvoid": r_over_r,
    }
