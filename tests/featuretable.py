"""A small features.galaxy-like table made in SQL, for data-pipeline tests."""

from __future__ import annotations

from psycopg import sql

from desivoid_ml.keys import key_hash_sql

FEATURES = {"a": "a", "b": "b", "c": "c", "flag": "flag::int"}


def make_feature_table(db, rows: int = 20_000) -> None:
    """rows galaxies: a ~ N(0,1), b = 2a + noise, c NULL for every 10th row, flag boolean;
    Redrock columns such that good_galaxy drops every 17th (STAR), 19th (ZWARN) and 23rd
    (DELTACHI2 5) row."""
    with db.connect() as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} AS SELECT k.*, {} AS key_hash FROM ("
                "SELECT g::bigint AS targetid, 'main'::text AS survey, 'bright'::text AS program, "
                "a, 2 * a + 0.1 * sin(g) AS b, "
                "CASE WHEN g %% 10 = 0 THEN NULL ELSE cos(g)::real END AS c, "
                "g %% 3 = 0 AS flag, "
                "CASE WHEN g %% 17 = 0 THEN 'STAR' ELSE 'GALAXY' END AS spectype, "
                "CASE WHEN g %% 19 = 0 THEN 4 ELSE 0 END AS zwarn, "
                "CASE WHEN g %% 23 = 0 THEN 5.0 ELSE 100.0 END AS deltachi2, "
                "0.05 + (g %% 50) / 100.0 AS z "
                "FROM generate_series(1, %s) g, LATERAL (SELECT sin(g * 12.9898) * 3 AS a) s) k"
            ).format(sql.Identifier(db.ns.features, "galaxy"), key_hash_sql("k")),
            (rows,),
        )
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (targetid, survey, program)").format(
                sql.Identifier(db.ns.features, "galaxy")
            )
        )
