"""V2 (VIDE, ZOBOV, REVOLVER) environment: galaxy -> GALZONE row -> ZONE -> ZONEVOID VOID0/VOID1.

A galaxy is matched to its GALZONE row by TARGET id where the catalog has one, else by position
(the nearest GALZONE galaxy within a tolerance). The V2 input is the matched rows inside the V2
volume (ZONE >= 0 and OUT = 0): GALZONE also lists galaxies outside the redshift limits or the
mask. A galaxy that is not in the V2 input takes the zone of the nearest GALZONE galaxy: VAST's
own rule for classifying arbitrary points.
"""

from __future__ import annotations

import numpy as np

from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.void_catalogs import V2Catalog
from desivoid_ml.features.voidfinder import IN_VOID, OUTSIDE, WALL, nearest_void_distance

# VAST works in float64 for V2, but input redshifts are often float32: 0.01 Mpc/h is far above
# that rounding and far below galaxy separations (features config `v2.position_tolerance_mpch`).
POSITION_TOLERANCE_MPCH = 0.01


def match_galzone(
    xyz: np.ndarray,
    target: np.ndarray | None,
    catalog: V2Catalog,
    tolerance: float = POSITION_TOLERANCE_MPCH,
) -> tuple[np.ndarray, np.ndarray]:
    """GALZONE row of each galaxy, and whether it is in the V2 input (by id or position).
    The position search runs only for the galaxies the id did not match."""
    row = np.zeros(len(xyz), dtype=np.int64)
    by_id = np.zeros(len(xyz), dtype=bool)
    if target is not None and catalog.gal_target is not None and len(catalog.gal_target):
        order = catalog.gal_target_order
        found = np.searchsorted(catalog.gal_target, target, sorter=order)
        found = order[np.clip(found, 0, len(order) - 1)]
        by_id = catalog.gal_target[found] == target
        row[by_id] = found[by_id]
    matched = by_id.copy()
    rest = ~by_id
    if rest.any():
        distance, nearest = catalog.galzone_tree.nearest(xyz[rest])
        row[rest] = nearest
        matched[rest] = distance <= tolerance
    return row, matched


def require_matches(catalog: V2Catalog, matched: int, galaxies: int) -> None:
    """A catalog none of whose GALZONE rows is among the galaxies is an error, not -1s."""
    if galaxies and not matched:
        raise DesivoidError(
            f"void catalog {catalog.name}: none of the {galaxies:,} galaxies matches a GALZONE "
            "row inside the V2 volume (ZONE >= 0, OUT = 0) by TARGET id or position; check the "
            "catalog belongs to these galaxies and that its cosmology (OMEGAM) is right"
        )


def zone_voids(zone: np.ndarray, catalog: V2Catalog) -> tuple[np.ndarray, np.ndarray]:
    """VOID0 (smallest) and VOID1 (largest) void of each zone; -1 for no void or zone -1."""
    void0 = np.full(len(zone), -1, dtype=np.int64)
    void1 = np.full(len(zone), -1, dtype=np.int64)
    if len(catalog.zone_id) == 0:
        return void0, void1
    index = np.clip(np.searchsorted(catalog.zone_id, zone), 0, len(catalog.zone_id) - 1)
    known = (zone >= 0) & (catalog.zone_id[index] == zone)
    void0[known] = catalog.zone_void0[index[known]]
    void1[known] = catalog.zone_void1[index[known]]
    return void0, void1


def in_volume(row: np.ndarray, catalog: V2Catalog) -> np.ndarray:
    """Whether each GALZONE row is inside the V2 volume: ZONE >= 0 and OUT = 0."""
    inside = catalog.gal_zone[row] >= 0
    if catalog.gal_out is not None:
        inside &= catalog.gal_out[row] == 0
    return inside


def classify(
    xyz: np.ndarray,
    target: np.ndarray | None,
    catalog: V2Catalog,
    tolerance: float = POSITION_TOLERANCE_MPCH,
    match: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """in_void, void_id (smallest), void_id_largest, zone, vflag, in_input and r/R per galaxy.
    in_input: matched to a GALZONE row (`tolerance`, Mpc/h, by position) inside the V2 volume;
    vflag: 1 in a void, 9 where the (nearest) GALZONE row is outside the volume, else 0.
    `match`: what `match_galzone` returns for these galaxies, if already known."""
    row, matched = match if match is not None else match_galzone(xyz, target, catalog, tolerance)
    zone = catalog.gal_zone[row].astype(np.int64)
    inside = in_volume(row, catalog)
    void0, void1 = zone_voids(zone, catalog)
    _, r_over_r = nearest_void_distance(
        xyz, catalog.void_xyz, catalog.void_radius, catalog.void_tree
    )
    vflag = np.where(void0 >= 0, IN_VOID, np.where(inside, WALL, OUTSIDE)).astype(np.int16)
    return {
        "in_void": void0 >= 0,
        "void_id": void0,
        "void_id_largest": void1,
        "zone": zone,
        "vflag": vflag,
        "in_input": matched & inside,
        "r_over_rvoid": r_over_r,
    }
