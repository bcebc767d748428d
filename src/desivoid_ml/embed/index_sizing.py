"""How much memory pgvector's HNSW build needs, and the build settings that follow from it.

pgvector keeps the whole graph in `maintenance_work_mem` while building; once it no longer fits
it writes the graph to disk and inserts the remaining rows one by one on disk, several times
slower (measured here: 360k -> 42k tuples/min for 16-d codes). Sizes below follow pgvector 0.8's
src/hnsw.h and hnswbuild.c: per element one `HnswElementData`, a list of neighbour-array
pointers (one per level), a layer-0 neighbour array of 2m candidates, an array of m candidates
per upper level, and the vector itself; every allocation MAXALIGNed. A level is
floor(-ln(U) / ln(m)), so an element has 1/(m-1) upper levels on average. Checked against the
measured NOTICE: at 1 GB, 16-d codes with m = 16 stopped fitting after 1,433,592 tuples.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

ELEMENT_STRUCT_BYTES = 128  # HnswElementData: next, 10 heap TIDs, level, hash, pointers, LWLock
NEIGHBOR_ARRAY_HEADER = 8  # HnswNeighborArray: length, closerSet, then the candidates
CANDIDATE_BYTES = 16  # HnswCandidate: element pointer, float distance, bool closer (padded)
VECTOR_HEADER_BYTES = 8  # varlena length + int16 dim + int16 unused
POINTER_BYTES = 8
SAFETY = 1.10  # serial builds add allocator chunk headers; keep a margin above the estimate
HEADROOM = 0.5  # never give the build more than this share of the RAM available now
MIN_BUDGET = 64 * 2**20  # below this, leave maintenance_work_mem alone
MEASURED_SLOWDOWN = 8.6  # 360k vs 42k tuples/min before and after the graph left memory
PARALLEL_MIN_ROWS = 100_000  # a parallel build's start-up is not worth it for small tables
MAX_WORKERS = 7


def _maxalign(n: float) -> float:
    return math.ceil(n / 8) * 8


def element_bytes(dim: int, m: int) -> float:
    """Average bytes one row takes in the in-memory graph (vector + neighbour lists + element)."""
    upper_levels = 1.0 / (m - 1)
    layer0 = NEIGHBOR_ARRAY_HEADER + 2 * m * CANDIDATE_BYTES
    upper = NEIGHBOR_ARRAY_HEADER + m * CANDIDATE_BYTES + POINTER_BYTES
    vector = _maxalign(VECTOR_HEADER_BYTES + 4 * dim)
    return ELEMENT_STRUCT_BYTES + POINTER_BYTES + layer0 + vector + upper_levels * upper


def graph_bytes(rows: int, dim: int, m: int) -> int:
    """Memory the HNSW graph of `rows` vectors needs to be built entirely in memory."""
    return int(rows * element_bytes(dim, m))


def rows_that_fit(budget_bytes: int, dim: int, m: int) -> int:
    """Rows after which pgvector's NOTICE says the graph no longer fits."""
    return int(budget_bytes / element_bytes(dim, m))


def parse_size(text: str) -> int:
    """'8GB', '512MB', '1.5 GiB', '1048576' -> bytes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)i?[bB]?\s*", text)
    if not match:
        raise ValueError(f"not a memory size: {text!r} (use e.g. 8GB or 512MB)")
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(float(match.group(1)) * 1024**power)


def pg_size(n_bytes: int) -> str:
    """A PostgreSQL memory setting in whole MB (maintenance_work_mem accepts it)."""
    return f"{max(1, n_bytes // 2**20)}MB"


@dataclass(frozen=True)
class ServerLimits:
    """What the database server allows a build: its own settings (SHOW) and, when it runs on
    this machine (the embedded server, a local socket), that machine's free RAM and cores."""

    maintenance_work_mem: int  # bytes, the server's setting now
    max_parallel_maintenance_workers: int
    worker_limit: int  # min(max_worker_processes, max_parallel_workers)
    available_bytes: int | None = None  # None: the server's machine is another one
    cores: int | None = None

    @property
    def local(self) -> bool:
        return self.available_bytes is not None


@dataclass(frozen=True)
class BuildPlan:
    """maintenance_work_mem and parallel workers for one build, and whether the graph fits."""

    memory_bytes: int
    workers: int
    needed_bytes: int
    fits: bool
    rows_in_memory: int
    source: str = "half the RAM available"  # where the budget came from, for messages

    def warning(self, rows: int, env: str) -> str:
        """One line: the graph will not fit, what that costs, how to raise the limit."""
        return (
            f"HNSW build: the graph of {rows:,} rows needs ~{_gb(self.needed_bytes)} but the "
            f"budget is {_gb(self.memory_bytes)} ({self.source}): after "
            f"~{self.rows_in_memory:,} rows pgvector builds on disk, ~{MEASURED_SLOWDOWN:.0f}x "
            f"slower from there; set {env}={_gb(self.needed_bytes, up=True)} to build in memory"
        )


def _gb(n_bytes: float, up: bool = False) -> str:
    value = n_bytes / 2**30
    if up:
        return f"{math.ceil(value * 10) / 10:g}GB"
    return f"{value:.1f} GB" if value >= 0.1 else f"{n_bytes / 2**20:.0f} MB"


def plan_build(
    rows: int, dim: int, m: int, limits: ServerLimits, override_bytes: int | None = None
) -> BuildPlan:
    """The build's memory and workers from the server's limits. An explicit override wins.
    On the server's own machine: the graph plus a margin, within HEADROOM of its free RAM, one
    worker per spare core. On another machine, whose RAM we cannot see: the server's own
    maintenance_work_mem and max_parallel_maintenance_workers, never raised."""
    needed = int(graph_bytes(rows, dim, m) * SAFETY)
    current = limits.maintenance_work_mem
    if override_bytes is not None:
        memory, source = override_bytes, "set by the override"
    elif limits.available_bytes is not None:
        share = int(limits.available_bytes * HEADROOM)
        memory = max(current, min(needed, share), MIN_BUDGET)
        source = f"half the RAM available on the server's machine, {_gb(limits.available_bytes)}"
    else:
        memory, source = current, "the server's own maintenance_work_mem; its RAM is not known"
    if rows < PARALLEL_MIN_ROWS:
        workers = 0
    elif limits.cores is not None:
        workers = min(max(limits.cores - 1, 0), MAX_WORKERS, limits.worker_limit)
    else:
        workers = min(limits.max_parallel_maintenance_workers, limits.worker_limit)
    fits = graph_bytes(rows, dim, m) <= memory
    return BuildPlan(memory, workers, needed, fits, rows_that_fit(memory, dim, m), source)


def beyond_the_machine(plan: BuildPlan, limits: ServerLimits, env: str) -> str | None:
    """One line when the budget is more than the server's machine has free (the build would
    push it out of memory), else None."""
    if limits.available_bytes is None or plan.memory_bytes <= limits.available_bytes:
        return None
    return (
        f"HNSW build: {env}={_gb(plan.memory_bytes)} is more than the "
        f"{_gb(limits.available_bytes)} of RAM available on the database server's machine; "
        f"lower {env} (the graph needs ~{_gb(plan.needed_bytes)}; less builds partly on disk)"
    )
