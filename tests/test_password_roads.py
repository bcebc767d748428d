"""Every road a password travels: train (CPU DDP, 2 ranks), a sweep, `serve`, `embed` and a
failing connect, with a password DSN on the command line and in DESIVOID_DSN. Every byte of
stdout, stderr and every file written is searched for any piece of the password.

The role has a real password that the embedded server checks (a `scram-sha-256` line for it in
pg_hba.conf), so a masked copy of the DSN handed to a DDP rank cannot log in.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from featuretable import make_feature_table
from psycopg import sql

from desivoid_ml.db.connection import Database, Namespace

ROOT = Path(__file__).resolve().parents[1]
ROLE = "desivoid_password_roads"
PASSWORD = "Tail9 roads'Pw42"  # a space and a quote: the keyword form must quote and escape it
PIECES = [b"Tail9", b"Pw42"]  # any of them anywhere is a leak
SHORT_TRAIN = [
    "~data.features",
    "+data.features={a:a,b:b,c:c}",
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "callbacks.early_stopping=null",
    "data.block_pages=16",
    "data.batch_size=512",
]


def _socket_dir(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        return conn.info.host


def _require_password(dsn: str) -> bool:
    """Make the embedded server check this role's password (a line of its own before the
    `trust` ones); False where pg_hba.conf is not ours to edit (a DESIVOID_DSN server)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
        if not os.access(hba, os.W_OK):
            return False
        lines = hba.read_text().splitlines(keepends=True)
        if not any(ROLE in line for line in lines):
            first = next(i for i, line in enumerate(lines) if line.strip() and line[0] != "#")
            lines.insert(first, f"local all {ROLE} scram-sha-256\n")
            with hba.open("r+") as handle:  # in place: the file keeps its owner
                handle.write("".join(lines))
                handle.truncate()
            conn.execute("SELECT pg_reload_conf()")
            time.sleep(0.2)
    return True


@pytest.fixture(scope="module")
def roads(module_db: Database) -> Iterator[dict[str, object]]:
    """The feature table (with a sky position for the finder), the role, and its DSNs."""
    make_feature_table(module_db, rows=4000)
    with module_db.connect() as conn:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD ra float8 DEFAULT 150, ADD dec float8 DEFAULT 2").format(
                sql.Identifier(module_db.ns.features, "galaxy")
            )
        )
    with psycopg.connect(module_db.dsn, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER").format(sql.Identifier(ROLE)))
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(PASSWORD))
        )
    checked = _require_password(module_db.dsn)
    host = _socket_dir(module_db.dsn)
    escaped = PASSWORD.replace("\\", "\\\\").replace("'", "\\'")
    url = f"postgresql://{ROLE}:{quote(PASSWORD, safe='')}@/postgres?host={quote(host)}"
    keywords = f"host={host} user={ROLE} password='{escaped}' dbname=postgres"
    if checked:  # the server really checks: a wrong password is refused
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(url.replace("Pw42", "Pw43"), connect_timeout=5).close()
    yield {"db": module_db, "url": url, "keywords": keywords}
    with psycopg.connect(module_db.dsn, autocommit=True) as conn:  # what it made stays, owned
        owner = conn.execute("SELECT current_user").fetchone()[0]
        conn.execute(
            sql.SQL("REASSIGN OWNED BY {} TO {}").format(
                sql.Identifier(ROLE), sql.Identifier(owner)
            )
        )
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(ROLE)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(ROLE)))


def _env(home: Path, dsn: str | None = None, namespace: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DESIVOID_DSN", "PGPASSWORD")}
    env.update(HOME=str(home), WANDB_MODE="offline", WANDB_SILENT="true")
    if dsn:
        env["DESIVOID_DSN"] = dsn
    if namespace is not None:
        env["DESIVOID_NAMESPACE"] = namespace
    return env


def _leaks(texts: list[str], folder: Path) -> list[str]:
    """Where a piece of the password shows: an output (by index) or a file under `folder`."""
    found = [f"output {i}" for i, text in enumerate(texts) if _has_piece(text.encode())]
    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    return found + [str(p) for p in files if _has_piece(p.read_bytes())]


def _has_piece(data: bytes) -> bool:
    return any(piece in data for piece in PIECES)


def _train(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 400):
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _cli(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 300):
    return subprocess.run(
        [sys.executable, "-m", "desivoid_ml.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def ddp_run(roads, tmp_path_factory):
    """One DDP training (2 CPU ranks) with the password DSN on the command line."""
    db: Database = roads["db"]
    out = tmp_path_factory.mktemp("ddp")
    done = _train(
        [
            f"db.dsn='{roads['url']}'",
            f"db.namespace={db.ns.prefix}",
            *SHORT_TRAIN,
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            "logger=[csv,tensorboard,wandb]",
            f"paths.log_dir={out}",
        ],
        cwd=out,
        env=_env(out / "home"),
    )
    return done, out


def test_ddp_training_with_the_password_on_the_command_line(roads, ddp_run) -> None:
    done, out = ddp_run
    # before: rank 1 re-ran a masked argv, could not log in, and the job died
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert any(p.suffix == ".ckpt" for p in out.rglob("*"))
    assert any("wandb" in str(p) for p in out.rglob("*"))
    assert _leaks([done.stdout, done.stderr], out) == []
    db: Database = roads["db"]
    with db.connect() as conn:
        rows = conn.execute(
            sql.SQL("SELECT r::text FROM {} r").format(sql.Identifier(db.ns.ml, "runs"))
        ).fetchall()
    assert len(rows) == 1 and not _has_piece(rows[0][0].encode()) and "***" in rows[0][0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_embed_and_serve_with_the_password_in_desivoid_dsn(roads, ddp_run, tmp_path) -> None:
    assert ddp_run[0].returncode == 0  # embed needs the trained run
    db: Database = roads["db"]
    env = _env(tmp_path / "home", roads["keywords"], db.ns.prefix)
    embedded = _cli(["embed", "--run", "latest"], env, tmp_path)
    assert embedded.returncode == 0, embedded.stderr[-3000:]
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "desivoid_ml.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base, status = f"http://127.0.0.1:{port}", None
        for _ in range(300):
            if server.poll() is not None:
                break
            try:
                status = _get(f"{base}/")
                break
            except OSError:
                time.sleep(0.2)
        assert server.poll() is None, server.stderr.read()
        assert status == 200
        for path in ["/runs", "/api/runs", "/api/similar?targetid=5&k=3", "/galaxy/5"]:
            assert _get(base + path) < 500, path
    finally:
        server.send_signal(signal.SIGINT)
        served = server.communicate(timeout=60)
    outputs = [embedded.stdout, embedded.stderr, *served]
    assert _leaks(outputs, tmp_path) == []


@pytest.mark.parametrize(
    "where",
    [
        "command line",  # Hydra's launcher line printed the db.dsn override
        pytest.param("DESIVOID_DSN", marks=pytest.mark.slow),  # the sweeper's Storage: line
    ],
)
def test_a_sweep_writes_the_password_nowhere(roads, tmp_path, where) -> None:
    db: Database = roads["db"]
    on_command_line = where == "command line"
    dsn_args = [f"db.dsn='{roads['url']}'"] if on_command_line else []
    env = _env(tmp_path / "home", None if on_command_line else roads["url"])
    done = _train(
        [
            "-m",
            "hparams_search=optuna",
            "experiment=ae16",
            "hydra.sweeper.n_trials=1",
            *dsn_args,
            f"db.namespace={db.ns.prefix}",
            *SHORT_TRAIN,
            f"paths.log_dir={tmp_path}",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "Launching 1 jobs locally" in done.stdout + done.stderr
    assert _leaks([done.stdout, done.stderr], tmp_path) == []


def test_a_failing_connect_is_one_masked_line(roads, tmp_path) -> None:
    db: Database = roads["db"]
    wrong_url = roads["url"].replace("Pw42", "Pw42x")
    unterminated = roads["keywords"].replace("' dbname=postgres", " dbname=postgres")
    failures = [
        _cli(["runs"], _env(tmp_path / "home", dsn, db.ns.prefix), tmp_path)
        for dsn in (wrong_url, unterminated, roads["keywords"].replace("Pw42", "Pw99"))
    ]
    failures.append(
        _train(
            [f"db.dsn='{wrong_url}'", f"db.namespace={db.ns.prefix}", *SHORT_TRAIN],
            cwd=tmp_path,
            env=_env(tmp_path / "home"),
        )
    )
    for done in failures:
        assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-3000:]
        lines = done.stderr.strip().splitlines()
        errors = [line for line in lines if line.startswith("error: ")]
        assert len(errors) == 1 and lines[-1] == errors[0], done.stderr[-3000:]
    assert all(len(d.stderr.strip().splitlines()) == 1 for d in failures[:3])  # the CLI's
    assert "check the DSN" in failures[3].stderr  # given on the command line, not in the env
    assert _leaks([t for d in failures for t in (d.stdout, d.stderr)], tmp_path) == []


def test_both_dsn_forms_log_in_as_the_role(roads) -> None:
    db: Database = roads["db"]
    for dsn in (roads["url"], roads["keywords"]):
        with Database(dsn, Namespace(db.ns.prefix)).connect() as conn:
            assert conn.execute("SELECT current_user").fetchone()[0] == ROLE
