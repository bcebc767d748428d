"""VoidFinder's survey mask: an RA/Dec grid (MSKRES cells per degree) plus distance limits.

The catalog's own MASK HDU is used when the file has one. Otherwise the mask is rebuilt the way
the VAST toolkit builds it (`multizmask.generate_mask`): every cell holding a galaxy, then one
smoothing pass that fills empty cells with at least 3 of their 4 neighbours filled (border cells
untouched, RA does not wrap). Cells are indexed as the toolkit does, int() truncating toward
zero: cell (int(n ra), int(n dec) + 90 n), so -0.5 deg of Dec falls in the cell of +0.5 deg.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.cosmology import sky_from_cartesian

SMOOTH_NEIGHBOURS = 3  # VAST fills an empty cell with at least 3 of its 4 neighbours filled


@dataclass(frozen=True)
class SkyMask:
    """Survey footprint (bool cells, shape (360 n, 180 n)) and comoving distance limits; `source`
    says where the cells came from."""

    cells: np.ndarray
    resolution: int
    distance_limits: tuple[float, float]
    source: str = ""

    def contains_sky(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        """Whether each (ra, dec) in degrees falls in a survey cell."""
        i, j = cell_index(ra, dec, self.resolution, self.cells.shape)
        return self.cells[i, j]

    def contains(self, xyz: np.ndarray) -> np.ndarray:
        """Inside a survey cell and within the distance limits (inclusive, as VAST's
        `not_in_mask`)."""
        ra, dec, r = sky_from_cartesian(xyz)
        low, high = self.distance_limits
        return self.contains_sky(ra, dec) & (r >= low) & (r <= high)


def cell_index(
    ra: np.ndarray, dec: np.ndarray, resolution: int, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """VAST's cell of each position: int() of n ra and n dec (toward zero), dec + 90 n."""
    ra = np.nan_to_num(np.asarray(ra, dtype=np.float64) % 360.0)
    dec = np.nan_to_num(np.asarray(dec, dtype=np.float64))
    i = np.clip(np.trunc(resolution * ra).astype(np.int64), 0, shape[0] - 1)
    j = np.clip(np.trunc(resolution * dec).astype(np.int64) + 90 * resolution, 0, shape[1] - 1)
    return i, j


class MaskBuilder:
    """Accumulates galaxy cells chunk by chunk, then smooths them as the toolkit does."""

    def __init__(self, resolution: int) -> None:
        self.resolution = resolution
        self.cells = np.zeros((360 * resolution, 180 * resolution), dtype=bool)
        self.galaxies = 0

    def add(self, ra: np.ndarray, dec: np.ndarray) -> None:
        i, j = cell_index(ra, dec, self.resolution, self.cells.shape)
        self.cells[i, j] = True
        self.galaxies += len(i)

    def mask(self, distance_limits: tuple[float, float]) -> SkyMask:
        source = (
            f"rebuilt from {self.galaxies:,} galaxies (VAST generate_mask, smoothed, "
            f"MSKRES {self.resolution})"
        )
        return SkyMask(smooth(self.cells), self.resolution, distance_limits, source)


def smooth(cells: np.ndarray) -> np.ndarray:
    """One pass of VAST's smoothing: an empty interior cell with >= 3 of its 4 neighbours set
    becomes set (decided on the unsmoothed mask)."""
    filled = cells.astype(np.int8)
    neighbours = np.zeros_like(filled)
    neighbours[1:-1, 1:-1] = (
        filled[:-2, 1:-1] + filled[2:, 1:-1] + filled[1:-1, :-2] + filled[1:-1, 2:]
    )
    grow = ~cells & (neighbours >= SMOOTH_NEIGHBOURS)
    grow[[0, -1], :] = False
    grow[:, [0, -1]] = False
    return cells | grow


def sky_mask(
    ra: np.ndarray, dec: np.ndarray, distance_limits: tuple[float, float], resolution: int = 1
) -> SkyMask:
    """The toolkit's mask of a galaxy sample (cells holding a galaxy, smoothed)."""
    builder = MaskBuilder(resolution)
    builder.add(ra, dec)
    return builder.mask(distance_limits)


def mask_from_image(
    image: np.ndarray, resolution: int, distance_limits: tuple[float, float], catalog: str
) -> SkyMask:
    """A MASK HDU (non-zero = in the survey), either axis order, checked against MSKRES."""
    image = np.asarray(image) != 0
    shape = (360 * resolution, 180 * resolution)
    if image.shape == shape[::-1]:
        image = image.T
    if image.shape != shape:
        raise DesivoidError(
            f"void catalog {catalog}: MASK HDU has shape {image.shape}, expected {shape} for "
            f"MSKRES {resolution}; check the file's MASK and MSKRES"
        )
    return SkyMask(np.ascontiguousarray(image), resolution, distance_limits, "MASK HDU")
