#!/usr/bin/env python
"""The Void Galaxy Finder under load, and sky-search latency, on a synthetic 1 M-galaxy database.

Builds a features.galaxy-like table straight in SQL (positions on the sphere, comoving x/y/zc,
properties, environment flags), 4,000 voids, and one run of 16-d embeddings with its HNSW index,
in the `benchf_` namespace (dropped at the end unless --keep). Then:
  1. `features.galaxy_at(ra, dec, 2")` latency on 1,000 random positions (half on galaxies),
     and the slice plot's slab query through the zc btree against the GiST on point(x, y);
  2. the app (uvicorn, one process, read-only pool of --pool connections) in a child process,
     and client threads with keep-alive connections mixing pages (search form and results,
     galaxy, similar, runs), plots (slice and embedding map) and API calls (galaxy, search,
     similar, runs): first as many clients as the pool has connections (the baseline), then
     4 x pool size for --seconds (default 60). Errors are any answer but 200 (or 304) or a
     timeout; a 304 is a picture answered from its ETag (the clients send no If-None-Match, so
     every picture is read and drawn: the count printed says so).

    .venv/bin/python scripts/bench_finder.py                      # 1 M galaxies (HNSW: minutes)
    .venv/bin/python scripts/bench_finder.py --galaxies 100000    # quick check
The last line is machine-readable: `bench_finder ... p95_ms= errors= ratio_p95=` where ratio_p95
is the p95 under 4 x pool clients over the baseline's (same run, same mix).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import subprocess
import sys
import threading
import time

import numpy as np
from psycopg import sql

from desivoid_ml.db.connection import Database, drop_namespace, open_database
from desivoid_ml.db.introspect import relation_exists
from desivoid_ml.embed import store as embed_store
from desivoid_ml.finder.plots import ensure_slab_index
from desivoid_ml.finder.sky import ensure_sky_index
from desivoid_ml.keys import key_hash_sql
from desivoid_ml.runs import insert_run

NAMESPACE = "benchf_"
RUN_ID = "bench-finder"
DIM = 16


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--galaxies", type=int, default=1_000_000)
    p.add_argument("--pool", type=int, default=8, help="the app's pool size (serve's default)")
    p.add_argument("--clients", type=int, help="default: 4 x --pool")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--baseline-seconds", type=float, default=20.0)
    p.add_argument("--sky-queries", type=int, default=1000)
    p.add_argument("--keep", action="store_true", help="keep (and reuse) the benchf_ namespace")
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # child mode: serve on this port
    args = p.parse_args()
    args.clients = args.clients or 4 * args.pool
    return args


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
        index_s = embed_store.build_index(conn, db.dsn, ml, part, DIM, n)["index_s"]
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


def sky_latency(db: Database, queries: int) -> tuple[float, float]:
    """p50, p95 of galaxy_at(ra, dec, 2") in ms; half the positions are on galaxies."""
    function = sql.Identifier(db.ns.features, "galaxy_at")
    rng = np.random.default_rng(1)
    with db.connect(autocommit=True) as conn:
        on = conn.execute(
            sql.SQL('SELECT ra, "dec" FROM {} TABLESAMPLE SYSTEM (1) LIMIT %s').format(
                sql.Identifier(db.ns.features, "galaxy")
            ),
            (queries // 2,),
        ).fetchall()
        off = [
            (float(rng.uniform(0, 360)), float(np.degrees(np.arcsin(rng.uniform(-1, 1)))))
            for _ in range(queries - len(on))
        ]
        statement = sql.SQL("SELECT * FROM {}(%s, %s, 2.0)").format(function)
        for ra, dec in on[:20]:
            conn.execute(statement, (ra, dec)).fetchall()  # warm the cache and the plan
        times = []
        for ra, dec in [*on, *off]:
            t0 = time.perf_counter()
            conn.execute(statement, (ra + 1e-5, dec)).fetchall()
            times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


SLICE_SQL = {  # the slice's slab query now, and before (the GiST on point(x, y) alone: `zc + 0`
    # keeps the planner off the zc btree, as when it did not exist)
    "zc_btree": "SELECT x, y FROM {} WHERE zc > %s AND zc < %s AND x BETWEEN %s AND %s "
    "AND y BETWEEN %s AND %s",
    "gist_xy": "SELECT x, y FROM {} WHERE point(x, y) <@ box(point(%s, %s), point(%s, %s)) "
    "AND zc + 0 > %s AND zc + 0 < %s",
}


def slice_latency(db: Database, queries: int = 50) -> dict[str, float]:
    """Mean ms of the slice's slab query (400 x 400 x 20 Mpc/h) in both forms, same centres."""
    galaxy = sql.Identifier(db.ns.features, "galaxy")
    ensure_slab_index(db)
    with db.connect(autocommit=True) as conn:
        centres = conn.execute(
            sql.SQL("SELECT x, y, zc FROM {} TABLESAMPLE SYSTEM (1) LIMIT %s").format(galaxy),
            (queries,),
        ).fetchall()
        mean = {}
        for name, text in SLICE_SQL.items():
            statement = sql.SQL(text).format(galaxy)
            started = time.perf_counter()
            for x, y, z in centres:
                box = (x - 200, x + 200, y - 200, y + 200)
                if name == "gist_xy":
                    box = (x - 200, y - 200, x + 200, y + 200)
                    conn.execute(statement, (*box, z - 10, z + 10)).fetchall()
                else:
                    conn.execute(statement, (z - 10, z + 10, *box)).fetchall()
            mean[name] = (time.perf_counter() - started) * 1000 / len(centres)
    return mean


def serve_child(port: int, pool: int) -> None:
    import uvicorn

    from desivoid_ml.finder.app import create_app
    from desivoid_ml.finder.server import open_store

    store = open_store(open_database(prefix=NAMESPACE), pool_size=pool)
    uvicorn.run(create_app(store), host="127.0.0.1", port=port, log_level="error")


KINDS = ("page", "plot", "api")


def request_path(rnd: random.Random, keys: list[tuple]) -> tuple[str, str]:
    """(kind, path) of one request: pages, plots and API calls in equal parts."""
    t, s, p, ra, dec = rnd.choice(keys)
    key = f"survey={s}&program={p}"
    kind = rnd.choice(KINDS)
    paths = {
        "page": (
            f"/galaxy/{t}?{key}",
            f"/similar/{t}?{key}",
            f"/?ra={ra + 0.0001:.6f}&dec={dec:.6f}&radius=10",
            "/runs",
            "/",
        ),
        "plot": (f"/plot/slice/{t}.png?{key}", f"/plot/map/{t}.png?{key}&k=10"),
        "api": (
            f"/api/galaxy/{t}?{key}",
            f"/api/search?ra={ra + 0.0001:.6f}&dec={dec:.6f}&radius=10",
            f"/api/similar?targetid={t}&{key}&k=10",
            "/api/runs",
        ),
    }[kind]
    return kind, rnd.choice(paths)


def load(port: int, keys: list[tuple], clients: int, seconds: float) -> dict:
    """`clients` threads with keep-alive connections for `seconds`; latency of each request."""
    latencies: dict[str, list[float]] = {k: [] for k in KINDS}
    errors: dict[str, int] = {}
    hits = [0]  # 304s: answered from the client's cached picture
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(seed: int) -> None:
        rnd = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: dict[str, list[float]] = {k: [] for k in KINDS}
        bad: dict[str, int] = {}
        not_modified = 0
        while time.monotonic() < stop:
            kind, path = request_path(rnd, keys)
            t0 = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                not_modified += response.status == 304
                if response.status not in (200, 304):
                    what = f"{response.status} {path.split('?')[0][:24]}"
                    bad[what] = 1 + bad.get(what, 0)
            except (OSError, http.client.HTTPException) as exc:
                bad[type(exc).__name__] = 1 + bad.get(type(exc).__name__, 0)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine[kind].append((time.perf_counter() - t0) * 1000)
        with lock:
            for k in KINDS:
                latencies[k].extend(mine[k])
            for k, n in bad.items():
                errors[k] = errors.get(k, 0) + n
            hits[0] += not_modified

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    every = [x for k in KINDS for x in latencies[k]]
    return {
        "requests": len(every),
        "rps": len(every) / elapsed,
        "p50_ms": float(np.percentile(every, 50)),
        "p95_ms": float(np.percentile(every, 95)),
        "p95_by_kind": {k: float(np.percentile(v, 95)) for k, v in latencies.items() if v},
        "plots": len(latencies["plot"]),
        "plot_cache_hits": hits[0],
        "errors": sum(errors.values()),
        "error_kinds": errors,
    }


def report(label: str, clients: int, result: dict) -> None:
    kinds = ", ".join(f"{k} {v:.1f}" for k, v in result["p95_by_kind"].items())
    print(
        f"{label}: {clients} clients, {result['requests']:,} requests, {result['rps']:.1f}/s, "
        f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms (p95 by kind: {kinds}), "
        f"errors {result['errors']} {result['error_kinds'] or ''}; plot cache hits (304) "
        f"{result['plot_cache_hits']} of {result['plots']}",
        flush=True,
    )


def wait_for(port: int, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit("the finder child process exited")
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/")
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the finder did not start")


def main() -> None:
    args = parse_args()
    if args.serve:
        serve_child(args.serve, args.pool)
        return
    db = open_database(prefix=NAMESPACE)
    try:
        with db.connect() as conn:
            have = relation_exists(conn, db.ns.features, "galaxy")
            rows = (
                conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(
                        sql.Identifier(db.ns.features, "galaxy")
                    )
                ).fetchone()[0]
                if have
                else 0
            )
        if rows != args.galaxies:
            drop_namespace(db)
            db = open_database(prefix=NAMESPACE)
            build(db, args.galaxies)
        ensure_sky_index(db)
        sky_p50, sky_p95 = sky_latency(db, args.sky_queries)
        print(
            f'galaxy_at(ra, dec, 2") on {args.galaxies:,} galaxies: p50 {sky_p50:.2f} ms, '
            f"p95 {sky_p95:.2f} ms",
            flush=True,
        )
        slab = slice_latency(db)
        print(
            f"slice slab query: zc btree {slab['zc_btree']:.1f} ms, GiST point(x, y) "
            f"{slab['gist_xy']:.1f} ms (ratio {slab['gist_xy'] / slab['zc_btree']:.2f})",
            flush=True,
        )
        with db.connect() as conn:
            keys = conn.execute(
                sql.SQL(
                    'SELECT targetid, survey, program, ra, "dec" FROM {} '
                    "TABLESAMPLE SYSTEM (1) LIMIT 2000"
                ).format(sql.Identifier(db.ns.features, "galaxy"))
            ).fetchall()
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), "--pool", str(args.pool)],
            env=os.environ.copy(),
        )
        try:
            wait_for(port, child)
            load(port, keys, 4, 3.0)  # warm-up: pool, plans, caches
            base = load(port, keys, args.pool, args.baseline_seconds)
            report("baseline (clients = pool)", args.pool, base)
            result = load(port, keys, args.clients, args.seconds)
            report("load (clients = 4 x pool)", args.clients, result)
        finally:
            child.terminate()
            child.wait(30)
        print(
            f"bench_finder galaxies={args.galaxies} pool={args.pool} clients={args.clients} "
            f"seconds={args.seconds:g} cores={os.cpu_count()} requests={result['requests']} "
            f"sky_p50_ms={sky_p50:.2f} sky_p95_ms={sky_p95:.2f} rps={result['rps']:.1f} "
            f"p50_ms={result['p50_ms']:.1f} p95_ms={result['p95_ms']:.1f} "
            f"errors={result['errors']} plots={result['plots']} "
            f"plot_cache_hits={result['plot_cache_hits']} base_p95_ms={base['p95_ms']:.1f} "
            f"ratio_p95={result['p95_ms'] / base['p95_ms']:.2f} "
            f"slice_ratio_gist_over_zc={slab['gist_xy'] / slab['zc_btree']:.2f}"
        )
    finally:
        if not args.keep:
            drop_namespace(db)


if __name__ == "__main__":
    main()
