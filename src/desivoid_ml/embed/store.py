"""Embeddings in PostgreSQL: `ml.embeddings`, partitioned by run, one similarity index each.

Why a partition per run: an HNSW index over one shared table answers "k nearest in run R" by
walking the graph of *all* runs and filtering afterwards, so it can return fewer than k rows
(pgvector's post-filtering). With one partition per run the index holds only that run's vectors
and the filter is exact; replacing a run is a detach/attach that other runs never notice.
The parent column is an undimensioned `vector`, so each partition's index is built on the
expression `embedding::vector(d)`, and queries order by that same expression.
The partition is swapped in as soon as its rows and key are written (exact search from then on);
its similarity index is built on the live partition afterwards (embed/live_index.py).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator

import numpy as np
import psycopg
from psycopg import sql

from desivoid_ml.db.connection import Database, set_setting
from desivoid_ml.db.copy_binary import RowEncoder
from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.db.copy_in import copy_in
from desivoid_ml.db.migrations import require_vector_installed
from desivoid_ml.embed import hnsw_build, insert_order, live_index, vector_index
from desivoid_ml.errors import DesivoidError, first_line
from desivoid_ml.keys import KEY_COLUMNS
from desivoid_ml.progress import NullReporter, Reporter

log = logging.getLogger("desivoid_ml.embed")

HNSW_M = hnsw_build.DEFAULT_M
HNSW_EF_CONSTRUCTION = hnsw_build.DEFAULT_EF_CONSTRUCTION
RECON_COLUMN = "recon_mse"


def partition_name(run_id: str) -> str:
    """A safe table name for a run's partition."""
    return f"embeddings_{hashlib.sha1(run_id.encode()).hexdigest()[:12]}"


def staging_name(run_id: str) -> str:
    """The table a run's codes are loaded and indexed in before the swap."""
    return f"{partition_name(run_id)}_new"


def columns(dim: int, with_recon: bool = False) -> list[CopyColumn]:
    """What each COPY row carries; run_id is the staging table's default, never sent per row.
    with_recon adds the galaxy's reconstruction error (`recon_mse`, migration 0007)."""
    recon = [CopyColumn(RECON_COLUMN, "real")] if with_recon else []
    return [*KEY_COLUMNS, CopyColumn.vector("embedding", dim), *recon]


def write_run(
    db: Database,
    run_id: str,
    dim: int,
    batches: Iterator[tuple[np.ndarray, ...]],
    on_rows=lambda n: None,
    reporter: Reporter | None = None,
    with_recon: bool = False,
    centroids: np.ndarray | None = None,
) -> dict[str, float]:
    """COPY (targetid, survey, program, vectors[, recon_mse]) batches into a fresh table, index it,
    then swap it in as the run's partition in one transaction. Returns timings. On any failure (a
    cancelled build included) the staging table is dropped and the run's previous partition is
    untouched. The rows are ordered for the index by the cells of `centroids` or, without them,
    by cells fitted on the first rows (insert_order.with_cells)."""
    try:
        return _write_run(
            db,
            run_id,
            columns(dim, with_recon),
            batches,
            on_rows,
            reporter or NullReporter(),
            centroids,
        )
    except BaseException as exc:
        _drop_staging(db, run_id)
        if isinstance(exc, psycopg.errors.QueryCanceled):
            raise DesivoidError(
                f"embedding run {run_id} was cancelled ({first_line(exc)}); nothing was kept, "
                "the run's previous embeddings are unchanged; run `desivoid embed` again"
            ) from exc
        if isinstance(exc, psycopg.Error):
            raise DesivoidError(
                f"embedding run {run_id} failed ({first_line(exc)}); nothing was kept; "
                "see the server log, then run `desivoid embed` again"
            ) from exc
        raise


def _drop_staging(db: Database, run_id: str) -> None:
    """Remove a half-built staging table (a fresh connection: the failed one may be unusable)."""
    try:
        with db.connect(autocommit=True) as conn:
            set_setting(conn, "statement_timeout", 0)
            set_setting(conn, "lock_timeout", "30s")
            conn.execute(
                sql.SQL("DROP TABLE IF EXISTS {}").format(
                    sql.Identifier(db.ns.ml, staging_name(run_id))
                )
            )
    except psycopg.Error as exc:  # the original error matters more; say what is left behind
        log.warning(
            "could not drop %s.%s (%s); the next `desivoid embed` drops it",
            db.ns.ml,
            staging_name(run_id),
            first_line(exc),
        )


def _write_run(db, run_id, copy_columns, batches, on_rows, reporter: Reporter, centroids) -> dict:
    ml = db.ns.ml
    final = partition_name(run_id)
    staging = staging_name(run_id)
    dim = copy_columns[len(KEY_COLUMNS)].shape[0]
    encoder = RowEncoder([*copy_columns, insert_order.CELL_COLUMN])
    timings: dict[str, float] = {}
    with db.connect(autocommit=True) as conn:
        require_vector_installed(conn)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(ml, staging)))
        _create_staging(conn, ml, staging, run_id)
        insert_order.add_cell_column(conn, sql.Identifier(ml, staging))
        started = time.perf_counter()
        rows = 0
        with copy_in(conn, sql.Identifier(ml, staging), encoder.columns) as send:
            for batch, cells in insert_order.with_cells(batches, centroids=centroids):
                missing = _missing_errors(copy_columns, batch)
                send(encoder.encode([*batch, cells], missing and [*missing, None]))
                rows += len(batch[0])
                on_rows(len(batch[0]))
        timings["write_s"] = time.perf_counter() - started
        spec = vector_index.IndexSpec.from_env()
        plan = hnsw_build.plan_index(conn, rows, dim, spec)  # one line now if it cannot fit
        started = time.perf_counter()
        with reporter.task("rows ordered by k-means cell", rows) as step:
            insert_order.rewrite_in_cell_order(
                conn, ml, staging, lambda name: _create_staging(conn, ml, name, run_id)
            )
            step.advance(rows)
        timings["order_s"] = time.perf_counter() - started
        key_and_analyze(conn, ml, staging)
        _swap(conn, db, run_id, staging, final, dim, rows)  # queryable (exact) from here
        timings["hnsw_s"] = live_index.build(
            conn, db.dsn, ml, final, dim, rows, spec, plan, reporter
        )
        timings["index_s"] = time.perf_counter() - started
        timings.update(index_mb=plan.memory_bytes / 2**20, workers=plan.workers)
    timings["rows"] = rows
    return timings


def _create_staging(conn, ml: str, name: str, run_id: str) -> None:
    """A table shaped like the run's partition, run_id its default (never sent per row)."""
    conn.execute(
        sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS, CHECK (run_id = {}))").format(
            sql.Identifier(ml, name), sql.Identifier(ml, "embeddings"), sql.Literal(run_id)
        )
    )
    conn.execute(
        sql.SQL("ALTER TABLE {} ALTER COLUMN run_id SET DEFAULT {}").format(
            sql.Identifier(ml, name), sql.Literal(run_id)
        )
    )


def _missing_errors(copy_columns: list[CopyColumn], batch) -> list | None:
    """A NaN reconstruction error (a galaxy with no observed feature) is stored as NULL."""
    if copy_columns[-1].name != RECON_COLUMN:
        return None
    return [None] * (len(copy_columns) - 1) + [np.isnan(batch[-1])]


def key_and_analyze(conn, schema: str, table: str) -> None:
    """The unique key, then ANALYZE, so the swapped-in partition plans well at once."""
    conn.execute(
        sql.SQL("CREATE UNIQUE INDEX {} ON {} (targetid, survey, program)").format(
            sql.Identifier(f"{table}_key"), sql.Identifier(schema, table)
        )
    )
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, table)))


def _swap(conn, db: Database, run_id: str, staging: str, final: str, dim: int, rows: int) -> None:
    ml = db.ns.ml
    with conn.transaction():
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(ml, final)))
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                sql.Identifier(ml, staging), sql.Identifier(final)
            )
        )
        conn.execute(
            sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(ml, f"{staging}_key"), sql.Identifier(f"{final}_key")
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
