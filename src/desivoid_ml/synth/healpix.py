"""HEALPix NESTED pixel of (RA, DEC), vectorised (Gorski et al. 2005, `ang2pix_nest`)."""

from __future__ import annotations

import numpy as np


def _interleave(ix: np.ndarray, iy: np.ndarray, order: int) -> np.ndarray:
    """Morton code: bit k of ix goes to bit 2k, bit k of iy to bit 2k+1."""
    out = np.zeros_like(ix)
    for bit in range(order):
        out |= ((ix >> bit) & 1) << (2 * bit)
        out |= ((iy >> bit) & 1) << (2 * bit + 1)
    return out


def radec_to_nest(ra: np.ndarray, dec: np.ndarray, nside: int) -> np.ndarray:
    """Nested pixel index (int64) of positions in degrees; nside must be a power of two."""
    order = int(nside).bit_length() - 1
    if nside < 1 or 1 << order != nside:
        raise ValueError(f"nside must be a power of two, got {nside}")
    z = np.sin(np.radians(dec))
    za = np.abs(z)
    tt = np.mod(np.asarray(ra, dtype=np.float64), 360.0) / 90.0  # in [0, 4)
    tt = np.where(tt >= 4.0, 0.0, tt)

    # equatorial region |z| <= 2/3
    t1 = nside * (0.5 + tt)
    t2 = nside * z * 0.75
    jp = (t1 - t2).astype(np.int64)
    jm = (t1 + t2).astype(np.int64)
    ifp, ifm = jp >> order, jm >> order
    face_eq = np.where(ifp == ifm, ifp | 4, np.where(ifp < ifm, ifp, ifm + 8))
    ix_eq = jm & (nside - 1)
    iy_eq = nside - (jp & (nside - 1)) - 1

    # polar caps |z| > 2/3
    ntt = np.minimum(tt.astype(np.int64), 3)
    tp = tt - ntt
    tmp = nside * np.sqrt(3.0 * (1.0 - za))
    jp_p = np.minimum((tp * tmp).astype(np.int64), nside - 1)
    jm_p = np.minimum(((1.0 - tp) * tmp).astype(np.int64), nside - 1)
    face_po = np.where(z > 0, ntt, ntt + 8)
    ix_po = np.where(z > 0, nside - jm_p - 1, jp_p)
    iy_po = np.where(z > 0, nside - jp_p - 1, jm_p)

    polar = za > 2.0 / 3.0
    face = np.where(polar, face_po, face_eq)
    ix = np.where(polar, ix_po, ix_eq)
    iy = np.where(polar, iy_po, iy_eq)
    return face * nside * nside + _interleave(ix, iy, order)
