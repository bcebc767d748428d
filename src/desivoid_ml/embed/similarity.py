"""Similar galaxies from Python for the CLI, over the SQL functions `ml.similar_galaxies(targetid,
k, run, survey, program)` and `ml.similar_to_vector(vector, k, run)` (migration 0004).

Both look up the run's partition, take the k nearest codes through its index (HNSW or IVFFlat,
ordering by the indexed expression), and only then join the galaxy properties, so the index is
always used; while a run's index is still being built the same query is an exact search
(`ml.embedding_search(run)` says which). Search width per k: migration 0009.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.galaxy_samples import DEFAULT_SAMPLE, sample_condition

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


SEARCH_NOTES = {
    "hnsw": "search: HNSW index (approximate)",
    "ivfflat": "search: IVFFlat index (approximate)",
    "exact": "search: exact (the similarity index is not built yet)",
}


def search_kind(db: Database, run: str | None = None) -> str:
    """'hnsw', 'ivfflat' or 'exact': the search a similarity query on this run gets now."""
    with db.connect() as conn:
        try:
            return conn.execute(
                sql.SQL("SELECT {}(%s)").format(sql.Identifier(db.ns.ml, "embedding_search")),
                (run if run != "latest" else None,),
            ).fetchone()[0]
        except psycopg.errors.RaiseException as exc:
            raise DesivoidError(_no_embeddings(run)) from exc


def search_note(db: Database, run: str | None = None) -> str:
    """One line for the user: which search answered."""
    return SEARCH_NOTES[search_kind(db, run)]


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


def example_void_galaxy(db: Database, sample: str = DEFAULT_SAMPLE) -> int:
    """The TARGETID of `example_void_key`."""
    return example_void_key(db, sample)[0]


def example_void_key(db: Database, sample: str = DEFAULT_SAMPLE) -> tuple[int, str, str]:
    """(targetid, survey, program) of a galaxy of the training sample in a VoidFinder void
    (`vf_sample` = 'void'); without those columns (an older features.galaxy) any VoidFinder void
    galaxy, or any galaxy. The whole key: a TARGETID may have several rows."""
    table = sql.Identifier(db.ns.features, "galaxy")
    with db.connect() as conn:
        present = table_columns(conn, db.ns.features, "galaxy")
        if not present:
            raise DesivoidError("features.galaxy does not exist; run `desivoid features`")
        wanted = [sql.SQL("({}) IS TRUE").format(sql.SQL(sample_condition(sample)))]
        if "vf_sample" in present:
            wanted.append(sql.SQL("vf_sample = 'void'"))
        elif "vf_in_void" in present:
            wanted.append(sql.SQL("vf_in_void"))
        row = None
        for conditions in (wanted, wanted[1:], []):
            where = sql.SQL(" AND ").join([sql.SQL("true"), *conditions])
            query = sql.SQL(
                "SELECT targetid, survey, program FROM {} WHERE {} ORDER BY key_hash LIMIT 1"
            )
            try:
                with conn.transaction():
                    row = conn.execute(query.format(table, where)).fetchone()
            except psycopg.errors.UndefinedColumn:  # a table built before the sample's columns
                continue
            if row is not None:
                break
    if row is None:
        raise DesivoidError("features.galaxy is empty; run `desivoid features`")
    return int(row[0]), row[1], row[2]
