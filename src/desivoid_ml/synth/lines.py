"""The 828 emission-line columns: 46 lines x 18 suffixes, filled as one (n, 46, 18) block.

Hydrogen-alpha flux follows SFR (Kennicutt), other lines follow fixed or per-galaxy ratios, dust
reddens them, the fibre sees 1/APERCORR of the light. Each line then lands in one of fastspecfit's
states: out of range (3604-9896 A observed) -> all 18 zero; NPIX < 7 -> only NPIX; dropped
(S/N < 1.5, AMP = 0) -> BOXFLUX, CONT, NPIX, FLUX_LIMIT only; detected -> everything.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from desivoid_ml.synth.datamodel import LINE_NAMES, LINE_WAVE, SUFFIX_INDEX
from desivoid_ml.synth.positions import QSO
from desivoid_ml.synth.properties import Physical

C_KMS = 299792.458
WAVE_RANGE = (3604.0, 9896.0)
PIXEL = 0.8  # Angstrom
CAMERA_EDGES = (5800.0, 7600.0)  # b | r | z
SIGMA_INSTRUMENT = 40.0  # km/s
HALPHA_PER_SFR = 2.27e41  # erg/s per Msun/yr (Chabrier IMF)
MPC_CM = 3.0857e24
DETECT_SNR = 1.5
MASKED_FRACTION = 0.015
F32 = np.float32
SLICE_ROWS = 1024  # rows per pass: (1024, 46) float32 temporaries fit in cache

_L = {name: i for i, name in enumerate(LINE_NAMES)}
# Intrinsic flux relative to H-alpha for a star-forming galaxy; NII/OIII/OII/SII set per galaxy.
BASE_RATIO = np.zeros(len(LINE_NAMES))
for _name, _ratio in {
    "HALPHA": 1.0,
    "HBETA": 1 / 2.86,
    "HGAMMA": 0.468 / 2.86,
    "HDELTA": 0.259 / 2.86,
    "HEPSILON": 0.159 / 2.86,
    "H6": 0.105 / 2.86,
    "OIII_4363": 0.005,
    "HEI_4471": 0.012,
    "HEII_4686": 0.003,
    "NII_5755": 0.003,
    "HEI_5876": 0.035,
    "OI_6300": 0.05,
    "SIII_6312": 0.01,
    "ARIII_7135": 0.03,
    "OII_7320": 0.01,
    "OII_7330": 0.008,
    "SIII_9069": 0.08,
    "SIII_9532": 0.2,
    "NEIII_3869": 0.02,
}.items():
    BASE_RATIO[_L[_name]] = _ratio
BROAD = np.array([name.endswith("_BROAD") for name in LINE_NAMES])
# Rest-frame equivalent widths (A) of QSO broad lines.
QSO_EW = {
    "HALPHA_BROAD": 300.0,
    "HBETA_BROAD": 80.0,
    "HGAMMA_BROAD": 30.0,
    "MGII_2796": 25.0,
    "MGII_2803": 20.0,
    "CIV_1549": 40.0,
    "CIII_1908": 20.0,
    "LYALPHA": 80.0,
}
QSO_LINES = np.array([name in QSO_EW for name in LINE_NAMES])
REDDENING = ((LINE_WAVE / 5500.0) ** -0.7).astype(np.float32)  # A_lambda / A_V
LOG_WAVE = np.log(LINE_WAVE / 6231.0).astype(np.float32)  # continuum is a power law about 6231 A
MOMENT_SOURCE = {
    "CIV_1549": "CIV_1549",
    "MGII_2800": "MGII_2796",
    "HBETA": "HBETA",
    "OIII_5007": "OIII_5007",
}


@dataclass
class LineRows:
    """Per-row inputs of the line model; sliced by rows so each pass stays in cache."""

    z1: np.ndarray  # 1 + z
    fitted: np.ndarray  # False where the fit failed: every line column stays 0
    qso: np.ndarray
    cont_r: np.ndarray  # fibre continuum at 6231 A observed
    slope: np.ndarray  # continuum power-law slope
    dn4000: np.ndarray
    halpha: np.ndarray  # intrinsic fibre H-alpha flux before dust
    a_v: np.ndarray
    snr: np.ndarray  # (n, 3) per camera
    ratio: np.ndarray  # (n, 46) line / H-alpha
    narrow: np.ndarray  # km/s
    broad: np.ndarray  # km/s
    vshift: np.ndarray  # km/s

    def __getitem__(self, rows: slice) -> LineRows:
        return LineRows(*(getattr(self, f.name)[rows] for f in fields(self)))


def _ratios(phys: Physical, cols: dict, rng: np.random.Generator) -> np.ndarray:
    """(n, 46) intrinsic line/H-alpha ratios with per-galaxy metal-line strengths."""
    n = phys.n
    ratio = np.tile(BASE_RATIO.astype(F32), (n, 1))
    dm = phys.logmstar - 10.0
    n2 = 10 ** np.minimum(-0.6 + 0.35 * dm + 0.1 * rng.standard_normal(n), 0.2)
    o3 = 10 ** np.clip(0.1 - 0.55 * dm + 0.15 * rng.standard_normal(n), -1.2, 1.0) / 2.86
    oii = 10 ** (0.35 + 0.1 * rng.standard_normal(n)) / 2.86
    sii = 10 ** (-0.55 + 0.1 * rng.standard_normal(n))
    r_oii, r_sii = cols["OII_DOUBLET_RATIO"], cols["SII_DOUBLET_RATIO"]
    broad_gal = np.where(cols["INIT_BALMER_BROAD"] == b"T", 0.3, 0.0)
    for name, value in {
        "NII_6584": n2,
        "NII_6548": n2 * cols["NII_DOUBLET_RATIO"],
        "OIII_5007": o3,
        "OIII_4959": o3 * cols["OIII_DOUBLET_RATIO"],
        "OII_3726": oii * r_oii / (1 + r_oii),
        "OII_3729": oii / (1 + r_oii),
        "SII_6716": sii * r_sii / (1 + r_sii),
        "SII_6731": sii / (1 + r_sii),
        "HALPHA_BROAD": broad_gal,
        "HBETA_BROAD": broad_gal / 3.1,
    }.items():
        ratio[:, _L[name]] = value
    return ratio


def line_rows(phys: Physical, cols: dict, rng: np.random.Generator) -> LineRows:
    """Everything the line model needs per row (H-alpha from SFR, widths, ratios)."""
    n = phys.n
    d_l = 10 ** ((phys.dmod - 25.0) / 5.0) * MPC_CM
    halpha = phys.sfr * HALPHA_PER_SFR / (4 * np.pi * d_l**2) / 1e-17 / phys.apercorr[:, 1]
    narrow = np.clip(70.0 * 10 ** (0.15 * rng.standard_normal(n)), 20, 400)
    per_row = [
        1.0 + phys.pos.z,
        ~phys.failed,
        phys.pos.kind == QSO,
        0.283 * phys.fibertot[:, 1],
        -2.0 + 3.0 * phys.gr,
        phys.dn4000,
        halpha,
        1.086 * phys.tauv,
        phys.snr,
        _ratios(phys, cols, rng),
        narrow,
        rng.uniform(1500, 5000, n),
        rng.normal(0, 20, n),
    ]
    return LineRows(*(a if a.dtype == bool else a.astype(F32) for a in per_row))


def _spectrum(r: LineRows, lam_obs: np.ndarray):
    """(m, 46) continuum under each line, true line flux and intrinsic width."""
    log_lam = LOG_WAVE[None, :] + np.log(r.z1)[:, None]
    cont = r.cont_r[:, None] * np.exp(r.slope[:, None] * log_lam)
    cont[:, LINE_WAVE < 4000.0] /= r.dn4000[:, None]
    cont = np.maximum(cont, F32(1e-3))
    atten = np.exp(F32(-0.4 * np.log(10)) * r.a_v[:, None] * REDDENING)
    flux = r.halpha[:, None] * r.ratio * atten
    if r.qso.any():
        for name, ew in QSO_EW.items():
            i = _L[name]
            flux[r.qso, i] = ew * r.z1[r.qso] * cont[r.qso, i]
    is_broad = BROAD[None, :] | (QSO_LINES[None, :] & r.qso[:, None])
    sigma_v = np.where(is_broad, r.broad[:, None], r.narrow[:, None])
    return cont, flux, sigma_v


def _slice_values(r: LineRows, rng: np.random.Generator):
    """The 17 float suffixes (suffix-major, (17, m, 46)), NPIX and what the moments need."""
    m, nl = len(r.z1), len(LINE_NAMES)
    z1 = r.z1[:, None]
    lam_obs = LINE_WAVE.astype(F32)[None, :] * z1
    in_range = (lam_obs > WAVE_RANGE[0]) & (lam_obs < WAVE_RANGE[1]) & r.fitted[:, None]
    cont, f_true, sigma_v = _spectrum(r, lam_obs)
    sigma_lam = np.sqrt(sigma_v**2 + F32(SIGMA_INSTRUMENT**2)) * lam_obs / F32(C_KMS)
    snr_b, snr_r, snr_z = (np.maximum(r.snr[:, k : k + 1], F32(0.3)) for k in range(3))
    camera_snr = np.where(
        lam_obs < CAMERA_EDGES[0], snr_b, np.where(lam_obs < CAMERA_EDGES[1], snr_r, snr_z)
    )
    sigma_pix = cont / camera_snr
    sigma_f = sigma_pix * np.sqrt(F32(2 * np.sqrt(np.pi) * PIXEL) * sigma_lam)
    npix = (sigma_lam * F32(6.0 / PIXEL) + F32(5.0)).astype(np.int32)
    uniform = rng.random((m, nl), dtype=F32)
    gauss = rng.standard_normal((m, nl), dtype=F32)
    npix = np.where(uniform < MASKED_FRACTION, npix % 7, npix)
    jitter = uniform - F32(0.5)  # one uniform drives masking and the small jitters

    valid = in_range & (npix >= 7)
    noise = sigma_f * gauss  # the boxcar flux sees the same pixels: correlated noise
    f_obs = f_true + noise
    det = valid & (f_true > 0) & (f_obs > F32(DETECT_SNR) * sigma_f)
    on, seen = det.astype(F32), valid.astype(F32)
    snr = np.where(det, f_obs / sigma_f, F32(1.0))
    v_err = sigma_v / snr + F32(1.0)
    cont_obs = cont * (F32(1.0) + F32(0.07) * jitter)
    values = {
        "MODELAMP": (f_obs / (F32(np.sqrt(2 * np.pi) / C_KMS) * sigma_v * lam_obs), on),
        "AMP": (f_obs / (F32(np.sqrt(2 * np.pi)) * sigma_lam), on),
        "AMP_IVAR": (sigma_pix**-2, on),
        "FLUX": (f_obs, on),
        "FLUX_IVAR": (sigma_f**-2, on),
        "BOXFLUX": (f_true + F32(1.2) * noise + F32(0.4) * jitter * sigma_f, seen),
        "BOXFLUX_IVAR": ((F32(1.2) * sigma_f) ** -2, seen),
        "VSHIFT": (r.vshift[:, None] + F32(35.0) * jitter, on),
        "VSHIFT_IVAR": (v_err**-2, on),
        "SIGMA": (sigma_v * (F32(1.0) + F32(0.1) * jitter), on),
        "SIGMA_IVAR": ((F32(1.4) * v_err) ** -2, on),
        "CONT": (cont_obs, seen),
        "CONT_IVAR": (F32(40.0) * sigma_pix**-2, seen),
        "EW": (f_obs / (cont_obs * z1), on),
        "EW_IVAR": ((cont_obs * z1 / sigma_f) ** 2, on),
        "FLUX_LIMIT": (sigma_f, seen),
        "CHI2": (npix * (F32(1.0) + F32(0.3) * jitter), on),
    }
    out = np.empty((len(values), m, nl), dtype=F32)
    for suffix, (value, mask) in values.items():
        np.multiply(value, mask, out=out[SUFFIX_INDEX[suffix]])
    out += F32(0.0)  # a negative value times a 0 mask is -0.0: make every missing value +0.0
    return out, np.where(in_range, npix, 0), (det, lam_obs, sigma_lam, snr, jitter)


def fill_lines(
    block: np.ndarray, npix_view: np.ndarray, phys: Physical, cols: dict, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Write the (n, 46, 17) float block and NPIX of a chunk; return the MOMENT columns.

    Rows go SLICE_ROWS at a time (temporaries stay in cache); the 17 suffixes of a slice are
    computed suffix-major and written to the big-endian rows in one assignment (7x faster than
    17 strided ones)."""
    rows = line_rows(phys, cols, rng)
    moments = []
    for start in range(0, phys.n, SLICE_ROWS):
        sl = slice(start, start + SLICE_ROWS)
        out, npix, extra = _slice_values(rows[sl], rng)
        block[sl] = out.transpose(1, 2, 0)
        npix_view[sl] = npix
        moments.append(_moments(*extra))
    return {name: np.concatenate([part[name] for part in moments]) for name in moments[0]}


def _moments(det, lam_obs, sigma_lam, snr, noise) -> dict[str, np.ndarray]:
    """Non-parametric moments of detected HBETA / OIII_5007 (and MGII / CIV for QSOs)."""
    cols = {}
    for name, source in MOMENT_SOURCE.items():
        i = _L[source]
        d, lam, s = det[:, i], lam_obs[:, i].astype(np.float64), sigma_lam[:, i].astype(np.float64)
        err = s / snr[:, i]
        values = {
            1: (lam + err * noise[:, i], err),
            2: (s**2, 2 * s * err),
            3: (0.2 * s**3 * noise[:, i], 3 * s**2 * err),
        }
        for k, (value, sigma) in values.items():
            cols[f"{name}_MOMENT{k}"] = np.where(d, value, 0.0)
            cols[f"{name}_MOMENT{k}_IVAR"] = np.where(d, 1.0 / sigma**2, 0.0)
    return cols
