"""Galaxy positions with the VAST toolkit's own arithmetic, so VoidFinder's vflag is reproduced bit
for bit, hole-surface galaxies included.

The toolkit takes redshifts as float32, integrates 1/sqrt(a Ωm (1 + (1 - Ωm) a³ / Ωm)) over the
scale factor from 1/(1+z) to 1 with QUADPACK's QAGS (tolerances 1.49e-8) on an integrand that
rounds `a` and its value to float32, multiplies by c/H0 in float32 with c = 299792 km/s, and
then forms x = r cos(ra) cos(dec), y = r sin(ra) cos(dec), z = r sin(dec) in numpy with the
dtype of the RA/Dec it was given (float32 data stored as float64 is recognised as float32).
QAGS accepts its first 21-point Gauss-Kronrod estimate for every redshift we tried (all 10,000
of the SDSS test set): that step is done here for whole arrays, in QUADPACK's order of
operations; any redshift it would not accept goes through scipy's QAGS itself.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate

SPEED_OF_LIGHT_KMS = np.float32(299792.0)  # the toolkit's constant, not astropy's 299792.458
TOLERANCE = 1.49e-8  # QAGS epsabs and epsrel, as the toolkit passes them
LIMIT = 50  # QAGS subintervals
BLOCK_ROWS = 262_144  # redshifts integrated at once: 21 function values each in memory
EPMACH = np.finfo(np.float64).eps
DEG_TO_RAD = np.pi / 180

# QUADPACK dqk21: abscissae of the 21-point Kronrod rule (xgk[1], xgk[3], ... are the 10-point
# Gauss abscissae), its weights, and the Gauss weights, for the interval (-1, 1).
XGK = (
    0.995657163025808080735527280689003,
    0.973906528517171720077964012084452,
    0.930157491355708226001207180059508,
    0.865063366688984510732096688423493,
    0.780817726586416897063717578345042,
    0.679409568299024406234327365114874,
    0.562757134668604683339000099272694,
    0.433395394129247190799265943165784,
    0.294392862701460198131126603103866,
    0.148874338981631210884826001129720,
    0.0,
)
WGK = (
    0.011694638867371874278064396062192,
    0.032558162307964727478818972459390,
    0.054755896574351996031381300244580,
    0.075039674810919952767043140916190,
    0.093125454583697605535065465083366,
    0.109387158802297641899210590325805,
    0.123491976262065851077958109831074,
    0.134709217311473325928054001771707,
    0.142775938577060080797094273138717,
    0.147739104901338491374841515972068,
    0.149445554002916905664936468389821,
)
WG = (
    0.066671344308688137593568809893332,
    0.149451349150580593145776339657697,
    0.219086362515982043995534934228163,
    0.269266719309996355091226921569469,
    0.295524224714752870173892994651338,
)


def _integrand(a: np.ndarray, omegam: np.float32) -> np.ndarray:
    """The toolkit's Robertson-Walker integrand at each `a` (float64 in and out): `a` arrives
    as a C float, a·Ωm is a float product, the rest double, the value returned as a float."""
    a32 = a.astype(np.float32)
    a64 = a32.astype(np.float64)
    om = float(omegam)
    product = (a32 * omegam).astype(np.float64)
    value = 1.0 / np.sqrt(product * (1.0 + ((1.0 - om) * a64 * a64 * a64 / om)))
    return value.astype(np.float32).astype(np.float64)


def _integrand_scalar(a: float, omegam: float) -> float:
    return float(_integrand(np.array([a]), np.float32(omegam))[0])


def _gauss_kronrod_21(lower: np.ndarray, omegam: np.float32) -> tuple[np.ndarray, np.ndarray]:
    """QUADPACK dqk21 over (lower, 1) for each lower limit: the estimate, and whether QAGS
    would stop there (checked with a margin; a row short of it goes to scipy)."""
    centre = 0.5 * (lower + 1.0)
    half = 0.5 * (1.0 - lower)
    f_centre = _integrand(centre, omegam)
    gauss = np.zeros_like(lower)
    kronrod = WGK[10] * f_centre
    absolute = np.abs(kronrod)
    left, right = {}, {}
    for j in (*range(1, 10, 2), *range(0, 10, 2)):  # Gauss abscissae first, as dqk21
        offset = half * XGK[j]
        left[j] = _integrand(centre - offset, omegam)
        right[j] = _integrand(centre + offset, omegam)
        pair = left[j] + right[j]
        if j % 2:
            gauss = gauss + WG[j // 2] * pair
        kronrod = kronrod + WGK[j] * pair
        absolute = absolute + WGK[j] * (np.abs(left[j]) + np.abs(right[j]))
    mean = kronrod * 0.5
    spread = WGK[10] * np.abs(f_centre - mean)
    for j in range(10):
        spread = spread + WGK[j] * (np.abs(left[j] - mean) + np.abs(right[j] - mean))
    result = kronrod * half
    absolute, spread = absolute * np.abs(half), spread * np.abs(half)
    error = np.abs((kronrod - gauss) * half)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = spread * np.minimum(1.0, (200.0 * error / spread) ** 1.5)
    error = np.where((spread != 0) & (error != 0), scaled, error)
    error = np.maximum(error, EPMACH * 50.0 * absolute)
    bound = np.maximum(TOLERANCE, TOLERANCE * np.abs(result))
    accepted = (error <= 0.999 * bound) & (error != spread)
    return result, accepted


def adaptive_integral(lower: float, omegam: np.float32) -> float:
    """The integral from `lower` to 1 by scipy's QAGS with the toolkit's settings (one row)."""
    return integrate.quad(
        _integrand_scalar,
        lower,
        1.0,
        args=(float(omegam),),
        epsabs=TOLERANCE,
        epsrel=TOLERANCE,
        limit=LIMIT,
    )[0]


def comoving_distance(z: np.ndarray, omegam: float, h: float = 1.0) -> np.ndarray:
    """float32 comoving distance (Mpc/h for h = 1) of each redshift, as the toolkit's
    `z_to_comoving_dist` computes it."""
    z32 = np.asarray(z).astype(np.float32)
    om = np.float32(omegam)
    scale = SPEED_OF_LIGHT_KMS / (np.float32(100.0) * np.float32(h))
    out = np.empty(len(z32), dtype=np.float32)
    for start in range(0, len(z32), BLOCK_ROWS):
        part = z32[start : start + BLOCK_ROWS]
        lower = (1.0 / (1.0 + part.astype(np.float64))).astype(np.float32).astype(np.float64)
        value, accepted = _gauss_kronrod_21(lower, om)
        for row in np.flatnonzero(~accepted):
            value[row] = adaptive_integral(float(lower[row]), om)
        out[start : start + len(part)] = value.astype(np.float32) * scale
    return out


def cartesian(
    ra_deg: np.ndarray, dec_deg: np.ndarray, z: np.ndarray, omegam: float, h: float = 1.0
) -> np.ndarray:
    """(n, 3) float64 positions as the toolkit forms them, r from `comoving_distance`. numpy
    does the trigonometry in the dtype of the RA/Dec it is given: float32 for a row whose
    RA and Dec are float32 values (a float32 column, or one stored as float64 since), float64
    otherwise."""
    r = comoving_distance(z, omegam, h)
    ra, dec = np.asarray(ra_deg), np.asarray(dec_deg)
    ra32, dec32 = ra.astype(np.float32), dec.astype(np.float32)
    single = (ra32 == ra) & (dec32 == dec)
    out = np.empty((len(r), 3))
    out[single] = _sky_to_xyz(r[single], ra32[single], dec32[single])
    wide = ~single
    out[wide] = _sky_to_xyz(r[wide], ra[wide].astype(np.float64), dec[wide].astype(np.float64))
    return out


def _sky_to_xyz(r: np.ndarray, ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """The toolkit's x = r cos(ra) cos(dec), y = r sin(ra) cos(dec), z = r sin(dec), in the
    dtype of ra_deg/dec_deg."""
    ra = ra_deg * DEG_TO_RAD
    dec = dec_deg * DEG_TO_RAD
    x = r * np.cos(ra) * np.cos(dec)
    y = r * np.sin(ra) * np.cos(dec)
    zc = r * np.sin(dec)
    return np.column_stack([x, y, zc]).astype(np.float64)
