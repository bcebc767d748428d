"""DESIVAST-like void files: VoidFinder (MAXIMALS, HOLES) and V2 (VOIDS, ZONEVOID, GALZONE, ...).

HDU order, column names, TFORMs, TUNITs and PRIMARY keywords follow the real VAST outputs in
tests/data/real/voids/ (upper-case names, int64 'K' and float64 'D' only). One file per
cap and algorithm; each holds only that cap's voids and V2 input galaxies (the volume-limited
sample: SPECTYPE GALAXY, Z < V2_INPUT_ZMAX, ABSMAG01_SDSS_R < MAGLIM, inside the cap) in the
order they were generated; GALZONE.TARGET is their TARGETID. Input galaxies outside the V2
redshift limits have GALZONE rows with ZONE = -1 and OUT = 1, as in the real files (`galzone`);
VoidFinder's header counts only the in-volume ones.
Keyword differences from the real files: MAGLIM and MMR carry values (the real ones are empty),
and VoidFinder also records MAGLIM.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from desivoid_ml.synth.cosmo import radec_to_xyz
from desivoid_ml.synth.datamodel import ColumnDef, row_dtype
from desivoid_ml.synth.fits_stream import HeaderCards, bintable_header, primary_header, write_tables
from desivoid_ml.synth.galzone import galviz_columns, galzone_columns, in_volume
from desivoid_ml.synth.universe import (
    MAGLIM,
    MMR,
    OMEGAM_V2,
    OMEGAM_VF,
    ZLIML,
    ZLIMU,
    Cap,
    CapVoids,
    Universe,
)
from desivoid_ml.synth.vast_layout import (
    GALVIZ_COLUMNS,
    GALZONE_COLUMNS,
    HOLES_COLUMNS,
    MAXIMALS_COLUMNS,
    TRIANGLE_COLUMNS,
    VOIDS_COLUMNS,
    ZONEVOID_COLUMNS,
)
from desivoid_ml.synth.zones import ALGORITHMS, MINR, Zones, build_catalog, build_zones, v2_shell

NNS = 3  # Nth neighbour used for the wall/field split


@dataclass
class V2Input:
    """The V2 input galaxies of one cap, in input order (GAL = row index)."""

    targetid: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    z: np.ndarray

    def in_volume(self) -> V2Input:
        """The galaxies inside the V2 redshift limits, in input order."""
        keep = in_volume(self.z)
        return V2Input(self.targetid[keep], self.ra[keep], self.dec[keep], self.z[keep])


def voidfinder_name(cap: str) -> str:
    return f"DESIVAST_BGS_VOLLIM_VoidFinder_{cap}.fits"


def v2_name(algorithm: str, cap: str) -> str:
    return f"DESIVAST_BGS_VOLLIM_V2_{algorithm}_{cap}.fits"


def _table(
    name: str, columns: tuple[ColumnDef, ...], data: dict[str, np.ndarray], cards: list = ()
) -> tuple[HeaderCards, np.ndarray]:
    """Header and big-endian rows of one small in-memory table."""
    dtype = row_dtype(columns)
    n = len(next(iter(data.values()))) if data else 0
    rows = np.zeros(n, dtype=dtype)
    for col in columns:
        rows[col.name] = data[col.name]
    return bintable_header(name, columns, n, dtype.itemsize, cards), rows


def _coverage(cap: Cap, d_lo: float, d_hi: float) -> list:
    sr = cap.solid_angle
    return [
        ("COVSTR", round(sr, 2), "Sky Coverage (Steradians)"),
        ("COVDEG", round(sr * (180 / np.pi) ** 2, 2), "Sky Coverage (Degrees^2)"),
        ("VOLUME", round(sr / 3 * (d_hi**3 - d_lo**3), 2), "Survey Volume (Mpc/h)^3"),
    ]


def _wall_field(xyz: np.ndarray) -> tuple[float, float, int]:
    """Mean and sd of the NNS-th neighbour distance, and how many galaxies are field (isolated)."""
    if len(xyz) <= NNS:
        return 0.0, 0.0, 0
    d, _ = cKDTree(xyz).query(xyz, k=NNS + 1)
    nth = d[:, NNS]
    mean, sd = float(nth.mean()), float(nth.std())
    return mean, sd, int(np.sum(nth > mean + 1.5 * sd))


def _voidfinder_primary(universe: Universe, cap: Cap, xyz: np.ndarray, n_voids: int) -> HeaderCards:
    d_lo, d_hi = universe.d_lo, universe.d_hi
    n = len(xyz)
    volume = cap.solid_angle / 3 * (d_hi**3 - d_lo**3)
    density = n / volume
    nnsa, nnss, field = _wall_field(xyz)
    origin = xyz.min(axis=0) if n else np.zeros(3)
    cards = [
        ("INFILE", f"BGS_VOLLIM_{cap.name}.fits", "Input Galaxy Table"),
        ("METRIC", "comoving", "Distance Metric"),
        ("DLIML", round(d_lo, 2), "Lower Distance Limit (Mpc/h)"),
        ("DLIMU", round(d_hi, 2), "Upper Distance Limit (Mpc/h)"),
        ("ZLIML", ZLIML, "Lower Redshift Limit"),
        ("ZLIMU", ZLIMU, "Upper Redshift Limit"),
        ("OMEGAM", OMEGAM_VF, "Matter Density"),
        ("HP", 1.0, "Reduced Hubble Parameter h (((km/s)/Mpc)/100)"),
        ("NNS", NNS, "Nth Neighbor Used for Wall-Field Separation"),
        ("NNSA", round(nnsa, 2), "Average Nth Neighbor Separation (Mpc/h)"),
        ("NNSS", round(nnss, 2), "STD of Nth Neighbor Separation (Mpc/h)"),
        ("DUPL", 0, "Number of Duplicate Galaxies Removed"),
        ("RMISO", True, "Isolated Galaxies Removed"),
        ("MAGCUT", True, "Magnitude Cut Applied"),
        ("MAGLIM", MAGLIM, "Magnitude Limit (dex)"),
        ("MSKRES", 1, "Mask Resolution"),
        *_coverage(cap, d_lo, d_hi),
        ("GALAXY", n, "Galaxy Count"),
        ("WALLNUM", n - field, "Wall Galaxy Count"),
        ("FIELDNUM", field, "Field Galaxy Count"),
        ("DENSITY", round(density, 6), "Galaxy Count Density (Mpc/h)^-3"),
        ("AVSEP", round(density ** (-1 / 3), 2) if n else 0.0, "Average Galaxy Separation (Mpc/h)"),
        ("VOID", n_voids, "Void Count"),
        ("CHKE", True, "Check Only Empty Cells"),
        ("MHMO", 0.1, "Max Hole Mask Overlap"),
        ("HGEL", 5.0, "Hole Grid Edge Length"),
        *(
            (f"GO{a}", round(float(o), 2), f"Grid Origin {a} Coordinate")
            for a, o in zip("XYZ", origin, strict=True)
        ),
        ("MMR", MMR, "Edge Length of NN Grid"),
        ("PPUV", 0.01, "Points per Unit Volume"),
        ("NCPU", 1, "Number of CPUs"),
        ("BS", 10000, "Batch Size"),
    ]
    return primary_header(cards)


def write_voidfinder(path: Path, universe: Universe, voids: CapVoids, sample: V2Input) -> int:
    """One cap's VoidFinder file; returns its size in bytes."""
    xyz = radec_to_xyz(sample.ra, sample.dec, universe.dist_vf.comoving(sample.z))
    c = voids.centres
    ra = np.degrees(np.arctan(c[:, 1] / c[:, 0])) + np.where(c[:, 0] < 0, 180.0, 0.0)
    r_eff, r_eff_uncert = voids.r_eff
    m = len(voids.radii)
    maximals = {
        "X": c[:, 0],
        "Y": c[:, 1],
        "Z": c[:, 2],
        "RADIUS": voids.radii,
        "VOID": np.arange(m, dtype=np.int64),
        "EDGE": voids.edge,
        "R": np.linalg.norm(c, axis=1),
        "RA": ra,
        "DEC": np.degrees(np.arcsin(c[:, 2] / np.linalg.norm(c, axis=1))),
        "R_EFF": r_eff,
        "R_EFF_UNCERT": r_eff_uncert,
    }
    h = voids.hole_xyz
    holes = {
        "X": h[:, 0],
        "Y": h[:, 1],
        "Z": h[:, 2],
        "RADIUS": voids.hole_radius,
        "VOID": voids.hole_void,
    }
    count = ("VOID", m, "Void Count")
    tables = [
        _table("MAXIMALS", MAXIMALS_COLUMNS, maximals, [count]),
        _table("HOLES", HOLES_COLUMNS, holes, [count, ("HOLE", len(h), "Hole Count")]),
    ]
    return write_tables(path, _voidfinder_primary(universe, voids.cap, xyz, m), tables)


def _v2_primary(universe: Universe, cap: Cap, zones: Zones) -> HeaderCards:
    d_lo, d_hi = v2_shell(universe)
    n = len(zones.xyz)
    volume = cap.solid_angle / 3 * (d_hi**3 - d_lo**3)
    lo = np.floor(zones.xyz.min(axis=0)) if n else np.zeros(3)
    hi = np.ceil(zones.xyz.max(axis=0)) if n else np.zeros(3)
    cards = [
        ("INFILE", f"BGS_VOLLIM_{cap.name}.fits", "Input Galaxy Table"),
        ("HP", 1.0, "Reduced Hubble Parameter h (((km/s)/Mpc)/100)"),
        ("OMEGAM", OMEGAM_V2, "Matter Density"),
        ("ZLIML", ZLIML, "Lower Redshift Limit"),
        ("ZLIMU", ZLIMU, "Upper Redshift Limit"),
        ("DLIML", d_lo, "Lower Distance Limit (Mpc/h)"),
        ("DLIMU", d_hi, "Upper Distance Limit (Mpc/h)"),
        ("MINR", MINR, "Minimum Void Radius (Mpc/h)"),
        ("ZSTEP", 5e-05, "Step Size for r-to-z Lookup Table"),
        ("NSIDE", 64, "NSIDE for HEALPix Pixelization"),
        ("MAGLIM", MAGLIM, "Magnitude Limit (dex)"),
        *(
            (f"P{a}MIN", float(v), f"Lower {a}-limit for Periodic Boundary Conditions")
            for a, v in zip("XYZ", lo, strict=True)
        ),
        *(
            (f"P{a}MAX", float(v), f"Upper {a}-limit for Periodic Boundary Conditions")
            for a, v in zip("XYZ", hi, strict=True)
        ),
        ("BUFFER", 5.0, "Periodic Buffer Shell Width (Mpc/h)"),
        *_coverage(cap, d_lo, d_hi),
        ("MSKGAL", n, "Number of Galaxies in Tesselation"),
        ("MSKDEN", round(n / volume, 6), "Galaxy Count Density (Mpc/h)^-3"),
        (
            "MSKSEP",
            round((n / volume) ** (-1 / 3), 2) if n else 0.0,
            "Average Galaxy Separation (Mpc/h)",
        ),
    ]
    return primary_header(cards)


def write_v2(
    path: Path,
    algorithm: str,
    universe: Universe,
    voids: CapVoids,
    zones: Zones,
    sample: V2Input,
    rng: np.random.Generator,
) -> int:
    """One cap's V2 file for one algorithm; returns its size in bytes."""
    cat = build_catalog(algorithm, universe, voids, zones, rng)
    n = len(sample.z)
    galzone = galzone_columns(universe, sample.targetid, sample.ra, sample.dec, sample.z, zones)
    tables = [
        _table("VOIDS", VOIDS_COLUMNS, cat.voids, [("VOID", len(cat.voids["VOID"]), "Void Count")]),
        _table(
            "ZONEVOID",
            ZONEVOID_COLUMNS,
            cat.zonevoid,
            [("COUNT", len(cat.zonevoid["ZONE"]), "Zone Count")],
        ),
        _table("GALZONE", GALZONE_COLUMNS, galzone, [("COUNT", n, "Galaxy Count")]),
    ]
    if algorithm != "ZOBOV":
        tables += [
            _table(
                "TRIANGLE",
                TRIANGLE_COLUMNS,
                cat.triangles,
                [("COUNT", len(cat.triangles["VOID"]), "Triangle Count")],
            ),
            _table(
                "GALVIZ",
                GALVIZ_COLUMNS,
                galviz_columns(cat.galviz, sample.z),
                [("COUNT", n, "Galaxy Count")],
            ),
        ]
    return write_tables(path, _v2_primary(universe, voids.cap, zones), tables)


def write_vast(
    out_dir: Path, universe: Universe, samples: dict[str, V2Input], seed_seq: np.random.SeedSequence
) -> list[tuple[Path, int]]:
    """All eight void files: VoidFinder and V2 VIDE/ZOBOV/REVOLVER for NGC and SGC."""
    written = []
    for (cap, voids), child in zip(
        universe.voids.items(), seed_seq.spawn(len(universe.voids)), strict=True
    ):
        sample = samples[cap]
        inside = sample.in_volume()
        path = out_dir / voidfinder_name(cap)
        written.append((path, write_voidfinder(path, universe, voids, inside)))
        zone_seed, *alg_seeds = child.spawn(1 + len(ALGORITHMS))
        zones = build_zones(
            universe, voids, inside.ra, inside.dec, inside.z, np.random.default_rng(zone_seed)
        )
        for algorithm, alg_seed in zip(ALGORITHMS, alg_seeds, strict=True):
            path = out_dir / v2_name(algorithm, cap)
            size = write_v2(
                path, algorithm, universe, voids, zones, sample, np.random.default_rng(alg_seed)
            )
            written.append((path, size))
    return written
