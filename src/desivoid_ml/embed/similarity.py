"""Similar galaxies from Python for the CLI, over the SQL functions `ml.similar_galaxies(targetid,
k, run, survey, program)` and `ml.similar_to_vector(vector, k, run)` (migration 0004).

Both look up the run's partition, take the k nearest codes through its HNSW index (ordering by
the indexed expression), and only then join the galaxy properties, so the index is always used.
The search width is the setting `desivoid.ef_search` (default 100, set in migration 0004).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.errors import DesivoidError

NO_EMBEDDINGS = "no run has embeddings yet; run `desivoid embed` first"


def vector_text(values) -> str:
    """A vector in pgvector's text form, `[1,2.5,...]`, for a `%s::vector` parameter."""
    return "[" + ",".join(f"{float(v):.9g}" for v in values) + "]"


def require_embeddings(db: Database, run: str | None = None) -> None:
    """One clear line when no run (or not this run) has embeddings yet."""
    with db.connect() as conn:
        try:
            conn.execute(
                sql.SQL("SELECT {}(%s)").format(sql.Identifier(db.ns.ml, "embedding_partition")),
                (run,),
            )
        except psycopg.errors.RaiseException as exc:
            raise DesivoidError(_no_embeddings(run)) from exc


def _no_embeddings(run: str | None) -> str:
    if run in (None, "latest"):
        return NO_EMBEDDINGS
    return f"run {run!r} has no embeddings; run `desivoid embed --run {run}` first"


def similar(
    db: Database,
    targetid: int,
    k: int = 10,
    run: str | None = None,
    survey: str | None = None,
    program: str | None = None,
) -> list[tuple]:
    """Rows of ml.similar_galaxies as tuples (the CLI prints them)."""
    with db.connect() as conn:
        try:
            cursor = conn.execute(
                sql.SQL("SELECT * FROM {}(%s, %s, %s, %s, %s)").format(
                    sql.Identifier(db.ns.ml, "similar_galaxies")
                ),
                (targetid, k, run, survey, program),
            )
        except psycopg.errors.RaiseException as exc:
            raise DesivoidError(_no_embeddings(run)) from exc
        except psycopg.errors.CardinalityViolation as exc:
            raise DesivoidError(
                f"{exc.diag.message_primary}; choose one with --survey and --program"
            ) from exc
        return [tuple(d.name for d in cursor.description), *cursor.fetchall()]


def example_void_galaxy(db: Database) -> int:
    """A galaxy inside a VoidFinder void (any galaxy if there is no such column or galaxy)."""
    table = sql.Identifier(db.ns.features, "galaxy")
    with db.connect() as conn:
        present = table_columns(conn, db.ns.features, "galaxy")
        if not present:
            raise DesivoidError("features.galaxy does not exist; run `desivoid features`")
        has_void = "vf_in_void" in present
        where = sql.SQL("WHERE vf_in_void" if has_void else "")
        row = conn.execute(
            sql.SQL("SELECT targetid FROM {} {} ORDER BY key_hash LIMIT 1").format(table, where)
        ).fetchone()
    if row is None:
        raise DesivoidError("features.galaxy is empty; run `desivoid features`")
    return int(row[0])
