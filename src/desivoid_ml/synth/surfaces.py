"""Galaxies on VoidFinder hole surfaces, as in real VoidFinder output.

VoidFinder grows every hole until four galaxies touch it, so the galaxies that bound a hole sit on
its surface; on real runs about one input galaxy in five is such a galaxy. Here a wall galaxy
(outside every hole) within SNAP_REACH of a hole's surface is moved, with probability
SNAP_PROBABILITY, along the line to that hole's centre to just outside the surface, unless the new
position would be inside another hole or leave its cap. Its redshift is then solved to float64
precision (Newton on astropy's distance), so (RA, DEC, Z) recompute to that place to ~1e-13.

Physically these are wall galaxies (they carry no void offsets). Real ones sit on the surface to
~1e-12 Mpc/h, where "distance < radius" is decided by float rounding (the toolkit-exact features
code reproduces that on the real files). A synthetic world cannot know how a galaxy that bounds a
hole would have been rounded, so its bounding galaxies sit SURFACE_MARGIN outside: within the
features' boundary tolerance (`vf_on_boundary` flags them, and `exclude` drops them) but farther out
than the toolkit's arithmetic moves a position (c = 299792 km/s in float32: ~1.6e-6 of the
distance), so every policy and either arithmetic calls them wall, as their properties are.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from desivoid_ml.synth.cosmo import radec_to_xyz, xyz_to_radec
from desivoid_ml.synth.universe import CAPS, CapVoids, Universe

SNAP_REACH = 3.0  # Mpc/h: how far outside a surface a galaxy may be pulled onto it
SNAP_PROBABILITY = 0.55  # of a wall galaxy within SNAP_REACH; ~20 % of the VoidFinder input
NEAREST_HOLES = 8  # hole centres searched for the nearest surface
# Outside the surface by half the features' default boundary tolerance (1e-3 Mpc/h + 1e-5 x the
# distance from us): still flagged on_boundary, and > 3x the toolkit's own position offsets.
SURFACE_MARGIN_MPCH = 0.5e-3
SURFACE_MARGIN_RELATIVE = 0.5e-5


def nearest_surface(voids: CapVoids, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per point: the hole (among the NEAREST_HOLES nearest centres) whose surface is closest
    from outside, and the distance to it (d - R, negative inside a hole)."""
    k = min(NEAREST_HOLES, len(voids.hole_radius))
    tree = _centre_tree(voids)
    d, idx = tree.query(xyz, k=k)
    d, idx = d.reshape(len(xyz), k), idx.reshape(len(xyz), k)
    margin = d - voids.hole_radius[idx]
    best = np.argmin(margin, axis=1)
    rows = np.arange(len(xyz))
    return idx[rows, best], margin[rows, best]


def _centre_tree(voids: CapVoids) -> cKDTree:
    """A KD-tree of the hole centres, built once per CapVoids."""
    tree = voids.__dict__.get("_centre_tree")
    if tree is None:
        tree = cKDTree(voids.hole_xyz)
        voids.__dict__["_centre_tree"] = tree
    return tree


def project(voids: CapVoids, xyz: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Each point moved along the line to its hole's centre onto that hole's surface."""
    centre = voids.hole_xyz[hole]
    offset = xyz - centre
    scale = voids.hole_radius[hole] / np.linalg.norm(offset, axis=1)
    return centre + offset * scale[:, None]


def surface_margin(xyz: np.ndarray) -> np.ndarray:
    """How far outside its hole's surface a bounding galaxy is placed, in Mpc/h."""
    return SURFACE_MARGIN_MPCH + SURFACE_MARGIN_RELATIVE * np.linalg.norm(xyz, axis=1)


def _snap_cap(
    universe: Universe, cap_index: int, xyz: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of one cap's wall galaxies after snapping, and which of them moved."""
    voids = universe.voids[CAPS[cap_index].name]
    moved = np.zeros(len(xyz), dtype=bool)
    if not len(xyz) or not len(voids.hole_radius):
        return xyz, moved
    pick = np.nonzero(rng.random(len(xyz)) < SNAP_PROBABILITY)[0]  # before the search: cheaper
    hole, margin = nearest_surface(voids, xyz[pick])
    near = (margin > 0) & (margin < SNAP_REACH)
    pick, hole = pick[near], hole[near]
    surface = project(voids, xyz[pick], hole)
    centre, radius = voids.hole_xyz[hole], voids.hole_radius[hole]
    outside = centre + (surface - centre) * (1.0 + surface_margin(surface) / radius)[:, None]
    ra, dec, _ = xyz_to_radec(outside)
    ok = (voids.owner(outside) < 0) & (universe.cap_of(ra, dec) == cap_index)
    out = xyz.copy()
    out[pick[ok]] = outside[ok]
    moved[pick[ok]] = True
    return out, moved


def snap_to_surfaces(
    universe: Universe,
    ra: np.ndarray,
    dec: np.ndarray,
    z: np.ndarray,
    in_void: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ra, dec, z, on_surface): wall galaxies in the VoidFinder shell pulled to hole surfaces."""
    r = universe.dist_vf.comoving_fast(z)
    cap = universe.cap_of(ra, dec)
    ra, dec, z = ra.copy(), dec.copy(), z.copy()
    on_surface = np.zeros(len(z), dtype=bool)
    shell = (r > universe.d_lo) & (r < universe.d_hi) & ~in_void
    for i in range(len(CAPS)):
        rows = np.nonzero(shell & (cap == i))[0]
        xyz, moved = _snap_cap(universe, i, radec_to_xyz(ra[rows], dec[rows], r[rows]), rng)
        rows, xyz = rows[moved], xyz[moved]
        ra[rows], dec[rows], r_new = xyz_to_radec(xyz)
        z[rows] = universe.dist_vf.redshift_exact(r_new)
        on_surface[rows] = True
    return ra, dec, z, on_surface
