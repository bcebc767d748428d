"""Small FITS files for tests, written with astropy (independent of our own writer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits


def fastspec_like(
    path: Path, n: int = 50, seed: int = 0, misalign: bool = False, extra_fastspec: bool = False
) -> Path:
    """A FastSpecFit-shaped file (METADATA, SPECPHOT, FASTSPEC) with a handful of columns."""
    rng = np.random.default_rng(seed)
    targetid = 39627000000000000 + np.arange(n, dtype=np.int64) * 7 + seed * 10_000
    ids = [
        fits.Column("TARGETID", "K", array=targetid),
        fits.Column("SURVEY", "4A", array=np.full(n, "main")),
        fits.Column("PROGRAM", "6A", array=np.full(n, "bright")),
        fits.Column("HEALPIX", "J", array=rng.integers(0, 49152, n)),
    ]
    meta = ids + [
        fits.Column("RA", "D", array=rng.uniform(0, 360, n)),
        fits.Column("DEC", "D", array=rng.uniform(-10, 70, n)),
        fits.Column("Z", "D", array=rng.uniform(0.01, 0.3, n)),
        fits.Column("SPECTYPE", "6A", array=np.full(n, "GALAXY")),
    ]
    spec_ids = [fits.Column(c.name, c.format, array=c.array) for c in ids]
    if misalign:
        spec_ids[0] = fits.Column("TARGETID", "K", array=targetid[::-1])
    specphot = spec_ids + [
        fits.Column("LOGMSTAR", "E", array=rng.normal(10, 0.5, n).astype(np.float32)),
        fits.Column("LOGMSTAR_IVAR", "E", array=np.where(np.arange(n) % 10 == 0, 0, 100.0)),
        fits.Column("COEFF", "5E", array=rng.random((n, 5)).astype(np.float32)),
    ]
    fastspec = [fits.Column(c.name, c.format, array=c.array) for c in ids] + [
        fits.Column("HALPHA_FLUX", "E", array=rng.random(n).astype(np.float32)),
        fits.Column("HALPHA_FLUX_IVAR", "E", array=rng.random(n).astype(np.float32)),
    ]
    if extra_fastspec:
        fastspec.append(fits.Column("HBETA_FLUX", "E", array=rng.random(n).astype(np.float32)))
    hdus = [fits.PrimaryHDU()]
    for name, cols in [("METADATA", meta), ("SPECPHOT", specphot), ("FASTSPEC", fastspec)]:
        hdus.append(fits.BinTableHDU.from_columns(cols, name=name))
    fits.HDUList(hdus).writeto(path, overwrite=True)
    return path


def simple_table(path: Path, n: int, names: tuple[str, ...] = ("a", "b")) -> Path:
    """One BINTABLE of float64 columns with the given names."""
    rng = np.random.default_rng(n)
    cols = [fits.Column(name, "D", array=rng.random(n)) for name in names]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="DATA")]).writeto(
        path, overwrite=True
    )
    return path
