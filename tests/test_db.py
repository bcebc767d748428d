"""The database layer: migrations once, pgvector present, embedded server lifecycle, DSN mode."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from psycopg import sql

from desivoid_ml.db.migrations import available, migrate


def _cli() -> str:
    return shutil.which("desivoid") or str(Path(sys.executable).parent / "desivoid")


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([_cli(), *args], capture_output=True, text=True, env=env, timeout=120)


def test_migrations_apply_once(db) -> None:
    with db.connect() as conn:
        assert migrate(conn, db.ns) == []
        versions = conn.execute(
            sql.SQL("SELECT version FROM {} ORDER BY 1").format(
                sql.Identifier(db.ns.meta, "schema_migrations")
            )
        ).fetchall()
    assert [v[0] for v in versions] == [m[0] for m in available()]


def test_vector_extension_works(db) -> None:
    with db.connect() as conn:
        distance = conn.execute("SELECT '[1,2,3]'::vector <-> '[1,2,5]'::vector").fetchone()[0]
    assert distance == 2.0


def test_embedded_lifecycle_with_two_concurrent_starts(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DESIVOID_DSN"}
    env["DESIVOID_DATA_DIR"] = str(tmp_path / "data")
    starters = [
        subprocess.Popen([_cli(), "db", "url"], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    urls = [p.communicate(timeout=120)[0].strip() for p in starters]
    try:
        assert [p.returncode for p in starters] == [0, 0]
        assert urls[0] == urls[1] and str(tmp_path) in urls[0]
        assert "running" in _run(["db", "status"], env).stdout
        assert "ready" in _run(["db", "start"], env).stdout
    finally:
        stopped = _run(["db", "stop"], env)
    assert "stopped" in stopped.stdout, stopped.stderr
    assert _run(["db", "status"], env).returncode == 1


def test_dsn_mode_never_starts_an_embedded_server(db, tmp_path: Path) -> None:
    env = dict(os.environ, DESIVOID_DSN=db.dsn, DESIVOID_DATA_DIR=str(tmp_path / "data"))
    done = _run(["db", "url"], env)
    assert done.returncode == 0 and done.stdout.strip() == db.dsn
    assert not (tmp_path / "data" / "pg").exists()
