"""Server-rendered pictures: the embedding map and a slice through the survey (PNG bytes): the
data read here, the drawing done by `drawing` in the render process."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.db.introspect import relation_exists, table_columns
from desivoid_ml.finder import drawing
from desivoid_ml.finder.etags import data_identity
from desivoid_ml.finder.render import render
from desivoid_ml.finder.store import Store

MAP_SAMPLE = 4000
SLICE_HALF_WIDTH_MPCH = 200.0
SLAB_INDEX = "galaxy_slab_idx"  # (zc) INCLUDE (x, y, vf_sample): index-only
SLAB_ROW = np.dtype([("x", ">f4"), ("y", ">f4"), ("void", "u1")])  # float4send: big-endian

# Galaxies drawn as void galaxies: VoidFinder's void sample (features/samples.py), as analyze
# and the Similar filters count them
VOID = "vf_sample"


def ensure_slab_index(db: Database) -> bool:
    """A btree on features.galaxy(zc) carrying x, y and vf_sample, created if missing (True
    then), and the table vacuumed so the slice reads its slab from the index alone: the
    20 Mpc/h slab through the survey with x, y as a filter (not the whole 400 x 400 Mpc/h
    column the GiST on point(x, y) returns, nor one heap page per galaxy:
    `scripts/bench_finder.py` prints the three)."""
    with db.connect(autocommit=True) as conn:
        columns = table_columns(conn, db.ns.features, "galaxy")
        if not {"zc", "x", "y"} <= set(columns):
            return False
        if relation_exists(conn, db.ns.features, SLAB_INDEX):
            return False
        carried = ["x", "y"] + ([VOID] if VOID in columns else [])
        galaxy = sql.Identifier(db.ns.features, "galaxy")
        conn.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (zc) INCLUDE ({})").format(
                sql.Identifier(SLAB_INDEX), galaxy, sql.SQL(", ").join(map(sql.Identifier, carried))
            )
        )
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(galaxy))  # the visibility map
    return True


_projections: OrderedDict[tuple, tuple] = OrderedDict()
_projections_lock = threading.Lock()
PROJECTIONS_KEPT = 8


def _projection(store: Store, run: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mean, 2 principal axes, sample codes, sample in-void flags) of the run, cached by the
    namespace, the run and the data's identity (a run embedded again is sampled again)."""
    key = (store.db.ns.ml, run, data_identity(store))
    if key in _projections:
        return _projections[key]
    value = _sample_projection(store, run)
    with _projections_lock:
        _projections[key] = value
        while len(_projections) > PROJECTIONS_KEPT:
            _projections.popitem(last=False)
    return value


def _sample_projection(store: Store, run: str) -> tuple:
    ml = store.db.ns.ml
    has_vf = VOID in store.galaxy_columns()  # before taking the connection below
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
                sql.SQL("g.vf_sample = 'void'" if has_vf else "NULL::boolean"),
                sql.Identifier(ml, part),
                sql.Identifier(store.db.ns.features, "galaxy"),
            ),
            (percent, MAP_SAMPLE),
        ).fetchall()
    codes = np.array([r[0] for r in rows], dtype=float)
    flags = np.array([bool(r[1]) for r in rows])
    mean = codes.mean(axis=0)
    _, _, axes = np.linalg.svd(codes - mean, full_matrices=False)
    return mean, axes[:2], codes, flags


def embedding_map(store: Store, run: str, query: np.ndarray, neighbours: np.ndarray) -> bytes:
    """PCA map of a sample of the run's codes, void/wall coloured, query and neighbours marked."""
    mean, axes, codes, flags = _projection(store, run)
    sample = (codes - mean) @ axes.T
    q = (query - mean) @ axes.T
    n = (neighbours - mean) @ axes.T if len(neighbours) else np.zeros((0, 2))
    return render(drawing.embedding_map, run, sample, flags, q, n)


def slab_sql(features: str, has_vf: bool) -> sql.Composed:
    """The slab through the covering zc index (index-only), x, y as a filter, the rows packed
    into one bytea (x, y float4 and a void byte each): one value to decode, not 3 per row."""
    return sql.SQL(
        "SELECT string_agg(float4send(x::real) || float4send(y::real) || "
        "CASE WHEN {} THEN '\\x01'::bytea ELSE '\\x00'::bytea END, ''::bytea) "
        "FROM {} WHERE zc > %s AND zc < %s AND x BETWEEN %s AND %s AND y BETWEEN %s AND %s"
    ).format(
        sql.SQL("vf_sample = 'void'" if has_vf else "false"), sql.Identifier(features, "galaxy")
    )


def slab_points(
    conn, features: str, centre: tuple, half_width: float, half_thickness: float, has_vf: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y of the slab's galaxies (n, 2), their void flags) around centre (x, y, zc)."""
    x0, y0, z0 = centre
    w = half_width
    packed = conn.execute(
        slab_sql(features, has_vf),
        (z0 - half_thickness, z0 + half_thickness, x0 - w, x0 + w, y0 - w, y0 + w),
    ).fetchone()[0]
    rows = np.frombuffer(packed or b"", dtype=SLAB_ROW)
    return np.column_stack([rows["x"], rows["y"]]).astype(float), rows["void"].astype(bool)


def survey_slice(store: Store, galaxy: dict, half_thickness: float) -> bytes:
    """Galaxies within half_thickness Mpc/h of the query's zc, void spheres cut by that plane."""
    x0, y0, z0 = galaxy["x"], galaxy["y"], galaxy["zc"]
    w = SLICE_HALF_WIDTH_MPCH
    features = store.db.ns.features
    has_vf = VOID in store.galaxy_columns()  # catalog reads first: one connection at
    has_voids = store.table_exists(features, "voids")  # a time (see Store.conn)
    with store.conn() as conn:
        xy, void = slab_points(conn, features, (x0, y0, z0), w, half_thickness, has_vf)
        voids = []
        if has_voids:
            voids = conn.execute(
                sql.SQL(
                    "SELECT algorithm, x, y, sqrt(radius ^ 2 - (z - %s) ^ 2) FROM {} "
                    "WHERE abs(z - %s) < radius AND x BETWEEN %s AND %s AND y BETWEEN %s AND %s"
                ).format(sql.Identifier(features, "voids")),
                (z0, z0, x0 - w, x0 + w, y0 - w, y0 + w),
            ).fetchall()
    return render(drawing.survey_slice, (x0, y0, z0), w, half_thickness, xy, void, voids)


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
