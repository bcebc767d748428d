"""Equal-area sky regions for the delete-one jackknife.

The sky is cut into HEALPix pixels (equal area by construction) at the finest level whose
occupied pixels still hold several galaxies each; the occupied pixels, in NESTED order (a
space-filling curve, so neighbours in the list are neighbours on the sky), are dealt into
`count` consecutive runs of equal length. Each region is therefore the same area of the
footprint to within one pixel, and compact.
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy_healpix import lonlat_to_healpix

PIXELS_PER_REGION = 32  # a region is this many pixels or more: equal areas to ~3 %, edges included
MIN_GALAXIES_PER_PIXEL = 4  # finer pixels would trace the galaxies, not the footprint
MAX_LEVEL = 13  # nside 8192: 0.4 arcmin pixels


def sky_regions(ra: np.ndarray, dec: np.ndarray, count: int) -> np.ndarray:
    """Region number (0 .. at most count - 1) of each galaxy; -1 where RA or Dec is unknown."""
    known = np.isfinite(ra) & np.isfinite(dec)
    region = np.full(len(ra), -1, dtype=np.int64)
    if not known.any():
        return region
    pixels = _pixels(ra[known], dec[known], count)
    occupied, pixel_index = np.unique(pixels, return_inverse=True)
    runs = min(count, len(occupied))
    # pixel i of the sorted occupied list goes to run floor(i * runs / n): equal-length runs
    run_of_pixel = np.arange(len(occupied)) * runs // len(occupied)
    region[known] = run_of_pixel[pixel_index]
    return region


def _pixels(ra: np.ndarray, dec: np.ndarray, count: int) -> np.ndarray:
    """NESTED pixel numbers at the coarsest level with PIXELS_PER_REGION * count occupied
    pixels, or the finest with MIN_GALAXIES_PER_PIXEL galaxies per occupied pixel."""
    lon, lat = np.asarray(ra, float) * u.deg, np.clip(np.asarray(dec, float), -90, 90) * u.deg
    chosen = lonlat_to_healpix(lon, lat, 1, order="nested")
    for level in range(1, MAX_LEVEL + 1):
        pixels = lonlat_to_healpix(lon, lat, 2**level, order="nested")
        occupied = len(np.unique(pixels))
        if occupied * MIN_GALAXIES_PER_PIXEL > len(ra):
            break
        chosen = pixels
        if occupied >= PIXELS_PER_REGION * count:
            break
    return chosen
