"""Server-rendered pictures: the embedding map and a slice through the survey (PNG bytes)."""

from __future__ import annotations

import io
import threading

import numpy as np
from matplotlib.collections import EllipseCollection
from matplotlib.figure import Figure
from psycopg import sql

from desivoid_ml.finder.store import Store

MAP_SAMPLE = 4000
SLICE_HALF_WIDTH_MPCH = 200.0
VOID_COLOURS = {
    "VoidFinder": "tab:blue",
    "VIDE": "tab:green",
    "ZOBOV": "tab:purple",
    "REVOLVER": "tab:orange",
}
_render_lock = threading.Lock()  # the Agg backend is not re-entrant across threads
_projections: dict[str, tuple] = {}


def _png(fig: Figure) -> bytes:
    """PNG bytes; zlib level 1: ~3x faster to encode than the default 6, ~10 % larger."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight", pil_kwargs={"compress_level": 1})
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


def _projection(store: Store, run: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mean, 2 principal axes, sample codes, sample in-void flags) of the run, cached."""
    if run in _projections:
        return _projections[run]
    ml = store.db.ns.ml
    has_vf = "vf_in_void" in store.galaxy_columns()  # before taking the connection below
    with store.conn() as conn:
        part, total = conn.execute(
            sql.SQL("SELECT partition, rows FROM {} WHERE run_id = %s").format(
                sql.Identifier(ml, "embedding_sets")
            ),
            (run,),
        ).fetchone()
        percent = min(100.0, 100.0 * MAP_SAMPLE / max(total, 1))
        rows = conn.execute(
            sql.SQL(
                "SELECT e.embedding::real[], {} FROM {} e "
                "TABLESAMPLE BERNOULLI (%s) REPEATABLE (7) "
                "LEFT JOIN {} g USING (targetid, survey, program) LIMIT %s"
            ).format(
                sql.SQL("g.vf_in_void" if has_vf else "NULL::boolean"),
                sql.Identifier(ml, part),
                sql.Identifier(store.db.ns.features, "galaxy"),
            ),
            (percent, MAP_SAMPLE),
        ).fetchall()
    codes = np.array([r[0] for r in rows], dtype=float)
    flags = np.array([bool(r[1]) for r in rows])
    mean = codes.mean(axis=0)
    _, _, axes = np.linalg.svd(codes - mean, full_matrices=False)
    _projections[run] = (mean, axes[:2], codes, flags)
    return _projections[run]


def embedding_map(store: Store, run: str, query: np.ndarray, neighbours: np.ndarray) -> bytes:
    """PCA map of a sample of the run's codes, void/wall coloured, query and neighbours marked."""
    mean, axes, codes, flags = _projection(store, run)
    sample = (codes - mean) @ axes.T
    q = (query - mean) @ axes.T
    n = (neighbours - mean) @ axes.T if len(neighbours) else np.zeros((0, 2))
    with _render_lock:
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
        ax.set_title(f"embedding map, run {run} ({len(codes):,} galaxies sampled)")
        # a fixed corner: "best" would search the 4,000 points for a free one on every render
        ax.legend(loc="upper right", fontsize=8, markerscale=0.8, framealpha=0.85)
        return _png(fig)


def survey_slice(store: Store, galaxy: dict, half_thickness: float) -> bytes:
    """Galaxies within half_thickness Mpc/h of the query's zc, void spheres cut by that plane."""
    x0, y0, z0 = galaxy["x"], galaxy["y"], galaxy["zc"]
    w = SLICE_HALF_WIDTH_MPCH
    features = store.db.ns.features
    has_vf = "vf_in_void" in store.galaxy_columns()  # catalog reads first: one connection at
    has_voids = store.table_exists(features, "voids")  # a time (see Store.conn)
    with store.conn() as conn:
        points = conn.execute(
            sql.SQL(
                "SELECT x, y, {} FROM {} WHERE point(x, y) <@ box(point(%s, %s), point(%s, %s)) "
                "AND abs(zc - %s) < %s"
            ).format(
                sql.SQL("coalesce(vf_in_void, false)" if has_vf else "false"),
                sql.Identifier(features, "galaxy"),
            ),
            (x0 - w, y0 - w, x0 + w, y0 + w, z0, half_thickness),
        ).fetchall()
        voids = []
        if has_voids:
            voids = conn.execute(
                sql.SQL(
                    "SELECT algorithm, x, y, sqrt(radius ^ 2 - (z - %s) ^ 2) FROM {} "
                    "WHERE abs(z - %s) < radius AND x BETWEEN %s AND %s AND y BETWEEN %s AND %s"
                ).format(sql.Identifier(features, "voids")),
                (z0, z0, x0 - w, x0 + w, y0 - w, y0 + w),
            ).fetchall()
    xy = np.array([(p[0], p[1]) for p in points], dtype=float).reshape(-1, 2)
    void = np.array([p[2] for p in points], dtype=bool)
    with _render_lock:
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


def codes_of(store: Store, run: str, keys: list[tuple]) -> np.ndarray:
    """Embedding vectors of the given galaxy keys in the run, in the order given."""
    if not keys:
        return np.zeros((0, 0))
    ml = store.db.ns.ml
    with store.conn() as conn:
        part = conn.execute(
            sql.SQL("SELECT partition FROM {} WHERE run_id = %s").format(
                sql.Identifier(ml, "embedding_sets")
            ),
            (run,),
        ).fetchone()[0]
        rows = conn.execute(
            sql.SQL(
                "SELECT k.i, e.embedding::real[] FROM {} e JOIN unnest(%s::bigint[], %s::text[], "
                "%s::text[]) WITH ORDINALITY AS k(targetid, survey, program, i) "
                "USING (targetid, survey, program) ORDER BY k.i"
            ).format(sql.Identifier(ml, part)),
            [list(c) for c in zip(*keys, strict=True)],
        ).fetchall()
    return np.array([r[1] for r in rows], dtype=float)
