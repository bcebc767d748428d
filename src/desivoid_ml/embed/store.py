"""Embeddings in PostgreSQL: `ml.embeddings`, partitioned by run, one HNSW index per partition.

Why a partition per run: an HNSW index over one shared table answers "k nearest in run R" by
walking the graph of *all* runs and filtering afterwards, so it can return fewer than k rows
(pgvector's post-filtering). With one partition per run the index holds only that run's vectors
and the filter is exact; replacing a run is a detach/attach that other runs never notice.
The parent column is an undimensioned `vector`, so each partition's index is built on the
expression `embedding::vector(d)`, and queries order by that same expression.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import numpy as np
from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.db.copy_binary import HEADER, TRAILER, CopyColumn, RowEncoder
from desivoid_ml.db.migrations import require_vector_installed
from desivoid_ml.errors import DesivoidError

HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
INDEX_BUILD_MEMORY = "1GB"


def partition_name(run_id: str) -> str:
    """A safe table name for a run's partition."""
    return f"embeddings_{hashlib.sha1(run_id.encode()).hexdigest()[:12]}"


def columns(dim: int) -> list[CopyColumn]:
    """What each COPY row carries; run_id is the staging table's default, never sent per row."""
    return [
        CopyColumn("targetid", "bigint"),
        CopyColumn("survey", "text", text_width=16),
        CopyColumn("program", "text", text_width=16),
        CopyColumn("embedding", "vector", shape=(dim,)),
    ]


def write_run(
    db: Database,
    run_id: str,
    dim: int,
    batches: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    on_rows=lambda n: None,
) -> dict[str, float]:
    """COPY (targetid, survey, program, vectors) batches into a fresh table, index it, then swap it
    in as the run's partition in one transaction. Returns timings."""
    ml = db.ns.ml
    final = partition_name(run_id)
    staging = f"{final}_new"
    encoder = RowEncoder(columns(dim))
    timings: dict[str, float] = {}
    with db.connect(autocommit=True) as conn:
        require_vector_installed(conn)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(ml, staging)))
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS, CHECK (run_id = {}))").format(
                sql.Identifier(ml, staging), sql.Identifier(ml, "embeddings"), sql.Literal(run_id)
            )
        )
        conn.execute(
            sql.SQL("ALTER TABLE {} ALTER COLUMN run_id SET DEFAULT {}").format(
                sql.Identifier(ml, staging), sql.Literal(run_id)
            )
        )
        started = time.perf_counter()
        rows = 0
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(ml, staging),
            sql.SQL(", ").join(sql.Identifier(c.name) for c in columns(dim)),
        )
        with conn.cursor().copy(copy_sql) as copy:
            copy.write(HEADER)
            for targetid, survey, program, vectors in batches:
                copy.write(encoder.encode([targetid, survey, program, vectors]))
                rows += len(targetid)
                on_rows(len(targetid))
            copy.write(TRAILER)
        timings["write_s"] = time.perf_counter() - started
        timings["index_s"] = build_index(conn, ml, staging, dim)
        _swap(conn, db, run_id, staging, final, dim, rows)
    timings["rows"] = rows
    return timings


def build_index(conn, schema: str, table: str, dim: int) -> float:
    """HNSW (cosine-free L2) index on the run's vectors, after the load; then ANALYZE."""
    started = time.perf_counter()
    conn.execute(f"SET maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
    conn.execute(
        sql.SQL(
            "CREATE INDEX {} ON {} USING hnsw ((embedding::vector({})) vector_l2_ops) "
            "WITH (m = {}, ef_construction = {})"
        ).format(
            sql.Identifier(f"{table}_hnsw"),
            sql.Identifier(schema, table),
            sql.Literal(dim),
            sql.Literal(HNSW_M),
            sql.Literal(HNSW_EF_CONSTRUCTION),
        )
    )
    conn.execute(
        sql.SQL("CREATE UNIQUE INDEX {} ON {} (targetid, survey, program)").format(
            sql.Identifier(f"{table}_key"), sql.Identifier(schema, table)
        )
    )
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, table)))
    return time.perf_counter() - started


def _swap(conn, db: Database, run_id: str, staging: str, final: str, dim: int, rows: int) -> None:
    ml = db.ns.ml
    with conn.transaction():
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(ml, final)))
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                sql.Identifier(ml, staging), sql.Identifier(final)
            )
        )
        for suffix in ("hnsw", "key"):
            conn.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(ml, f"{staging}_{suffix}"), sql.Identifier(f"{final}_{suffix}")
                )
            )
        conn.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
                sql.Identifier(ml, "embeddings"), sql.Identifier(ml, final), sql.Literal(run_id)
            )
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (run_id, partition, dim, rows) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (run_id) DO UPDATE SET partition = EXCLUDED.partition, "
                "dim = EXCLUDED.dim, rows = EXCLUDED.rows, created = now()"
            ).format(sql.Identifier(ml, "embedding_sets")),
            (run_id, final, dim, rows),
        )


def embedded_run(conn, db: Database, run_id: str | None) -> tuple[str, str, int]:
    """(run_id, partition, dim) of a run with embeddings; None/'latest' = newest embedded."""
    table = sql.Identifier(db.ns.ml, "embedding_sets")
    if run_id in (None, "latest"):
        row = conn.execute(
            sql.SQL("SELECT run_id, partition, dim FROM {} ORDER BY created DESC LIMIT 1").format(
                table
            )
        ).fetchone()
        if row is None:
            raise DesivoidError("no run has embeddings yet; run `desivoid embed --run latest`")
        return row
    row = conn.execute(
        sql.SQL("SELECT run_id, partition, dim FROM {} WHERE run_id = %s").format(table), (run_id,)
    ).fetchone()
    if row is None:
        raise DesivoidError(
            f"run {run_id!r} has no embeddings; run `desivoid embed --run {run_id}`"
        )
    return row
