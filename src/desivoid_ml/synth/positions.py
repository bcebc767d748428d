"""Where each row of a chunk sits: sky position, redshift, object class and void membership.

Galaxies: comoving distance from the flux-limited n(r), direction uniform in a cap (weighted by
solid angle), CLUSTER_FRACTION of them displaced to within CLUSTER_SIGMA of another candidate (mild
clustering), then candidates inside a VoidFinder hole are kept with probability VOID_KEEP: voids are
underdense by construction. About half the wall galaxies within a few Mpc/h of a hole are then
pulled onto its surface (`surfaces`), as VoidFinder's bounding galaxies are. Stars (Z just
above 0.001) and QSOs (Z 0.3-3.5) are spread uniformly over the footprint. FAILED_FRACTION of
the galaxies get a failed redshift fit (low DELTACHI2, see `tables`); for WRONG_Z_FRACTION of
those the catalogued Z is a catastrophic one, so they sit at the wrong distance, outside any
void. Rows are returned sorted by their nside=1 pixel (stable), i.e. in file order.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from desivoid_ml.synth.cosmo import radec_to_xyz, xyz_to_radec
from desivoid_ml.synth.healpix import radec_to_nest
from desivoid_ml.synth.selection import Z_GALAXY, FluxLimit
from desivoid_ml.synth.surfaces import snap_to_surfaces
from desivoid_ml.synth.universe import CAPS, Universe

GALAXY, STAR, QSO = 0, 1, 2
STAR_FRACTION, QSO_FRACTION = 0.015, 0.006
VOID_KEEP = 0.2  # probability of keeping a galaxy candidate that falls inside a hole
CLUSTER_FRACTION, CLUSTER_SIGMA = 0.35, 2.5  # Mpc/h
NSIDE_COADD = 64  # HEALPIX column (DESI coadds use nside 64 nested)
NSIDE_FILE = 1  # file split
FAILED_FRACTION = 0.02  # galaxies whose Redrock fit fails (DELTACHI2 < 40: BGS's success cut)
WRONG_Z_FRACTION = 0.5  # of those, catalogued at a wrong redshift ...
WRONG_Z = (0.005, 1.5)  # ... drawn uniformly in this range
OVERDRAW = 1.5  # candidates drawn per galaxy still needed (acceptance is about 0.75)


POSITION_DTYPE = np.dtype(
    [
        ("index", "i8"),
        ("ra", "f8"),
        ("dec", "f8"),
        ("z", "f8"),
        ("kind", "i1"),
        ("cap", "i1"),
        ("in_void", "?"),
        ("on_surface", "?"),
        ("failed", "?"),
        ("healpix", "i4"),
        ("pixel", "i1"),
    ]
)


@dataclass
class Positions:
    """Per-row arrays of one chunk, in file order."""

    index: np.ndarray  # global generation index (TARGETID is built from it)
    ra: np.ndarray
    dec: np.ndarray
    z: np.ndarray
    kind: np.ndarray  # GALAXY / STAR / QSO
    cap: np.ndarray  # index into CAPS
    in_void: np.ndarray
    on_surface: np.ndarray  # moved onto a VoidFinder hole's surface (a bounding wall galaxy)
    failed: np.ndarray  # a failed redshift fit (its Z may be wrong)
    healpix: np.ndarray  # nside 64 nested
    pixel: np.ndarray  # nside 1 nested: which file

    def take(self, order: np.ndarray) -> Positions:
        """Rows reordered (or subset) by an index array."""
        return Positions(*(getattr(self, f.name)[order] for f in fields(self)))

    def to_records(self) -> np.ndarray:
        """Packed rows (48 bytes each) for the scratch file between the two passes."""
        rows = np.empty(len(self.z), dtype=POSITION_DTYPE)
        for f in fields(self):
            rows[f.name] = getattr(self, f.name)
        return rows

    @classmethod
    def from_records(cls, rows: np.ndarray) -> Positions:
        """Inverse of `to_records` (integer columns come back as int64)."""

        def column(name: str) -> np.ndarray:
            a = rows[name]
            return a.astype(np.int64) if a.dtype.kind == "i" else a.copy()

        return cls(*(column(f.name) for f in fields(cls)))


def _sky(n: int, rng: np.random.Generator):
    """Directions uniform over the footprint."""
    weights = np.array([cap.solid_angle for cap in CAPS])
    which = rng.choice(len(CAPS), n, p=weights / weights.sum())
    ra, dec = np.empty(n), np.empty(n)
    for i, cap in enumerate(CAPS):
        sel = which == i
        ra[sel], dec[sel] = cap.sample(int(sel.sum()), rng)
    return ra, dec


def _galaxy_batch(universe: Universe, flux: FluxLimit, m: int, rng: np.random.Generator):
    """One batch of accepted galaxy candidates: (ra, dec, z, in_void, on_surface)."""
    ra, dec = _sky(m, rng)
    xyz = radec_to_xyz(ra, dec, flux.sample_r(m, rng))
    child = np.nonzero(rng.random(m) < CLUSTER_FRACTION)[0]
    parent = rng.integers(0, m, len(child))
    xyz[child] = xyz[parent] + rng.normal(0.0, CLUSTER_SIGMA, (len(child), 3))
    ra, dec, r = xyz_to_radec(xyz)
    z = universe.dist_vf.redshift(r)
    ok = (universe.cap_of(ra, dec) >= 0) & (z > Z_GALAXY[0]) & (z < Z_GALAXY[1])
    ra, dec, z = ra[ok], dec[ok], z[ok]
    in_void = universe.in_void(ra, dec, z)
    keep = ~in_void | (rng.random(len(z)) < VOID_KEEP)
    ra, dec, z, in_void = ra[keep], dec[keep], z[keep], in_void[keep]
    ra, dec, z, on_surface = snap_to_surfaces(universe, ra, dec, z, in_void, rng)
    return ra, dec, z, in_void, on_surface


def _galaxies(universe: Universe, flux: FluxLimit, n: int, rng: np.random.Generator):
    """Exactly n galaxies: batches of candidates until enough are accepted."""
    parts, have = [], 0
    while have < n:
        batch = _galaxy_batch(universe, flux, int(OVERDRAW * (n - have)) + 16, rng)
        parts.append(batch)
        have += len(batch[0])
    return tuple(np.concatenate(col)[:n] for col in zip(*parts, strict=True))


def sample_positions(
    universe: Universe, flux: FluxLimit, start: int, n: int, rng: np.random.Generator
) -> Positions:
    """Rows start..start+n-1 of the catalogue, sorted by file pixel."""
    u = rng.random(n)
    kind = np.where(
        u < STAR_FRACTION, STAR, np.where(u < STAR_FRACTION + QSO_FRACTION, QSO, GALAXY)
    )
    ra, dec, z = np.empty(n), np.empty(n), np.empty(n)
    in_void, on_surface = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    gal = kind == GALAXY
    ra[gal], dec[gal], z[gal], in_void[gal], on_surface[gal] = _galaxies(
        universe, flux, int(gal.sum()), rng
    )
    other = ~gal
    ra[other], dec[other] = _sky(int(other.sum()), rng)
    z[kind == STAR] = rng.uniform(0.0011, 0.0025, int((kind == STAR).sum()))
    z[kind == QSO] = np.minimum(0.3 + rng.gamma(2.0, 0.5, int((kind == QSO).sum())), 3.5)
    failed = gal & (rng.random(n) < FAILED_FRACTION)
    wrong = failed & (rng.random(n) < WRONG_Z_FRACTION)
    z[wrong] = rng.uniform(*WRONG_Z, int(wrong.sum()))
    in_void[wrong], on_surface[wrong] = False, False
    healpix = radec_to_nest(ra, dec, NSIDE_COADD)
    pixel = healpix // (NSIDE_COADD // NSIDE_FILE) ** 2
    index = np.arange(start, start + n, dtype=np.int64)
    cap = universe.cap_of(ra, dec)
    pos = Positions(index, ra, dec, z, kind, cap, in_void, on_surface, failed, healpix, pixel)
    return pos.take(np.argsort(pixel, kind="stable"))
