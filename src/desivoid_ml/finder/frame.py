"""The frame around a plot area: axes box, ticks and their labels, axis labels, a title and a
legend, in Pillow's own font, drawn in the plot area's palette indices; then the PNG bytes
(palette, zlib level 1: fast, a little larger)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from desivoid_ml.finder.palette import BLACK, RGB, TEXT_INK, WHITE, Palette
from desivoid_ml.finder.raster import PlotArea, star_polygon

MARGIN_LEFT, MARGIN_RIGHT, MARGIN_BOTTOM = 62, 14, 46
TICK_PX = 5
PNG_COMPRESS_LEVEL = 1
LEGEND_EDGE = (204, 204, 204)


@dataclass(frozen=True)
class Entry:
    """One legend line: a marker (dot, ring, star or line) of a colour, and its text."""

    label: str
    colour: RGB
    marker: str = "dot"


@cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's default font (a scalable sans serif with FreeType), loaded once per size."""
    return ImageFont.load_default(size=size)


def text_mask(text: str, size: int, anchor: str) -> tuple[Image.Image, int, int]:
    """The text's coverage (an "L" mask), with the offset of its box from the anchor point."""
    face = font(size)
    left, top, right, bottom = face.getbbox(text, anchor=anchor)
    mask = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, fill=255, font=face, anchor=anchor)
    return mask, left, top


def inked(coverage: Image.Image) -> tuple[Image.Image, Image.Image]:
    """(palette-index picture, "1" mask) of black text of this coverage over white: the text
    greys where the glyphs' edges are anti-aliased, pasted only where there is ink."""
    ink = Image.frombytes("P", coverage.size, TEXT_INK[np.asarray(coverage)].tobytes())
    return ink, coverage.point(lambda v: 255 if v else 0, mode="1")


@lru_cache(maxsize=1024)
def text_stamp(text: str, size: int, anchor: str) -> tuple[Image.Image, Image.Image, int, int]:
    """The text inked once, with its offset from the anchor point: tick labels, axis labels and
    legends repeat from picture to picture."""
    mask, left, top = text_mask(text, size, anchor)
    return (*inked(mask), left, top)


def put_text(
    figure: Image.Image, xy: tuple[float, float], text: str, size: int, anchor: str
) -> None:
    """Black text at xy, placed by a Pillow anchor ("ma": middle of its top, "rm", "lm")."""
    ink, mask, left, top = text_stamp(text, size, anchor)
    figure.paste(ink, (round(xy[0]) + left, round(xy[1]) + top), mask)


def nice_ticks(low: float, high: float, target: int = 8) -> np.ndarray:
    """Round tick values (1, 2 or 5 x 10^k apart) inside [low, high]."""
    span = high - low
    if not span > 0:
        return np.array([low])
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    ticks = np.arange(first, high + 0.5 * step, step)
    return np.round(ticks[ticks <= high + 1e-9 * span], 10)


def tick_text(value: float) -> str:
    return f"{value:g}" if value != 0 else "0"


def compose(
    area: PlotArea,
    title: str,
    xlabel: str,
    ylabel: str,
    legend: list[Entry],
    top: int,
) -> bytes:
    """The figure: `area` with its frame; `top` pixels above it for the title."""
    width = MARGIN_LEFT + area.width + MARGIN_RIGHT
    height = top + area.height + MARGIN_BOTTOM
    palette = area.palette
    figure = Image.new("P", (width, height), 0)  # white
    figure.paste(area.image(), (MARGIN_LEFT, top))
    draw = ImageDraw.Draw(figure)
    left, right, bottom = MARGIN_LEFT - 1, MARGIN_LEFT + area.width, top + area.height
    draw.rectangle((left, top - 1, right, bottom), outline=palette.index(BLACK))
    _ticks(figure, draw, area, top)
    put_text(figure, ((left + right) / 2, bottom + 24), xlabel, 12, "ma")
    _vertical_text(figure, ylabel, (10, top + area.height // 2), 12)
    for i, line in enumerate(title.splitlines()):
        put_text(figure, ((left + right) / 2, 6 + 17 * i), line, 13, "ma")
    _legend(figure, draw, palette, legend, (right - 6, top + 6))
    figure.putpalette(palette.to_bytes())
    buffer = io.BytesIO()
    figure.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def _ticks(figure: Image.Image, draw: ImageDraw.ImageDraw, area: PlotArea, top: int) -> None:
    bottom, black = top + area.height, area.palette.index(BLACK)
    for value in nice_ticks(*area.xlim):
        px = MARGIN_LEFT + float(area.to_px(value, area.ylim[0])[0])
        draw.line((px, bottom, px, bottom + TICK_PX), fill=black)
        put_text(figure, (px, bottom + TICK_PX + 2), tick_text(value), 11, "ma")
    for value in nice_ticks(*area.ylim):
        py = top + float(area.to_px(area.xlim[0], value)[1])
        draw.line((MARGIN_LEFT - 1 - TICK_PX, py, MARGIN_LEFT - 1, py), fill=black)
        put_text(figure, (MARGIN_LEFT - TICK_PX - 4, py), tick_text(value), 11, "rm")


def _vertical_text(figure: Image.Image, text: str, centre: tuple[int, int], size: int) -> None:
    """Text turned 90 degrees (reading upwards), centred on `centre` (its left edge at x)."""
    ink, mask = _vertical_stamp(text, size)
    figure.paste(ink, (centre[0], centre[1] - mask.height // 2), mask)


@lru_cache(maxsize=64)
def _vertical_stamp(text: str, size: int) -> tuple[Image.Image, Image.Image]:
    return inked(text_mask(text, size, "la")[0].rotate(90, expand=True))


def _legend(
    figure: Image.Image,
    draw: ImageDraw.ImageDraw,
    palette: Palette,
    entries: list[Entry],
    corner: tuple[int, int],
) -> None:
    """A framed box of entries whose top-right corner is `corner`."""
    if not entries:
        return
    small, line, swatch = font(11), 16, 22
    text_width = max(draw.textlength(e.label, font=small) for e in entries)
    right, top = corner
    left = right - (swatch + 10 + text_width + 8)
    box = (left, top, right, top + 6 + line * len(entries))
    draw.rectangle(box, fill=palette.index(WHITE), outline=palette.index(LEGEND_EDGE))
    for i, entry in enumerate(entries):
        cx, cy = left + 5 + swatch / 2, top + 4 + line * i + line / 2
        _swatch(draw, palette, entry, cx, cy)
        put_text(figure, (left + swatch + 10, cy), entry.label, 11, "lm")


def _swatch(
    draw: ImageDraw.ImageDraw, palette: Palette, entry: Entry, cx: float, cy: float
) -> None:
    ink = palette.index(entry.colour)
    if entry.marker == "line":
        draw.line((cx - 10, cy, cx + 10, cy), fill=ink, width=2)
    elif entry.marker == "ring":
        draw.ellipse((cx - 4.5, cy - 4.5, cx + 4.5, cy + 4.5), outline=ink, width=2)
    elif entry.marker == "star":
        draw.polygon(star_polygon(cx, cy, 7.0), fill=ink, outline=palette.index(BLACK))
    else:
        draw.ellipse((cx - 2.5, cy - 2.5, cx + 2.5, cy + 2.5), fill=ink)
