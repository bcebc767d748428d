#!/usr/bin/env python
"""Embedding storage and search: `desivoid embed`'s write path, HNSW build, k=10 query latency.

Vectors are clustered, galaxy-like rather than uniform: a mixture of overlapping Gaussians
(centres N(0, 1), Dirichlet weights, log-normal widths of median 0.6, so dense and diffuse
groups); queries are fresh draws from the same mixture. Everything runs in the `benchs_`
namespace, dropped at the end (so do not run two `benchs_` scripts at once).

    .venv/bin/python scripts/bench_vectors.py              # 1 M vectors: minutes (HNSW build)
    .venv/bin/python scripts/bench_vectors.py --n 100000   # quick check
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from psycopg import sql

from desivoid_ml import runs
from desivoid_ml.db.connection import Database, drop_namespace, open_database
from desivoid_ml.db.copy_binary import RowEncoder
from desivoid_ml.db.copy_in import copy_in
from desivoid_ml.embed import hnsw_build, store
from desivoid_ml.embed.similarity import vector_text
from desivoid_ml.keys import KEY_WIDTH

RUN_ID = "bench-vectors"
K = 10


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000, help="vectors to store")
    p.add_argument("--dim", type=int, default=16, help="vector dimension")
    p.add_argument("--clusters", type=int, default=64, help="Gaussian components")
    p.add_argument("--queries", type=int, default=200, help="timed k=10 queries per ef_search")
    p.add_argument("--ef", type=int, nargs="+", default=[40, 100], help="hnsw.ef_search values")
    p.add_argument("--chunk", type=int, default=8192, help="rows per COPY chunk (embed's batch)")
    p.add_argument("--repeat", type=int, default=1,
                   help="raw COPY passes, best kept (write_run runs once: 1 is like for like)")
    p.add_argument("--exact-sql", type=int, default=5, help="exact SQL scans to time and check")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grid", nargs="*", default=[], metavar="M:EF_CONSTRUCTION",
                   help="more HNSW builds to compare with the default, e.g. 8:32 16:128")
    return p.parse_args()


def clustered(n: int, dim: int, clusters: int, rng: np.random.Generator) -> np.ndarray:
    """n float32 draws from a Gaussian mixture of uneven weights and widths."""
    centres = rng.normal(0.0, 1.0, (clusters, dim))  # neighbouring components overlap
    widths = rng.lognormal(-0.5, 0.5, clusters)
    labels = rng.choice(clusters, n, p=rng.dirichlet(np.ones(clusters)))
    return (centres[labels] + rng.normal(size=(n, dim)) * widths[labels, None]).astype(np.float32)


def key_arrays(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """targetid 1..n, survey and program as `desivoid embed` passes them (bytes)."""
    return (np.arange(1, n + 1, dtype=np.int64), np.full(n, b"main", dtype=f"S{KEY_WIDTH}"),
            np.full(n, b"bright", dtype=f"S{KEY_WIDTH}"))


def batches(vectors: np.ndarray, chunk: int):
    """What `embed` feeds write_run: (targetid, survey, program, vectors) chunks."""
    targetid, survey, program = key_arrays(len(vectors))
    for s in range(0, len(vectors), chunk):
        yield targetid[s:s + chunk], survey[s:s + chunk], program[s:s + chunk], vectors[s:s + chunk]


def insert_run(db: Database, dim: int) -> None:
    """The ml.runs row that ml.embedding_sets references (a run with no model behind it)."""
    runs.insert_run(db, RUN_ID, "bench", dim, features={}, normalization={})


def raw_copy(db: Database, payload: list[bytes], table: str) -> float:
    """Seconds to COPY pre-encoded tuples into a fresh table shaped like a run's partition."""
    target = sql.Identifier(db.ns.ml, table)
    with db.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(
            target, sql.Identifier(db.ns.ml, "embeddings")))
        conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN run_id SET DEFAULT {}").format(
            target, sql.Literal(RUN_ID)))  # as write_run does: run_id is not sent per row
        conn.execute("CHECKPOINT")
        started = time.perf_counter()
        with copy_in(conn, target, store.columns(1)) as send:  # names only: payload is encoded
            for block in payload:
                send(block)
        return time.perf_counter() - started


def key_and_analyze_s(db: Database, table: str) -> float:
    """What write_run's index phase spends besides HNSW: the unique key index and ANALYZE."""
    target = sql.Identifier(db.ns.ml, table)
    with db.connect(autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(sql.SQL("CREATE UNIQUE INDEX ON {} (targetid, survey, program)").format(
            target))
        conn.execute(sql.SQL("ANALYZE {}").format(target))
        return time.perf_counter() - started


def knn_query(db: Database, dim: int) -> sql.Composed:
    return sql.SQL("SELECT targetid FROM {} ORDER BY embedding::vector({d}) <-> %s::vector({d}) "
                   "LIMIT {k}").format(sql.Identifier(db.ns.ml, store.partition_name(RUN_ID)),
                                       d=sql.SQL(str(int(dim))), k=sql.SQL(str(K)))


def run_queries(conn, query, queries: np.ndarray, warm_up: int = 50
                ) -> tuple[np.ndarray, np.ndarray]:
    """(latency ms per query, targetids (q, K)), after `warm_up` untimed queries (cache, plan)."""
    for q in queries[:warm_up]:
        conn.execute(query, (vector_text(q),)).fetchall()
    times, ids = [], []
    for q in queries:
        started = time.perf_counter()
        rows = conn.execute(query, (vector_text(q),)).fetchall()
        times.append((time.perf_counter() - started) * 1e3)
        ids.append([r[0] for r in rows])
    return np.array(times), np.array(ids)


def exact_ids(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """True k nearest targetids (row + 1) by brute force in numpy (float64)."""
    x = vectors.astype(np.float64)
    norms = (x * x).sum(axis=1)
    out = []
    for q in queries.astype(np.float64):
        d = norms - 2.0 * (x @ q)
        top = np.argpartition(d, K)[:K]
        out.append(top[np.argsort(d[top])] + 1)
    return np.array(out)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def load(db: Database, vectors: np.ndarray, args: argparse.Namespace) -> tuple[float, float, float]:
    """(write_run rows/s, raw COPY rows/s, HNSW build s); prints the details."""
    insert_run(db, args.dim)
    encoder = RowEncoder(store.columns(args.dim))
    started = time.perf_counter()
    payload = [bytes(encoder.encode(list(c))) for c in batches(vectors, args.chunk)]
    encode = args.n / (time.perf_counter() - started)
    limit_s = min(raw_copy(db, payload, "bench_raw_copy") for _ in range(args.repeat))
    overhead_s = key_and_analyze_s(db, "bench_raw_copy")
    del payload
    with db.connect(autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    timings = store.write_run(db, RUN_ID, args.dim, batches(vectors, args.chunk))
    write, limit = args.n / timings["write_s"], args.n / limit_s
    hnsw_s = timings["hnsw_s"]
    print(f"\n{args.n:,} clustered {args.dim}-d vectors ({args.clusters} Gaussians), "
          f"COPY chunks of {args.chunk:,} rows")
    print(f"{'write_run COPY phase (encode + send)':<40}{write:>11,.0f} rows/s "
          f"({timings['write_s']:.2f} s)")
    print(f"{'raw COPY of pre-encoded bytes (limit)':<40}{limit:>11,.0f} rows/s "
          f"({limit_s:.2f} s, best of {args.repeat})  ratio {write / limit:.3f}")
    print(f"{'RowEncoder.encode alone (no I/O)':<40}{encode:>11,.0f} rows/s")
    print(f"write_run index phase {timings['index_s']:.1f} s = HNSW (m={store.HNSW_M}, "
          f"ef_construction={store.HNSW_EF_CONSTRUCTION}) {hnsw_s:.1f} s\n"
          f"    + unique key and ANALYZE {overhead_s:.1f} s (timed on the raw COPY table)")
    return write, limit, hnsw_s


def describe_index(db: Database, query, probe: np.ndarray) -> None:
    """Index size and the first lines of the k-NN plan (it must be an HNSW index scan)."""
    with db.connect(autocommit=True) as conn:
        index_mb = conn.execute("SELECT pg_relation_size(%s::regclass) / 1e6", (
            f"{db.ns.ml}.{store.partition_name(RUN_ID)}_ann",)).fetchone()[0]
        plan = [r[0] for r in conn.execute(sql.SQL("EXPLAIN ") + query, (vector_text(probe),))]
    print(f"HNSW index {index_mb:.0f} MB; plan: {plan[0]}\n    {plan[1].strip()}")
    if not any("Index Scan using" in line and "_ann" in line for line in plan):
        print("WARNING: the k-NN query does not use the HNSW index")


def search(db: Database, query, queries: np.ndarray, truth: np.ndarray, efs: list[int]
           ) -> list[tuple[int, float, float, float]]:
    """(ef_search, p50 ms, p95 ms, recall@10) per ef_search; prints a table."""
    print(f"\n{'ef_search':>9}{'p50 ms':>9}{'p95 ms':>9}{'recall@10':>11}  "
          f"({len(queries)} queries)")
    results = []
    with db.connect(autocommit=True) as conn:
        for ef in sorted(efs):
            conn.execute(sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(ef)))
            times, ids = run_queries(conn, query, queries)
            results.append((ef, *np.percentile(times, [50, 95]), recall(ids, truth)))
            print("{:>9}{:>9.2f}{:>9.2f}{:>11.4f}".format(*results[-1]))
    return results


def exact_scan(db: Database, query, queries: np.ndarray, truth: np.ndarray) -> None:
    """Time the same query without the index and check it against numpy's brute force."""
    with db.connect(autocommit=True) as conn:  # a fresh session: no plan prepared with the index
        conn.execute("SET enable_indexscan = off")
        times, ids = run_queries(conn, query, queries, warm_up=0)
    print(f"exact SQL scan (enable_indexscan=off): median {np.median(times):.1f} ms over "
          f"{len(queries)} queries; matches numpy brute force: {recall(ids, truth):.3f}")


def rebuild(db: Database, dim: int, params: hnsw_build.HnswParams) -> tuple[float, float]:
    """Drop the partition's HNSW index and build it again with other parameters: (s, MB)."""
    table = store.partition_name(RUN_ID)
    with db.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(db.ns.ml, f"{table}_ann")))
        conn.execute("CHECKPOINT")
        started = time.perf_counter()
        hnsw_build.create_hnsw(conn, db.dsn, sql.Identifier(db.ns.ml, table), f"{table}_ann",
                               dim, count_rows(conn, db), params)
        seconds = time.perf_counter() - started
        return seconds, index_mb(conn, db)


def count_rows(conn, db: Database) -> int:
    return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
        sql.Identifier(db.ns.ml, store.partition_name(RUN_ID)))).fetchone()[0]


def index_mb(conn, db: Database) -> float:
    return conn.execute("SELECT pg_relation_size(%s::regclass) / 1e6", (
        f"{db.ns.ml}.{store.partition_name(RUN_ID)}_ann",)).fetchone()[0]


def grid(db: Database, args, query, queries, truth, default: list, hnsw_s: float) -> None:
    """The trade-off table: build time and size per (m, ef_construction), then latency and
    recall@10 per ef_search; the default build's figures are reused."""
    with db.connect() as conn:
        size = index_mb(conn, db)
    rows = [(store.HNSW_M, store.HNSW_EF_CONSTRUCTION, hnsw_s, size, default)]
    for pair in args.grid:
        m, efc = (int(v) for v in pair.split(":"))
        seconds, size = rebuild(db, args.dim, hnsw_build.HnswParams(m, efc))
        print(f"\nm {m}, ef_construction {efc}: build {seconds:.1f} s, {size:.0f} MB")
        rows.append((m, efc, seconds, size, search(db, query, queries, truth, args.ef)))
    print(f"\n{'m':>3}{'ef_c':>6}{'build s':>9}{'MB':>6}{'ef_search':>10}{'p50 ms':>8}"
          f"{'p95 ms':>8}{'recall@10':>10}")
    lines = []
    for m, efc, seconds, size, results in rows:
        for ef, p50, p95, r in results:
            print(f"{m:>3}{efc:>6}{seconds:>9.1f}{size:>6.0f}{ef:>10}{p50:>8.2f}{p95:>8.2f}"
                  f"{r:>10.4f}")
            lines.append(f"bench_vectors_grid n={args.n} m={m} ef_construction={efc} "
                  f"build_s={seconds:.1f} index_mb={size:.0f} ef_search={ef} p50_ms={p50:.2f} "
                  f"p95_ms={p95:.2f} recall_at_10={r:.4f}")
    print("\n".join(lines))


def main() -> None:
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    vectors = clustered(args.n + args.queries, args.dim, args.clusters, rng)
    vectors, queries = vectors[:args.n], vectors[args.n:]
    db = open_database(prefix="benchs_")
    try:
        write, limit, hnsw_s = load(db, vectors, args)
        query = knn_query(db, args.dim)
        truth = exact_ids(vectors, queries)
        describe_index(db, query, queries[0])
        default = search(db, query, queries, truth, args.ef)
        _, p50, p95, r = default[-1]
        exact_scan(db, query, queries[:args.exact_sql], truth[:args.exact_sql])
        if args.grid:
            grid(db, args, query, queries, truth, default, hnsw_s)
        print(f"bench_vectors n={args.n} write_rows_per_s={write:.0f} limit_rows_per_s={limit:.0f} "
              f"ratio_limit={write / limit:.3f} hnsw_build_s={hnsw_s:.1f} p50_ms={p50:.2f} "
              f"p95_ms={p95:.2f} recall_at_10={r:.4f}")
    finally:
        drop_namespace(db)


if __name__ == "__main__":
    main()
