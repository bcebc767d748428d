-- galaxy_at takes p_limit: the nearest p_limit rows are kept by a top-N sort inside the
-- function, so a wide cap (up to 10 degrees) never materialises its whole result before a
-- caller's LIMIT (PL/pgSQL's RETURN QUERY builds the full set first). NULL = no limit.
-- The old signature is dropped first: two overloads with defaults would make calls ambiguous.
DROP FUNCTION IF EXISTS {features}.galaxy_at(
    double precision, double precision, double precision, text, text);

CREATE OR REPLACE FUNCTION {features}.galaxy_at(
    p_ra double precision, p_dec double precision, radius_arcsec double precision DEFAULT 2,
    p_survey text DEFAULT NULL, p_program text DEFAULT NULL, p_limit integer DEFAULT NULL)
RETURNS TABLE (targetid bigint, survey text, program text, ra double precision,
               "dec" double precision, separation_arcsec double precision)
LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_column
DECLARE
    r double precision := radius_arcsec / 3600.0;
    ra0 double precision;
    dec_lo double precision;
    dec_hi double precision;
    dra double precision;
    b1 box;
    b2 box;
BEGIN
    IF p_ra IS NULL OR p_dec IS NULL OR radius_arcsec IS NULL
       OR p_dec < -90 OR p_dec > 90 OR p_ra = 'NaN' OR p_ra = 'Infinity' OR p_ra = '-Infinity'
       OR radius_arcsec < 0 OR radius_arcsec > 36000 OR p_limit < 0 THEN
        RAISE EXCEPTION 'galaxy_at: need -90 <= dec <= 90, a finite ra, 0 <= radius_arcsec <= 36000 and p_limit >= 0'
            USING ERRCODE = '22023';
    END IF;
    ra0 := p_ra - 360.0 * floor(p_ra / 360.0);
    dec_lo := greatest(-90.0, p_dec - r);
    dec_hi := least(90.0, p_dec + r);
    IF dec_hi >= 90.0 OR dec_lo <= -90.0 OR sind(r) >= cosd(p_dec) THEN
        dra := 180.0;
    ELSE
        dra := asind(sind(r) / cosd(p_dec)) * (1 + 1e-9) + 1e-12;
    END IF;
    IF dra >= 180.0 THEN
        b1 := box(point(0, dec_lo), point(360, dec_hi));
        b2 := b1;
    ELSIF ra0 - dra < 0 THEN
        b1 := box(point(0, dec_lo), point(ra0 + dra, dec_hi));
        b2 := box(point(ra0 - dra + 360.0, dec_lo), point(360, dec_hi));
    ELSIF ra0 + dra > 360.0 THEN
        b1 := box(point(ra0 - dra, dec_lo), point(360, dec_hi));
        b2 := box(point(0, dec_lo), point(ra0 + dra - 360.0, dec_hi));
    ELSE
        b1 := box(point(ra0 - dra, dec_lo), point(ra0 + dra, dec_hi));
        b2 := b1;
    END IF;
    RETURN QUERY
        SELECT g.targetid, g.survey, g.program, g.ra, g."dec", s.sep
        FROM {features}.galaxy g
        CROSS JOIN LATERAL (
            SELECT 7200.0 * asind(least(1.0, sqrt(
                sind((g."dec" - p_dec) / 2) ^ 2
                + cosd(g."dec") * cosd(p_dec) * sind((g.ra - p_ra) / 2) ^ 2))) AS sep) s
        WHERE (point(g.ra, g."dec") <@ b1 OR point(g.ra, g."dec") <@ b2)
          AND (p_survey IS NULL OR g.survey = p_survey)
          AND (p_program IS NULL OR g.program = p_program)
          AND s.sep <= radius_arcsec
        ORDER BY s.sep, g.targetid, g.survey, g.program
        LIMIT p_limit;
END
$fn$;

-- The k galaxies most like the galaxy nearest to (ra, dec) within radius_arcsec (empty when
-- there is none), through ml.similar_galaxies (created with the embeddings).
CREATE OR REPLACE FUNCTION {ml}.similar_to_position(
    p_ra double precision, p_dec double precision, k integer DEFAULT 10, run text DEFAULT NULL,
    radius_arcsec double precision DEFAULT 2)
RETURNS TABLE (targetid bigint, survey text, program text, distance double precision,
               z double precision, logmstar double precision, vf_in_void boolean,
               vide_in_void boolean, zobov_in_void boolean, revolver_in_void boolean)
LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_column
DECLARE
    hit record;
BEGIN
    SELECT a.targetid, a.survey, a.program INTO hit
    FROM {features}.galaxy_at(p_ra, p_dec, radius_arcsec, p_limit => 1) a;
    IF hit.targetid IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT s.* FROM {ml}.similar_galaxies(hit.targetid, k, run, hit.survey,
                                                        hit.program) s;
END
$fn$;
