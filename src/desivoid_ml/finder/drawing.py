"""The finder's pictures drawn from plain arrays (no database): pixels by `raster`, the frame by
`frame`. A picture costs milliseconds (matplotlib took 0.3-0.4 s: `scripts/bench_finder_render.py`
prints both); it is still drawn in the render process (`render`) so the server's threads never
hold the GIL for it."""

from __future__ import annotations

import numpy as np

from desivoid_ml.finder.frame import Entry, compose
from desivoid_ml.finder.palette import RGB
from desivoid_ml.finder.raster import PlotArea

TAB_BLUE, TAB_RED, GOLD = (31, 119, 180), (214, 39, 40), (255, 215, 0)
VOID_COLOURS: dict[str, RGB] = {
    "VoidFinder": TAB_BLUE,
    "VIDE": (44, 160, 44),
    "ZOBOV": (148, 103, 189),
    "REVOLVER": (255, 127, 14),
}
OTHER_VOIDS: RGB = (127, 127, 127)
SLICE_PX, MAP_PX = (500, 500), (500, 380)  # 576 px wide with the frame, as the pages show them
SLICE_TOP, MAP_TOP = 30, 44  # pixels above the plot area for the title (two lines on the map)


def faded(colour: RGB, alpha: float = 0.85) -> RGB:
    """The colour at `alpha` over white (void outlines stay behind the galaxies)."""
    return tuple(round(alpha * c + (1 - alpha) * 255) for c in colour)  # type: ignore[return-value]


def embedding_map(
    run: str, sample: np.ndarray, flags: np.ndarray, q: np.ndarray, n: np.ndarray
) -> bytes:
    """PCA map: the run's sample void/wall coloured, the query (star) and its neighbours."""
    shown = np.vstack([np.percentile(sample, [0.5, 99.5], axis=0), q[None, :], n])
    low, high = shown.min(axis=0), shown.max(axis=0)
    pad = 0.05 * np.maximum(high - low, 1e-9)
    area = PlotArea(
        *MAP_PX, (low[0] - pad[0], high[0] + pad[0]), (low[1] - pad[1], high[1] + pad[1])
    )
    area.points(sample[~flags], (166, 166, 166), radius=1.2)
    area.points(sample[flags], TAB_BLUE, radius=1.2)
    area.rings(n, TAB_RED)
    area.star(q[0], q[1], GOLD)
    legend = [
        Entry("wall (VoidFinder)", (166, 166, 166)),
        Entry("void (VoidFinder)", TAB_BLUE),
        Entry("neighbours", TAB_RED, "ring"),
        Entry("query", GOLD, "star"),
    ]
    title = f"embedding map, run {run}\n({len(sample):,} galaxies sampled)"
    xlabel = "PC 1 of the embedding (central 99 % of the sample shown)"
    return compose(area, title, xlabel, "PC 2", legend, top=MAP_TOP)


def survey_slice(
    centre: tuple[float, float, float],
    half_width: float,
    half_thickness: float,
    xy: np.ndarray,
    void: np.ndarray,
    voids: list[tuple],
) -> bytes:
    """The galaxies of a slab around the query, void spheres cut by its mid-plane."""
    x0, y0, z0 = centre
    w = half_width
    area = PlotArea(*SLICE_PX, (x0 - w, x0 + w), (y0 - w, y0 + w))
    algorithms = sorted({v[0] for v in voids}, key=lambda a: (list(VOID_COLOURS) + [a]).index(a))
    for algorithm in algorithms:
        x, y, r = (
            np.array(c, dtype=float)
            for c in zip(*[v[1:] for v in voids if v[0] == algorithm], strict=True)
        )
        area.circles(x, y, r, faded(VOID_COLOURS.get(algorithm, OTHER_VOIDS)))
    area.points(xy[~void], (115, 115, 115))
    area.points(xy[void], TAB_BLUE)
    area.star(x0, y0, GOLD, radius=11.0)
    legend = [
        Entry("wall galaxies (VoidFinder)", (115, 115, 115)),
        Entry("void galaxies (VoidFinder)", TAB_BLUE),
        Entry("this galaxy", GOLD, "star"),
    ] + [Entry(f"{a} voids (cut)", VOID_COLOURS.get(a, OTHER_VOIDS), "line") for a in algorithms]
    title = f"slab |zc - {z0:.1f}| < {half_thickness:g} Mpc/h: {len(xy):,} galaxies"
    return compose(area, title, "x [Mpc/h]", "y [Mpc/h]", legend, top=SLICE_TOP)
