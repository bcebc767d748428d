"""Column values of METADATA, SPECPHOT and the fixed FASTSPEC columns, keyed by column name.

Columns left out stay 0, as in fastspecfit (records start as zeros): IVAR 0 flags "not measured".
"""

from __future__ import annotations

import numpy as np

from desivoid_ml.synth.datamodel import ABSMAG_BANDS, PHOT_BANDS, SYNTH_BANDS, TILEID_WIDTH
from desivoid_ml.synth.positions import GALAXY, QSO, STAR
from desivoid_ml.synth.properties import ABSMAG_SOURCE, MAG_FLOOR, Physical

Columns = dict[str, np.ndarray]
RELEASE_SOUTH, RELEASE_NORTH = 9010, 9011  # Legacy Surveys DR9
NORTH_DEC = 32.375  # BASS/MzLS above this DEC in the NGC
BGS_ANY, MWS_ANY, QSO_BIT = 1 << 60, 1 << 61, 1 << 2  # DESI_TARGET bits
BGS_BRIGHT = 1 << 1
ZWARN_SMALL_DELTA_CHI2 = 1 << 2  # Redrock sets it below DELTACHI2 9
DELTACHI2_SUCCESS = 40.0  # BGS redshift success: only failed fits (positions.failed) fall below
VDISP_DEFAULT = 250.0
VDISP_MIN_SNR = 2.0  # continuum S/N (b camera) needed to fit VDISP
STAR_SUBTYPES = np.array([b"K", b"G", b"F", b"M", b"A", b"WD", b"B"])
SPECTYPES = np.array([b"GALAXY", b"STAR", b"QSO"])
LN10_04 = 0.4 * np.log(10.0)
F32_MAX = float(np.finfo(np.float32).max) / 10


def _ivar(sigma: np.ndarray) -> np.ndarray:
    """1/sigma^2, kept within float32 (ivar stays 0 where it would overflow)."""
    with np.errstate(divide="ignore"):
        ivar = 1.0 / np.square(sigma)
    return np.where(np.isfinite(ivar) & (ivar < F32_MAX), ivar, 0.0)


def _release(phys: Physical) -> np.ndarray:
    north = (phys.pos.cap == 0) & (phys.pos.dec > NORTH_DEC)
    return np.where(north, RELEASE_NORTH, RELEASE_SOUTH).astype(np.int64)


def identity(phys: Physical) -> Columns:
    """TARGETID (RELEASE<<42 | running number, unique), SURVEY, PROGRAM, HEALPIX."""
    targetid = (_release(phys) << 42) | (phys.pos.index + 1)
    return {
        "TARGETID": targetid,
        "SURVEY": np.bytes_(b"main"),
        "PROGRAM": np.bytes_(b"bright"),
        "HEALPIX": phys.pos.healpix,
    }


def _tileid_list(phys: Physical, rng: np.random.Generator) -> np.ndarray:
    """1-4 five-digit tile IDs, shared by neighbours on the sky, space separated."""
    n = phys.n
    cell = np.floor(phys.pos.ra * 0.6) * 7919 + np.floor((phys.pos.dec + 90) * 0.6) * 104729
    ntiles = 1 + np.searchsorted([0.45, 0.8, 0.95], rng.random(n))
    text = np.zeros((n, TILEID_WIDTH), dtype=np.uint8)
    for k in range(4):
        tile = 10000 + (cell.astype(np.int64) + 3571 * k) % 30000
        has = ntiles > k
        for j in range(5):
            text[has, 6 * k + j] = 48 + (tile[has] // 10 ** (4 - j)) % 10
        if k:
            text[has, 6 * k - 1] = 32
    return text.view(f"S{TILEID_WIDTH}").ravel()


def _redshift_fit(phys: Physical, rng: np.random.Generator) -> Columns:
    """Z, ZWARN, DELTACHI2, SPECTYPE, SUBTYPE, Z_RR, ZWARN_RR."""
    n, kind = phys.n, phys.pos.kind
    good = np.minimum(10 ** (np.log10(DELTACHI2_SUCCESS) + rng.gamma(4.0, 0.35, n)), 1e5)
    failed = 10 ** rng.uniform(0.0, np.log10(DELTACHI2_SUCCESS), n)  # 1 to 40
    deltachi2 = np.where(phys.pos.failed, failed, good)
    zwarn = np.where(deltachi2 < 9, ZWARN_SMALL_DELTA_CHI2, 0).astype(np.int64)
    zwarn |= np.where(rng.random(n) < 0.01, 1 << rng.integers(0, 9, n), 0)  # never NODATA (2**9)
    subtype = np.where(kind == STAR, STAR_SUBTYPES[rng.integers(0, len(STAR_SUBTYPES), n)], b"")
    z_rr = phys.pos.z.copy()
    fixed = (kind == QSO) & (rng.random(n) < 0.2)  # QuasarNet-corrected redshifts
    z_rr[fixed] = np.maximum(phys.pos.z[fixed] * rng.uniform(0.3, 0.9, int(fixed.sum())), 0.0011)
    return {
        "Z": phys.pos.z,
        "ZWARN": zwarn,
        "DELTACHI2": deltachi2,
        "SPECTYPE": SPECTYPES[kind],
        "SUBTYPE": subtype,
        "Z_RR": z_rr,
        "ZWARN_RR": zwarn,
    }


def _targeting(phys: Physical, rng: np.random.Generator) -> Columns:
    n, kind = phys.n, phys.pos.kind
    bgs = (kind != STAR) | (rng.random(n) < 0.3)
    desi = (
        np.where(bgs, BGS_ANY, 0)
        | np.where(kind == STAR, MWS_ANY, 0)
        | np.where(kind == QSO, QSO_BIT, 0)
    )
    return {
        "DESI_TARGET": desi.astype(np.int64),
        "BGS_TARGET": np.where(bgs, BGS_BRIGHT, 0),
        "MWS_TARGET": np.where(kind == STAR, 1 << rng.integers(0, 3, n), 0),
        "COADD_FIBERSTATUS": np.where(rng.random(n) < 0.02, 1 << rng.integers(1, 12, n), 0),
    }


def metadata_columns(phys: Physical, rng: np.random.Generator) -> Columns:
    """The 54 METADATA columns."""
    n, pos = phys.n, phys.pos
    cols = identity(phys) | _targeting(phys, rng) | _redshift_fit(phys, rng)
    tsnr = 10 ** rng.normal(3.0, 0.3, n)
    release = _release(phys)
    cols |= {
        "TILEID_LIST": _tileid_list(phys, rng),
        "RA": pos.ra,
        "DEC": pos.dec,
        "TSNR2_BGS": tsnr,
        "TSNR2_LRG": 0.7 * tsnr,
        "TSNR2_ELG": 0.4 * tsnr,
        "TSNR2_QSO": 0.05 * tsnr,
        "TSNR2_LYA": 0.5 * tsnr,
        "PHOTSYS": np.where(release == 9011, b"N", b"S"),
        "LS_ID": np.where(phys.no_phot, 0, (release << 40) | (pos.index + 1)),
        "EBV": phys.ebv,
    }
    fiber = phys.fibertot * phys.mw_trans[:, :3]
    for i, band in enumerate(SYNTH_BANDS):
        cols[f"FIBERFLUX_{band}"] = fiber[:, i]
        cols[f"FIBERTOTFLUX_{band}"] = phys.fibertot[:, i]
    for i, band in enumerate(PHOT_BANDS):
        cols[f"FLUX_{band}"] = phys.flux[:, i]
        cols[f"FLUX_IVAR_{band}"] = phys.flux_ivar[:, i]
        cols[f"MW_TRANSMISSION_{band}"] = phys.mw_trans[:, i]
    return cols


def _absmag_columns(phys: Physical, ok: np.ndarray, rng: np.random.Generator) -> Columns:
    """ABSMAG (observed, or synthesised with IVAR 0), SYNTH, their ivars and KCORR."""
    n = phys.n
    src_flux = phys.flux[:, ABSMAG_SOURCE]
    src_ivar = phys.flux_ivar[:, ABSMAG_SOURCE]
    snr = src_flux * np.sqrt(src_ivar)
    observed = snr > 2.0
    floor = MAG_FLOOR[ABSMAG_SOURCE]
    mag_var = 1.0 / np.square(LN10_04 * np.where(observed, snr, 1.0)) + floor**2
    ivar = np.where(observed, 1.0 / mag_var, 0.0)
    synth_sigma = 0.01 + 0.04 * rng.random((n, len(ABSMAG_BANDS)))
    synth = phys.absmag + synth_sigma * rng.standard_normal(synth_sigma.shape)
    absmag = np.where(observed, phys.absmag, synth)
    cols = {}
    for i, (shift, band) in enumerate(ABSMAG_BANDS):
        cols[f"ABSMAG{shift}_{band}"] = np.where(ok, absmag[:, i], 0)
        cols[f"ABSMAG{shift}_IVAR_{band}"] = np.where(ok, np.minimum(ivar[:, i], F32_MAX), 0)
        cols[f"ABSMAG{shift}_SYNTH_{band}"] = np.where(ok, synth[:, i], 0)
        cols[f"ABSMAG{shift}_SYNTH_IVAR_{band}"] = np.where(ok, _ivar(synth_sigma[:, i]), 0)
        cols[f"KCORR{shift}_{band}"] = np.where(ok, phys.kcorr[:, i], 0)
    return cols


def _pathological(cols: Columns, phys: Physical, rng: np.random.Generator) -> None:
    """Failed-but-not-zero fits: absurd masses, SFRs and breaks with positive ivars."""
    bad = phys.pathological
    k = int(bad.sum())
    cols["LOGMSTAR"] = np.where(bad, 0.0, cols["LOGMSTAR"])
    cols["LOGMSTAR"][bad] = np.where(
        rng.random(k) < 0.5, rng.uniform(-12.1, 2.0, k), rng.uniform(13.0, 15.6, k)
    )
    cols["SFR"] = cols["SFR"].copy()
    cols["SFR"][bad] = 10 ** rng.uniform(2.0, 4.88, k)
    cols["DN4000"] = cols["DN4000"].copy()
    cols["DN4000"][bad] = rng.uniform(0.3, 5.0, k)


def specphot_columns(phys: Physical, rng: np.random.Generator) -> Columns:
    """The 127 SPECPHOT columns."""
    n = phys.n
    ok = ~phys.failed
    snr_b = phys.snr[:, 0]
    coeff = rng.gamma(0.6, 1.0, (n, 5)) * (rng.random((n, 5)) > 0.4)
    coeff[:, 0] += 0.05  # never all zero for a good fit
    coeff *= (phys.fibertot[:, 1] * 0.3)[:, None] * ok[:, None]
    fitted_vdisp = ok & (snr_b > VDISP_MIN_SNR)
    vdisp = 150 * 10 ** (0.3 * (phys.logmstar - 10.5)) * np.exp(0.1 * rng.standard_normal(n))
    vdisp = np.clip(vdisp, 75, 500)
    mstar_sigma = 0.05 + 0.25 / np.sqrt(np.maximum(phys.snr[:, 1], 0.3))
    dn_ok = ok & (rng.random(n) > 0.04)
    dn_sigma = 0.02 + 0.1 / np.maximum(snr_b, 0.3)
    cols = identity(phys) | {
        "SEED": rng.integers(0, 2**32, n, dtype=np.int64),
        "COEFF": coeff,
        "RCHI2": np.where(ok, 10 ** rng.normal(0.02, 0.05, n), 0),
        "RCHI2_LINE": np.where(ok, 10 ** rng.normal(0.01, 0.05, n), 0),
        "RCHI2_CONT": np.where(ok, 10 ** rng.normal(0.02, 0.05, n), 0),
        "RCHI2_PHOT": np.where(ok, 10 ** rng.normal(0.0, 0.3, n), 0),
        "VDISP": np.where(fitted_vdisp, vdisp, VDISP_DEFAULT),
        "VDISP_IVAR": np.where(fitted_vdisp, _ivar(0.1 * vdisp), 0),
        "TAUV": np.where(ok, phys.tauv, 0),
        "TAUV_IVAR": np.where(ok, _ivar(0.05 + 0.1 * phys.tauv), 0),
        "AGE": np.where(ok, phys.age, 0),
        "AGE_IVAR": np.where(ok, _ivar(0.2 * phys.age), 0),
        "LOGMSTAR": np.where(ok, phys.logmstar, 0),
        "LOGMSTAR_IVAR": np.where(ok, _ivar(mstar_sigma), 0),
        "SFR": np.where(ok, phys.sfr, 0),
        "SFR_IVAR": np.where(ok, _ivar(0.2 * phys.sfr + 0.01), 0),
        "DN4000": np.where(dn_ok, phys.dn4000, 0),
        "DN4000_OBS": np.where(dn_ok, phys.dn4000 + dn_sigma * rng.standard_normal(n), 0),
        "DN4000_IVAR": np.where(dn_ok, _ivar(dn_sigma), 0),
        "DN4000_MODEL": np.where(ok, phys.dn4000 + 0.03 * rng.standard_normal(n), 0),
        "DN4000_MODEL_IVAR": np.where(ok, _ivar(np.full(n, 0.02)), 0),
    }
    _pathological(cols, phys, rng)
    fibertot = phys.fibertot
    for i, band in enumerate(SYNTH_BANDS):
        synth = fibertot[:, i] * np.exp(0.05 * rng.standard_normal(n))
        cols[f"FLUX_SYNTH_{band}"] = synth
        model = synth * np.exp(0.02 * rng.standard_normal(n))
        cols[f"FLUX_SYNTH_SPECMODEL_{band}"] = np.where(ok, model, 0)
    for i, band in enumerate(PHOT_BANDS):
        model = phys.flux_true[:, i] * np.exp(0.03 * rng.standard_normal(n))
        cols[f"FLUX_SYNTH_PHOTMODEL_{band}"] = np.where(ok, model, 0)
    cols |= _absmag_columns(phys, ok, rng)
    cols |= _luminosities(phys, ok, rng)
    return cols


def _luminosities(phys: Physical, ok: np.ndarray, rng: np.random.Generator) -> Columns:
    """LOGLNU_* (1e28 erg/s/Hz) and LOGL_* (1e10 Lsun), linear despite the names; *_CONT."""
    n = phys.n
    l_r = 10 ** (-0.4 * (phys.absmag_r - 4.65)) / 1e10
    uv = 0.7 * phys.sfr + 0.002 * l_r
    values = {
        "LOGLNU_1500": uv,
        "LOGLNU_2800": 1.4 * uv + 0.01 * l_r,
        "LOGL_1450": 0.2 * uv,
        "LOGL_1700": 0.25 * uv,
        "LOGL_3000": l_r * 10 ** (-0.4 * (1.5 * phys.gr)),
        "LOGL_5100": 0.8 * l_r,
    }
    cont_r = 0.283 * phys.fibertot[:, 1]
    slope = -2.0 + 3.0 * phys.gr
    for name, rest in (
        ("FLYA_1215", 1215.67),
        ("FOII_3727", 3728.48),
        ("FHBETA", 4862.68),
        ("FOIII_5007", 5008.24),
        ("FHALPHA", 6564.61),
    ):
        obs = rest * (1 + phys.pos.z)
        cont = cont_r * (obs / 6231.0) ** slope
        values[f"{name}_CONT"] = cont / np.where(rest < 4000, phys.dn4000, 1)
    cols = {}
    for name, value in values.items():
        value = value * np.exp(0.05 * rng.standard_normal(n))
        cols[name] = np.where(ok, value, 0)
        cols[f"{name}_IVAR"] = np.where(ok, _ivar(0.1 * value + 1e-6), 0)
    return cols


def fastspec_columns(phys: Physical, rng: np.random.Generator) -> Columns:
    """The fixed (non-line) FASTSPEC columns; the 828 line columns are filled by `lines`."""
    n = phys.n
    ok = ~phys.failed
    kind = phys.pos.kind
    broad = (kind == QSO) | ((kind == GALAXY) & (rng.random(n) < 0.005))
    cols = identity(phys) | {
        "SNR_B": phys.snr[:, 0],
        "SNR_R": phys.snr[:, 1],
        "SNR_Z": phys.snr[:, 2],
        "APERCORR": np.where(ok, np.median(phys.apercorr, axis=1), 1.0),
        "INIT_SIGMA_UV": np.full(n, 2000.0),
        "INIT_SIGMA_NARROW": rng.uniform(50, 150, n),
        "INIT_SIGMA_BALMER": np.full(n, 1000.0),
        "INIT_VSHIFT_NARROW": rng.normal(0, 10, n),
        "INIT_BALMER_BROAD": np.where(broad, b"T", b"F"),
        "DELTA_LINECHI2": np.where(broad, 10 ** rng.normal(1.5, 0.8, n), 0),
        "DELTA_LINENDOF": np.where(broad, 3, 0),
    }
    for i, cam in enumerate("BRZ"):
        cols[f"SMOOTHCORR_{cam}"] = np.where(ok, rng.normal(0, 3, n), 0)
        cols[f"APERCORR_{'GRZ'[i]}"] = np.where(ok, phys.apercorr[:, i], 1.0)
    fitted = ok & (kind != STAR)
    fixed = {"OIII": 0.3347, "NII": 0.3394, "OIIRED": 1.22}
    for doublet, value in fixed.items():
        cols[f"{doublet}_DOUBLET_RATIO"] = np.where(fitted, value, 0)
    for doublet, lo, hi in (("OII", 0.3, 1.5), ("SII", 0.4, 1.5), ("MGII", 0.8, 2.0)):
        has = fitted & ((doublet != "MGII") | (phys.pos.z > 0.29))
        ratio = rng.uniform(lo, hi, n)
        cols[f"{doublet}_DOUBLET_RATIO"] = np.where(has, ratio, 0)
        sigma = 0.3 * ratio / phys.snr[:, 1]
        cols[f"{doublet}_DOUBLET_RATIO_IVAR"] = np.where(has, _ivar(sigma), 0)
    return cols
