"""V2 (ZOBOV-style) zones and voids over the V2 input galaxies of one cap; pure computation.

Zone seeds are each VoidFinder void's maximal centre (its core), 0-2 sub-seeds inside the maximal
sphere, and wall seeds spread outside every hole. A galaxy's zone is its nearest seed in V2
coordinates (a Voronoi partition, via a KD-tree); seeds that catch no galaxy make no zone. A zone
belongs to the V2 void built on the VoidFinder void whose maximal sphere contains its seed; wall
zones belong to none (-1). ZOBOV keeps every such void with RADIUS > MINR plus some nested sub-voids
(VOID0 = sub-void, VOID1 = parent); REVOLVER and VIDE keep only the largest (VOID0 == VOID1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from desivoid_ml.synth.cosmo import radec_to_xyz, xyz_to_radec
from desivoid_ml.synth.universe import ZLIML, ZLIMU, CapVoids, Universe

MINR = 10.0
WALL_SEED_SPACING = 22.0  # Mpc/h between wall seeds
SUB_SEEDS = (0, 3)  # sub-seeds per void, uniform in [lo, hi)
NESTED_FRACTION = 0.5  # ZOBOV parents with a sub-zone that keep a nested sub-void
# voids kept per candidate (a VF void owning a zone), and RADIUS / R_EFF ranges;
# DR1 has ZOBOV > REVOLVER > VIDE (sec. 6 of the data model)
KEEP = {"REVOLVER": 0.57, "VIDE": 0.42}
RADIUS_FACTOR = {"ZOBOV": (0.6, 1.1), "REVOLVER": (0.75, 1.1), "VIDE": (0.7, 1.15)}
ZOBOV_MAX_FRACTION = 0.93  # ZOBOV never finds more voids than VoidFinder does
ALGORITHMS = ("VIDE", "ZOBOV", "REVOLVER")


@dataclass
class Zones:
    """Zone partition of one cap's V2 galaxies (shared by the three V2 algorithms)."""

    xyz: np.ndarray  # (n, 3) galaxies in V2 coordinates
    zone: np.ndarray  # (n,) zone of each galaxy
    depth: np.ndarray  # (n,)
    edge: np.ndarray  # (n,)
    seed_xyz: np.ndarray  # (nz, 3) zone seeds in V2 coordinates
    zone_void: np.ndarray  # (nz,) VoidFinder void index of the zone, -1 for wall zones
    zone_core: np.ndarray  # (nz,) True for the zone seeded at its void's maximal centre


@dataclass
class V2Tables:
    """One algorithm's tables for one cap, as column dicts."""

    voids: dict[str, np.ndarray]
    zonevoid: dict[str, np.ndarray]
    galviz: dict[str, np.ndarray]
    triangles: dict[str, np.ndarray]


def v2_shell(universe: Universe) -> tuple[float, float]:
    """DLIML, DLIMU in V2 coordinates."""
    d = universe.dist_v2.comoving(np.array([ZLIML, ZLIMU]))
    return float(d[0]), float(d[1])


def vf_to_v2(universe: Universe, xyz_vf: np.ndarray) -> np.ndarray:
    """Move points from VoidFinder to V2 comoving coordinates through their redshift."""
    ra, dec, r = xyz_to_radec(xyz_vf)
    z = universe.dist_vf.redshift(r)
    return radec_to_xyz(ra, dec, universe.dist_v2.comoving(z))


def _seeds(universe: Universe, voids: CapVoids, rng: np.random.Generator):
    """Seed positions (VF coordinates), their void (-1 wall) and whether each is a void core."""
    m = len(voids.radii)
    owner = np.repeat(np.arange(m), rng.integers(*SUB_SEEDS, m))
    direction = rng.standard_normal((len(owner), 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    sub = voids.centres[owner] + (0.55 * voids.radii[owner])[:, None] * direction
    volume = voids.cap.solid_angle / 3.0 * (universe.d_hi**3 - universe.d_lo**3)
    n_wall = int(volume / WALL_SEED_SPACING**3)
    ra, dec = voids.cap.sample(n_wall, rng)
    wall = radec_to_xyz(ra, dec, np.cbrt(rng.uniform(universe.d_lo**3, universe.d_hi**3, n_wall)))
    wall = wall[~voids.contains(wall)]
    xyz = np.vstack([voids.centres, sub, wall])
    void = np.concatenate([np.arange(m), owner, np.full(len(wall), -1)])
    core = np.concatenate([np.ones(m, bool), np.zeros(len(owner) + len(wall), bool)])
    return xyz, void, core


def build_zones(universe: Universe, voids: CapVoids, ra, dec, z, rng: np.random.Generator) -> Zones:
    """Nearest-seed zones of the V2 galaxies of one cap, with DEPTH and EDGE."""
    xyz = radec_to_xyz(ra, dec, universe.dist_v2.comoving(z))
    seed_vf, seed_void, seed_core = _seeds(universe, voids, rng)
    seed_xyz = vf_to_v2(universe, seed_vf)
    dist, nearest = cKDTree(seed_xyz).query(xyz)
    used, zone = np.unique(np.asarray(nearest, dtype=np.int64), return_inverse=True)
    d_lo, d_hi = v2_shell(universe)
    volume = voids.cap.solid_angle / 3.0 * (d_hi**3 - d_lo**3)
    spacing = np.cbrt(volume / max(len(xyz), 1))
    depth = np.floor(np.asarray(dist) / spacing).astype(np.int64)
    edge = (voids.cap.boundary_distance(xyz, d_lo, d_hi) < 0.5 * spacing).astype(np.int64)
    return Zones(
        xyz, zone.astype(np.int64), depth, edge, seed_xyz[used], seed_void[used], seed_core[used]
    )


def _parent_radii(algorithm: str, zones: Zones, voids: CapVoids, rng):
    """VoidFinder voids that own a zone, and their V2 RADIUS for this algorithm (> MINR)."""
    parents = np.unique(zones.zone_void[zones.zone_void >= 0])
    r_eff = voids.r_eff[0][parents]
    radius = r_eff * rng.uniform(*RADIUS_FACTOR[algorithm], len(parents))
    keep = radius > MINR
    return parents[keep], radius[keep]


def _n_pruned(algorithm: str, n_candidates: int) -> int:
    """REVOLVER / VIDE void counts: fewer than the candidates, VIDE fewer than REVOLVER."""
    n_rev = min(max(1, round(KEEP["REVOLVER"] * n_candidates)), max(n_candidates - 1, 1))
    if algorithm == "REVOLVER" or n_candidates == 0:
        return n_rev if n_candidates else 0
    n_vide = max(1, round(KEEP["VIDE"] * n_candidates))
    return min(n_vide, n_rev - 1) if n_rev > 1 else n_vide


def _nested(zones: Zones, parents: np.ndarray, radius: np.ndarray, rng) -> list[tuple]:
    """ZOBOV sub-voids: (zone index, radius, parent position in `parents`) for some parents."""
    sub_zones = np.nonzero(~zones.zone_core & (zones.zone_void >= 0))[0]
    first: dict[int, int] = {}
    for zi in sub_zones:
        first.setdefault(int(zones.zone_void[zi]), int(zi))
    where = {int(v): i for i, v in enumerate(parents)}
    out = []
    for v, zi in sorted(first.items()):
        if v in where and rng.random() < NESTED_FRACTION:
            r = radius[where[v]] * rng.uniform(0.45, 0.75)
            if r > MINR:
                out.append((zi, r, where[v]))
    return out


def _select(algorithm: str, zones: Zones, voids: CapVoids, rng):
    """Parent voids (VF indices, by decreasing radius), their radii and ZOBOV's nested sub-voids."""
    n_candidates = len(np.unique(zones.zone_void[zones.zone_void >= 0]))
    parents, radius = _parent_radii(algorithm, zones, voids, rng)
    order = np.argsort(-radius, kind="stable")
    parents, radius = parents[order], radius[order]
    if algorithm != "ZOBOV":  # pruning keeps mostly, not only, the larger voids
        n = min(_n_pruned(algorithm, n_candidates), len(parents))
        weight = radius / radius.sum() if n else None
        pick = np.sort(rng.choice(len(parents), n, replace=False, p=weight)) if n else []
        return parents[pick], radius[pick], []
    nested = _nested(zones, parents, radius, rng)
    extra = np.zeros(len(parents), dtype=np.int64)
    for _, _, p in nested:
        extra[p] = 1
    limit = ZOBOV_MAX_FRACTION * len(voids.radii)
    n = int(np.searchsorted(np.cumsum(1 + extra), limit, side="right"))
    return parents[:n], radius[:n], [item for item in nested if item[2] < n]


def _icosphere() -> tuple[np.ndarray, np.ndarray]:
    """Unit sphere triangulation: icosahedron subdivided once (80 faces)."""
    t = (1 + 5**0.5) / 2
    v = np.array(
        [
            (-1, t, 0),
            (1, t, 0),
            (-1, -t, 0),
            (1, -t, 0),
            (0, -1, t),
            (0, 1, t),
            (0, -1, -t),
            (0, 1, -t),
            (t, 0, -1),
            (t, 0, 1),
            (-t, 0, -1),
            (-t, 0, 1),
        ],
        float,
    )
    f = np.array(
        [
            (0, 11, 5),
            (0, 5, 1),
            (0, 1, 7),
            (0, 7, 10),
            (0, 10, 11),
            (1, 5, 9),
            (5, 11, 4),
            (11, 10, 2),
            (10, 7, 6),
            (7, 1, 8),
            (3, 9, 4),
            (3, 4, 2),
            (3, 2, 6),
            (3, 6, 8),
            (3, 8, 9),
            (4, 9, 5),
            (2, 4, 11),
            (6, 2, 10),
            (8, 6, 7),
            (9, 8, 1),
        ]
    )
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
    corners = ((a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca))
    tris = np.concatenate([np.stack(t, 1) for t in corners])
    return tris / np.linalg.norm(tris, axis=2, keepdims=True), len(tris)


def _axes(radius: np.ndarray, rng) -> np.ndarray:
    """(k, 3, 3) ellipsoid axis vectors (rows), each an eigenvector scaled by its semi-axis."""
    q, _ = np.linalg.qr(rng.standard_normal((len(radius), 3, 3)))
    e1, e2 = rng.uniform(1.0, 1.4, len(radius)), rng.uniform(0.85, 1.0, len(radius))
    semi = radius[:, None] * np.stack([e1, e2, 1.0 / (e1 * e2)], 1)
    semi = -np.sort(-semi, axis=1)
    return np.transpose(q, (0, 2, 1)) * semi[:, :, None]


def _triangles(void_id: np.ndarray, centre: np.ndarray, axes: np.ndarray) -> dict[str, np.ndarray]:
    """TRIANGLE rows: each void's boundary as a deformed icosphere, outward unit normals."""
    unit, per = _icosphere()
    pts = centre[:, None, None, :] + np.einsum("tpj,kji->ktpi", unit, axes)
    p1, p2, p3 = pts[:, :, 0], pts[:, :, 1], pts[:, :, 2]
    normal = np.cross(p2 - p1, p3 - p1)
    flip = np.sum(normal * (p1 - centre[:, None]), axis=2) < 0
    normal[flip] *= -1
    normal /= np.linalg.norm(normal, axis=2, keepdims=True)
    cols = {"VOID": np.repeat(void_id, per)}
    for name, arr in (("N", normal), ("P1", p1), ("P2", p2), ("P3", p3)):
        for k, axis in enumerate("XYZ"):
            cols[f"{name}_{axis}"] = arr[:, :, k].ravel()
    return cols


def _voids_table(universe, voids: CapVoids, parents, centres, radius, rng):
    """VOIDS columns (rows already in ID order) and the ellipsoid axes used for TRIANGLE."""
    ra, dec, r = xyz_to_radec(centres)
    axes = _axes(radius, rng)
    area = 4 * np.pi * radius**2 * rng.uniform(1.8, 2.6, len(radius))
    edge = voids.edge[parents]
    edge_frac = np.where(
        edge == 1,
        rng.uniform(0.1, 0.5, len(radius)),
        np.where(edge == 2, rng.uniform(0.0, 0.1, len(radius)), 0.0),
    )
    cols = {
        "VOID": np.arange(len(radius), dtype=np.int64),
        "X": centres[:, 0],
        "Y": centres[:, 1],
        "Z": centres[:, 2],
        "REDSHIFT": universe.dist_v2.redshift(r),
        "RA": ra,
        "DEC": dec,
        "RADIUS": radius,
    }
    for k in range(3):
        for j, axis in enumerate("XYZ"):
            cols[f"{axis}{k + 1}"] = axes[:, k, j]
    cols |= {"TOT_AREA": area, "EDGE_AREA": area * edge_frac}
    return cols, axes


def build_catalog(
    algorithm: str, universe: Universe, voids: CapVoids, zones: Zones, rng: np.random.Generator
) -> V2Tables:
    """VOIDS, ZONEVOID, GALVIZ and TRIANGLE columns of one algorithm for one cap."""
    parents, radius, nested = _select(algorithm, zones, voids, rng)
    centres = vf_to_v2(universe, voids.centres[parents]) if len(parents) else np.empty((0, 3))
    all_radius = np.concatenate([radius, [r for _, r, _ in nested]])
    all_centres = np.vstack([centres] + [zones.seed_xyz[[zi for zi, _, _ in nested]]])
    all_parent = np.concatenate([parents, parents[[p for _, _, p in nested]]]).astype(np.int64)
    rank = np.argsort(-all_radius, kind="stable")  # VOID id = rank by radius
    void_id = np.empty(len(rank), dtype=np.int64)
    void_id[rank] = np.arange(len(rank))
    table, axes = _voids_table(
        universe, voids, all_parent[rank], all_centres[rank], all_radius[rank], rng
    )

    lookup = np.full(len(voids.radii), -1, dtype=np.int64)
    lookup[parents] = void_id[: len(parents)]
    void1 = np.where(zones.zone_void >= 0, lookup[np.maximum(zones.zone_void, 0)], -1)
    void0 = void1.copy()
    for k, (zi, _, _) in enumerate(nested):
        void0[zi] = void_id[len(parents) + k]
    zonevoid = {"ZONE": np.arange(len(void1), dtype=np.int64), "VOID0": void0, "VOID1": void1}

    g2v = void1[zones.zone]
    if len(zones.xyz) > 1:
        _, nn = cKDTree(zones.xyz).query(zones.xyz, k=2)
        g2v2 = g2v[nn[:, 1]]
    else:
        g2v2 = np.full(len(g2v), -1, dtype=np.int64)
    galviz = {"GID": np.arange(len(g2v), dtype=np.int64), "G2V": g2v, "G2V2": g2v2}
    triangles = _triangles(table["VOID"], all_centres[rank], axes)
    return V2Tables(table, zonevoid, galviz, triangles)
