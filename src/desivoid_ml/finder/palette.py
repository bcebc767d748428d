"""A picture's RGB pixels to palette indices through a lookup table, for a palette PNG.

The finder's pictures hold a few known colours (markers, void outlines, frame) and the greys of
anti-aliased black text on white. Each pixel's colour, cut to 5 bits a channel, indexes a table
of 32,768 entries that names its palette colour: a known colour maps to itself exactly, any
other colour to the nearest of the known ones, 32 greys and a coarse colour cube. That is 1.5x
faster than Pillow's octree quantizer on a slice (3.5 against 5.2 ms with the PNG encoding,
`scripts/bench_finder_render.py`) and keeps every marker colour exact."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

RGB = tuple[int, int, int]
BITS = 5  # bits kept a channel: 32 x 32 x 32 table entries
CUBE_LEVELS = 5  # a 5 x 5 x 5 cube of fallback colours
GREYS = [(v, v, v) for v in range(4, 256, 8)]  # anti-aliased text: one grey per 5-bit step


def _keys(rgb: np.ndarray) -> np.ndarray:
    """The table index of each pixel of an (h, w, 3) uint8 array."""
    shift = 8 - BITS
    r, g, b = (rgb[..., i].astype(np.uint16) >> shift for i in range(3))
    return (r << 2 * BITS) | (g << BITS) | b


@lru_cache(maxsize=32)
def lookup(colours: frozenset[RGB]) -> tuple[np.ndarray, bytes]:
    """(table of palette indices, palette bytes) for pictures whose exact colours are
    `colours`; ValueError when two of them fall in one table entry."""
    exact = sorted(colours)
    levels = np.linspace(0, 255, CUBE_LEVELS).round().astype(int)
    cube = [(int(r), int(g), int(b)) for r in levels for g in levels for b in levels]
    extra = [c for c in dict.fromkeys(GREYS + cube) if c not in colours]
    palette = np.array(exact + extra[: 256 - len(exact)], dtype=np.int64)
    step = 1 << (8 - BITS)
    centre = np.arange(0, 256, step) + step // 2
    grid = np.stack(np.meshgrid(centre, centre, centre, indexing="ij"), axis=-1).reshape(-1, 3)
    table = ((grid[:, None, :] - palette[None, :, :]) ** 2).sum(axis=-1).argmin(axis=1)
    table = table.astype(np.uint8)
    keys = _keys(np.array(exact, dtype=np.uint8).reshape(-1, 1, 3)).ravel()
    if len(set(keys.tolist())) < len(keys):
        raise ValueError(f"colours that share a {BITS}-bit table entry: {exact}")
    table[keys] = np.arange(len(exact))
    return table, palette.astype(np.uint8).tobytes()


def to_palette(image: Image.Image, colours: set[RGB]) -> Image.Image:
    """`image` (RGB) as a palette image: `colours` exactly, anything else the nearest."""
    table, palette = lookup(frozenset(colours))
    indices = table[_keys(np.asarray(image))]
    out = Image.frombytes("P", image.size, indices.tobytes())
    out.putpalette(palette)
    return out
