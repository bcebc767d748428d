"""Stacked void-centric profiles: how galaxies change from the void centre outwards.

Per algorithm, on the galaxies of its sample (`<prefix>_sample` void or wall; edge and outside
galaxies are in neither), in bins of r/R_void (`<prefix>_r_over_rvoid`: distance to the nearest
void centre over its radius) and of stellar mass: the median and 16/84 % of each property, the
median again with every r bin reweighted to its mass bin's redshift mix ("matched on z"), each
with a delete-one jackknife sigma over sky regions; and the voids' own number-density profile
n(r)/n_mean (analysis/void_density.py). Read-only on features.galaxy and features.voids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import psycopg
from psycopg import sql

from desivoid_ml.analysis.agreement import sample_algorithms
from desivoid_ml.analysis.profile_cells import CellProfile, profile_cells, select
from desivoid_ml.analysis.profile_data import bins, read_columns, regions_of
from desivoid_ml.analysis.profile_stats import QUANTILES, z_cell, z_cell_edges
from desivoid_ml.analysis.regions import sky_regions
from desivoid_ml.analysis.void_density import density_profile
from desivoid_ml.db.connection import Namespace
from desivoid_ml.db.introspect import relation_exists, table_columns
from desivoid_ml.errors import DesivoidError

R_EDGES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
MASS_EDGES = (9.0, 10.0, 10.5, 11.0, 12.0)
DENSITY = "density"  # the property name of the density-profile rows
POSITIONS = ("z", "ra", "dec", "x", "y", "zc")
DENSITY_GALAXIES = 300_000  # the density profile counts a strided subsample of at most this many


@dataclass(frozen=True)
class ProfileRequest:
    """What to stack; algorithms are prefixes (None: every algorithm with a sample column)."""

    properties: tuple[str, ...] = ("g_r", "log_ssfr")
    algorithms: tuple[str, ...] | None = None
    r_edges: tuple[float, ...] = R_EDGES
    mass_edges: tuple[float, ...] = MASS_EDGES
    mass: str = "logmstar"
    z_cells: int = 5
    regions: int = 64
    density: bool = True

    def check(self) -> None:
        for name, edges in (("r/R_void", self.r_edges), ("mass", self.mass_edges)):
            if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
                raise DesivoidError(f"{name} edges must be two or more increasing numbers")
        if self.r_edges[0] < 0:
            raise DesivoidError("r/R_void edges must be >= 0")
        if self.z_cells < 1 or self.regions < 2:
            raise DesivoidError("z cells must be >= 1 and jackknife regions >= 2")


@dataclass
class Profiles:
    rows: list[dict] = field(default_factory=list)
    galaxies: int = 0
    empty: list[str] = field(default_factory=list)  # bins left empty for some algorithm


def profiles(conn: psycopg.Connection, ns: Namespace, request: ProfileRequest) -> Profiles:
    """Every row of the profiles (checked first: nothing is returned half-done)."""
    request.check()
    present = table_columns(conn, ns.features, "galaxy")
    algorithms = _algorithms(present, request)
    _check_properties(present, request)
    if request.density and not relation_exists(conn, ns.features, "voids"):
        raise DesivoidError("features.voids does not exist; run `desivoid features` first")
    floats = [f"{p}_r_over_rvoid" for p in algorithms]
    floats += [*dict.fromkeys((*request.properties, request.mass, *POSITIONS))]
    data = read_columns(conn, ns, list(algorithms), floats)
    region = regions_of(data["ra"], data["dec"], request.regions)
    result = Profiles(galaxies=len(region))
    m_bin = bins(data[request.mass], request.mass_edges)
    r_bins = {p: bins(data[f"{p}_r_over_rvoid"], request.r_edges) for p in algorithms}
    result.empty = _check_bins(data, region, m_bin, r_bins, algorithms, request)
    voids = _voids(conn, ns, algorithms) if request.density else {}
    for prefix, name in algorithms.items():
        in_sample = data[f"{prefix}_sample"] >= 0
        usable = in_sample & (region >= 0) & (r_bins[prefix] >= 0) & (m_bin >= 0)
        result.rows += _property_rows(data, region, usable, m_bin, r_bins[prefix], name, request)
        if request.density:
            result.rows += _density_rows(data, prefix, name, in_sample, voids[name], request)
    return result


def _algorithms(present: dict[str, str], request: ProfileRequest) -> dict[str, str]:
    available = sample_algorithms(present)
    if not available:
        raise DesivoidError(
            "features.galaxy has no <alg>_sample column; run `desivoid features` first"
        )
    chosen = request.algorithms or tuple(available)
    unknown = [p for p in chosen if p not in available]
    if unknown:
        raise DesivoidError(
            f"unknown algorithm {unknown[0]!r}; features.galaxy has samples of "
            f"{', '.join(available.values())}"
        )
    return {p: available[p] for p in chosen}


def _check_properties(present: dict[str, str], request: ProfileRequest) -> None:
    for name in (*request.properties, request.mass, *POSITIONS):
        if name not in present:
            raise DesivoidError(f"unknown property {name!r}: not a column of features.galaxy")


def _property_rows(data, region, usable, m_bin, r_bin, name, request: ProfileRequest) -> list:
    """Rows of every property of one algorithm; `usable`: in its sample, region and bins known."""
    nr, nm = len(request.r_edges) - 1, len(request.mass_edges) - 1
    z = data["z"]
    z_known = np.isfinite(z)
    rows = usable & z_known
    edges = z_cell_edges(z[rows], m_bin[rows], nm, request.z_cells)
    z_cells = z_cell(np.where(z_known, z, 0.0), m_bin, edges)
    found = {}
    for prop in request.properties:
        cells = select(usable & np.isfinite(data[prop]), r_bin, m_bin, nr, nm)
        found[prop] = profile_cells(cells, data[prop], z_known, z_cells, region, request.regions)
    return [
        _row(name, prop, request, *divmod(c, nr), profile, c)
        for prop, profile in found.items()
        for c in range(nm * nr)
    ]


def _row(name, prop, request, m, r, profile: CellProfile, c) -> dict:
    raw, matched = profile.raw, profile.matched
    median, p16, p84 = (raw.value[c, QUANTILES.index(q)] for q in (0.5, 0.16, 0.84))
    return {
        "algorithm": name,
        "property": prop,
        "mass_lo": float(request.mass_edges[m]),
        "mass_hi": float(request.mass_edges[m + 1]),
        "r_lo": float(request.r_edges[r]),
        "r_hi": float(request.r_edges[r + 1]),
        "n": int(profile.counts[c]),
        "median": float(median),
        "median_err": float(raw.sigma[c, 0]),
        "p16": float(p16),
        "p84": float(p84),
        "median_matched": float(matched.value[c, 0]),
        "median_matched_err": float(matched.sigma[c, 0]),
    }


def _check_bins(data, region, m_bin, r_bins, algorithms, request: ProfileRequest) -> list[str]:
    """A (mass, r/R) bin that no chosen algorithm fills is an error naming it; one that only
    some leave empty (e.g. no VIDE galaxy near its centres) stays in the output with n = 0 and
    no median, and is listed."""
    nr, nm = len(request.r_edges) - 1, len(request.mass_edges) - 1
    notes = []
    for prop in request.properties:
        known = np.isfinite(data[prop]) & (region >= 0) & (m_bin >= 0)
        counts = {}
        for p, name in algorithms.items():
            keep = known & (data[f"{p}_sample"] >= 0) & (r_bins[p] >= 0)
            cell = m_bin[keep].astype(np.int64) * nr + r_bins[p][keep]
            counts[name] = np.bincount(cell, minlength=nm * nr)
        for c in np.flatnonzero(sum(counts.values()) == 0):
            raise DesivoidError(
                f"empty bin: no galaxy with {prop} at {_bin_text(c, nr, request)} in the "
                f"sample of {', '.join(counts)}; choose wider --r-edges / --mass-edges"
            )
        for name, n in counts.items():
            notes += [
                f"{name}: no galaxy with {prop} at {_bin_text(c, nr, request)}"
                for c in np.flatnonzero(n == 0)
            ]
    return notes


def _bin_text(c: int, nr: int, request: ProfileRequest) -> str:
    m, r = divmod(int(c), nr)
    return (
        f"r/R_void {request.r_edges[r]:g}-{request.r_edges[r + 1]:g} and {request.mass} "
        f"{request.mass_edges[m]:g}-{request.mass_edges[m + 1]:g}"
    )


def _voids(conn, ns: Namespace, algorithms: dict[str, str]) -> dict[str, np.ndarray]:
    """algorithm name -> (voids, 4) centres and radii from features.voids."""
    out = {}
    for name in algorithms.values():
        rows = conn.execute(
            sql.SQL("SELECT x, y, z, radius FROM {} WHERE algorithm = %s AND radius > 0").format(
                sql.Identifier(ns.features, "voids")
            ),
            (name,),
        ).fetchall()
        if not rows:
            raise DesivoidError(f"features.voids has no void of {name}; run `desivoid features`")
        out[name] = np.asarray(rows, dtype=np.float64)
    return out


def _density_rows(data, prefix, name, in_sample, voids, request: ProfileRequest) -> list[dict]:
    rows = np.flatnonzero(in_sample)
    rows = rows[:: max(len(rows) // DENSITY_GALAXIES, 1)]  # n/n_mean: both counts subsampled
    xyz = np.stack([data["x"][rows], data["y"][rows], data["zc"][rows]], axis=1).astype(float)
    xyz = xyz[np.isfinite(xyz).all(axis=1)]
    centres, radii = voids[:, :3], voids[:, 3]
    distance = np.linalg.norm(centres, axis=1)
    ra = np.degrees(np.arctan2(centres[:, 1], centres[:, 0])) % 360.0
    dec = np.degrees(np.arcsin(np.clip(centres[:, 2] / np.maximum(distance, 1e-300), -1, 1)))
    region = sky_regions(ra, dec, request.regions)
    found = density_profile(xyz, centres, radii, request.r_edges, region)
    return [
        {
            "algorithm": name,
            "property": DENSITY,
            "mass_lo": float("nan"),
            "mass_hi": float("nan"),
            "r_lo": float(request.r_edges[r]),
            "r_hi": float(request.r_edges[r + 1]),
            "n": int(found.galaxies[r]),
            "median": float(found.ratio[r]),
            "median_err": float(found.sigma[r]),
            "p16": float("nan"),
            "p84": float("nan"),
            "median_matched": float("nan"),
            "median_matched_err": float("nan"),
        }
        for r in range(len(request.r_edges) - 1)
    ]
