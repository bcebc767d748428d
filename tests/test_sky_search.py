"""Sky-coordinate search: exact against brute force, across RA = 0/360 and at the poles, indexed."""

from __future__ import annotations

import numpy as np
import pytest
from psycopg import sql

from desivoid_ml.errors import DesivoidError
from desivoid_ml.finder.sky import SKY_INDEX, ensure_sky_index, galaxies_at

EDGE_CASES = [  # (ra, dec) planted where naive boxes go wrong
    (359.9998, 0.0),
    (0.0002, 0.0),
    (0.0, 0.0003),
    (359.99999, 45.0),
    (0.00001, 45.0),
    (0.0, 89.9996),
    (90.0, 89.9997),
    (180.0, 89.9995),
    (270.0, 89.9998),
    (33.0, 90.0),
    (10.0, -89.9996),
    (190.0, -89.9997),
    (120.0, -89.99999),
]
QUERIES = [
    (0.0, 0.0, 2.0),
    (359.99995, 0.0, 2.0),
    (360.0, 0.0, 1.0),
    (-0.0001, 0.0, 3.0),
    (0.0, 45.0, 1.0),
    (0.0, 90.0, 3.0),
    (200.0, 89.9999, 2.0),
    (45.0, -90.0, 4.0),
    (300.0, -89.9998, 2.0),
    (12.3, 4.5, 3600.0),
    (359.5, -30.0, 7200.0),
    (180.0, 88.5, 7200.0),
]


def _separation_arcsec(ra, dec, ra0, dec0) -> np.ndarray:
    ra, dec, ra0, dec0 = (np.radians(v) for v in (ra, dec, ra0, dec0))
    h = np.sin((dec - dec0) / 2) ** 2 + np.cos(dec) * np.cos(dec0) * np.sin((ra - ra0) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.minimum(1, np.sqrt(h)))) * 3600


@pytest.fixture(scope="module")
def sky(module_db):
    """20,000 galaxies uniform on the sphere plus the edge cases, with the sky index."""
    rng = np.random.default_rng(5)
    n = 20_000
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    ra = np.concatenate([ra, [p[0] for p in EDGE_CASES]])
    dec = np.concatenate([dec, [p[1] for p in EDGE_CASES]])
    table = sql.Identifier(module_db.ns.features, "galaxy")
    with module_db.connect() as conn:
        conn.execute(
            sql.SQL(
                'CREATE TABLE {} (targetid bigint, survey text, program text, ra float8, "dec" '
                "float8, PRIMARY KEY (targetid, survey, program))"
            ).format(table)
        )
        with conn.cursor().copy(
            sql.SQL('COPY {} (targetid, survey, program, ra, "dec") FROM STDIN').format(table)
        ) as copy:
            for i, (r, d) in enumerate(zip(ra, dec, strict=True)):
                copy.write_row((i, "main", "bright", float(r), float(d)))
    assert ensure_sky_index(module_db) is True
    assert ensure_sky_index(module_db) is False  # already there
    return module_db, ra, dec


@pytest.mark.parametrize("ra0,dec0,radius", QUERIES)
def test_galaxy_at_equals_brute_force(sky, ra0, dec0, radius) -> None:
    db, ra, dec = sky
    sep = _separation_arcsec(ra, dec, ra0, dec0)
    expected = set(np.flatnonzero(sep <= radius * (1 - 1e-9)).tolist())
    maybe = set(np.flatnonzero(sep <= radius * (1 + 1e-9)).tolist())
    with db.connect() as conn:
        hits = galaxies_at(conn, db, ra0, dec0, radius, limit=100_000)
    found = {h["targetid"] for h in hits}
    assert expected <= found <= maybe
    assert [h["separation_arcsec"] for h in hits] == sorted(h["separation_arcsec"] for h in hits)
    for h in hits[:50]:
        assert h["separation_arcsec"] == pytest.approx(sep[h["targetid"]], abs=1e-6)


def test_planted_pairs_across_ra_zero_and_the_pole(sky) -> None:
    db, _, _ = sky
    n = 20_000
    with db.connect() as conn:
        wrap = {h["targetid"] for h in galaxies_at(conn, db, 0.0, 0.0, 2.0)}
        pole = {h["targetid"] for h in galaxies_at(conn, db, 0.0, 90.0, 2.0)}
        south = {h["targetid"] for h in galaxies_at(conn, db, 0.0, -90.0, 2.0)}
    assert {n + 0, n + 1, n + 2} <= wrap  # RA 359.9998 and 0.0002 are 0.72" apart
    assert {n + 5, n + 6, n + 7, n + 8, n + 9} <= pole  # every RA near the north pole
    assert {n + 10, n + 11, n + 12} <= south


def test_search_uses_the_index_not_a_sequential_scan(sky) -> None:
    db, _, _ = sky
    function = sql.Identifier(db.ns.features, "galaxy_at")
    with db.connect(autocommit=True) as conn:
        before = _scans(conn, db)
        for ra0, dec0, radius in QUERIES[:8]:
            conn.execute(
                sql.SQL("SELECT * FROM {}(%s, %s, %s)").format(function), (ra0, dec0, radius)
            ).fetchall()
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT pg_stat_clear_snapshot()")
        after = _scans(conn, db)
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                sql.SQL(
                    'EXPLAIN SELECT targetid FROM {} g WHERE point(g.ra, g."dec") <@ '
                    'box(point(1, 1), point(1.01, 1.01)) OR point(g.ra, g."dec") <@ '
                    "box(point(359, 1), point(360, 1.01))"
                ).format(sql.Identifier(db.ns.features, "galaxy"))
            )
        )
    assert after[0] == before[0], "galaxy_at scanned the table sequentially"
    assert after[1] >= before[1] + 8
    assert SKY_INDEX in plan and "Seq Scan" not in plan


def _scans(conn, db) -> tuple[int, int]:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return conn.execute(
        "SELECT t.seq_scan, i.idx_scan FROM pg_stat_user_tables t "
        "JOIN pg_stat_user_indexes i USING (relid) WHERE t.schemaname = %s "
        "AND t.relname = 'galaxy' AND i.indexrelname = %s",
        (db.ns.features, SKY_INDEX),
    ).fetchone()


@pytest.mark.parametrize(
    "ra0,dec0,radius", [(0, 91, 2), (0, -90.1, 2), (float("nan"), 0, 2), (0, 0, -1), (0, 0, 1e6)]
)
def test_bad_positions_are_refused(sky, ra0, dec0, radius) -> None:
    db, _, _ = sky
    with db.connect() as conn, pytest.raises(DesivoidError):
        galaxies_at(conn, db, ra0, dec0, radius)


def test_sql_function_refuses_bad_positions_too(sky) -> None:
    import psycopg

    db, _, _ = sky
    with db.connect() as conn, pytest.raises(psycopg.errors.InvalidParameterValue):
        conn.execute(
            sql.SQL("SELECT * FROM {}(0, 95)").format(sql.Identifier(db.ns.features, "galaxy_at"))
        )


def test_no_features_table_is_a_clear_error(db) -> None:
    with pytest.raises(DesivoidError, match="desivoid features"):
        ensure_sky_index(db)
