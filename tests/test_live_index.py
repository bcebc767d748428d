"""No waiting on the index: embeddings are queryable (exact search) while their index builds, a
cancelled build keeps them, either index family answers, and the filtered search fills k rows."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from psycopg import sql

from desivoid_ml.embed import hnsw_build, store, vector_index
from desivoid_ml.embed.similarity import search_kind, vector_text
from desivoid_ml.errors import DesivoidError
from desivoid_ml.keys import KEY_WIDTH

DIM = 16
N = 3000
K = 10


def _insert_run(db, run_id: str) -> None:
    with db.connect() as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (run_id, model_kind, code_dim, config, features, normalization) "
                "VALUES (%s, 'test', %s, '{{}}', '[]', '{{}}')"
            ).format(sql.Identifier(db.ns.ml, "runs")),
            (run_id, DIM),
        )


def _vectors(seed: int = 0, spread: float = 1.0) -> np.ndarray:
    """Overlapping Gaussian groups (spread 1); tight, separated ones at spread 0.3."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, DIM))
    noise = spread * rng.normal(size=(N, DIM))
    return (centres[rng.integers(0, 8, N)] + noise).astype(np.float32)


def _batches(vectors: np.ndarray):
    for start in range(0, len(vectors), 1000):
        stop = min(start + 1000, len(vectors))
        yield (
            np.arange(start + 1, stop + 1, dtype=np.int64),
            np.full(stop - start, b"main", dtype=f"S{KEY_WIDTH}"),
            np.full(stop - start, b"bright", dtype=f"S{KEY_WIDTH}"),
            vectors[start:stop],
        )


def _exact(vectors: np.ndarray, query: np.ndarray, keep: np.ndarray | None = None) -> list[int]:
    d = ((vectors.astype(np.float64) - query) ** 2).sum(axis=1)
    if keep is not None:
        d[~keep] = np.inf
    return [int(i) + 1 for i in np.argsort(d)[:K]]


def _nearest(conn, db, query: np.ndarray, run: str = "r1") -> list[int]:
    rows = conn.execute(
        sql.SQL("SELECT targetid FROM {}(%s::vector, %s, %s)").format(
            sql.Identifier(db.ns.ml, "similar_to_vector")
        ),
        (vector_text(query), K, run),
    ).fetchall()
    return [r[0] for r in rows]


def _recall(db, vectors: np.ndarray, queries: np.ndarray) -> float:
    with db.connect() as conn:
        hits = [len(set(_nearest(conn, db, q)) & set(_exact(vectors, q))) for q in queries]
    return sum(hits) / (K * len(queries))


@pytest.mark.parametrize("kind", ["hnsw", "ivfflat"])
def test_either_index_family_is_built_and_used(db, monkeypatch, kind) -> None:
    monkeypatch.setenv(vector_index.KIND_ENV, kind)
    _insert_run(db, "r1")
    vectors = _vectors()
    timings = store.write_run(db, "r1", DIM, _batches(vectors))
    assert timings["rows"] == N and timings["index_mb"] > 0
    assert search_kind(db, "r1") == kind
    queries = vectors[:50] + 0.05
    assert _recall(db, vectors, queries) >= 0.95
    with db.connect() as conn:
        conn.execute(sql.SQL("SELECT {}(%s)").format(
            sql.Identifier(db.ns.ml, "set_search_width")), (K,))
        plan = " ".join(r[0] for r in conn.execute(sql.SQL(
            "EXPLAIN SELECT targetid FROM {} ORDER BY embedding::vector(16) <-> %s::vector(16) "
            "LIMIT 10").format(sql.Identifier(db.ns.ml, store.partition_name("r1"))),
            (vector_text(queries[0]),)))
    assert f"{store.partition_name('r1')}_ann" in plan


def test_an_unknown_index_kind_is_one_line(monkeypatch) -> None:
    monkeypatch.setenv(vector_index.KIND_ENV, "annoy")
    with pytest.raises(DesivoidError, match="not one of hnsw, ivfflat"):
        vector_index.IndexSpec.from_env()


def _cancel_the_build(db, partition: str, swapped, locked, answers: list) -> None:
    """Once the partition is swapped in, hold a lock its index build waits for; meanwhile query
    (exact search), then cancel the build as a user's Ctrl-C would."""
    with db.connect() as lock, db.connect(autocommit=True) as watch:
        assert swapped.wait(60)
        lock.execute(sql.SQL("LOCK TABLE {} IN ROW EXCLUSIVE MODE").format(
            sql.Identifier(db.ns.ml, partition)))
        locked.set()
        pid = None
        for _ in range(6000):
            pid = watch.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'CREATE INDEX%' AND datname = current_database()"
            ).fetchone()
            if pid:
                break
            time.sleep(0.01)
        answers.append(search_kind(db, "r1"))
        answers.append(_nearest(watch, db, answers[0]))
        watch.execute("SELECT pg_cancel_backend(%s)", (pid[0],))
        lock.rollback()


def test_queryable_while_the_index_builds_and_kept_when_the_build_is_cancelled(
    db, monkeypatch
) -> None:
    _insert_run(db, "r1")
    store.write_run(db, "r1", DIM, _batches(_vectors(seed=1)))  # the run's previous embeddings
    assert search_kind(db, "r1") == "hnsw"
    vectors = _vectors(seed=2)
    query = vectors[7] + 0.01
    answers: list = [query]
    swapped, locked = threading.Event(), threading.Event()
    real_build = hnsw_build.create_index

    def build_after_the_lock(*args, **kwargs):  # the real build, once the helper holds its lock
        swapped.set()
        assert locked.wait(60)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(hnsw_build, "create_index", build_after_the_lock)
    helper = threading.Thread(
        target=_cancel_the_build,
        args=(db, store.partition_name("r1"), swapped, locked, answers),
    )
    helper.start()
    try:
        with pytest.raises(DesivoidError) as failure:
            store.write_run(db, "r1", DIM, _batches(vectors))
    finally:
        swapped.set()
        helper.join()
    message = str(failure.value)
    assert "\n" not in message and "was cancelled" in message
    assert "queryable by exact search" in message
    # during the build: the new embeddings answered, by exact search
    assert answers[1] == "exact" and answers[2] == _exact(vectors, query)
    # after the cancelled build: still there, still exact, nothing half-built left
    assert search_kind(db, "r1") == "exact"
    with db.connect() as conn:
        assert _nearest(conn, db, query) == _exact(vectors, query)
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (db.ns.ml,))}
    assert store.staging_name("r1") not in tables


def test_filtered_search_fills_k_void_galaxies(db) -> None:
    _insert_run(db, "r1")
    vectors = _vectors(seed=3)
    store.write_run(db, "r1", DIM, _batches(vectors))
    in_void = np.random.default_rng(4).random(N) < 0.05  # few pass: a post-filter would run dry
    features = sql.Identifier(db.ns.features, "galaxy")
    with db.connect() as conn:
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (targetid bigint, survey text, "
                             "program text, vf_in_void boolean)").format(features))
        with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(features)) as copy:
            for i, flag in enumerate(in_void):
                copy.write_row((i + 1, "main", "bright", bool(flag)))
        function = sql.Identifier(db.ns.ml, "similar_in_environment")
        for query in vectors[:20] + 0.02:
            rows = conn.execute(sql.SQL("SELECT targetid FROM {}(%s::vector, %s, 'vf', true)")
                                .format(function), (vector_text(query), K)).fetchall()
            found = [r[0] for r in rows]
            assert len(found) == K and all(in_void[t - 1] for t in found)
            assert len(set(found) & set(_exact(vectors, query, in_void))) >= K - 1
        with pytest.raises(Exception, match="unknown void algorithm"):
            conn.execute(sql.SQL("SELECT * FROM {}(%s::vector, 5, 'x; drop', true)").format(
                function), (vector_text(vectors[0]),))


def test_rows_are_written_clustered_by_cell(db) -> None:
    _insert_run(db, "r1")
    vectors = _vectors(seed=5, spread=0.3)
    store.write_run(db, "r1", DIM, _batches(vectors))
    with db.connect() as conn:
        order = [r[0] for r in conn.execute(sql.SQL("SELECT targetid FROM {} ORDER BY ctid").format(
            sql.Identifier(db.ns.ml, store.partition_name("r1"))))]
        columns = {r[0] for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped", (f"{db.ns.ml}.{store.partition_name('r1')}",))}
    assert sorted(order) == list(range(1, N + 1)) and "insert_cell" not in columns
    stored = vectors[np.array(order) - 1]
    consecutive = np.linalg.norm(np.diff(stored, axis=0), axis=1).mean()
    written = np.linalg.norm(np.diff(vectors, axis=0), axis=1).mean()  # the order they came in
    assert consecutive < 0.5 * written
