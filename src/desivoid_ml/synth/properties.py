"""Intrinsic properties of each row: luminosity, colour, stellar mass, star formation, photometry.

Planted environmental effect (PLANTED): a galaxy inside a VoidFinder void (the union of HOLES,
tested in the VoidFinder cosmology) gets, on top of what a wall galaxy of the same redshift and
luminosity would have:
- log10 stellar mass (LOGMSTAR) + delta_logmstar = -0.3 dex,
- rest-frame ^{0.1}(g - r) = ABSMAG01_SDSS_G - ABSMAG01_SDSS_R + delta_gr = -0.1 mag,
- log10 sSFR = log10(SFR) - LOGMSTAR + delta_log_ssfr = +0.3 dex (so SFR itself is unchanged).
Luminosities come from the flux-limited luminosity function alone, so at fixed redshift the
void-minus-wall means are these constants. Stellar mass follows luminosity and therefore redshift
(Pearson r ~ 0.6 for galaxies, as in DR1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desivoid_ml.synth.cosmo import radec_to_xyz
from desivoid_ml.synth.datamodel import ABSMAG_BANDS, PHOT_BANDS
from desivoid_ml.synth.positions import GALAXY, QSO, STAR, Positions
from desivoid_ml.synth.selection import FluxLimit, k_correction_r


@dataclass(frozen=True)
class PlantedEffect:
    """Mean void-minus-wall differences at fixed redshift, for galaxies inside a VoidFinder void."""

    delta_logmstar: float = -0.3
    delta_gr: float = -0.1
    delta_log_ssfr: float = 0.3


PLANTED = PlantedEffect()
FAILED_FRACTION = 0.008  # continuum fit failed: SPECPHOT zeros, VDISP 250, ABSMAG 0
PATHOLOGICAL_FRACTION = 0.003  # absurd LOGMSTAR / SFR / DN4000 that a plausibility stage must catch
NO_PHOTOMETRY_FRACTION = 0.003  # no Tractor match: fluxes and ivars 0, LS_ID 0
M_SUN_R = 4.65
ML_SCATTER = 0.3  # dex; sets the mass-redshift correlation (r ~ 0.6 in DR1)
# M_band - M_r = a + b * (g - r), in ABSMAG_BANDS order.
COLOUR_TERMS = np.array(
    [
        (1.6, 3.5),
        (0.9, 2.6),
        (0.15, 1.1),
        (0.35, 2.3),
        (0.15, 1.35),
        (0.02, 0.45),
        (-0.35, -0.9),
        (0.6, 2.6),
        (0.0, 1.0),
        (0.0, 0.0),
        (-0.05, -0.35),
        (-0.08, -0.55),
        (-0.3, -0.9),
    ]
)
K_OFFSET = {"10": 0.35, "00": 0.1, "01": -0.1035}
# observed band used for each ABSMAG band (index into PHOT_BANDS), like "nearest observed band"
ABSMAG_SOURCE = np.array([0, 0, 1, 0, 0, 1, 3, 0, 0, 1, 2, 2, 3])
R_INDEX = ABSMAG_BANDS.index(("01", "SDSS_R"))
G_INDEX = ABSMAG_BANDS.index(("01", "SDSS_G"))
EXTINCTION = np.array([3.214, 2.165, 1.211, 0.184, 0.113, 0.0241, 0.00910])  # A_b / E(B-V)
DEPTH = np.array([0.08, 0.06, 0.12, 2.0, 4.0, 30.0, 200.0])  # 1-sigma flux noise, nanomaggies
MAG_FLOOR = np.array([0.02, 0.02, 0.02, 0.05, 0.05, 0.05, 0.05])  # fastspecfit min_uncertainty
# ICRS unit vector -> sin(galactic latitude)
GALACTIC_POLE = np.array([-0.8676661490, -0.1980763734, 0.4559837762])


@dataclass
class Physical:
    """Per-row intrinsic quantities that the table and emission-line fillers share."""

    pos: Positions
    failed: np.ndarray
    pathological: np.ndarray
    no_phot: np.ndarray
    absmag_r: np.ndarray
    gr: np.ndarray
    quiescent: np.ndarray
    logmstar: np.ndarray
    sfr: np.ndarray
    tauv: np.ndarray
    age: np.ndarray
    dn4000: np.ndarray
    dmod: np.ndarray
    absmag: np.ndarray  # (n, 13) true rest-frame magnitudes
    kcorr: np.ndarray  # (n, 13)
    flux_true: np.ndarray  # (n, 7) MW-corrected, nanomaggies
    flux: np.ndarray  # (n, 7) measured
    flux_ivar: np.ndarray  # (n, 7)
    ebv: np.ndarray
    mw_trans: np.ndarray  # (n, 7)
    apercorr: np.ndarray  # (n, 3) g, r, z
    snr: np.ndarray  # (n, 3) b, r, z cameras

    @property
    def n(self) -> int:
        return len(self.failed)

    @property
    def fibertot(self) -> np.ndarray:
        """MW-corrected fibre fluxes g, r, z (what 3.1.5 writes to FIBERTOTFLUX)."""
        return self.flux_true[:, :3] / self.apercorr


def _luminosity(pos: Positions, flux: FluxLimit, dmod: np.ndarray, rng) -> np.ndarray:
    """ABSMAG01_SDSS_R: LF below the flux limit for galaxies, from apparent mags otherwise."""
    m_app = np.where(
        pos.kind == STAR, rng.uniform(14.5, 19.5, len(pos.z)), rng.uniform(17.0, 19.5, len(pos.z))
    )
    out = m_app - dmod - k_correction_r(pos.z)
    gal = pos.kind == GALAXY
    out[gal] = flux.sample_absmag(pos.z[gal], rng)
    return out


def _colour_and_state(pos: Positions, absmag_r: np.ndarray, rng):
    """Quiescent flag and planted rest-frame g - r."""
    n = len(absmag_r)
    bright = -absmag_r - 20.0
    quiescent = (rng.random(n) < 0.75 / (1.0 + np.exp(-bright / 0.6))) & (pos.kind == GALAXY)
    gr = np.where(
        quiescent,
        0.78 + 0.03 * bright + 0.05 * rng.standard_normal(n),
        0.50 + 0.04 * bright + 0.08 * rng.standard_normal(n),
    )
    gr = np.where(pos.kind == STAR, rng.uniform(0.1, 1.4, n), gr)
    gr = np.where(pos.kind == QSO, rng.uniform(0.0, 0.5, n), gr)
    return quiescent, np.clip(gr, -0.2, 1.3)


def _mass_and_sfr(pos: Positions, absmag_r, gr_base, quiescent, rng):
    """log10 M* (Bell et al. 2003 M/L from colour) and SFR, with the planted void offsets."""
    n = len(absmag_r)
    void = pos.in_void.astype(np.float64)
    log_ml = -0.306 + 1.097 * gr_base + ML_SCATTER * rng.standard_normal(n)
    logm = 0.4 * (M_SUN_R - absmag_r) + log_ml + PLANTED.delta_logmstar * void
    log_ssfr = np.where(
        quiescent, -11.8 + 0.4 * rng.standard_normal(n), -9.9 + 0.3 * rng.standard_normal(n)
    )
    log_ssfr += PLANTED.delta_log_ssfr * void
    log_ssfr = np.where(pos.kind == GALAXY, log_ssfr, -13.0 + rng.standard_normal(n))
    return logm, 10.0 ** (logm + log_ssfr)


def _rest_frame(pos: Positions, absmag_r, gr, rng):
    """True rest-frame magnitudes and K-corrections in the 13 ABSMAG bands."""
    n = len(absmag_r)
    absmag = absmag_r[:, None] + COLOUR_TERMS[:, 0] + COLOUR_TERMS[:, 1] * gr[:, None]
    absmag += 0.03 * rng.standard_normal((n, len(ABSMAG_BANDS)))
    absmag[:, R_INDEX] = absmag_r
    absmag[:, G_INDEX] = absmag_r + gr
    offset = np.array([K_OFFSET[shift] for shift, _ in ABSMAG_BANDS])
    slope = 0.4 + 1.2 * np.clip(gr, 0, 1.2)
    kcorr = offset + (np.minimum(pos.z, 0.6) - 0.1)[:, None] * slope[:, None]
    kcorr += 0.01 * rng.standard_normal(kcorr.shape)
    kcorr[:, R_INDEX] = k_correction_r(np.minimum(pos.z, 0.6))
    return absmag, kcorr


def _observed(pos: Positions, absmag_r, gr, quiescent, dmod, rng):
    """True MW-corrected fluxes in g, r, z, W1-W4 (nanomaggies)."""
    zc = np.minimum(pos.z, 0.6)
    m_r = absmag_r + dmod + k_correction_r(zc)
    m_g = m_r + gr + 1.5 * (zc - 0.1)
    m_z = m_r - (0.25 + 0.45 * gr + 0.5 * (zc - 0.1))
    m_w1 = m_r - (0.2 + 0.9 * gr + 1.0 * zc)
    m_w2 = m_w1 + 0.54
    m_w3 = m_w2 + np.where(quiescent, 0.83, -1.17)
    m_w4 = m_w3 + np.where(quiescent, -0.05, -1.05)
    mags = np.stack([m_g, m_r, m_z, m_w1, m_w2, m_w3, m_w4], 1)
    mags += 0.02 * rng.standard_normal(mags.shape)
    return 10.0 ** (-0.4 * (mags - 22.5))


def _dust(pos: Positions, rng):
    """SFD-like E(B-V) rising toward the Galactic plane, and MW transmissions."""
    n = len(pos.ra)
    unit = radec_to_xyz(pos.ra, pos.dec, np.ones(n))
    sin_b = np.abs(unit @ GALACTIC_POLE)
    ebv = 0.012 + 0.02 / np.maximum(sin_b, 0.15) * np.exp(0.3 * rng.standard_normal(n))
    ebv = np.minimum(ebv, 0.3)
    return ebv, 10.0 ** (-0.4 * EXTINCTION * ebv[:, None])


def _measure(flux_true, no_phot, rng):
    """Measured fluxes and inverse variances (0 with IVAR 0 when there is no photometry)."""
    n = len(flux_true)
    sigma = DEPTH * np.exp(0.2 * rng.standard_normal((n, len(PHOT_BANDS))))
    sigma[:, :3] *= np.sqrt(1.0 + np.abs(flux_true[:, :3]) / 100.0)
    flux = flux_true + sigma * rng.standard_normal(flux_true.shape)
    ivar = 1.0 / sigma**2
    flux[no_phot] = 0.0
    ivar[no_phot] = 0.0
    return flux, ivar


def draw_physical(pos: Positions, flux_limit: FluxLimit, rng: np.random.Generator) -> Physical:
    """All intrinsic per-row quantities of a chunk."""
    n = len(pos.z)
    u = rng.random(n)
    failed = u < FAILED_FRACTION
    pathological = (u >= FAILED_FRACTION) & (u < FAILED_FRACTION + PATHOLOGICAL_FRACTION)
    no_phot = rng.random(n) < NO_PHOTOMETRY_FRACTION
    dmod = flux_limit.dist.distance_modulus(pos.z)
    absmag_r = _luminosity(pos, flux_limit, dmod, rng)
    quiescent, gr_base = _colour_and_state(pos, absmag_r, rng)
    logm, sfr = _mass_and_sfr(pos, absmag_r, gr_base, quiescent, rng)
    gr = gr_base + PLANTED.delta_gr * pos.in_void
    absmag, kcorr = _rest_frame(pos, absmag_r, gr, rng)
    flux_true = _observed(pos, absmag_r, gr, quiescent, dmod, rng)
    flux, flux_ivar = _measure(flux_true, no_phot, rng)
    ebv, mw_trans = _dust(pos, rng)
    age = np.clip(1.0 + 16.0 * (gr - 0.35) + rng.normal(0, 0.8, n), 0.1, 12.5)
    tauv = np.where(quiescent, 0.1, 0.35 + 0.15 * (logm - 10)) + rng.normal(0, 0.1, n)
    tauv = np.clip(tauv, 0, 2)
    dn4000 = np.clip(0.2 + 2.0 * gr + rng.normal(0, 0.05, n), 0.9, 2.3)
    z_scale = np.exp(-pos.z / 0.08)
    aper = np.clip(1.25 + 2.5 * z_scale * np.exp(0.25 * rng.standard_normal(n)), 1.05, 8.0)
    apercorr = aper[:, None] * np.exp(0.03 * rng.standard_normal((n, 3)))
    fiber_r = flux_true[:, 1] / apercorr[:, 1]
    snr_r = 0.9 * np.sqrt(np.maximum(fiber_r, 0.01)) * np.exp(0.15 * rng.standard_normal(n))
    snr = snr_r[:, None] * np.stack([0.75 * 10 ** (-0.4 * gr), np.ones(n), 1.1 * np.ones(n)], 1)
    return Physical(
        pos,
        failed,
        pathological,
        no_phot,
        absmag_r,
        gr,
        quiescent,
        logm,
        sfr,
        tauv,
        age,
        dn4000,
        dmod,
        absmag,
        kcorr,
        flux_true,
        flux,
        flux_ivar,
        ebv,
        mw_trans,
        apercorr,
        snr,
    )
