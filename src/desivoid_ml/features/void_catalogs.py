"""Void catalogs in memory, read from DESIVAST/VAST FITS files or from the `raw` tables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from astropy.io import fits
from psycopg import sql
from scipy.spatial import cKDTree

from desivoid_ml.db.connection import Database
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.cosmology import Cosmology, from_header
from desivoid_ml.ingest.catalogs import catalog_info, classify
from desivoid_ml.ingest.fits_reader import scan


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
    def void_tree(self) -> cKDTree | None:
        """KD-tree of the maximal-sphere centres, built once per catalog."""
        return cKDTree(self.void_xyz) if len(self.void_xyz) else None


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

    @cached_property
    def void_tree(self) -> cKDTree | None:
        """KD-tree of the void centres, built once per catalog."""
        return cKDTree(self.void_xyz) if len(self.void_xyz) else None

    @cached_property
    def galzone_tree(self) -> cKDTree:
        """KD-tree of the GALZONE positions, built once per catalog."""
        return cKDTree(self.gal_xyz)


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


def _columns(table: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Columns by lower-case name (VAST writes either case); Z is renamed zc as in `raw`."""
    lookup = {n.lower(): n for n in table.dtype.names}
    out = {}
    for name in names:
        source = (
            "z" if name == "zc" else ("flag" if name == "void" and "void" not in lookup else name)
        )
        if source in lookup:
            out[name] = np.asarray(table[lookup[source]]).astype(
                table[lookup[source]].dtype.newbyteorder("=")
            )
    return out


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
    """A V2Catalog from VOIDS, ZONEVOID and GALZONE columns."""
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
        gal_zone=galzone["zone"].astype(np.int64),
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
GALZONE_COLUMNS = ["gal", "target", "x", "y", "zc", "zone"]


def read_fits_catalog(path: Path, omegam: float | None = None) -> VoidCatalog:
    """A void catalog straight from a DESIVAST/VAST FITS file."""
    layout = scan(path)
    kind = classify(layout)
    if kind not in ("voidfinder", "v2"):
        raise DesivoidError(
            f"{path.name}: not a VAST void catalog (no MAXIMALS/HOLES or "
            "VOIDS/ZONEVOID/GALZONE HDUs)"
        )
    info = catalog_info(layout, kind)
    header = dict(layout.primary_header)
    with fits.open(path, memmap=True) as hdul:

        def cols(extname: str, names: list[str]) -> dict[str, np.ndarray]:
            return _columns(hdul[extname].data, names)

        if kind == "voidfinder":
            return build_voidfinder(
                info["catalog"],
                header,
                info["cap"],
                cols("MAXIMALS", MAXIMALS_COLUMNS),
                cols("HOLES", HOLES_COLUMNS),
                omegam,
                _image(hdul, "MASK"),
            )
        return build_v2(
            info["catalog"],
            info["algorithm"],
            header,
            info["cap"],
            cols("VOIDS", VOIDS_COLUMNS),
            cols("ZONEVOID", ZONEVOID_COLUMNS),
            cols("GALZONE", GALZONE_COLUMNS),
            omegam,
        )


def _image(hdul: fits.HDUList, extname: str) -> np.ndarray | None:
    """The data of an image HDU with this EXTNAME, or None."""
    for hdu in hdul[1:]:
        if hdu.name.upper() == extname and hdu.is_image and hdu.data is not None:
            return np.asarray(hdu.data)
    return None


DB_OMEGAM_ADVICE = (
    "say which Ωm it was made with, e.g. `desivoid features void_catalogs.omegam=0.3`"
)


def read_db_catalogs(db: Database, omegam: float | None = None) -> list[VoidCatalog]:
    """Every catalog registered in raw.void_catalogs; `omegam` for those without OMEGAM."""
    with db.connect() as conn:
        rows = conn.execute(
            sql.SQL("SELECT catalog, algorithm, cap, header FROM {} ORDER BY catalog").format(
                sql.Identifier(db.ns.raw, "void_catalogs")
            )
        ).fetchall()
        catalogs = []
        for name, algorithm, cap, header in rows:
            header = header if isinstance(header, dict) else json.loads(header)

            def cols(table: str, names: list[str], name=name) -> dict[str, np.ndarray]:
                return _db_columns(conn, db.ns.raw, table, name, names)

            if algorithm == "VoidFinder":
                catalogs.append(
                    build_voidfinder(
                        name,
                        header,
                        cap,
                        cols("vf_maximals", MAXIMALS_COLUMNS),
                        cols("vf_holes", HOLES_COLUMNS),
                        omegam,
                        read_db_mask(conn, db.ns.raw, name),
                        DB_OMEGAM_ADVICE,
                    )
                )
            else:
                catalogs.append(
                    build_v2(
                        name,
                        algorithm,
                        header,
                        cap,
                        cols("v2_voids", VOIDS_COLUMNS),
                        cols("v2_zonevoid", ZONEVOID_COLUMNS),
                        cols("v2_galzone", GALZONE_COLUMNS),
                        omegam,
                        DB_OMEGAM_ADVICE,
                    )
                )
    return catalogs


def read_db_mask(conn, schema: str, catalog: str) -> np.ndarray | None:
    """The MASK HDU stored at ingest (raw.vf_masks), or None."""
    if not conn.execute("SELECT to_regclass(%s)", (f"{schema}.vf_masks",)).fetchone()[0]:
        return None
    row = conn.execute(
        sql.SQL("SELECT n_ra, n_dec, cells FROM {} WHERE catalog = %s").format(
            sql.Identifier(schema, "vf_masks")
        ),
        (catalog,),
    ).fetchone()
    if row is None:
        return None
    n_ra, n_dec, cells = row
    return np.unpackbits(np.frombuffer(cells, dtype=np.uint8), count=n_ra * n_dec).reshape(
        n_ra, n_dec
    )


def _db_columns(
    conn, schema: str, table: str, catalog: str, names: list[str]
) -> dict[str, np.ndarray]:
    present = table_columns(conn, schema, table)
    wanted = [n for n in names if n in present]
    rows = conn.execute(
        sql.SQL("SELECT {} FROM {} WHERE catalog = %s").format(
            sql.SQL(", ").join(map(sql.Identifier, wanted)), sql.Identifier(schema, table)
        ),
        (catalog,),
    ).fetchall()
    if not rows:
        return {n: np.zeros(0) for n in wanted}
    return {n: np.array([r[i] for r in rows]) for i, n in enumerate(wanted)}
