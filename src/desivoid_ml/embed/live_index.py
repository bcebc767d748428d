"""The similarity index of a run's live partition, built after the embeddings are queryable
(`ml.embedding_search(run)` says whether a query gets the index or, until then, exact search).

A plain CREATE INDEX takes a SHARE lock: queries go on (by exact search: the index is invisible
until it commits), and a cancelled or failed build leaves the partition as it was, unindexed.
"""

from __future__ import annotations

import logging
import time

import psycopg
from psycopg import sql

from desivoid_ml.embed import hnsw_build, index_sizing, vector_index
from desivoid_ml.errors import DesivoidError, first_line
from desivoid_ml.progress import Reporter

log = logging.getLogger("desivoid_ml.embed")

INDEX_SUFFIX = "ann"


def index_name(partition: str) -> str:
    """The similarity index of a partition."""
    return f"{partition}_{INDEX_SUFFIX}"


def build(
    conn: psycopg.Connection,
    dsn: str,
    schema: str,
    partition: str,
    dim: int,
    rows: int,
    spec: vector_index.IndexSpec,
    plan: index_sizing.BuildPlan,
    reporter: Reporter | None = None,
) -> float:
    """Build the partition's index; seconds. On failure one line: the embeddings stay usable."""
    log.info(
        "%s.%s: %d embeddings queryable by exact search; building the %s index",
        schema,
        partition,
        rows,
        spec.label(rows),
    )
    started = time.perf_counter()
    try:
        hnsw_build.create_index(
            conn,
            dsn,
            sql.Identifier(schema, partition),
            index_name(partition),
            dim,
            rows,
            spec,
            plan,
            reporter,
        )
    except psycopg.Error as exc:
        what = "was cancelled" if isinstance(exc, psycopg.errors.QueryCanceled) else "failed"
        raise DesivoidError(
            f"the index build of {schema}.{partition} {what} ({first_line(exc)}); the "
            f"{rows:,} embeddings are kept and queryable by exact search; run `desivoid embed` "
            "again to index them"
        ) from exc
    return time.perf_counter() - started
