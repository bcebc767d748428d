"""The data set-up of `bench_finder.py`: a features.galaxy-like table of N synthetic galaxies
built straight in SQL (positions on the sphere, comoving x/y/zc, properties, environment flags),
4,000 voids, and one run of 16-d embeddings with its HNSW index, in the `benchf_` namespace;
reused when it is already there with N galaxies (`--keep`)."""

from __future__ import annotations

import time

from psycopg import sql

from desivoid_ml.db.connection import Database, drop_namespace, open_database
from desivoid_ml.embed import hnsw_build
from desivoid_ml.embed import store as embed_store
from desivoid_ml.embed.hnsw_build import HnswParams
from desivoid_ml.keys import key_hash_sql
from desivoid_ml.runs import insert_run

NAMESPACE = "benchf_"
RUN_ID = "bench-finder"
DIM = 16


def ready_database(galaxies: int) -> Database:
    """The benchf_ namespace with `galaxies` galaxies and the embedded run, built if missing."""
    db = open_database(prefix=NAMESPACE)
    with db.connect() as conn:  # the last step of build(): the embedded run's row
        found = conn.execute(
            sql.SQL("SELECT rows FROM {} WHERE run_id = %s").format(
                sql.Identifier(db.ns.ml, "embedding_sets")
            ),
            (RUN_ID,),
        ).fetchone()
    if (found[0] if found else 0) != galaxies:
        drop_namespace(db)
        db = open_database(prefix=NAMESPACE)
        build(db, galaxies)
    return db


GALAXY_SQL = """
CREATE TABLE {g} AS SELECT t.*, {key_hash} AS key_hash FROM (
SELECT (39627000000000000 + i)::bigint AS targetid, 'main'::text AS survey,
       CASE WHEN i %% 5 = 0 THEN 'dark' ELSE 'bright' END AS program,
       ra, "dec", z, logmstar, g_r,
       -9.5 - 0.8 * g_r + 0.3 * (random() - 0.5) AS log_ssfr,
       r * cosd("dec") * cosd(ra) AS x, r * cosd("dec") * sind(ra) AS y, r * sind("dec") AS zc,
       v < 0.3 AS vf_in_void, CASE WHEN v < 0.3 THEN (i %% 4000)::bigint ELSE -1 END AS vf_void_id,
       (v * 3)::float8 AS vf_r_over_rvoid,
       CASE WHEN v < 0.3 THEN 1 ELSE 0 END::smallint AS vf_vflag,
       v < 0.25 AS vide_in_void, v < 0.2 AS zobov_in_void, v < 0.35 AS revolver_in_void
FROM (SELECT i, 360 * random() AS ra, degrees(asin(2 * random() - 1)) AS "dec",
             0.01 + 0.2 * random() AS z, 8 + 3 * random() AS logmstar,
             0.2 + 0.7 * random() AS g_r, random() AS v
      FROM generate_series(1, %s) i) s, LATERAL (SELECT 2998 * z AS r) d) t
"""  # format with g=<table>, key_hash=keys.key_hash_sql("t")


def build(db: Database, n: int) -> None:
    """features.galaxy, features.voids and one embedded run, like the pipeline leaves them."""
    f, ml = db.ns.features, db.ns.ml
    galaxy = sql.Identifier(f, "galaxy")
    started = time.perf_counter()
    with db.connect() as conn:
        conn.execute("SELECT setseed(0.42)")
        conn.execute(sql.SQL(GALAXY_SQL).format(g=galaxy, key_hash=key_hash_sql("t")), (n,))
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (targetid, survey, program)").format(galaxy)
        )
        conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (point(x, y))").format(galaxy))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} AS SELECT 'VoidFinder_NGC'::text AS catalog, "
                "(ARRAY['VoidFinder','VIDE','ZOBOV','REVOLVER'])[1 + i % 4] AS algorithm, "
                "'NGC'::text AS cap, i::bigint AS void, 600 * (random() - 0.5) AS x, "
                "600 * (random() - 0.5) AS y, 600 * (random() - 0.5) AS z, "
                "10 + 15 * random() AS radius FROM generate_series(1, 4000) i"
            ).format(sql.Identifier(f, "voids"))
        )
    print(f"features.galaxy: {n:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    part = "emb_bench"
    insert_run(db, RUN_ID, "ae", DIM, features={}, normalization={})  # no model behind it
    with db.connect() as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} AS SELECT %s::text AS run_id, targetid, survey, program, "
                "ARRAY[logmstar - 9.5, 10 * z - 1, 3 * g_r - 1.5, log_ssfr + 10, "
                "vf_in_void::int - 0.3, random(), random(), random(), random(), random(), "
                "random(), random(), random(), random(), random(), random()]::real[]::vector "
                "AS embedding, NULL::real AS recon_mse FROM {}"  # recon_mse: migration 0007
            ).format(sql.Identifier(ml, part), galaxy),
            (RUN_ID,),
        )
        for column in ("run_id", "targetid", "survey", "program", "embedding"):
            conn.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET NOT NULL").format(
                    sql.Identifier(ml, part), sql.Identifier(column)
                )
            )
        conn.commit()
        print(
            f"embeddings written in {time.perf_counter() - started:.1f} s; HNSW index...",
            flush=True,
        )
        embed_store.key_and_analyze(conn, ml, part)
        index_started = time.perf_counter()
        hnsw_build.create_hnsw(
            conn, db.dsn, sql.Identifier(ml, part), f"{part}_ann", DIM, n, HnswParams()
        )
        index_s = time.perf_counter() - index_started
        conn.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
                sql.Identifier(ml, "embeddings"), sql.Identifier(ml, part), sql.Literal(RUN_ID)
            )
        )
        conn.execute(
            sql.SQL("INSERT INTO {} (run_id, partition, dim, rows) VALUES (%s, %s, %s, %s)").format(
                sql.Identifier(ml, "embedding_sets")
            ),
            (RUN_ID, part, DIM, n),
        )
    print(f"HNSW index {index_s:.1f} s", flush=True)
