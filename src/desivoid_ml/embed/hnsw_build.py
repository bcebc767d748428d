"""Build one similarity index (HNSW or IVFFlat): sized to the data, pgvector's NOTICEs logged,
progress shown.

The build runs on the caller's connection; a second connection polls
`pg_stat_progress_create_index` for that backend so the user sees tuples done / total.
The plan (memory, workers) is made before anything is written, so an index that cannot fit is
one line before the load starts; the build itself runs after the embeddings are queryable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil
import psycopg
from psycopg import sql

from desivoid_ml.db.connection import connect, set_setting
from desivoid_ml.embed import index_sizing, vector_index
from desivoid_ml.errors import DesivoidError
from desivoid_ml.progress import NullReporter, Reporter

log = logging.getLogger("desivoid_ml.embed")

MEMORY_ENV = "DESIVOID_INDEX_MEMORY"
M_ENV = vector_index.M_ENV
EF_CONSTRUCTION_ENV = vector_index.EF_CONSTRUCTION_ENV
# Chosen by scripts/bench_index_grid.py on 1 M 16-d codes (README, "Benchmarks").
DEFAULT_M = vector_index.DEFAULT_M
DEFAULT_EF_CONSTRUCTION = vector_index.DEFAULT_EF_CONSTRUCTION
IVF_MEMORY = 256 * 2**20  # IVFFlat keeps only its k-means sample in maintenance_work_mem
POLL_S = 0.5
LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class HnswParams:
    """Graph degree and build-time candidate list."""

    m: int = DEFAULT_M
    ef_construction: int = DEFAULT_EF_CONSTRUCTION

    @classmethod
    def from_env(cls) -> HnswParams:
        return cls(
            int(os.environ.get(M_ENV, DEFAULT_M)),
            int(os.environ.get(EF_CONSTRUCTION_ENV, DEFAULT_EF_CONSTRUCTION)),
        )


def memory_override() -> int | None:
    """DESIVOID_INDEX_MEMORY in bytes, if set."""
    text = os.environ.get(MEMORY_ENV)
    if not text:
        return None
    try:
        return index_sizing.parse_size(text)
    except ValueError as exc:
        raise DesivoidError(f"{MEMORY_ENV}: {exc}") from exc


def server_on_this_machine(conn: psycopg.Connection) -> bool:
    """A unix socket (the embedded server) or a loopback address: the server's RAM is ours."""
    host = conn.info.host  # the socket's directory for a unix socket
    return host.startswith("/") or host in LOOPBACK


def server_limits(conn: psycopg.Connection) -> index_sizing.ServerLimits:
    """The server's own settings (SHOW) and, when it runs here, this machine's RAM and cores."""

    def show(name: str) -> str:
        return conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0]

    local = server_on_this_machine(conn)
    return index_sizing.ServerLimits(
        maintenance_work_mem=index_sizing.parse_size(show("maintenance_work_mem")),
        max_parallel_maintenance_workers=int(show("max_parallel_maintenance_workers")),
        worker_limit=min(int(show("max_worker_processes")), int(show("max_parallel_workers"))),
        available_bytes=psutil.virtual_memory().available if local else None,
        cores=(os.cpu_count() or 1) if local else None,
    )


def plan_for(conn: psycopg.Connection, rows: int, dim: int, m: int) -> index_sizing.BuildPlan:
    """The build plan from the server's limits; one line (a warning) when the graph will not fit
    in memory, and an error before anything starts when the budget exceeds the server's RAM."""
    limits = server_limits(conn)
    plan = index_sizing.plan_build(rows, dim, m, limits, memory_override())
    if not limits.local:
        log.info(
            "database server on another machine: index memory %s from its maintenance_work_mem "
            "(%s overrides), %d workers from its max_parallel_maintenance_workers",
            index_sizing.pg_size(plan.memory_bytes),
            MEMORY_ENV,
            plan.workers,
        )
    too_much = index_sizing.beyond_the_machine(plan, limits, MEMORY_ENV)
    if too_much:
        raise DesivoidError(too_much)
    if not plan.fits:
        log.warning(plan.warning(rows, MEMORY_ENV))
    return plan


def _log_notice(diag: psycopg.errors.Diagnostic) -> None:
    """Server NOTICEs through logging; the 'no longer fits' one (and WARNINGs) as a warning."""
    message = diag.message_primary or ""
    important = diag.severity_nonlocalized == "WARNING" or "maintenance_work_mem" in message
    detail = f" ({diag.message_detail})" if diag.message_detail else ""
    log.log(logging.WARNING if important else logging.INFO, "postgres: %s%s", message, detail)


@contextmanager
def notices_logged(conn: psycopg.Connection) -> Iterator[None]:
    """Route this connection's NOTICEs to logging while the block runs."""
    conn.add_notice_handler(_log_notice)
    try:
        yield
    finally:
        conn.remove_notice_handler(_log_notice)


class _ProgressPoller(threading.Thread):
    """Polls pg_stat_progress_create_index for one backend and advances a progress step."""

    def __init__(self, dsn: str, pid: int, step) -> None:
        super().__init__(daemon=True, name="hnsw-progress")
        self.dsn, self.pid, self.step = dsn, pid, step
        self.done = 0
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            with connect(self.dsn, autocommit=True) as conn:
                while not self.stop.wait(POLL_S):
                    row = conn.execute(
                        "SELECT tuples_done FROM pg_stat_progress_create_index WHERE pid = %s",
                        (self.pid,),
                    ).fetchone()
                    if row and row[0] and row[0] > self.done:
                        self.step.advance(row[0] - self.done)
                        self.done = row[0]
        except psycopg.Error as exc:  # progress is a courtesy: never fail the build for it
            log.info("index progress unavailable: %s", exc)


def plan_index(
    conn: psycopg.Connection, rows: int, dim: int, spec: vector_index.IndexSpec
) -> index_sizing.BuildPlan:
    """The build's memory and workers for either family; HNSW checks that its graph fits."""
    if spec.kind == "hnsw":
        return plan_for(conn, rows, dim, spec.m)
    limits = server_limits(conn)
    hnsw_like = index_sizing.plan_build(rows, dim, DEFAULT_M, limits, memory_override())
    memory = max(limits.maintenance_work_mem, min(IVF_MEMORY, hnsw_like.memory_bytes))
    return index_sizing.BuildPlan(memory, hnsw_like.workers, memory, True, rows, "IVFFlat sample")


def create_index(
    conn: psycopg.Connection,
    dsn: str,
    table: sql.Identifier,
    index_name: str,
    dim: int,
    rows: int,
    spec: vector_index.IndexSpec,
    plan: index_sizing.BuildPlan,
    reporter: Reporter | None = None,
) -> None:
    """CREATE INDEX (spec's family) on embedding::vector(dim) with the plan's memory and
    workers, NOTICEs logged and progress shown."""
    reporter = reporter or NullReporter()
    set_setting(conn, "maintenance_work_mem", index_sizing.pg_size(plan.memory_bytes))
    set_setting(conn, "max_parallel_maintenance_workers", plan.workers)
    label = (
        f"{spec.label(rows)} index ({index_sizing.pg_size(plan.memory_bytes)}, "
        f"{plan.workers} workers)"
    )
    try:
        with notices_logged(conn), reporter.task(label, rows) as step:
            poller = _ProgressPoller(dsn, conn.info.backend_pid, step)
            poller.start()
            try:
                conn.execute(spec.statement(table, index_name, dim, rows))
            finally:
                poller.stop.set()
                poller.join()
            if poller.done < rows:
                step.advance(rows - poller.done)
    finally:
        with contextlib.suppress(psycopg.Error):  # a broken connection: the build's error matters
            conn.execute("RESET maintenance_work_mem")
            conn.execute("RESET max_parallel_maintenance_workers")


def create_hnsw(
    conn: psycopg.Connection,
    dsn: str,
    table: sql.Identifier,
    index_name: str,
    dim: int,
    rows: int,
    params: HnswParams | None = None,
    reporter: Reporter | None = None,
) -> index_sizing.BuildPlan:
    """CREATE INDEX ... USING hnsw on embedding::vector(dim), sized and watched."""
    params = params or HnswParams.from_env()
    spec = vector_index.IndexSpec("hnsw", params.m, params.ef_construction)
    plan = plan_for(conn, rows, dim, params.m)
    create_index(conn, dsn, table, index_name, dim, rows, spec, plan, reporter)
    return plan
