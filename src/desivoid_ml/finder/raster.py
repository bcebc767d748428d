"""A plot area drawn straight into palette indices (`palette`): points splatted with numpy,
circles, rings and star markers with Pillow. Tens of times cheaper than a matplotlib figure for
the finder's pictures."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from desivoid_ml.finder.palette import BLACK, RGB, Palette


def disc_offsets(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """(dy, dx) of the pixels of a filled disc of `radius` pixels around a point."""
    reach = int(np.ceil(radius))
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    inside = dy**2 + dx**2 <= radius**2 + 0.5
    return dy[inside], dx[inside]


def star_polygon(cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    """The ten corners of a five-pointed star, point up, around (cx, cy) in pixels."""
    angles = np.pi / 2 + np.arange(10) * np.pi / 5
    r = np.where(np.arange(10) % 2 == 0, radius, 0.42 * radius)
    return list(zip(cx + r * np.cos(angles), cy - r * np.sin(angles), strict=True))


class PlotArea:
    """Data limits mapped onto a width x height pixel image (y up); layers drawn in call order."""

    def __init__(self, width: int, height: int, xlim: tuple, ylim: tuple) -> None:
        self.width, self.height = width, height
        self.xlim = (float(xlim[0]), float(xlim[1]))
        self.ylim = (float(ylim[0]), float(ylim[1]))
        self.palette = Palette()  # the figure's too: `frame.compose` draws in it
        # the canvas (palette indices, white 0) lives as a Pillow "P" image or as a numpy
        # array, converted only when the next layer needs the other one
        self._image: Image.Image | None = Image.new("P", (width, height), 0)
        self._pixels: np.ndarray | None = None

    @property
    def pixels(self) -> np.ndarray:
        """The canvas as a (height, width) uint8 array of palette indices (writable)."""
        if self._pixels is None:
            self._pixels = np.asarray(self._image).copy()
            self._image = None
        return self._pixels

    def to_px(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Pixel columns and rows (floats) of data coordinates."""
        (x0, x1), (y0, y1) = self.xlim, self.ylim
        px = (np.asarray(x, dtype=float) - x0) * (self.width - 1) / (x1 - x0)
        py = (y1 - np.asarray(y, dtype=float)) * (self.height - 1) / (y1 - y0)
        return px, py

    def scale(self) -> float:
        """Pixels per data unit along x (the slice has equal scales on both axes)."""
        return (self.width - 1) / (self.xlim[1] - self.xlim[0])

    def points(self, xy: np.ndarray, colour: RGB, radius: float = 1.5) -> None:
        """Filled dots of `radius` pixels at the rows of xy (n x 2), clipped to the area: the
        centres marked once, then the mark spread by the disc's offsets (a few whole-image
        shifts, however many points; dots cut by the edge keep their inside pixels)."""
        if len(xy) == 0:
            return
        ink = self.palette.index(colour)
        px, py = self.to_px(xy[:, 0], xy[:, 1])
        dy, dx = disc_offsets(radius)
        reach = int(max(np.abs(dy).max(), np.abs(dx).max()))
        rows = np.rint(py).astype(np.int64) + reach
        cols = np.rint(px).astype(np.int64) + reach
        h, w = self.height + 2 * reach, self.width + 2 * reach
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        centres = np.zeros((h, w), dtype=bool)
        centres[rows[inside], cols[inside]] = True
        covered = np.zeros((self.height, self.width), dtype=bool)
        for oy, ox in zip(dy, dx, strict=True):
            covered |= centres[reach - oy : reach - oy + self.height,
                               reach - ox : reach - ox + self.width]  # fmt: skip
        self.pixels[covered] = ink

    def circles(self, x, y, r, colour: RGB, width: int = 1) -> None:
        """Outlines of circles of data radius r (equal scales assumed), clipped to the area."""
        ink = self.palette.index(colour)
        px, py = self.to_px(x, y)
        pr = np.asarray(r, dtype=float) * self.scale()
        self._draw(lambda d: [
            d.ellipse((cx - cr, cy - cr, cx + cr, cy + cr), outline=ink, width=width)
            for cx, cy, cr in zip(px, py, pr, strict=True)
        ])  # fmt: skip

    def rings(self, xy: np.ndarray, colour: RGB, radius: float = 4.5) -> None:
        """Open rings of `radius` pixels (the neighbours of the embedding map)."""
        if len(xy) == 0:
            return
        ink = self.palette.index(colour)
        px, py = self.to_px(xy[:, 0], xy[:, 1])
        self._draw(lambda d: [
            d.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=ink,
                      width=2)
            for cx, cy in zip(px, py, strict=True)
        ])  # fmt: skip

    def star(self, x: float, y: float, fill: RGB, radius: float = 10.0) -> None:
        """A filled star with a black outline (the query galaxy)."""
        inks = self.palette.index(fill), self.palette.index(BLACK)
        px, py = self.to_px(x, y)
        corners = star_polygon(float(px), float(py), radius)
        self._draw(lambda d: d.polygon(corners, fill=inks[0], outline=inks[1], width=1))

    def image(self) -> Image.Image:
        """The canvas as a Pillow "P" image (its palette is set when the figure is saved)."""
        if self._image is None:
            self._image = Image.frombytes("P", (self.width, self.height), self._pixels.tobytes())
            self._pixels = None
        return self._image

    def _draw(self, paint) -> None:
        paint(ImageDraw.Draw(self.image()))
