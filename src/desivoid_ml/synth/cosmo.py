"""Comoving distances (h=1, Mpc/h) and the VAST Cartesian convention, for the generator.

Kept apart from `features/cosmology.py` on purpose: the generator must not share the code it is
used to test (a shared bug would cancel out). It also needs fast uniform-grid tables both ways,
r(z) and z(r). `tests/test_synth.py` checks the two agree.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from astropy.cosmology import FlatLambdaCDM

Z_TABLE_MAX = 0.5  # galaxies stop at z=0.25; the r -> z table only needs to cover them
Z_TABLE_STEP = 1e-5
R_TABLE_STEP = 0.01  # Mpc/h
HUBBLE_DISTANCE = 2997.92458  # c / H0 in Mpc/h
NEWTON_STEPS = 3  # from the table's ~1e-7 to float64 precision (quadratic convergence)


class Distances:
    """Flat LCDM with H0=100: exact r(z) from astropy, and fast uniform-grid tables both ways.

    The tables (step 1e-5 in z, 0.01 Mpc/h in r) are linear interpolations good to < 1e-7 Mpc/h."""

    def __init__(self, omega_m: float):
        self.omega_m = omega_m
        self.cosmology = FlatLambdaCDM(H0=100.0, Om0=omega_m)
        self._r_of_z = self.comoving(np.arange(0.0, Z_TABLE_MAX + 2 * Z_TABLE_STEP, Z_TABLE_STEP))
        r_grid = np.arange(0.0, self._r_of_z[-1], R_TABLE_STEP)
        z_fine = np.arange(len(self._r_of_z)) * Z_TABLE_STEP
        self._z_of_r = np.interp(r_grid, self._r_of_z, z_fine)
        self._z_of_r = self._refine(r_grid, self._z_of_r)

    def _refine(self, r: np.ndarray, z: np.ndarray) -> np.ndarray:
        """One Newton step on z(r) so the inverse table is as good as the forward one."""
        dr_dz = HUBBLE_DISTANCE / np.sqrt(self.omega_m * (1 + z) ** 3 + 1 - self.omega_m)
        return z - (self.comoving(z) - r) / dr_dz

    def comoving(self, z: np.ndarray) -> np.ndarray:
        """Line-of-sight comoving distance in Mpc/h (astropy, exact)."""
        return np.asarray(self.cosmology.comoving_distance(z).value)

    def redshift_exact(self, r: np.ndarray) -> np.ndarray:
        """Inverse of `comoving` to float64 precision: the table's z, then Newton steps on
        astropy's distance (dr/dz = c / H(z)); for galaxies placed on a surface."""
        r = np.asarray(r, dtype=np.float64)
        z = self.redshift(r)
        for _ in range(NEWTON_STEPS):
            e_z = np.sqrt(self.omega_m * (1 + z) ** 3 + 1 - self.omega_m)
            z = z - (self.comoving(z) - r) * e_z / HUBBLE_DISTANCE
        return z

    def comoving_fast(self, z: np.ndarray) -> np.ndarray:
        """`comoving` from the table for z <= Z_TABLE_MAX, exact beyond."""
        z = np.asarray(z, dtype=np.float64)
        r = _lookup(z, Z_TABLE_STEP, self._r_of_z)
        far = z > Z_TABLE_MAX
        if far.any():
            r[far] = self.comoving(z[far])
        return r

    def redshift(self, r: np.ndarray) -> np.ndarray:
        """Inverse of `comoving` for 0 <= z <= Z_TABLE_MAX."""
        return _lookup(np.asarray(r, dtype=np.float64), R_TABLE_STEP, self._z_of_r)

    def distance_modulus(self, z: np.ndarray) -> np.ndarray:
        """5 log10(d_L / 10 pc) with d_L in Mpc/h, i.e. M - 5 log h convention."""
        d_l = (1.0 + z) * self.comoving_fast(z)
        return 5.0 * np.log10(np.maximum(d_l, 1e-6)) + 25.0


def _lookup(x: np.ndarray, step: float, table: np.ndarray) -> np.ndarray:
    """Linear interpolation in a table sampled every `step` from 0 (clamped at both ends)."""
    t = np.clip(x / step, 0.0, len(table) - 1.000001)
    i = t.astype(np.int64)
    frac = t - i
    return table[i] * (1.0 - frac) + table[i + 1] * frac


@cache
def distances(omega_m: float) -> Distances:
    """Shared `Distances` per Omega_m (building the table costs a few ms)."""
    return Distances(omega_m)


def radec_to_xyz(ra: np.ndarray, dec: np.ndarray, r: np.ndarray) -> np.ndarray:
    """x = r cos(dec) cos(ra), y = r cos(dec) sin(ra), z = r sin(dec); shape (n, 3)."""
    ra_r, dec_r = np.radians(ra), np.radians(dec)
    cos_dec = np.cos(dec_r)
    return np.stack([r * cos_dec * np.cos(ra_r), r * cos_dec * np.sin(ra_r), r * np.sin(dec_r)], 1)


def xyz_to_radec(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of `radec_to_xyz`: RA in [0, 360), DEC and r."""
    r = np.linalg.norm(xyz, axis=1)
    ra = np.mod(np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0])), 360.0)
    dec = np.degrees(np.arcsin(np.clip(xyz[:, 2] / np.maximum(r, 1e-300), -1.0, 1.0)))
    return ra, dec, r
