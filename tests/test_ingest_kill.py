"""A SIGKILLed ingest, re-run, ends with exactly the FITS rows: no loss, no duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fitsfactory import simple_table
from psycopg import sql

from desivoid_ml.db.introspect import relation_exists
from desivoid_ml.ingest.config import IngestOptions
from desivoid_ml.ingest.runner import ingest

# The child ingests slowly (a pause per chunk) and touches a flag file once it has sent
# `kill_after` chunks of the big file, so the parent kills it in the middle of a COPY.
CHILD = """
import pathlib, sys, time
from desivoid_ml.db.connection import Database, Namespace
from desivoid_ml.ingest.config import IngestOptions
from desivoid_ml.ingest.runner import ingest

dsn, prefix, flag, kill_after, *paths = sys.argv[1:]

class SlowReporter:
    sent = 0
    def task(self, label, total, unit="rows"):
        self.big = "big" in label
        return self
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return None
    def advance(self, n):
        if self.big:
            self.sent += 1
            if self.sent >= int(kill_after):
                pathlib.Path(flag).touch()
            time.sleep(0.05)

ingest(Database(dsn, Namespace(prefix)), [pathlib.Path(p) for p in paths],
       IngestOptions([], chunk_rows=5_000), SlowReporter())
"""


def _count(db, table: str) -> int:
    with db.connect() as conn:
        return conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(db.ns.raw, table))
        ).fetchone()[0]


def _table_exists(db, table: str) -> bool:
    with db.connect() as conn:
        return relation_exists(conn, db.ns.raw, table)


@pytest.mark.parametrize("kill_after", [1, 12])
def test_sigkill_mid_copy_then_rerun_is_exact(db, tmp_path: Path, kill_after: int) -> None:
    small = simple_table(tmp_path / "small.fits", 1_000)
    big = simple_table(tmp_path / "big.fits", 100_000)
    flag = tmp_path / "flag"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            db.dsn,
            db.ns.prefix,
            str(flag),
            str(kill_after),
            str(small),
            str(big),
        ],
    )
    deadline = time.monotonic() + 60
    while not flag.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert flag.exists(), "the child never reached the big file"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    assert _count(db, "small_data") == 1_000  # committed before the kill
    assert not _table_exists(db, "big_data")  # its transaction never committed

    results = ingest(db, [small, big], IngestOptions([]))
    assert [r.status for r in results] == ["skipped", "loaded"]
    assert _count(db, "small_data") == 1_000
    assert _count(db, "big_data") == 100_000
    with db.connect() as conn:
        distinct = conn.execute(
            sql.SQL("SELECT count(DISTINCT row_index) FROM {}").format(
                sql.Identifier(db.ns.raw, "big_data")
            )
        ).fetchone()[0]
    assert distinct == 100_000
