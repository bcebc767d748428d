"""The synthetic survey: footprint caps, the VAST volume and VoidFinder voids (spheres and holes).

Footprint (RA/DEC boxes, degrees): NGC RA 120..250, DEC -5..65; SGC RA -35..35 (wraps through 0),
DEC -12..28. Voids live in the VoidFinder comoving frame (Omega_m = OMEGAM_VF, h = 1) between
DLIML and DLIMU: maximal spheres (radius 10-30 Mpc/h) packed without overlap by random sequential
addition, each entirely inside the survey, plus 4-11 smaller HOLES spheres per void that overlap
the maximal sphere by more than half of their own volume and stick out of the survey by at most
~10% of it. A void is the union of its holes (maximal sphere included).
Nothing here depends on the number of galaxies, so the same seed gives the same voids for any N.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.spatial import cKDTree

from desivoid_ml.synth.cosmo import Distances, distances, radec_to_xyz, xyz_to_radec

OMEGAM_VF = 0.315  # VoidFinder catalogs and galaxy positions
OMEGAM_V2 = 0.3  # V2 catalogs (astropy FlatLambdaCDM(H0=100, Om0=0.3) like the real TEST10K files)
ZLIML, ZLIMU = 0.03, 0.20  # VAST volume-limited sample: ZLIML < Z < ZLIMU
MAGLIM = -20.0  # ... and ABSMAG01_SDSS_R < MAGLIM
MMR = 10.0  # smallest maximal-sphere radius, Mpc/h
MAX_RADIUS = 30.0
R_EFF_SAMPLES = 512
EDGE_BUFFER = 10.0  # VoidFinder EDGE=2: a hole centre within this distance of the boundary

PACKING_ATTEMPTS = 4.0  # RSA candidates per "mean sphere that fits"; sets the filling fraction
PACK_BATCH = 2048
HOLES_PER_VOID = (4, 12)  # extra holes beside the maximal sphere, uniform in [lo, hi)
HOLE_RADIUS_FRACTION = (0.55, 0.95)  # of the maximal radius
HOLE_DEPTH = (0.3, 0.5)  # hole centre sits this many hole radii inside the maximal surface
HOLE_OUTSIDE = 0.6  # a hole centre stays this many hole radii inside the survey (<=10% sticks out)


@dataclass(frozen=True)
class Cap:
    """A RA/DEC box on the sky (ra_min may be negative: the box then wraps through RA=0)."""

    name: str
    ra_min: float
    ra_max: float
    dec_min: float
    dec_max: float

    @property
    def ra_width(self) -> float:
        return self.ra_max - self.ra_min

    @property
    def solid_angle(self) -> float:
        """Steradians."""
        s = np.sin(np.radians([self.dec_min, self.dec_max]))
        return float(np.radians(self.ra_width) * (s[1] - s[0]))

    def contains(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        """True inside the box."""
        d_ra = np.mod(ra - self.ra_min, 360.0)
        return (d_ra <= self.ra_width) & (dec >= self.dec_min) & (dec <= self.dec_max)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Directions uniform on the sphere inside the box."""
        ra = np.mod(self.ra_min + self.ra_width * rng.random(n), 360.0)
        s = np.sin(np.radians([self.dec_min, self.dec_max]))
        dec = np.degrees(np.arcsin(rng.uniform(s[0], s[1], n)))
        return ra, dec

    def boundary_distance(self, xyz: np.ndarray, r_lo: float, r_hi: float) -> np.ndarray:
        """Signed distance (Mpc/h) to the survey boundary (box x [r_lo, r_hi]); < 0 outside."""
        ra, dec, r = xyz_to_radec(xyz)
        d_ra = np.mod(ra - self.ra_min, 360.0)
        d_ra = np.where(d_ra > 180.0 + self.ra_width / 2, d_ra - 360.0, d_ra)
        ang_ra = np.minimum(d_ra, self.ra_width - d_ra)
        across = r * np.cos(np.radians(dec)) * np.sin(np.radians(np.clip(ang_ra, -90, 90)))
        ang_dec = np.minimum(dec - self.dec_min, self.dec_max - dec)
        along = r * np.sin(np.radians(ang_dec))
        return np.minimum.reduce([across, along, r - r_lo, r_hi - r])


CAPS = (Cap("NGC", 120.0, 250.0, -5.0, 65.0), Cap("SGC", -35.0, 35.0, -12.0, 28.0))


@dataclass
class CapVoids:
    """VoidFinder voids of one cap: MAXIMALS and HOLES rows (each void's maximal sphere first)."""

    cap: Cap
    centres: np.ndarray  # (m, 3)
    radii: np.ndarray  # (m,)
    hole_xyz: np.ndarray  # (h, 3)
    hole_radius: np.ndarray  # (h,)
    hole_void: np.ndarray  # (h,) int64, index into centres
    edge: np.ndarray  # (m,) int64 VoidFinder EDGE flag
    _tree: cKDTree = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Power-distance trick: x is inside hole h  <=>  |x - c_h|^2 + (R^2 - r_h^2) < R^2, i.e. the
        # 4-d point (c_h, sqrt(R^2 - r_h^2)) lies within R of (x, 0). One k=1 query is then exact.
        self._r_max = float(self.hole_radius.max())
        lift = np.sqrt(self._r_max**2 - self.hole_radius**2)
        self._tree = cKDTree(np.column_stack([self.hole_xyz, lift]))

    def owner(self, xyz: np.ndarray) -> np.ndarray:
        """Void index of the hole containing each point (smallest power distance), -1 outside."""
        lifted = np.column_stack([xyz, np.zeros(len(xyz))])
        d, idx = self._tree.query(lifted, k=1, distance_upper_bound=self._r_max, workers=-1)
        hole = np.minimum(idx, len(self.hole_void) - 1)  # idx == len() where nothing was found
        return np.where(d < self._r_max, self.hole_void[hole], -1)

    def contains(self, xyz: np.ndarray) -> np.ndarray:
        """True where a point lies strictly inside any hole."""
        return self.owner(xyz) >= 0

    @cached_property
    def r_eff(self) -> tuple[np.ndarray, np.ndarray]:
        """R_EFF and R_EFF_UNCERT: radius of the sphere with each void's union-of-holes volume.

        Monte Carlo with R_EFF_SAMPLES points in each void's bounding sphere (fixed seed)."""
        m = len(self.radii)
        counts = np.bincount(self.hole_void, minlength=m)
        slot = np.arange(len(self.hole_void)) - np.repeat(np.cumsum(counts) - counts, counts)
        centres = np.repeat(self.centres[:, None], counts.max(), axis=1)
        radius = np.zeros((m, counts.max()), dtype=np.float32)  # padding: radius 0, holds nothing
        centres[self.hole_void, slot] = self.hole_xyz
        radius[self.hole_void, slot] = self.hole_radius
        reach = np.max(np.linalg.norm(centres - self.centres[:, None], axis=2) + radius, axis=1)
        rng = np.random.default_rng(0)
        unit = rng.standard_normal((R_EFF_SAMPLES, 3))
        unit *= (rng.random(R_EFF_SAMPLES) ** (1 / 3) / np.linalg.norm(unit, axis=1))[:, None]
        frac = np.empty(m)
        for start in range(0, m, 256):
            sl = slice(start, start + 256)
            # relative to the void centre, in float32: the test is far coarser than the rounding
            pts = (reach[sl, None, None] * unit[None]).astype(np.float32)
            rel = (centres[sl] - self.centres[sl, None]).astype(np.float32)
            d2 = (
                np.sum(pts**2, axis=2)[:, :, None]
                + np.sum(rel**2, axis=2)[:, None, :]
                - 2 * pts @ rel.transpose(0, 2, 1)
            )
            frac[sl] = np.mean(np.any(d2 < np.square(radius[sl, None]), axis=2), axis=1)
        r_eff = reach * np.cbrt(frac)
        sigma_frac = np.sqrt(frac * (1 - frac) / R_EFF_SAMPLES)
        return r_eff, r_eff * sigma_frac / (3 * frac)


@dataclass
class Universe:
    """Everything that does not depend on N: cosmologies, the VAST shell and the voids per cap."""

    dist_vf: Distances
    dist_v2: Distances
    d_lo: float
    d_hi: float
    voids: dict[str, CapVoids]

    def cap_of(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        """Index into CAPS of each position, -1 outside the footprint."""
        out = np.full(len(ra), -1, dtype=np.int64)
        for i, cap in enumerate(CAPS):
            out[(out < 0) & cap.contains(ra, dec)] = i
        return out

    def in_void(self, ra: np.ndarray, dec: np.ndarray, z: np.ndarray) -> np.ndarray:
        """True for positions inside a VoidFinder hole, from (RA, DEC, Z) in the VF cosmology."""
        r = self.dist_vf.comoving_fast(z)
        margin = (1.0 - HOLE_OUTSIDE) * MAX_RADIUS  # how far a hole can reach beyond the shell
        near = np.nonzero((r > self.d_lo - margin) & (r < self.d_hi + margin))[0]
        xyz = radec_to_xyz(ra[near], dec[near], r[near])
        caps = self.cap_of(ra[near], dec[near])
        out = np.zeros(len(ra), dtype=bool)
        for i, cap in enumerate(CAPS):
            sel = caps == i
            if sel.any():
                out[near[sel]] = self.voids[cap.name].contains(xyz[sel])
        return out


def _shell_points(cap: Cap, n: int, r_lo: float, r_hi: float, rng: np.random.Generator):
    """Points uniform in volume inside the cap between two radii."""
    ra, dec = cap.sample(n, rng)
    r = np.cbrt(rng.uniform(r_lo**3, r_hi**3, n))
    return radec_to_xyz(ra, dec, r)


def _draw_radii(n: int, rng: np.random.Generator) -> np.ndarray:
    """Maximal radii: MMR + Gamma(1.5, 1.8), capped at MAX_RADIUS (DESIVAST: mean 12.6, sd 2.3)."""
    return np.minimum(MMR + rng.gamma(1.5, 1.8, n), MAX_RADIUS)


def _greedy_batch(c: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Indices of a batch kept greedily in order so that no two kept spheres overlap."""
    pairs = cKDTree(c).query_pairs(2 * float(r.max()), output_type="ndarray")
    pairs = np.sort(pairs, axis=1)  # (earlier, later)
    gap = np.linalg.norm(c[pairs[:, 0]] - c[pairs[:, 1]], axis=1) - r[pairs[:, 0]] - r[pairs[:, 1]]
    pairs = pairs[gap < 0]
    pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]
    starts = np.searchsorted(pairs[:, 0], np.arange(len(r) + 1))
    ok = np.ones(len(r), dtype=bool)
    for i in range(len(r)):
        if ok[i]:
            ok[pairs[starts[i] : starts[i + 1], 1]] = False
    return np.nonzero(ok)[0]


def pack_spheres(cap: Cap, r_lo: float, r_hi: float, rng: np.random.Generator):
    """Random sequential addition of non-overlapping spheres fully inside the cap shell."""
    volume = cap.solid_angle / 3.0 * (r_hi**3 - r_lo**3)
    n_cand = int(PACKING_ATTEMPTS * volume / (4 / 3 * np.pi * 13.0**3))
    radii = np.sort(_draw_radii(n_cand, rng))[::-1]
    centres = _shell_points(cap, n_cand, r_lo, r_hi, rng)
    fits = cap.boundary_distance(centres, r_lo, r_hi) >= radii
    centres, radii = centres[fits], radii[fits]
    kept_c, kept_r = np.empty((0, 3)), np.empty(0)
    for start in range(0, len(radii), PACK_BATCH):
        c, r = centres[start : start + PACK_BATCH], radii[start : start + PACK_BATCH]
        if len(kept_r):
            tree = cKDTree(kept_c)
            near = tree.query_ball_point(c, r + kept_r.max())
            lens = np.fromiter(map(len, near), dtype=np.int64, count=len(near))
            who = np.repeat(np.arange(len(r)), lens)
            other = np.concatenate(near).astype(np.int64) if lens.sum() else np.empty(0, np.int64)
            gap = np.linalg.norm(c[who] - kept_c[other], axis=1) - r[who] - kept_r[other]
            bad = np.zeros(len(r), dtype=bool)
            bad[who[gap < 0]] = True
            c, r = c[~bad], r[~bad]
        keep = _greedy_batch(c, r)
        kept_c, kept_r = np.vstack([kept_c, c[keep]]), np.concatenate([kept_r, r[keep]])
    return kept_c, kept_r


def add_holes(cap: Cap, centres, radii, r_lo: float, r_hi: float, rng: np.random.Generator):
    """HOLES rows: per void its maximal sphere, then smaller spheres bulging out of it."""
    n_extra = rng.integers(*HOLES_PER_VOID, len(radii))
    owner = np.repeat(np.arange(len(radii)), n_extra)
    big = radii[owner]
    r_h = big * rng.uniform(*HOLE_RADIUS_FRACTION, len(owner))
    direction = rng.standard_normal((len(owner), 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    depth = r_h * rng.uniform(*HOLE_DEPTH, len(owner))
    xyz = centres[owner] + (big - depth)[:, None] * direction
    inside = cap.boundary_distance(xyz, r_lo, r_hi) >= HOLE_OUTSIDE * r_h
    xyz, r_h, owner = xyz[inside], r_h[inside], owner[inside]
    all_xyz = np.vstack([centres, xyz])
    all_r = np.concatenate([radii, r_h])
    all_v = np.concatenate([np.arange(len(radii)), owner])
    order = np.argsort(all_v, kind="stable")
    return all_xyz[order], all_r[order], all_v[order].astype(np.int64)


def edge_flags(cap: Cap, hole_xyz, hole_r, hole_void, n_voids: int, r_lo: float, r_hi: float):
    """VoidFinder EDGE: 1 a hole crosses the boundary, 2 a hole centre within EDGE_BUFFER of it."""
    gap = cap.boundary_distance(hole_xyz, r_lo, r_hi)
    crosses = np.zeros(n_voids, dtype=bool)
    near = np.zeros(n_voids, dtype=bool)
    crosses[hole_void[gap < hole_r]] = True
    near[hole_void[gap < EDGE_BUFFER]] = True
    return np.where(crosses, 1, np.where(near, 2, 0)).astype(np.int64)


def build_cap_voids(cap: Cap, r_lo: float, r_hi: float, rng: np.random.Generator) -> CapVoids:
    """Maximal spheres, holes and EDGE flags of one cap."""
    centres, radii = pack_spheres(cap, r_lo, r_hi, rng)
    hole_xyz, hole_r, hole_v = add_holes(cap, centres, radii, r_lo, r_hi, rng)
    edge = edge_flags(cap, hole_xyz, hole_r, hole_v, len(radii), r_lo, r_hi)
    return CapVoids(cap, centres, radii, hole_xyz, hole_r, hole_v, edge)


def build_universe(seed_seq: np.random.SeedSequence) -> Universe:
    """The voids of both caps, from one seed sequence (one child per cap)."""
    dist_vf = distances(OMEGAM_VF)
    d_lo, d_hi = (float(x) for x in dist_vf.comoving(np.array([ZLIML, ZLIMU])))
    voids = {}
    for cap, child in zip(CAPS, seed_seq.spawn(len(CAPS)), strict=True):
        voids[cap.name] = build_cap_voids(cap, d_lo, d_hi, np.random.default_rng(child))
    return Universe(dist_vf, distances(OMEGAM_V2), d_lo, d_hi, voids)
