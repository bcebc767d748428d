"""The colours of one picture, by palette index: pictures are drawn in indices from the start
(one byte a pixel, written as a palette PNG), never as RGB to be quantized afterwards.

Index 0 is white (the background), 1 black, then 32 greys for the anti-aliased edges of black
text on white, then every other colour in the order it is first drawn. Every marker colour is
exact by construction, and no RGB canvas is made, copied or quantized (the README's finder
section has the measured gain)."""

from __future__ import annotations

import numpy as np

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)
TEXT_GREYS = [(v, v, v) for v in range(4, 256, 8)]  # one grey per 8 levels of coverage
FIXED = [WHITE, BLACK, *TEXT_GREYS]  # the first indices of every palette (TEXT_INK relies on it)
MAX_COLOURS = 256


class Palette:
    """RGB colours by index for one picture; `index` adds a colour the first time it is seen."""

    def __init__(self) -> None:
        self.colours: list[RGB] = list(FIXED)
        self._indices = {c: i for i, c in enumerate(self.colours)}

    def index(self, colour: RGB) -> int:
        """The index of `colour`, added if new; ValueError beyond 256 colours."""
        colour = tuple(int(c) for c in colour)  # type: ignore[assignment]
        found = self._indices.get(colour)
        if found is not None:
            return found
        if len(self.colours) == MAX_COLOURS:
            raise ValueError(f"a palette picture holds at most {MAX_COLOURS} colours")
        self._indices[colour] = len(self.colours)
        self.colours.append(colour)
        return len(self.colours) - 1

    def rgb(self, indices: np.ndarray) -> np.ndarray:
        """The RGB pixels (uint8, one more axis) of an array of indices."""
        return np.array(self.colours, dtype=np.uint8)[indices]

    def to_bytes(self) -> bytes:
        """The palette as Pillow's putpalette wants it: R, G, B of each index."""
        return np.array(self.colours, dtype=np.uint8).tobytes()


def _text_ink() -> np.ndarray:
    """Index of the colour of each text coverage 0..255 (black text over white): the nearest of
    white, black and the text greys to 255 - coverage."""
    levels = np.array([c[0] for c in FIXED])
    grey = 255 - np.arange(256)
    return np.abs(grey[:, None] - levels[None, :]).argmin(axis=1).astype(np.uint8)


TEXT_INK = _text_ink()  # valid in every Palette: FIXED comes first in each
