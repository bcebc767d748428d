"""The finder's raster pictures, read back pixel by pixel: each galaxy, void cut and the query
star lands where its coordinates say, on the real VAST test slab and on synthetic points."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from desivoid_ml.finder import drawing
from desivoid_ml.finder.frame import MARGIN_LEFT, nice_ticks

GREY = np.array((115, 115, 115))
BLUE = np.array(drawing.TAB_BLUE)
GOLD = np.array(drawing.GOLD)


def pixels(png: bytes) -> np.ndarray:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def slice_pixel(centre, w, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Figure rows, columns of data points of a slice around `centre`: x to the right, y up,
    2 w Mpc/h over the 500 px of the plot area (computed here, not by the renderer's code)."""
    per_px = (drawing.SLICE_PX[0] - 1) / (2 * w)
    cols = MARGIN_LEFT + (np.asarray(x) - (centre[0] - w)) * per_px
    rows = drawing.SLICE_TOP + ((centre[1] + w) - np.asarray(y)) * per_px
    return np.rint(rows).astype(int), np.rint(cols).astype(int)


def near(colour: np.ndarray, target: np.ndarray, tolerance: int = 24) -> np.ndarray:
    return np.abs(colour - target).max(axis=-1) <= tolerance


def isolated(px: np.ndarray, py: np.ndarray, reach: float) -> np.ndarray:
    """Points with no other point within `reach` pixels (their dot is not overdrawn)."""
    d2 = (px[:, None] - px[None, :]) ** 2 + (py[:, None] - py[None, :]) ** 2
    np.fill_diagonal(d2, np.inf)
    return d2.min(axis=1) > reach**2


@pytest.fixture(scope="module")
def real_slab(real_fits):
    """The real VAST test galaxies within 10 Mpc/h of a void galaxy's zc, and the holes cut."""
    voids = real_fits / "voids"
    galaxies = fits.getdata(voids / "TEST10K_VoidFinder_membership.fits")
    holes = fits.getdata(voids / "TEST10K_VoidFinder.fits", "HOLES")
    in_void = np.asarray(galaxies["in_void"], dtype=bool)
    query = galaxies[np.flatnonzero(in_void)[len(np.flatnonzero(in_void)) // 2]]
    x0, y0, z0 = (float(query[c]) for c in ("x", "y", "zc"))
    w = 200.0
    keep = (np.abs(galaxies["zc"] - z0) < 10) & (np.abs(galaxies["x"] - x0) < w)
    keep &= np.abs(galaxies["y"] - y0) < w
    cut = np.abs(holes["Z"] - z0) < holes["RADIUS"]
    voids_cut = [
        (
            "VoidFinder",
            float(h["X"]),
            float(h["Y"]),
            float(np.sqrt(h["RADIUS"] ** 2 - (h["Z"] - z0) ** 2)),
        )
        for h in holes[cut]
    ]
    xy = np.column_stack([galaxies["x"][keep], galaxies["y"][keep]]).astype(float)
    return (x0, y0, z0), w, xy, in_void[keep], voids_cut


def test_real_slab_galaxies_land_where_their_coordinates_say(real_slab) -> None:
    centre, w, xy, void, voids = real_slab
    assert len(xy) > 200 and void.any() and (~void).any() and voids
    image = pixels(drawing.survey_slice(centre, w, 10.0, xy, void, voids))
    assert image.shape == (576, 576, 3)  # as the galaxy page shows it
    rows, cols = slice_pixel(centre, w, xy[:, 0], xy[:, 1])
    alone = isolated(cols.astype(float), rows.astype(float), 4.0)
    far_from_star = np.hypot(xy[:, 0] - centre[0], xy[:, 1] - centre[1]) * 500 / (2 * w) > 14
    legend = (rows < drawing.SLICE_TOP + 140) & (cols > MARGIN_LEFT + 250)
    checked = alone & far_from_star & ~legend
    colour = image[rows[checked], cols[checked]]
    assert near(colour[void[checked]], BLUE).mean() > 0.95
    assert near(colour[~void[checked]], GREY).mean() > 0.95
    r0, c0 = slice_pixel(centre, w, centre[0], centre[1])
    assert near(image[r0, c0], GOLD)


def test_void_cuts_are_drawn_at_their_radius() -> None:
    """Four separate cuts, one per algorithm: the outline at r in its colour, blank at r / 2."""
    centre, w = (0.0, 0.0, 100.0), 200.0
    voids = [
        (name, x, y, r)
        for name, x, y, r in zip(
            drawing.VOID_COLOURS, (-100, 100, -100, 100), (-100, -100, 100, 60), (40, 25, 60, 15),
            strict=True,
        )
    ]  # fmt: skip
    image = pixels(
        drawing.survey_slice(centre, w, 10.0, np.zeros((0, 2)), np.zeros(0, bool), voids)
    )
    angles = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    for name, x, y, r in voids:
        rows, cols = slice_pixel(centre, w, x + r * np.cos(angles), y + r * np.sin(angles))
        colour = drawing.faded(drawing.VOID_COLOURS[name])
        hit = np.zeros(len(angles), dtype=bool)
        for dr in (-1, 0, 1):  # a 1 px outline; rounding may put it beside the point
            for dc in (-1, 0, 1):
                hit |= near(image[rows + dr, cols + dc], np.array(colour), 30)
        assert hit.all(), name
        rows, cols = slice_pixel(centre, w, x + r / 2 * np.cos(angles), y + r / 2 * np.sin(angles))
        assert (image[rows, cols] >= 250).all(), name  # white (254 after the palette)


def test_real_holes_cut_by_the_plane_are_drawn(real_slab) -> None:
    centre, w, xy, void, voids = real_slab
    image = pixels(drawing.survey_slice(centre, w, 10.0, xy[:0], void[:0], voids))
    below_legend = image[drawing.SLICE_TOP + 150 : drawing.SLICE_TOP + 480, MARGIN_LEFT:-14]
    outline = near(below_legend, np.array(drawing.faded(drawing.TAB_BLUE)), 30)
    assert len(voids) > 20 and outline.mean() > 0.02
    assert not near(below_legend, BLUE, 10).any()  # no galaxy given, none drawn


def test_map_marks_query_and_neighbours() -> None:
    rng = np.random.default_rng(0)
    sample = rng.normal(size=(500, 2))
    flags = rng.random(500) < 0.3
    q, n = np.array([0.3, -0.2]), np.array([[1.0, 1.0], [-1.5, 0.5]])
    image = pixels(drawing.embedding_map("run-x", sample, flags, q, n))
    assert image.shape == (drawing.MAP_TOP + 380 + 46, 576, 3)
    plot = image[drawing.MAP_TOP : drawing.MAP_TOP + 380, MARGIN_LEFT : MARGIN_LEFT + 500]
    assert near(plot, GOLD).sum() > 30  # the star
    assert near(plot, np.array(drawing.TAB_RED)).sum() > 2 * 20  # two rings
    assert near(plot, BLUE).sum() > 0.3 * 150 and near(plot, np.array((166, 166, 166))).sum() > 300


def test_ticks_are_round_and_inside() -> None:
    for low, high in ((-80.3, 319.7), (0.0, 1e-3), (-5.5, 5.5), (3.0, 3.0)):
        ticks = nice_ticks(low, high)
        assert len(ticks) >= 1 and (ticks >= low - 1e-12).all() and (ticks <= high + 1e-12).all()
        if high > low:
            assert 3 <= len(ticks) <= 12
            steps = np.diff(ticks)
            assert np.allclose(steps, steps[0])


RENDER_THEN_TERM = """
import os, signal, sys
from desivoid_ml.finder import render
render.render(os.getpid)  # starts the render process; the answer is its pid
print(render.render(os.getpid), flush=True)
os.kill(os.getpid(), signal.SIGTERM)  # as uvicorn ends: no atexit
"""


def test_render_processes_end_with_the_server() -> None:
    done = subprocess.run(
        [sys.executable, "-c", RENDER_THEN_TERM], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -signal.SIGTERM, done.stderr
    worker = int(done.stdout.split()[-1])
    deadline = time.monotonic() + 20
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(worker), f"render process {worker} outlived the server"


def alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_render_processes_follow_the_setting_or_the_cores(monkeypatch) -> None:
    from desivoid_ml.finder import render

    monkeypatch.setenv(render.RENDER_PROCESSES_ENV, "3")
    assert render.render_processes() == 3
    for bad in ("0", "-1", "two", ""):
        monkeypatch.setenv(render.RENDER_PROCESSES_ENV, bad)
        assert 1 <= render.render_processes() <= 4


def test_dots_cover_exactly_the_disc_of_every_point_clipped_at_the_edges() -> None:
    from desivoid_ml.finder.raster import PlotArea, disc_offsets

    rng = np.random.default_rng(3)
    xy = rng.uniform(-5, 105, size=(5000, 2))  # some centres outside, dots cut by the edges
    area = PlotArea(300, 200, (0, 100), (0, 100))
    area.points(xy, (1, 2, 3))
    ink = area.palette.index((1, 2, 3))
    expected = np.zeros((200, 300), dtype=np.uint8)  # white
    px, py = area.to_px(xy[:, 0], xy[:, 1])
    dy, dx = disc_offsets(1.5)
    rows = (np.rint(py).astype(int)[:, None] + dy).ravel()
    cols = (np.rint(px).astype(int)[:, None] + dx).ravel()
    keep = (rows >= 0) & (rows < 200) & (cols >= 0) & (cols < 300)
    expected[rows[keep], cols[keep]] = ink
    assert np.array_equal(area.pixels, expected)
    assert 0 < (area.pixels == ink).mean() < 1
    assert (area.palette.rgb(area.pixels)[area.pixels == ink] == (1, 2, 3)).all()


def test_every_drawn_colour_is_exact_in_the_png() -> None:
    """Dots of each of the finder's colours, read back from the PNG: exactly that colour."""
    from desivoid_ml.finder.frame import compose
    from desivoid_ml.finder.raster import PlotArea

    colours = [drawing.TAB_BLUE, drawing.TAB_RED, drawing.GOLD, drawing.OTHER_VOIDS]
    colours += [drawing.faded(c) for c in drawing.VOID_COLOURS.values()]
    colours += [*drawing.VOID_COLOURS.values(), (115,) * 3, (166,) * 3, (0, 0, 0), (1, 2, 3)]
    area = PlotArea(300, 200, (0, 300), (0, 200))
    for i, colour in enumerate(colours):
        area.points(np.array([[20.0 + 20 * (i % 12), 40.0 + 60 * (i // 12)]]), colour, 3.0)
    image = pixels(compose(area, "t", "x", "y", [], top=30))
    for i, colour in enumerate(colours):
        row = 30 + round(199 - (40 + 60 * (i // 12)))
        col = MARGIN_LEFT + 20 + 20 * (i % 12)
        assert tuple(image[row, col]) == colour


def test_text_is_black_with_grey_edges_on_white() -> None:
    """Anti-aliased text: black cores, greys at the edges, nothing coloured."""
    from desivoid_ml.finder.frame import compose
    from desivoid_ml.finder.raster import PlotArea

    image = pixels(compose(PlotArea(300, 200, (0, 1), (0, 1)), "Title Text", "x", "y", [], 30))
    title = image[:28]
    assert (title == 0).all(axis=-1).sum() > 20  # black glyph cores
    grey = (title[..., 0] == title[..., 1]) & (title[..., 1] == title[..., 2])
    assert grey.all()  # every pixel a grey: no colour in text
    assert ((title[..., 0] > 0) & (title[..., 0] < 255)).sum() > 20  # anti-aliased edges
