"""Void catalogs in memory: the data model and its geometry, with no I/O.

`void_catalog_fits` reads them from DESIVAST/VAST FITS files and `void_catalog_db` from the
`raw` tables; both hand columns by lower-case name (Z as zc) to `build_voidfinder`/`build_v2`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.cosmology import Cosmology, from_header
from desivoid_ml.features.tree_query import NearestTree


@dataclass
class VoidFinderCatalog:
    """Holes (spheres whose union is each void) and maximal spheres, in comoving Mpc/h."""

    name: str
    cosmology: Cosmology
    cap: str | None
    hole_xyz: np.ndarray
    hole_radius: np.ndarray
    hole_void: np.ndarray
    void_id: np.ndarray
    void_xyz: np.ndarray
    void_radius: np.ndarray  # R_EFF, or the maximal RADIUS where R_EFF is -1
    distance_limits: tuple[float, float] | None
    mask_resolution: int = 1  # MSKRES: survey-mask cells per degree
    mask_image: np.ndarray | None = None  # the file's MASK HDU, when it has one
    magnitude_limit: float | None = None  # MAGLIM, when the header says the cut was applied

    algorithm = "VoidFinder"

    @cached_property
    def void_tree(self) -> NearestTree | None:
        """Nearest-neighbour tree of the maximal-sphere centres, built once per catalog."""
        return NearestTree(self.void_xyz) if len(self.void_xyz) else None


@dataclass
class V2Catalog:
    """Zones of the V2 input galaxies and the voids they make up (VIDE, ZOBOV or REVOLVER)."""

    name: str
    algorithm: str
    cosmology: Cosmology
    cap: str | None
    gal_target: np.ndarray | None
    gal_xyz: np.ndarray
    gal_zone: np.ndarray
    zone_id: np.ndarray
    zone_void0: np.ndarray
    zone_void1: np.ndarray
    void_id: np.ndarray
    void_xyz: np.ndarray
    void_radius: np.ndarray
    gal_out: np.ndarray | None = None  # GALZONE OUT: 1 outside the mask or redshift range

    @cached_property
    def void_tree(self) -> NearestTree | None:
        """Nearest-neighbour tree of the void centres, built once per catalog."""
        return NearestTree(self.void_xyz) if len(self.void_xyz) else None

    @cached_property
    def galzone_tree(self) -> NearestTree:
        """Nearest-neighbour tree of the GALZONE positions, built once per catalog."""
        return NearestTree(self.gal_xyz)

    @cached_property
    def galzone_key(self) -> tuple:
        """Equal for catalogs with the same GALZONE galaxies, cap and cosmology (VIDE, ZOBOV and
        REVOLVER of one cap are run on the same input), whose galaxy matches are then shared."""
        digest = hashlib.sha1(np.ascontiguousarray(self.gal_xyz).tobytes())
        if self.gal_target is not None:
            digest.update(np.ascontiguousarray(self.gal_target).tobytes())
        return (self.cap, self.cosmology.omegam, self.cosmology.h, digest.hexdigest())

    @cached_property
    def gal_target_order(self) -> np.ndarray | None:
        """The order that sorts `gal_target` (for lookups by id), computed once per catalog."""
        return None if self.gal_target is None else np.argsort(self.gal_target, kind="stable")


VoidCatalog = VoidFinderCatalog | V2Catalog


def _effective_radius(radius: np.ndarray, r_eff: np.ndarray | None) -> np.ndarray:
    if r_eff is None:
        return radius.astype(np.float64)
    return np.where(r_eff > 0, r_eff, radius).astype(np.float64)


def magnitude_limit(header: dict) -> float | None:
    """MAGLIM (absolute r magnitude; VoidFinder keeps galaxies brighter than it) unless MAGCUT
    says no cut was applied or the value is empty."""
    value = header.get("MAGLIM")
    if header.get("MAGCUT") is False or value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _limits(header: dict) -> tuple[float, float] | None:
    if header.get("DLIML") is None or header.get("DLIMU") is None:
        return None
    return float(header["DLIML"]), float(header["DLIMU"])


def _narrow_ints(values: np.ndarray) -> np.ndarray:
    """int32 when every value fits (GALZONE holds millions of rows at DR1 size), else int64."""
    info = np.iinfo(np.int32)
    if len(values) == 0 or (values.min() >= info.min and values.max() <= info.max):
        return values.astype(np.int32)
    return values.astype(np.int64)


def share_galzone(catalog: V2Catalog, seen: dict[tuple, V2Catalog]) -> None:
    """VIDE, ZOBOV and REVOLVER of one cap are run on the same GALZONE galaxies: keep one copy
    of their positions and ids (equal values, by `galzone_key`) instead of one per catalog."""
    first = seen.setdefault(catalog.galzone_key, catalog)
    if first is not catalog:
        catalog.gal_xyz, catalog.gal_target = first.gal_xyz, first.gal_target


def _xyz(cols: dict[str, np.ndarray]) -> np.ndarray:
    return np.column_stack([cols["x"], cols["y"], cols["zc"]]).astype(np.float64)


def build_voidfinder(
    name: str,
    header: dict,
    cap: str | None,
    maximals: dict,
    holes: dict,
    omegam: float | None = None,
    mask_image: np.ndarray | None = None,
    advice: str | None = None,
) -> VoidFinderCatalog:
    """A VoidFinderCatalog from MAXIMALS and HOLES columns (lower-case names, Z as zc)."""
    if "void" not in maximals:
        maximals["void"] = np.arange(len(maximals["x"]))
    return VoidFinderCatalog(
        name=name,
        cosmology=from_header(header, name, omegam, advice),
        cap=cap,
        hole_xyz=_xyz(holes),
        hole_radius=holes["radius"].astype(np.float64),
        hole_void=holes["void"].astype(np.int64),
        void_id=maximals["void"].astype(np.int64),
        void_xyz=_xyz(maximals),
        void_radius=_effective_radius(maximals["radius"], maximals.get("r_eff")),
        distance_limits=_limits(header),
        mask_resolution=int(header.get("MSKRES") or 1),
        mask_image=mask_image,
        magnitude_limit=magnitude_limit(header),
    )


def build_v2(
    name: str,
    algorithm: str,
    header: dict,
    cap: str | None,
    voids: dict,
    zonevoid: dict,
    galzone: dict,
    omegam: float | None = None,
    advice: str | None = None,
) -> V2Catalog:
    """A V2Catalog from VOIDS, ZONEVOID and GALZONE columns; GALZONE must have ZONE and OUT
    (which galaxies are inside the V2 volume)."""
    for column in GALZONE_REQUIRED:
        if column not in galzone:
            raise DesivoidError(
                f"void catalog {name}: GALZONE has no {column.upper()} column; it says which "
                "galaxies are inside the V2 volume"
            )
    if "void" not in voids:
        voids["void"] = np.arange(len(voids["x"]))
    order = np.argsort(zonevoid["zone"])
    return V2Catalog(
        name=name,
        algorithm=algorithm,
        cosmology=from_header(header, name, omegam, advice),
        cap=cap,
        gal_target=galzone["target"].astype(np.int64) if "target" in galzone else None,
        gal_xyz=_xyz(galzone),
        gal_zone=_narrow_ints(galzone["zone"]),
        gal_out=(galzone["out"] != 0).astype(np.int8),  # only ever compared with 0
        zone_id=zonevoid["zone"][order].astype(np.int64),
        zone_void0=zonevoid["void0"][order].astype(np.int64),
        zone_void1=zonevoid["void1"][order].astype(np.int64),
        void_id=voids["void"].astype(np.int64),
        void_xyz=_xyz(voids),
        void_radius=voids["radius"].astype(np.float64),
    )


MAXIMALS_COLUMNS = ["x", "y", "zc", "radius", "void", "r_eff"]
HOLES_COLUMNS = ["x", "y", "zc", "radius", "void"]
VOIDS_COLUMNS = ["void", "x", "y", "zc", "radius"]
ZONEVOID_COLUMNS = ["zone", "void0", "void1"]
GALZONE_COLUMNS = ["gal", "target", "x", "y", "zc", "zone", "out"]
GALZONE_REQUIRED = ("zone", "out")
