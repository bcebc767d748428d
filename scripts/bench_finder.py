#!/usr/bin/env python
"""The Void Galaxy Finder under load, and sky-search latency, on a synthetic 1 M-galaxy database.

The data (`bench_finder_data.py`): a features.galaxy-like table, 4,000 voids and one run of 16-d
embeddings with its HNSW index in the `benchf_` namespace (dropped at the end unless --keep,
reused by the next run when kept). Then:
  1. `features.galaxy_at(ra, dec, 2")` latency on 1,000 random positions (half on galaxies),
     and the slice plot's slab query through the zc btree against the GiST on point(x, y);
  2. the app (uvicorn, one process, read-only pool of --pool connections) in a child process,
     and keep-alive clients (`bench_finder_load.py`, spread over --client-processes processes)
     mixing pages (search form and results, galaxy, similar, runs), plots (slice and embedding
     map) and API calls (galaxy, search, similar, runs) over 2,000 sampled galaxies: first as
     many clients as the pool has connections (the baseline), then 4 x pool size for --seconds
     (default 60). Errors are any answer but 200 (or 304) or a timeout. The clients send no
     If-None-Match, so every picture is either drawn or sent from the server's picture cache
     (`X-Cache: hit`): the counts printed say which.

    .venv/bin/python scripts/bench_finder.py --keep               # 1 M galaxies (HNSW: minutes)
    .venv/bin/python scripts/bench_finder.py --galaxies 100000    # quick check
The last line is machine-readable: `bench_finder ... p95_ms= errors= ratio_p95=` where ratio_p95
is the p95 under 4 x pool clients over the baseline's (same run, same mix), and load_avg the
machine's 1-minute load average before and after the load phases.
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import time

import numpy as np
from bench_finder_data import NAMESPACE, ready_database
from bench_finder_load import load, report
from psycopg import sql

from desivoid_ml.db.connection import Database, drop_namespace, open_database
from desivoid_ml.finder.plots import ensure_slab_index
from desivoid_ml.finder.sky import ensure_sky_index


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--galaxies", type=int, default=1_000_000)
    p.add_argument("--pool", type=int, default=8, help="the app's pool size (serve's default)")
    p.add_argument("--clients", type=int, help="default: 4 x --pool")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--baseline-seconds", type=float, default=20.0)
    p.add_argument("--sky-queries", type=int, default=1000)
    p.add_argument(
        "--client-processes", type=int, default=4, help="processes the clients are spread over"
    )
    p.add_argument("--keep", action="store_true", help="keep (and reuse) the benchf_ namespace")
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # child mode: serve on this port
    args = p.parse_args()
    args.clients = args.clients or 4 * args.pool
    return args


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


SLAB_SQL = (  # plots.slab_sql as the app sends it (the synthetic table has no vf_sample);
    # spelled out so that the script also measures the code before it
    "SELECT string_agg(float4send(x::real) || float4send(y::real) || '\\x00'::bytea, ''::bytea) "
    "FROM {} WHERE zc > %s AND zc < %s AND x BETWEEN %s AND %s AND y BETWEEN %s AND %s"
)
GIST_SQL = (  # the GiST on point(x, y) alone: `zc + 0` keeps the planner off the zc btree
    "SELECT string_agg(float4send(x::real) || float4send(y::real), ''::bytea) FROM {} "
    "WHERE point(x, y) <@ box(point(%s, %s), point(%s, %s)) AND zc + 0 > %s AND zc + 0 < %s"
)


def slice_latency(db: Database, queries: int = 50) -> dict[str, float]:
    """Mean ms of the slice's slab query (400 x 400 x 20 Mpc/h, rows packed as the app reads
    them) on the same centres: from the covering zc index alone, through the heap (as before
    the index carried x, y), and through the GiST on point(x, y)."""
    galaxy = sql.Identifier(db.ns.features, "galaxy")
    ensure_slab_index(db)
    slab = sql.SQL(SLAB_SQL).format(galaxy)
    forms = {"zc_index_only": (slab, "on"), "zc_heap": (slab, "off")}
    forms["gist_xy"] = (sql.SQL(GIST_SQL).format(galaxy), "on")
    with db.connect(autocommit=True) as conn:
        centres = conn.execute(
            sql.SQL("SELECT x, y, zc FROM {} TABLESAMPLE SYSTEM (1) LIMIT %s").format(galaxy),
            (queries,),
        ).fetchall()
        mean = {}
        for name, (statement, index_only) in forms.items():
            conn.execute("SELECT set_config('enable_indexonlyscan', %s, false)", (index_only,))
            for x, y, z in centres:  # untimed: the plan, and the pages into shared buffers
                conn.execute(statement, _slab_params(name, x, y, z)).fetchall()
            started = time.perf_counter()
            for x, y, z in centres:
                conn.execute(statement, _slab_params(name, x, y, z)).fetchall()
            mean[name] = (time.perf_counter() - started) * 1000 / len(centres)
    return mean


def _slab_params(form: str, x: float, y: float, z: float) -> tuple:
    if form == "gist_xy":
        return (x - 200, y - 200, x + 200, y + 200, z - 10, z + 10)
    return (z - 10, z + 10, x - 200, x + 200, y - 200, y + 200)


def serve_child(port: int, pool: int) -> None:
    import uvicorn

    from desivoid_ml.finder.app import create_app
    from desivoid_ml.finder.server import open_store

    store = open_store(open_database(prefix=NAMESPACE), pool_size=pool)
    uvicorn.run(create_app(store), host="127.0.0.1", port=port, log_level="error")


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
    db = ready_database(args.galaxies)
    try:
        ensure_sky_index(db)
        sky_p50, sky_p95 = sky_latency(db, args.sky_queries)
        print(
            f'galaxy_at(ra, dec, 2") on {args.galaxies:,} galaxies: p50 {sky_p50:.2f} ms, '
            f"p95 {sky_p95:.2f} ms",
            flush=True,
        )
        slab = slice_latency(db)
        print(
            f"slice slab query: zc btree index-only {slab['zc_index_only']:.1f} ms, through "
            f"the heap {slab['zc_heap']:.1f} ms, GiST point(x, y) {slab['gist_xy']:.1f} ms",
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
        load_before = os.getloadavg()[0]
        try:
            wait_for(port, child)
            load(port, keys, 4, 3.0, args.client_processes)  # warm-up: pool, plans, caches
            base = load(port, keys, args.pool, args.baseline_seconds, args.client_processes)
            report("baseline (clients = pool)", args.pool, base)
            result = load(port, keys, args.clients, args.seconds, args.client_processes)
            report("load (clients = 4 x pool)", args.clients, result)
        finally:
            child.terminate()
            child.wait(30)
        load_after = os.getloadavg()[0]
        print(
            f"bench_finder galaxies={args.galaxies} pool={args.pool} clients={args.clients} "
            f"seconds={args.seconds:g} cores={os.cpu_count()} requests={result['requests']} "
            f"sky_p50_ms={sky_p50:.2f} sky_p95_ms={sky_p95:.2f} rps={result['rps']:.1f} "
            f"p50_ms={result['p50_ms']:.1f} p95_ms={result['p95_ms']:.1f} "
            f"errors={result['errors']} plots={result['plots']} "
            f"plot_cache_hits={result['plot_cache_hits']} "
            f"server_cache_hits={result['server_cache_hits']} base_p95_ms={base['p95_ms']:.1f} "
            f"ratio_p95={result['p95_ms'] / base['p95_ms']:.2f} "
            f"slab_ms={slab['zc_index_only']:.1f} "
            f"slab_ratio_heap_over_index_only={slab['zc_heap'] / slab['zc_index_only']:.2f} "
            f"client_processes={args.client_processes} "
            f"load_avg={load_before:.2f}/{load_after:.2f}"
        )
    finally:
        if not args.keep:
            drop_namespace(db)


if __name__ == "__main__":
    main()
