"""bench_pipeline's checks of the similarity index after `desivoid embed`: recall@10 against exact
search, warm query latency, and the same-run anchor (FAISS IndexHNSWFlat on the same vectors).

The run's vectors are read back in storage order (the order the index was built in); the exact
k nearest come from FAISS IndexFlatL2 over all of them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import faiss
import numpy as np
import psycopg
from psycopg import sql

from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.db.copy_out import read_copy
from desivoid_ml.embed.similarity import vector_text
from desivoid_ml.keys import KEY_WIDTH

K = 10
THREADS = 2
# Queries on other galaxies before the timed ones: the server restarts with its new buffers after
# embed, and the timed queries should meet the graph in memory, as a running service does.
WARM_UP = 1000
LABEL = re.compile(r"(HNSW|IVFFlat) \(([^)]*)\) index \((\d+)MB, (\d+) workers\): started")


@dataclass
class IndexBuild:
    """What embed's progress line says of the build: family, parameters, memory, workers."""

    kind: str
    params: dict[str, int]
    memory_mb: int
    workers: int

    @classmethod
    def from_log(cls, text: str) -> IndexBuild | None:
        match = LABEL.search(text)
        if not match:
            return None
        params = {k: int(v) for k, v in (p.rsplit(" ", 1) for p in match.group(2).split(", "))}
        return cls(match.group(1).lower(), params, int(match.group(3)), int(match.group(4)))


def run_vectors(conn: psycopg.Connection) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(targetid, survey, program, vectors) of the newest embedded run, in storage order."""
    part, dim = conn.execute("SELECT * FROM ml.embedding_partition(NULL)").fetchone()
    columns = [
        CopyColumn("targetid", "bigint"),
        CopyColumn.text("survey", KEY_WIDTH),
        CopyColumn.text("program", KEY_WIDTH),
        CopyColumn.vector("embedding", dim),
    ]
    query = sql.SQL(
        f"SELECT targetid, survey::char({KEY_WIDTH}), program::char({KEY_WIDTH}), "
        "embedding::vector({}) FROM {}"
    ).format(sql.Literal(dim), sql.Identifier("ml", part))
    rows = read_copy(conn, query, columns)
    vectors = np.ascontiguousarray(rows["embedding"], dtype=np.float32)
    return rows["targetid"], rows["survey"], rows["program"], vectors


def _text(value) -> str:
    return (value.decode() if isinstance(value, bytes) else str(value)).strip()


def latency_and_recall(dsn: str, queries: int, seed: int) -> dict[str, float]:
    """p50/p95 ms of ml.similar_galaxies(t, 10) and recall@10 of ml.similar_to_vector(v, 10)
    against exact search, over `queries` galaxies drawn at random, after WARM_UP searches for
    other galaxies (their p95 is returned as cold_p95_ms)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        targetid, survey, program, vectors = run_vectors(conn)
        rng = np.random.default_rng(seed)
        picks = rng.choice(len(vectors), min(queries + WARM_UP, len(vectors)), replace=False)
        search = conn.execute("SELECT ml.embedding_search(NULL)").fetchone()[0]
        times, cold, found = [], [], []
        for i, row in enumerate(picks):
            key = (int(targetid[row]), _text(survey[row]), _text(program[row]))
            started = time.perf_counter()
            rows = conn.execute(
                "SELECT * FROM ml.similar_galaxies(%s, 10, NULL, %s, %s)", key
            ).fetchall()
            (times if i >= WARM_UP else cold).append((time.perf_counter() - started) * 1e3)
            assert len(rows) == K, f"targetid {key}: {len(rows)} neighbours"
        picks = picks[WARM_UP:]
        for row in picks:
            hits = conn.execute(
                "SELECT targetid FROM ml.similar_to_vector(%s::vector, 10)",
                (vector_text(vectors[row]),),
            ).fetchall()
            found.append([h[0] for h in hits])
    exact = faiss.IndexFlatL2(vectors.shape[1])
    exact.add(vectors)
    truth = targetid[exact.search(vectors[picks], K)[1]]
    recall = np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)])
    times = np.array(times)
    return {
        "p50_ms": float(np.median(times)),
        "p95_ms": float(np.percentile(times, 95)),
        "cold_p95_ms": float(np.percentile(cold, 95)) if cold else float("nan"),
        "recall": float(recall),
        "queries": len(picks),
        "search": search,
        "vectors": vectors,
    }


def faiss_hnsw_s(vectors: np.ndarray, m: int, ef_construction: int) -> float:
    """Seconds for FAISS IndexHNSWFlat to index `vectors` on THREADS threads."""
    faiss.omp_set_num_threads(THREADS)
    index = faiss.IndexHNSWFlat(vectors.shape[1], m)
    index.hnsw.efConstruction = ef_construction
    started = time.perf_counter()
    index.add(vectors)
    return time.perf_counter() - started
