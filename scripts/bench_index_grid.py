#!/usr/bin/env python
"""The similarity-index grid: HNSW (m, ef_construction, halfvec, workers) against IVFFlat (lists,
probes) on the same clustered vectors, build seconds, recall@10 and warm query p95 at k = 10.

Vectors are bench_vectors.py's Gaussian mixture; queries are fresh draws; the truth is exact
(FAISS IndexFlatL2). Each HNSW row also builds FAISS's IndexHNSWFlat of the same vectors with
the same m / ef_construction on the same 2 threads: `vs_faiss` is our build seconds / FAISS's.
Runs in the `benchs_` namespace, dropped at the end.

    .venv/bin/python scripts/bench_index_grid.py --n 1000000 \
        hnsw:16:64 hnsw:8:32 hnsw-half:8:32 hnsw:8:32:w0 ivfflat:1000 hnsw:8:32@sorted

A spec is kind:params[:wN][@sorted]: hnsw:M:EF_CONSTRUCTION, hnsw-half (halfvec storage),
ivfflat:LISTS; wN = N parallel maintenance workers (default: one per spare core); @sorted =
the vectors inserted ordered by a coarse k-means cell (--cells, default 256) instead of at random,
@sortedN with N cells. FAISS's anchor gets the vectors in the same order as the index's table.
"""

from __future__ import annotations

import argparse
import os
import time

import faiss
import numpy as np
from bench_index_check import THREADS, faiss_hnsw_s
from bench_vectors import clustered, recall, run_queries
from psycopg import sql

from desivoid_ml.db.connection import Database, drop_namespace, open_database
from desivoid_ml.db.copy_binary import RowEncoder
from desivoid_ml.db.copy_in import copy_in
from desivoid_ml.embed import store

K = 10
CELLS = 256


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("specs", nargs="+")
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--clusters", type=int, default=64)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--ef", type=int, nargs="+", default=[20, 40, 100])
    p.add_argument("--probes", type=int, nargs="+", default=[5, 10, 20])
    p.add_argument("--memory", default="2GB", help="maintenance_work_mem of every build")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-faiss", action="store_true", help="skip the FAISS anchor")
    p.add_argument("--cells", type=int, default=CELLS, help="k-means cells of @sorted")
    p.add_argument(
        "--vectors",
        help="a .npy of float32 codes (e.g. a run's, from bench_index_check.run_vectors) "
        "instead of the Gaussian mixture: --n of them at random, queries drawn from the rest",
    )
    return p.parse_args()


def load(db: Database, table: str, vectors: np.ndarray) -> None:
    """COPY the vectors (targetid = row + 1) into a table shaped like a run's partition."""
    target = sql.Identifier(db.ns.ml, table)
    encoder = RowEncoder(store.columns(vectors.shape[1]))
    n = len(vectors)
    ids = np.arange(1, n + 1, dtype=np.int64)
    survey, program = np.full(n, b"main", dtype="S8"), np.full(n, b"bright", dtype="S8")
    with db.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(
            target, sql.Identifier(db.ns.ml, "embeddings")))
        conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN run_id SET DEFAULT 'grid'").format(
            target))
        with copy_in(conn, target, store.columns(vectors.shape[1])) as send:
            for s in range(0, n, 10_000):
                e = s + 10_000
                send(encoder.encode([ids[s:e], survey[s:e], program[s:e], vectors[s:e]]))
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(target))


def sorted_order(vectors: np.ndarray, seed: int, cells: int = CELLS) -> np.ndarray:
    """Row order by coarse k-means cell (FAISS k-means on a sample of max(64k, 64 x cells))."""
    km = faiss.Kmeans(vectors.shape[1], cells, niter=10, seed=seed, verbose=False)
    size = min(max(65_536, 64 * cells), len(vectors))
    sample = np.random.default_rng(seed).choice(len(vectors), size, False)
    km.train(vectors[sample])
    return np.argsort(km.index.search(vectors, 1)[1][:, 0], kind="stable")


def index_vectors(args: argparse.Namespace, rng: np.random.Generator) -> np.ndarray:
    """--n vectors to index then --queries to search for, in random order."""
    if not args.vectors:
        return clustered(args.n + args.queries, args.dim, args.clusters, rng)
    codes = np.load(args.vectors, mmap_mode="r")
    take = min(args.n + args.queries, len(codes))
    return np.ascontiguousarray(codes[np.sort(rng.choice(len(codes), take, replace=False))],
                                dtype=np.float32)[rng.permutation(take)]


def parse_spec(spec: str) -> dict:
    body, _, order = spec.partition("@")
    parts = body.split(":")
    workers = next((int(p[1:]) for p in parts if p.startswith("w")), None)
    parts = [p for p in parts if not p.startswith("w")]
    kind = parts[0]
    cells = int(order[len("sorted"):] or 0) if order.startswith("sorted") else None
    out = {"spec": spec, "kind": kind, "workers": workers, "cells": cells}
    if kind.startswith("hnsw"):
        out.update(m=int(parts[1]), efc=int(parts[2]))
    else:
        out.update(lists=int(parts[1]))
    return out


def expression(spec: dict, dim: int) -> str:
    cast = "halfvec" if spec["kind"] == "hnsw-half" else "vector"
    return f"embedding::{cast}({dim})"


def build(db: Database, table: str, spec: dict, dim: int, memory: str) -> tuple[float, float]:
    """(build seconds, index MB) of one spec's index on `table`."""
    ops = "halfvec_l2_ops" if spec["kind"] == "hnsw-half" else "vector_l2_ops"
    method = "ivfflat" if spec["kind"] == "ivfflat" else "hnsw"
    options = (f"lists = {spec['lists']}" if method == "ivfflat"
               else f"m = {spec['m']}, ef_construction = {spec['efc']}")
    workers = spec["workers"] if spec["workers"] is not None else max((os.cpu_count() or 1) - 1, 0)
    with db.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(memory)))
        conn.execute(sql.SQL("SET max_parallel_maintenance_workers = {}").format(
            sql.Literal(workers)))
        conn.execute("CHECKPOINT")
        started = time.perf_counter()
        conn.execute(sql.SQL(f"CREATE INDEX grid_idx ON {{}} USING {method} "
                             f"(({expression(spec, dim)}) {ops}) WITH ({options})").format(
            sql.Identifier(db.ns.ml, table)))
        seconds = time.perf_counter() - started
        size = conn.execute("SELECT pg_relation_size(%s::regclass) / 1e6",
                            (f"{db.ns.ml}.grid_idx",)).fetchone()[0]
    return seconds, float(size)


def search(db: Database, table: str, spec: dict, dim: int, queries, truth, args) -> list[tuple]:
    """(setting, value, p50 ms, p95 ms, recall@10) per ef_search or probes."""
    expr = expression(spec, dim)
    cast = expr.split("::")[1]
    query = sql.SQL(f"SELECT targetid FROM {{}} ORDER BY {expr} <-> %s::{cast} LIMIT {K}").format(
        sql.Identifier(db.ns.ml, table))
    setting, values = (("ivfflat.probes", args.probes) if spec["kind"] == "ivfflat"
                       else ("hnsw.ef_search", args.ef))
    out = []
    with db.connect(autocommit=True) as conn:
        for value in values:
            conn.execute(sql.SQL("SET {} = {}").format(sql.SQL(setting), sql.Literal(value)))
            times, ids = run_queries(conn, query, queries)
            out.append((setting.split(".")[1], value, *np.percentile(times, [50, 95]),
                        recall(ids, truth)))
    return out


def main() -> None:
    args = parse_args()
    specs = [parse_spec(s) for s in args.specs]
    rng = np.random.default_rng(args.seed)
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    data = index_vectors(args, rng)
    args.n, args.dim = len(data) - args.queries, data.shape[1]
    vectors, queries = np.ascontiguousarray(data[:args.n]), data[args.n:]
    exact = faiss.IndexFlatL2(args.dim)
    exact.add(vectors)
    truth = exact.search(queries, K)[1] + 1
    db = open_database(prefix="benchs_")
    faiss_s: dict[tuple, float] = {}
    lines = []
    try:
        load(db, "grid_random", vectors)
        orders = {None: np.arange(args.n)}
        for cells in sorted({s["cells"] or args.cells for s in specs if s["cells"] is not None}):
            orders[cells] = sorted_order(vectors, args.seed, cells)
            load(db, f"grid_sorted{cells}", vectors[orders[cells]])
        for spec in specs:
            cells = spec["cells"] if spec["cells"] != 0 else args.cells
            table = f"grid_sorted{cells}" if cells else "grid_random"
            order = orders[cells]
            seconds, size = build(db, table, spec, args.dim, args.memory)
            ratio = ""
            if "m" in spec and not args.no_faiss:  # FAISS on the same vectors in the same order
                key = (spec["m"], spec["efc"], cells)
                if key not in faiss_s:
                    faiss_s[key] = faiss_hnsw_s(vectors[order], spec["m"], spec["efc"])
                ratio = f" vs_faiss={seconds / faiss_s[key]:.2f}"
            print(f"{spec['spec']}: build {seconds:.1f} s, {size:.0f} MB{ratio}", flush=True)
            truth_here = np.argsort(order)[truth - 1] + 1  # row ids in this table's order
            found = search(db, table, spec, args.dim, queries, truth_here, args)
            for name, value, p50, p95, r in found:
                lines.append(f"bench_index_grid n={args.n} spec={spec['spec']} "
                             f"build_s={seconds:.1f} "
                             f"index_mb={size:.0f}{ratio} {name}={value} p50_ms={p50:.2f} "
                             f"p95_ms={p95:.2f} recall_at_10={r:.4f}")
                print(lines[-1], flush=True)
            with db.connect(autocommit=True) as conn:
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(db.ns.ml, "grid_idx")))
        print(f"faiss IndexHNSWFlat build s ({THREADS} threads): {faiss_s}")
        print("\n".join(lines))
    finally:
        drop_namespace(db)


if __name__ == "__main__":
    main()
