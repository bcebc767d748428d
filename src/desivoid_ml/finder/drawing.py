"""The finder's pictures drawn from plain arrays (no database), so they can be drawn in a
separate process: matplotlib holds the GIL while it draws, which would stall every other
request of the server meanwhile."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.collections import EllipseCollection
from matplotlib.figure import Figure

VOID_COLOURS = {
    "VoidFinder": "tab:blue",
    "VIDE": "tab:green",
    "ZOBOV": "tab:purple",
    "REVOLVER": "tab:orange",
}


def _png(fig: Figure, top: float = 0.93) -> bytes:
    """PNG bytes. Fixed margins rather than bbox_inches="tight", which draws the figure twice
    (once to measure it); zlib level 1 encodes ~3x faster than the default 6, ~10 % larger."""
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.09, top=top)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def _circles(ax, voids: list[tuple], colour: str) -> None:
    """Void cuts as one collection: a patch per void recomputes the data limits from its Bezier
    curves on every add (half a second for 150 voids); the limits are set by hand anyway."""
    if voids:
        x, y, r = (np.array(v, dtype=float) for v in zip(*voids, strict=True))
        ax.add_collection(
            EllipseCollection(
                2 * r, 2 * r, 0.0, units="xy", offsets=np.column_stack([x, y]),
                offset_transform=ax.transData, facecolors="none", edgecolors=colour,
                linewidths=0.8, alpha=0.7,
            ),
            autolim=False,
        )  # fmt: skip


def embedding_map(
    run: str, sample: np.ndarray, flags: np.ndarray, q: np.ndarray, n: np.ndarray
) -> bytes:
    """PCA map: the run's sample void/wall coloured, the query (star) and its neighbours."""
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
    # a fixed corner: "best" would search the 4,000 points for a free one on every render
    ax.legend(loc="upper right", fontsize=8, markerscale=0.8, framealpha=0.85)
    return _png(fig, top=0.89)


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
    fig = Figure(figsize=(6.4, 6.2))
    ax = fig.add_subplot()
    for algorithm in {v[0] for v in voids}:
        mine = [v[1:] for v in voids if v[0] == algorithm]
        _circles(ax, mine, VOID_COLOURS.get(algorithm, "tab:gray"))
    ax.scatter(*xy[~void].T, s=4, c="0.45", label="wall galaxies (VoidFinder)")
    ax.scatter(*xy[void].T, s=4, c="tab:blue", label="void galaxies (VoidFinder)")
    ax.scatter(
        [x0], [y0], s=260, marker="*", c="gold", edgecolors="k", zorder=5, label="this galaxy"
    )
    for algorithm, colour in VOID_COLOURS.items():
        if any(v[0] == algorithm for v in voids):
            ax.plot([], [], c=colour, lw=1, label=f"{algorithm} voids (cut)")
    ax.set_xlim(x0 - w, x0 + w)
    ax.set_ylim(y0 - w, y0 + w)
    ax.set_aspect("equal")
    ax.set_xlabel("x [Mpc/h]")
    ax.set_ylabel("y [Mpc/h]")
    ax.set_title(f"slab |zc - {z0:.1f}| < {half_thickness:g} Mpc/h: {len(xy):,} galaxies")
    ax.legend(loc="upper right", fontsize=7, markerscale=0.6, framealpha=0.85)
    return _png(fig)
