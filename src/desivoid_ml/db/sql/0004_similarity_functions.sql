-- Similarity in SQL, created with the schema so that calling them before any `desivoid embed`
-- says "no embeddings" instead of "function does not exist". The property columns are looked up
-- in features.galaxy at call time (NULL when absent), so rebuilding the features needs nothing
-- here. hnsw.ef_search comes from the custom setting desivoid.ef_search (default 100, chosen
-- with scripts/bench_vectors.py; e.g. SET desivoid.ef_search = 200 for more recall), widened for
-- large k (the finder asks for up to 1000 candidates) with pgvector's iterative scan. A TARGETID
-- alone is not a galaxy's key: similar_galaxies takes survey and program as optional arguments
-- and refuses (SQLSTATE 21000, the choices listed) when a TARGETID has several rows.
CREATE OR REPLACE FUNCTION {ml}.embedding_partition(run text DEFAULT NULL, OUT part text,
                                                    OUT dim integer)
LANGUAGE plpgsql AS $fn$
BEGIN
    SELECT s.partition, s.dim INTO part, dim FROM {ml}.embedding_sets s
    WHERE s.run_id = run
       OR (run IS NULL AND s.created = (SELECT max(created) FROM {ml}.embedding_sets));
    IF part IS NULL THEN
        RAISE EXCEPTION 'no embeddings for run %', COALESCE(run, 'latest')
            USING HINT = 'run `desivoid embed` first';
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION {ml}.galaxy_property_select() RETURNS text
LANGUAGE sql STABLE AS $fn$
    SELECT string_agg(
               CASE WHEN a.attname IS NULL THEN format('NULL::%s', w.typ)
                    ELSE format('f.%I::%s', w.col, w.typ) END, ', ' ORDER BY w.ord)
    FROM (VALUES (1, 'z', 'float8'), (2, 'logmstar', 'float8'), (3, 'vf_in_void', 'boolean'),
                 (4, 'vide_in_void', 'boolean'), (5, 'zobov_in_void', 'boolean'),
                 (6, 'revolver_in_void', 'boolean')) AS w (ord, col, typ)
    LEFT JOIN pg_attribute a
           ON a.attrelid = to_regclass('{features}.galaxy') AND a.attname = w.col
          AND a.attnum > 0 AND NOT a.attisdropped
$fn$;

-- the 3-argument version that `desivoid embed` used to create
DROP FUNCTION IF EXISTS {ml}.similar_galaxies(bigint, integer, text);

CREATE OR REPLACE FUNCTION {ml}.similar_to_vector(
    query vector, k integer DEFAULT 10, run text DEFAULT NULL)
RETURNS TABLE (targetid bigint, survey text, program text, distance double precision,
               z double precision, logmstar double precision, vf_in_void boolean,
               vide_in_void boolean, zobov_in_void boolean, revolver_in_void boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    p record;
    features_join text := '';
    ef integer := COALESCE(NULLIF(current_setting('desivoid.ef_search', true), ''), '100')::integer;
BEGIN
    p := {ml}.embedding_partition(run);
    PERFORM set_config('hnsw.ef_search', greatest(ef, least(k, 1000))::text, true);
    PERFORM set_config('hnsw.iterative_scan', 'strict_order', true);
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

CREATE OR REPLACE FUNCTION {ml}.similar_galaxies(
    p_targetid bigint, k integer DEFAULT 10, run text DEFAULT NULL,
    p_survey text DEFAULT NULL, p_program text DEFAULT NULL)
RETURNS TABLE (targetid bigint, survey text, program text, distance double precision,
               z double precision, logmstar double precision, vf_in_void boolean,
               vide_in_void boolean, zobov_in_void boolean, revolver_in_void boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    q vector;
    n integer;
    keys text;
BEGIN
    EXECUTE format('SELECT count(*), string_agg(survey || ''/'' || program, '', '' '
                   'ORDER BY survey, program), min(embedding::text)::vector FROM {ml}.%I '
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
                 WHERE NOT (s.targetid = p_targetid
                            AND s.survey = COALESCE(p_survey, s.survey)
                            AND s.program = COALESCE(p_program, s.program))
                 LIMIT k;
END
$fn$;
