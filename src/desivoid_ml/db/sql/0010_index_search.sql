-- Similarity search on either index family (HNSW or IVFFlat, README "Embeddings"), or exact while
-- a run's index is still being built: embed swaps the partition in before building the index.
-- embedding_search(run) says which search a query on that run gets now. Search width per k:
-- hnsw.ef_search = max(desivoid.ef_search (default 200), 2k), ivfflat.probes =
-- max(desivoid.probes (default 16), probes * k / 10), both capped, with pgvector's iterative
-- scans so a filter (only void galaxies) still fills k rows.
CREATE OR REPLACE FUNCTION {ml}.embedding_search(run text DEFAULT NULL) RETURNS text
LANGUAGE sql STABLE AS $fn$
    SELECT COALESCE((
        SELECT am.amname::text FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_am am ON am.oid = c.relam
        WHERE i.indrelid = to_regclass(format('{ml}.%I', ({ml}.embedding_partition(run)).part))
          AND i.indisvalid AND am.amname IN ('hnsw', 'ivfflat')
        LIMIT 1), 'exact')
$fn$;

CREATE OR REPLACE FUNCTION {ml}.set_search_width(k integer) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    ef integer := COALESCE(NULLIF(current_setting('desivoid.ef_search', true), ''), '200')::integer;
    probes integer := COALESCE(NULLIF(current_setting('desivoid.probes', true), ''), '16')::integer;
BEGIN
    PERFORM set_config('hnsw.ef_search', least(greatest(ef, 2 * k), 1000)::text, true);
    PERFORM set_config('hnsw.iterative_scan', 'strict_order', true);
    PERFORM set_config('ivfflat.probes', least(greatest(probes, probes * k / 10), 32768)::text,
                       true);
    PERFORM set_config('ivfflat.iterative_scan', 'relaxed_order', true);
END
$fn$;

CREATE OR REPLACE FUNCTION {ml}.similar_to_vector(
    query vector, k integer DEFAULT 10, run text DEFAULT NULL)
RETURNS TABLE (targetid bigint, survey text, program text, distance double precision,
               z double precision, logmstar double precision, vf_in_void boolean,
               vide_in_void boolean, zobov_in_void boolean, revolver_in_void boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    p record;
    features_join text := '';
BEGIN
    p := {ml}.embedding_partition(run);
    PERFORM {ml}.set_search_width(k);
    IF to_regclass('{features}.galaxy') IS NOT NULL THEN
        features_join := 'LEFT JOIN {features}.galaxy f USING (targetid, survey, program)';
    END IF;
    RETURN QUERY EXECUTE format(
        'WITH nearest AS MATERIALIZED (
             SELECT e.targetid, e.survey, e.program,
                    (e.embedding::vector(%1$s) <-> $1::vector(%1$s))::float8 AS distance
             FROM {ml}.%2$I e
             ORDER BY e.embedding::vector(%1$s) <-> $1::vector(%1$s)
             LIMIT $2)
         SELECT n.targetid, n.survey, n.program, n.distance, %3$s
         FROM nearest n %4$s
         ORDER BY n.distance', p.dim, p.part, {ml}.galaxy_property_select(), features_join)
    USING query, k;
END
$fn$;

-- The k nearest galaxies whose <algorithm>_in_void is `in_void` (the finder's "only void / only
-- wall galaxies"): the filter runs inside the index scan, which the iterative scan keeps feeding
-- until k rows pass, instead of fetching a long candidate list and filtering it afterwards.
CREATE OR REPLACE FUNCTION {ml}.similar_in_environment(
    query vector, k integer, algorithm text, in_void boolean, run text DEFAULT NULL)
RETURNS TABLE (targetid bigint, survey text, program text, distance double precision)
LANGUAGE plpgsql AS $fn$
DECLARE
    p record;
BEGIN
    IF algorithm NOT IN ('vf', 'vide', 'zobov', 'revolver') THEN
        RAISE EXCEPTION 'unknown void algorithm %', algorithm USING ERRCODE = '22023';
    END IF;
    p := {ml}.embedding_partition(run);
    PERFORM {ml}.set_search_width(k);
    RETURN QUERY EXECUTE format(
        'SELECT e.targetid, e.survey, e.program,
                (e.embedding::vector(%1$s) <-> $1::vector(%1$s))::float8
         FROM {ml}.%2$I e JOIN {features}.galaxy f USING (targetid, survey, program)
         WHERE f.%3$I = $3
         ORDER BY e.embedding::vector(%1$s) <-> $1::vector(%1$s)
         LIMIT $2', p.dim, p.part, algorithm || '_in_void')
    USING query, k, in_void;
END
$fn$;
