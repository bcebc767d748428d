-- A TARGETID alone is not a galaxy's key: (targetid, survey, program) is. similar_galaxies takes
-- survey and program as optional arguments and refuses (SQLSTATE 21000, the choices listed) when
-- a TARGETID has several rows and they were not given. similar_to_vector widens the HNSW search
-- for large k (the finder asks for up to 1000 candidates) with pgvector's iterative scan.
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
