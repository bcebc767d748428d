"""The database drops out: the stream reconnects and finishes the epoch exactly once; when it
stays away, training, and any CLI command, end with one line that says how to go on."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from dbserver import restart_later
from featuretable import FEATURES, make_feature_table
from psycopg import sql
from trainconfig import train_config

from desivoid_ml.data.query import Fractions, split_predicate
from desivoid_ml.data.reconnect import RetryPolicy
from desivoid_ml.data.stream import FeatureStream, StreamSpec
from desivoid_ml.db import embedded
from desivoid_ml.db.migrations import MIGRATION_LOCK_KEY
from desivoid_ml.errors import DatabaseLost
from desivoid_ml.training import train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def table_db(db):
    make_feature_table(db)
    yield db
    embedded.start()  # whatever a test did to the server, the next one finds it running


def _stream(db, policy: RetryPolicy) -> FeatureStream:
    spec = StreamSpec(
        dsn=db.dsn,
        schema=db.ns.features,
        table="galaxy",
        features=FEATURES,
        split="train",
        batch_size=250,
        block_pages=4,
        shuffle_buffer=1000,
        shuffle=True,
        reconnect=policy,
    )
    return FeatureStream(spec, rank=0, world=1)


def _train_keys(db) -> set[int]:
    with db.connect() as conn:
        rows = conn.execute(
            sql.SQL("SELECT key_hash FROM {} WHERE {}").format(
                sql.Identifier(db.ns.features, "galaxy"), split_predicate("train", Fractions())
            )
        )
        return {r[0] for r in rows}


def test_server_restart_mid_epoch_still_yields_every_row_once(table_db, caplog) -> None:
    seen: list[int] = []
    restarted = None
    for i, batch in enumerate(_stream(table_db, RetryPolicy(attempts=6, window_s=30))):
        seen += batch["key_hash"].tolist()
        if i == 3:
            embedded.stop()
            restarted = restart_later(1.0)
    assert restarted is not None
    restarted.join()
    assert len(seen) == len(set(seen))
    assert set(seen) == _train_keys(table_db)
    assert any("reconnecting in" in r.getMessage() for r in caplog.records)


def test_a_database_that_stays_away_is_one_line(table_db) -> None:
    stream = iter(_stream(table_db, RetryPolicy(attempts=2, window_s=0.3)))
    next(stream)
    embedded.stop()
    with pytest.raises(DatabaseLost) as failure:
        list(stream)
    message = str(failure.value)
    assert "\n" not in message
    assert "train split" in message and "after 2 attempts" in message


def test_training_that_loses_the_database_says_how_to_resume(table_db, tmp_path) -> None:
    cfg = train_config(
        table_db,
        tmp_path,
        [
            "trainer.max_epochs=3",
            "data.reconnect_attempts=1",
            "data.reconnect_window_s=0.2",
            "+callbacks.stop_server._target_=dbserver.StopServerAt",
            "+callbacks.stop_server.epoch=1",
            "+callbacks.stop_server.batch=2",
        ],
    )
    with pytest.raises(DatabaseLost) as failure:
        train(cfg)
    message = str(failure.value)
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert "\n" not in message and last.exists()
    assert f"ckpt_path={last}" in message and message.count("python train.py") == 1


def _terminate_backends_of(app: str, ready: threading.Event, stop: threading.Event) -> None:
    """Kill every connection of the named application until told to stop (a flaky network).
    The migration lock is held meanwhile, so a victim is sure to be connected and waiting on it
    (every command's `open_database` takes it) when it is killed, however fast it would run."""
    import psycopg

    with psycopg.connect(embedded.start(), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        ready.set()
        while not stop.is_set():
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (app,),
            )
            time.sleep(0.005)


def test_cli_command_losing_the_database_is_one_line(table_db, tmp_path) -> None:
    ready, stop = threading.Event(), threading.Event()
    killer = threading.Thread(
        target=_terminate_backends_of, args=("victim", ready, stop), daemon=True
    )
    env = {**os.environ, "PGAPPNAME": "victim", "DESIVOID_NAMESPACE": table_db.ns.prefix}
    env["DESIVOID_DATA_DIR"] = str(embedded.pgdata_dir().parent)
    killer.start()
    assert ready.wait(60)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "desivoid_ml.cli", "validate"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        stop.set()
        killer.join()
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "database" in lines[0] and lines[0].startswith("error:")
    assert "Traceback" not in result.stderr


def test_release_ends_a_reconnect_wait_and_opens_nothing(table_db) -> None:
    """A reader waiting to reconnect (here 10 minutes) stops as soon as its owner releases it,
    with the error it had, and opens no new connection."""
    import psycopg

    from desivoid_ml.data.reconnect import ReconnectingConnection

    conn = ReconnectingConnection(table_db.dsn, RetryPolicy(attempts=1, window_s=600), "a test")
    calls, outcome = [], {}

    def flaky(c):
        calls.append(c)
        raise psycopg.OperationalError("server closed the connection")

    def reader() -> None:
        try:
            conn.run(flaky)
        except psycopg.OperationalError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    while not calls:
        time.sleep(0.01)
    conn.release()
    thread.join(timeout=60)
    assert not thread.is_alive() and "server closed" in str(outcome["error"])
    assert len(calls) == 1 and conn.conn is None
