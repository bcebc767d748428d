"""The BGS Bright flux limit: a Schechter luminosity function seen through r < R_LIMIT.

Galaxy distances are drawn from n(r) ~ r^2 * (fraction of the LF brighter than the limit at r), and
each galaxy's ABSMAG01_SDSS_R from the LF truncated at that limit, so every galaxy has r < R_LIMIT
and luminosity (hence stellar mass) rises with redshift as in a flux-limited survey.
"""

from __future__ import annotations

import numpy as np

from desivoid_ml.synth.cosmo import Distances

R_LIMIT = 19.5  # BGS Bright, MW-corrected Legacy Surveys r
Z_GALAXY = (0.01, 0.25)
M_STAR, ALPHA = -20.44, -1.05  # Blanton et al. 2003, ^{0.1}r, h = 1
M_BRIGHT, M_FAINT = -23.8, -15.5
K_R_AT_01 = -2.5 * np.log10(1.1)  # band-shifted ^{0.1}r K-correction at z = 0.1
K_R_SLOPE = 1.0


def k_correction_r(z: np.ndarray) -> np.ndarray:
    """^{0.1}r K-correction; colour-free so the flux limit is exact."""
    return K_R_AT_01 + K_R_SLOPE * (z - 0.1)


class FluxLimit:
    """Tables of the truncated LF and of n(r) for one cosmology."""

    def __init__(self, dist: Distances, n_grid: int = 4096):
        self.dist = dist
        self.m_grid = np.linspace(M_BRIGHT, M_FAINT, n_grid)
        x = 10.0 ** (0.4 * (M_STAR - self.m_grid))
        phi = x ** (ALPHA + 1) * np.exp(-x)
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (phi[1:] + phi[:-1]) * np.diff(self.m_grid))])
        self.cum = cum / cum[-1]
        z_lo, z_hi = Z_GALAXY
        self.r_grid = np.linspace(*dist.comoving(np.array([z_lo, z_hi])), n_grid)
        pdf = self.r_grid**2 * self.fraction_visible(dist.redshift(self.r_grid))
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(self.r_grid))])
        self.r_cdf = cdf / cdf[-1]

    def faint_limit(self, z: np.ndarray) -> np.ndarray:
        """Faintest visible ABSMAG01_SDSS_R at redshift z."""
        m = R_LIMIT - self.dist.distance_modulus(z) - k_correction_r(z)
        return np.clip(m, M_BRIGHT, M_FAINT)

    def fraction_visible(self, z: np.ndarray) -> np.ndarray:
        """Fraction of the LF (M_BRIGHT..M_FAINT) brighter than the limit."""
        return np.interp(self.faint_limit(z), self.m_grid, self.cum)

    def sample_r(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Comoving distances of a flux-limited sample."""
        return np.interp(rng.random(n), self.r_cdf, self.r_grid)

    def sample_absmag(self, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """ABSMAG01_SDSS_R from the LF truncated at the flux limit of each redshift."""
        u = rng.random(len(z)) * self.fraction_visible(z)
        return np.interp(u, self.cum, self.m_grid)
