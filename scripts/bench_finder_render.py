#!/usr/bin/env python
"""One finder picture, drawn by matplotlib (the finder's renderer before, kept here as the
baseline) and by the raster renderer (`finder/drawing.py`), on the same synthetic inputs in the
same run: a slice of 10,000 galaxies and 150 void cuts, and a map of 4,000 sampled codes.

    .venv/bin/python scripts/bench_finder_render.py [--repeats 20] [--out DIR]
The last line is machine-readable: `bench_finder_render slice_ms= ... ratio_slice= ratio_map=`
(matplotlib time over raster time; best of --repeats each)."""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
from matplotlib.collections import EllipseCollection
from matplotlib.figure import Figure

from desivoid_ml.finder import drawing

ALGORITHMS = ("VoidFinder", "VIDE", "ZOBOV", "REVOLVER")
MPL_COLOURS = dict(
    zip(ALGORITHMS, ("tab:blue", "tab:green", "tab:purple", "tab:orange"), strict=True)
)


def inputs(seed: int = 0) -> dict:
    """Slice and map arguments shaped like the finder's at 1 M galaxies."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-200, 200, size=(10_000, 2)) + [120.0, -40.0]
    voids = [
        (ALGORITHMS[i % 4], *rng.uniform(-200, 200, 2) + [120.0, -40.0], rng.uniform(5, 25))
        for i in range(150)
    ]
    sample = rng.normal(size=(4000, 2)) * [2.0, 1.0]
    return {
        "slice": ((120.0, -40.0, 310.0), 200.0, 10.0, xy, rng.random(10_000) < 0.3, voids),
        "map": ("bench-run", sample, rng.random(4000) < 0.3, sample[7], sample[:10] + 0.1),
    }


def mpl_png(fig: Figure, top: float = 0.93) -> bytes:
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.09, top=top)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def mpl_map(run, sample, flags, q, n) -> bytes:
    """The finder's matplotlib embedding map, as it was."""
    fig = Figure(figsize=(6.4, 5.2))
    ax = fig.add_subplot()
    ax.scatter(*sample[~flags].T, s=3, c="0.65", label="wall (VoidFinder)", rasterized=True)
    ax.scatter(*sample[flags].T, s=3, c="tab:blue", label="void (VoidFinder)", rasterized=True)
    ax.scatter(*n.T, s=40, facecolors="none", edgecolors="tab:red", label="neighbours")
    ax.scatter(*q, s=220, marker="*", c="gold", edgecolors="k", label="query", zorder=5)
    shown = np.vstack([np.percentile(sample, [0.5, 99.5], axis=0), q[None, :], n])
    low, high = shown.min(axis=0), shown.max(axis=0)
    pad = 0.05 * (high - low)
    ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
    ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
    ax.set_xlabel("PC 1 of the embedding (central 99 % of the sample shown)")
    ax.set_ylabel("PC 2")
    ax.set_title(f"embedding map, run {run}\n({len(sample):,} galaxies sampled)", fontsize=10)
    ax.legend(loc="upper right", fontsize=8, markerscale=0.8, framealpha=0.85)
    return mpl_png(fig, top=0.89)


def mpl_slice(centre, half_width, half_thickness, xy, void, voids) -> bytes:
    """The finder's matplotlib slice, as it was."""
    x0, y0, z0 = centre
    w = half_width
    fig = Figure(figsize=(6.4, 6.2))
    ax = fig.add_subplot()
    for algorithm in {v[0] for v in voids}:
        x, y, r = (
            np.array(c, dtype=float)
            for c in zip(*[v[1:] for v in voids if v[0] == algorithm], strict=True)
        )
        ax.add_collection(
            EllipseCollection(
                2 * r, 2 * r, 0.0, units="xy", offsets=np.column_stack([x, y]),
                offset_transform=ax.transData, facecolors="none",
                edgecolors=MPL_COLOURS[algorithm], linewidths=0.8, alpha=0.7,
            ),
            autolim=False,
        )  # fmt: skip
    ax.scatter(*xy[~void].T, s=4, c="0.45", label="wall galaxies (VoidFinder)")
    ax.scatter(*xy[void].T, s=4, c="tab:blue", label="void galaxies (VoidFinder)")
    ax.scatter(
        [x0], [y0], s=260, marker="*", c="gold", edgecolors="k", zorder=5, label="this galaxy"
    )
    for algorithm, colour in MPL_COLOURS.items():
        ax.plot([], [], c=colour, lw=1, label=f"{algorithm} voids (cut)")
    ax.set_xlim(x0 - w, x0 + w)
    ax.set_ylim(y0 - w, y0 + w)
    ax.set_aspect("equal")
    ax.set_xlabel("x [Mpc/h]")
    ax.set_ylabel("y [Mpc/h]")
    ax.set_title(f"slab |zc - {z0:.1f}| < {half_thickness:g} Mpc/h: {len(xy):,} galaxies")
    ax.legend(loc="upper right", fontsize=7, markerscale=0.6, framealpha=0.85)
    return mpl_png(fig)


def best_ms(function, args: tuple, repeats: int) -> tuple[float, bytes]:
    times, png = [], b""
    for _ in range(repeats):
        started = time.perf_counter()
        png = function(*args)
        times.append((time.perf_counter() - started) * 1000)
    return min(times), png


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--out", type=Path, help="write the four PNGs here to look at them")
    args = p.parse_args()
    data = inputs()
    pairs = {
        "slice": (mpl_slice, drawing.survey_slice),
        "map": (mpl_map, drawing.embedding_map),
    }
    result = {}
    for name, (before, after) in pairs.items():
        before(*data[name]), after(*data[name])  # warm: fonts, imports
        result[name] = [best_ms(f, data[name], args.repeats) for f in (before, after)]
        (mpl_ms, mpl_png_bytes), (raster_ms, raster_png) = result[name]
        print(
            f"{name}: matplotlib {mpl_ms:.1f} ms ({len(mpl_png_bytes) // 1024} KiB), raster "
            f"{raster_ms:.1f} ms ({len(raster_png) // 1024} KiB), ratio {mpl_ms / raster_ms:.1f}",
            flush=True,
        )
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{name}_matplotlib.png").write_bytes(mpl_png_bytes)
            (args.out / f"{name}_raster.png").write_bytes(raster_png)
    (ms_s, rs_s), (ms_m, rs_m) = ((a[0], b[0]) for a, b in result.values())
    print(
        f"bench_finder_render repeats={args.repeats} slice_mpl_ms={ms_s:.1f} slice_ms={rs_s:.1f} "
        f"map_mpl_ms={ms_m:.1f} map_ms={rs_m:.1f} ratio_slice={ms_s / rs_s:.1f} "
        f"ratio_map={ms_m / rs_m:.1f}"
    )


if __name__ == "__main__":
    main()
