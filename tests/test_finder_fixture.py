"""(Helpers, no tests.) A small synthetic database with a trained run, and a live finder."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from psycopg import sql
from trainconfig import compose_train

from desivoid_ml.db.connection import Database
from desivoid_ml.embed.inference import embed
from desivoid_ml.embed.similarity import example_void_galaxy
from desivoid_ml.features.build import build
from desivoid_ml.features.config import load_config
from desivoid_ml.finder.app import create_app
from desivoid_ml.finder.server import open_store
from desivoid_ml.ingest.config import load_options
from desivoid_ml.ingest.runner import ingest
from desivoid_ml.synth import write_catalogs
from desivoid_ml.training import train

GALAXIES = 3000
DUPLICATE_PROGRAM = "dark"  # one TARGETID gets a second (survey, program) row


def build_finder_database(db: Database, tmp: Path) -> int:
    """Synthetic catalogs -> ingest -> features -> ae16 (1 epoch) -> embed; returns the
    TARGETID that has two rows (main/bright and main/dark)."""
    write_catalogs(tmp / "raw", GALAXIES, seed=3)
    ingest(db, [tmp / "raw"], load_options())
    build(db, load_config())
    cfg = compose_train(
        db,
        tmp / "train",
        [
            "experiment=ae16",
            "trainer.max_epochs=1",
            "test=false",
        ],
    )
    train(cfg)
    embed(db, "latest")
    return _duplicate_one(db)


def _duplicate_one(db: Database) -> int:
    """Copy the example galaxy (and its embedding) under another program: a TARGETID that is
    no key."""
    galaxy = sql.Identifier(db.ns.features, "galaxy")
    # the example galaxy of `desivoid similar` and the report: both must cope with it
    targetid = example_void_galaxy(db)
    with db.connect() as conn:
        conn.execute(
            sql.SQL("CREATE TEMP TABLE dup AS SELECT * FROM {} WHERE targetid = %s").format(galaxy),
            (targetid,),
        )
        conn.execute("UPDATE dup SET program = %s", (DUPLICATE_PROGRAM,))
        conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM dup").format(galaxy))
        part = conn.execute(
            sql.SQL("SELECT partition FROM {}").format(sql.Identifier(db.ns.ml, "embedding_sets"))
        ).fetchone()[0]
        conn.execute(
            sql.SQL(
                "INSERT INTO {} SELECT run_id, targetid, survey, %s, embedding FROM {} "
                "WHERE targetid = %s"
            ).format(sql.Identifier(db.ns.ml, part), sql.Identifier(db.ns.ml, part)),
            (DUPLICATE_PROGRAM, targetid),
        )
    return targetid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def analyse(db: Database, out: Path) -> None:
    """`desivoid analyze` on two properties and two algorithms with few resamples: the real
    ml.void_wall table (id, timestamps, figure paths) in seconds."""
    from desivoid_ml.analysis.config import load_config
    from desivoid_ml.analysis.run import analyze

    cfg = load_config(
        ["properties=[g_r,logmstar]", "algorithms=[VoidFinder,VIDE]", "bootstrap.resamples=40"]
    )
    analyze(db, cfg, out, "analysis", log=lambda message: None)


@contextmanager
def running_finder(db: Database, pool_size: int = 4) -> Iterator[str]:
    """The finder app served by uvicorn in a thread; yields its base URL."""
    store = open_store(db, pool_size=pool_size)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the finder did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        store.pool.close()
