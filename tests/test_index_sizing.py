"""HNSW build sizing: the memory estimate, the one-line warning, pgvector's NOTICE surfaced,
no staging table left after a failure, and `similar` before any embed."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from psycopg import sql

from desivoid_ml.db import embedded
from desivoid_ml.embed import hnsw_build, index_sizing, store
from desivoid_ml.embed.hnsw_build import MEMORY_ENV
from desivoid_ml.errors import DesivoidError
from desivoid_ml.keys import KEY_WIDTH

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30
DIM = 16


def test_estimate_matches_the_measured_notice() -> None:
    # pgvector said: at 1 GB, 16-d codes with m = 16 stopped fitting after 1,433,592 tuples
    predicted = index_sizing.rows_that_fit(GIB, dim=16, m=16)
    assert abs(predicted - 1_433_592) / 1_433_592 < 0.02


def test_estimate_grows_with_rows_dimension_and_m() -> None:
    base = index_sizing.graph_bytes(1_000_000, 16, 16)
    assert index_sizing.graph_bytes(2_000_000, 16, 16) == pytest.approx(2 * base, rel=1e-6)
    # 4 more bytes per dimension; 2 x 16 more bytes per extra unit of m at layer 0
    assert index_sizing.element_bytes(32, 16) - index_sizing.element_bytes(16, 16) == 64
    upper = (8 + 24 * 16 + 8) / 23 - (8 + 16 * 16 + 8) / 15  # 1/(m-1) upper levels on average
    growth = index_sizing.element_bytes(16, 24) - index_sizing.element_bytes(16, 16)
    assert growth == pytest.approx(2 * 8 * 16 + upper)
    assert 4.4 * GIB < index_sizing.graph_bytes(6_445_927, 16, 16) < 4.55 * GIB


def _here(available_bytes: int, cores: int, current: int = 64 * 2**20) -> index_sizing.ServerLimits:
    """Limits of a server on this machine (free RAM and cores known)."""
    return index_sizing.ServerLimits(current, 2, 8, available_bytes, cores)


def test_plan_fits_when_ram_allows_and_warns_otherwise() -> None:
    rows = 6_445_927
    roomy = index_sizing.plan_build(rows, DIM, 16, _here(20 * GIB, cores=2))
    assert roomy.fits and roomy.memory_bytes >= index_sizing.graph_bytes(rows, DIM, 16)
    assert roomy.workers == 1
    tight = index_sizing.plan_build(rows, DIM, 16, _here(4 * GIB, cores=2))
    assert not tight.fits and tight.memory_bytes == 2 * GIB  # half the available RAM
    line = tight.warning(rows, MEMORY_ENV)
    assert "\n" not in line and f"{MEMORY_ENV}=5GB" in line and "slower" in line
    assert "RAM available on the server's machine, 4.0 GB" in line
    forced = index_sizing.plan_build(rows, DIM, 16, _here(20 * GIB, 2), override_bytes=GIB)
    assert forced.memory_bytes == GIB and forced.rows_in_memory == pytest.approx(1.44e6, rel=0.02)
    small = index_sizing.plan_build(3000, DIM, 16, _here(20 * GIB, 8))
    assert small.fits and small.workers == 0


def test_a_server_elsewhere_is_sized_from_its_own_settings() -> None:
    # this machine's RAM says nothing about the server's: its maintenance_work_mem and
    # max_parallel_maintenance_workers are the budget, capped by its worker limits
    limits = index_sizing.ServerLimits(512 * 2**20, 3, 2)
    plan = index_sizing.plan_build(6_445_927, DIM, 16, limits)
    assert plan.memory_bytes == 512 * 2**20 and plan.workers == 2 and not plan.fits
    assert "the server's own maintenance_work_mem" in plan.warning(6_445_927, MEMORY_ENV)
    assert index_sizing.beyond_the_machine(plan, limits, MEMORY_ENV) is None
    forced = index_sizing.plan_build(1000, DIM, 16, limits, override_bytes=8 * GIB)
    assert forced.memory_bytes == 8 * GIB and forced.workers == 0


def test_a_budget_beyond_the_servers_ram_is_refused_in_one_line() -> None:
    limits = _here(4 * GIB, 2)
    plan = index_sizing.plan_build(10**6, DIM, 16, limits, override_bytes=64 * GIB)
    line = index_sizing.beyond_the_machine(plan, limits, MEMORY_ENV)
    assert line is not None and "\n" not in line
    assert f"{MEMORY_ENV}=64.0 GB is more than the 4.0 GB of RAM available" in line
    computed = index_sizing.plan_build(10**8, DIM, 16, limits)  # never above half the RAM
    assert index_sizing.beyond_the_machine(computed, limits, MEMORY_ENV) is None


def test_parse_size() -> None:
    assert index_sizing.parse_size("8GB") == 8 * GIB
    assert index_sizing.parse_size("512 MB") == 512 * 2**20
    assert index_sizing.parse_size("1.5GiB") == int(1.5 * GIB)
    assert index_sizing.pg_size(3 * GIB) == "3072MB"
    with pytest.raises(ValueError, match="not a memory size"):
        index_sizing.parse_size("lots")


def test_settings_changed_only() -> None:
    wanted = {"max_wal_size": "16GB", "wal_level": "minimal"}
    assert embedded.settings_to_change(dict(wanted), wanted) == {}
    current = {"max_wal_size": "4GB", "wal_level": "minimal"}
    assert embedded.settings_to_change(current, wanted) == {"max_wal_size": "16GB"}


def _insert_run(db, run_id: str) -> None:
    with db.connect() as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (run_id, model_kind, code_dim, config, features, normalization) "
                "VALUES (%s, 'test', %s, '{{}}', '[]', '{{}}')"
            ).format(sql.Identifier(db.ns.ml, "runs")),
            (run_id, DIM),
        )


def _batches(n: int, seed: int = 0, fail_after: int | None = None):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    for start in range(0, n, 1000):
        if fail_after is not None and start >= fail_after:
            raise RuntimeError("encoder crashed")
        stop = min(start + 1000, n)
        yield (
            np.arange(start + 1, stop + 1, dtype=np.int64),
            np.full(stop - start, b"main", dtype=f"S{KEY_WIDTH}"),
            np.full(stop - start, b"bright", dtype=f"S{KEY_WIDTH}"),
            vectors[start:stop],
        )


def _ml_tables(db) -> set[str]:
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (db.ns.ml,)
        ).fetchall()
    return {r[0] for r in rows}


def test_tiny_budget_warns_in_one_line_and_surfaces_the_notice(db, monkeypatch, caplog) -> None:
    _insert_run(db, "r1")
    monkeypatch.setenv(MEMORY_ENV, "1MB")
    with caplog.at_level(logging.INFO, logger="desivoid_ml.embed"):
        timings = store.write_run(db, "r1", DIM, _batches(3000))
    assert timings["rows"] == 3000
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    budget = [w for w in warnings if w.startswith("HNSW build:")]
    assert len(budget) == 1 and "\n" not in budget[0]
    assert "budget is 1 MB" in budget[0] and f"{MEMORY_ENV}=" in budget[0]
    assert any("hnsw graph no longer fits into maintenance_work_mem" in w for w in warnings)
    with db.connect() as conn:
        count = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(db.ns.ml, store.partition_name("r1"))
            )
        ).fetchone()[0]
    assert count == 3000


def test_limits_are_read_from_the_server(db, monkeypatch) -> None:
    monkeypatch.setenv(
        "PGOPTIONS", "-c maintenance_work_mem=77MB -c max_parallel_maintenance_workers=1"
    )
    with db.connect() as conn:
        limits = hnsw_build.server_limits(conn)
    assert limits.maintenance_work_mem == 77 * 2**20
    assert limits.max_parallel_maintenance_workers == 1
    assert limits.local and limits.available_bytes > 0  # the embedded server runs here


def test_a_remote_servers_own_memory_setting_sizes_the_build(db, monkeypatch, caplog) -> None:
    # before: sized from this machine's RAM (64 MB at least), so a small server could run out
    _insert_run(db, "r1")
    monkeypatch.setattr(hnsw_build, "server_on_this_machine", lambda conn: False)
    monkeypatch.setenv("PGOPTIONS", "-c maintenance_work_mem=1MB")
    with caplog.at_level(logging.INFO, logger="desivoid_ml.embed"):
        store.write_run(db, "r1", DIM, _batches(3000))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    budget = [w for w in warnings if w.startswith("HNSW build:")]
    assert len(budget) == 1 and "budget is 1 MB (the server's own maintenance_work_mem" in budget[0]


def test_a_budget_beyond_the_machine_stops_before_the_build(db, monkeypatch) -> None:
    _insert_run(db, "r1")
    before = _ml_tables(db)
    monkeypatch.setenv(MEMORY_ENV, "100000GB")
    with pytest.raises(DesivoidError) as failure:
        store.write_run(db, "r1", DIM, _batches(2000))
    message = str(failure.value)
    assert "\n" not in message and "RAM available on the database server's machine" in message
    assert _ml_tables(db) == before


def test_enough_budget_builds_without_warning(db, caplog) -> None:
    _insert_run(db, "r1")
    with caplog.at_level(logging.INFO, logger="desivoid_ml.embed"):
        store.write_run(db, "r1", DIM, _batches(2000))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_failures_leave_no_staging_table_and_keep_the_old_partition(db, monkeypatch) -> None:
    _insert_run(db, "r1")
    store.write_run(db, "r1", DIM, _batches(2000))
    before = _ml_tables(db)
    with pytest.raises(RuntimeError, match="encoder crashed"):
        store.write_run(db, "r1", DIM, _batches(3000, fail_after=2000))
    assert _ml_tables(db) == before
    # a statement cut short by the server (as a cancelled index build is)
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=1")
    with pytest.raises(DesivoidError, match=r"was cancelled .*nothing was kept"):
        store.write_run(db, "r1", DIM, _batches(20_000))
    monkeypatch.delenv("PGOPTIONS")
    assert _ml_tables(db) == before
    assert store.staging_name("r1") not in _ml_tables(db)
    with db.connect() as conn:
        rows = conn.execute(
            sql.SQL("SELECT rows FROM {} WHERE run_id = 'r1'").format(
                sql.Identifier(db.ns.ml, "embedding_sets")
            )
        ).fetchone()[0]
    assert rows == 2000


def test_similar_before_embed_is_one_line_exit_2(db) -> None:
    env = {**os.environ, "DESIVOID_DSN": db.dsn, "DESIVOID_NAMESPACE": db.ns.prefix}
    done = subprocess.run(
        [sys.executable, "-m", "desivoid_ml.cli", "similar", "12345"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "run `desivoid embed` first" in lines[0], done.stderr
    # the SQL function exists from the migration and says the same
    with db.connect() as conn, pytest.raises(Exception, match="no embeddings"):
        conn.execute(
            sql.SQL("SELECT * FROM {}(1, 5)").format(sql.Identifier(db.ns.ml, "similar_galaxies"))
        )
