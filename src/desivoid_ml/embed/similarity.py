"""Similar galaxies in SQL: `ml.similar_galaxies(targetid, k, run, survey, program)` and
`ml.similar_to_vector(vector, k, run)`, plus the same from Python for the CLI.

Both look up the run's partition, take the k nearest codes through its HNSW index (ordering by
the indexed expression), and only then join the galaxy properties, so the index is always used.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.errors import DesivoidError

ENVIRONMENT = ("vf", "vide", "zobov", "revolver")
PROPERTIES = ("z", "logmstar")  # NULL when features.galaxy lacks them
EF_SEARCH = 100  # recall@10 ≈ 0.99 at p95 < 10 ms on 2 M vectors (see scripts/bench_vectors.py)

FUNCTIONS = """
CREATE OR REPLACE FUNCTION {ml}.embedding_partition(run text DEFAULT NULL, OUT part text,
                                                     OUT dim integer)
LANGUAGE plpgsql AS $fn$
BEGIN
    SELECT s.partition, s.dim INTO part, dim FROM {ml}.embedding_sets s
    WHERE s.run_id = run
       OR (run IS NULL AND s.created = (SELECT max(created) FROM {ml}.embedding_sets));
    IF part IS NULL THEN
        RAISE EXCEPTION 'no embeddings for run %', COALESCE(run, 'latest')
            USING HINT = 'run `desivoid embed --run ...` first';
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION {ml}.similar_to_vector(
    query vector, k integer DEFAULT 10, run text DEFAULT NULL)
RETURNS TABLE (targetid bigint, survey text, program text, distance double precision,
               z double precision, logmstar double precision, {env_columns})
LANGUAGE plpgsql AS $fn$
DECLARE
    p record;
BEGIN
    p := {ml}.embedding_partition(run);
    -- ef_search bounds what one HNSW scan returns: widen it for large k, and let pgvector's
    -- iterative scan go on past it (k up to the finder's candidate limit)
    PERFORM set_config('hnsw.ef_search', greatest({ef_search}, least(k, 1000))::text, true);
    PERFORM set_config('hnsw.iterative_scan', 'strict_order', true);
    RETURN QUERY EXECUTE format(
        'WITH nearest AS MATERIALIZED (
             SELECT e.targetid, e.survey, e.program,
                    (e.embedding::vector(%1$s) <-> $1::vector(%1$s))::float8 AS distance
             FROM {ml_quoted}.%2$I e
             ORDER BY e.embedding::vector(%1$s) <-> $1::vector(%1$s)
             LIMIT $2)
         SELECT n.targetid, n.survey, n.program, n.distance, {property_select}
         FROM nearest n LEFT JOIN {features_quoted}.galaxy f USING (targetid, survey, program)
         ORDER BY n.distance', p.dim, p.part)
    USING query, k;
END
$fn$;

DROP FUNCTION IF EXISTS {ml}.similar_galaxies(bigint, integer, text);
CREATE OR REPLACE FUNCTION {ml}.similar_galaxies(
    p_targetid bigint, k integer DEFAULT 10, run text DEFAULT NULL,
    p_survey text DEFAULT NULL, p_program text DEFAULT NULL)
RETURNS TABLE (targetid bigint, survey text, program text, distance double precision,
               z double precision, logmstar double precision, {env_columns})
LANGUAGE plpgsql AS $fn$
DECLARE
    q vector;
    n integer;
    keys text;
BEGIN
    -- a TARGETID alone is not a key: (targetid, survey, program) is
    EXECUTE format('SELECT count(*), string_agg(survey || ''/'' || program, '', '' '
                   'ORDER BY survey, program), min(embedding::text)::vector FROM {ml_quoted}.%I '
                   'WHERE targetid = $1 AND ($2 IS NULL OR survey = $2) '
                   'AND ($3 IS NULL OR program = $3)', ({ml}.embedding_partition(run)).part)
        INTO n, keys, q USING p_targetid, p_survey, p_program;
    IF n = 0 THEN
        RETURN;  -- unknown galaxy: an empty result, not an error
    ELSIF n > 1 THEN
        RAISE EXCEPTION 'targetid % has % rows (survey/program: %)', p_targetid, n, keys
            USING HINT = 'pass survey and program', ERRCODE = '21000';
    END IF;
    RETURN QUERY SELECT s.* FROM {ml}.similar_to_vector(q, k + 1, run) s
                 WHERE NOT (s.targetid = p_targetid AND s.survey IS NOT DISTINCT FROM
                            COALESCE(p_survey, s.survey) AND s.program IS NOT DISTINCT FROM
                            COALESCE(p_program, s.program))
                 LIMIT k;
END
$fn$;
"""


def create_functions(conn, db: Database) -> None:
    """(Re)create the SQL functions for the feature columns that exist now."""
    present = table_columns(conn, db.ns.features, "galaxy")
    env_columns = ", ".join(f"{a}_in_void boolean" for a in ENVIRONMENT)
    selected = [f"f.{p}::float8" if p in present else "NULL::float8" for p in PROPERTIES]
    selected += [
        f"f.{a}_in_void" if f"{a}_in_void" in present else "NULL::boolean" for a in ENVIRONMENT
    ]
    text = FUNCTIONS.replace("{env_columns}", env_columns)
    text = text.replace("{property_select}", ", ".join(selected))
    text = text.replace("{ef_search}", str(EF_SEARCH))
    text = (
        text.replace("{ml_quoted}", _quoted(db.ns.ml))
        .replace("{features_quoted}", _quoted(db.ns.features))
        .replace("{ml}", _quoted(db.ns.ml))
    )
    conn.execute(text)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
        except psycopg.errors.CardinalityViolation as exc:
            raise DesivoidError(
                f"{exc.diag.message_primary}; choose one with --survey and --program"
            ) from exc
        return [tuple(d.name for d in cursor.description), *cursor.fetchall()]


def example_void_galaxy(db: Database) -> int:
    """A galaxy inside a VoidFinder void (any galaxy if there is no such column or galaxy)."""
    table = sql.Identifier(db.ns.features, "galaxy")
    with db.connect() as conn:
        has_void = "vf_in_void" in table_columns(conn, db.ns.features, "galaxy")
        where = sql.SQL("WHERE vf_in_void" if has_void else "")
        row = conn.execute(
            sql.SQL("SELECT targetid FROM {} {} ORDER BY key_hash LIMIT 1").format(table, where)
        ).fetchone()
    if row is None:
        raise DesivoidError("features.galaxy is empty; run `desivoid features`")
    return int(row[0])
