"""No secrets at rest: a DSN's password never reaches a checkpoint, a table, a log or a logger."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from featuretable import make_feature_table
from psycopg import sql

from desivoid_ml.db.connection import connect
from desivoid_ml.errors import DatabaseUnavailable
from desivoid_ml.secrets import redact_config, redact_error, redact_text

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Hunter2-not-for-disk"


def test_redact_text_masks_url_and_keyword_passwords() -> None:
    assert redact_text("postgresql://ann:pw@db.example/x") == "postgresql://ann:***@db.example/x"
    assert redact_text("host=h password=pw dbname=x") == "host=h password=*** dbname=x"
    assert redact_text("postgresql://ann@db.example/x") == "postgresql://ann@db.example/x"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("host=h sslpassword=Tail9 dbname=x", "host=h sslpassword=*** dbname=x"),
        ("PGPASSWORD=Tail9 psql -h h", "PGPASSWORD=*** psql -h h"),
        (r"host=h password='ab\'cd Tail9' dbname=x", "host=h password=*** dbname=x"),
        ('password = "a b\\" Tail9" x', "password = *** x"),
        ("password='unterminated Tail9", "password=***"),
        ("db.password=Tail9", "db.password=***"),
        ("postgresql+psycopg2://u:Tail9@h:5432/d?x=1", "postgresql+psycopg2://u:***@h:5432/d?x=1"),
        ("passwordless login; nopassword here", "passwordless login; nopassword here"),
    ],
)
def test_one_masking_function_covers_every_form(text: str, masked: str) -> None:
    assert redact_text(text) == masked
    assert "Tail9" not in redact_text(text)


@pytest.mark.parametrize(
    "dsn",
    [
        "host=/nonexistent password=ab Tail9 dbname=x",  # libpq quotes "Tail9" alone
        "host=/nonexistent password=Tail9 Tail8' dbname=x",
        r"host=/nonexistent password='ab\'cd Tail9",  # unterminated
        "postgresql://u:Tail9@/x?host=/nonexistent",
    ],
)
def test_a_failing_connect_is_one_masked_line_without_a_chained_cause(dsn: str) -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        connect(dsn)
    text = "".join(traceback.format_exception(caught.value))
    assert "Tail9" not in text and "Tail8" not in text, text
    assert "\n" not in str(caught.value) and caught.value.__cause__ is None
    assert redact_error('missing "=" after "Tail9" in x', dsn) == 'missing "=" after "***" in x'


def test_redact_config_masks_secret_keys_and_nested_dsns() -> None:
    config = {
        "db": {"dsn": "postgresql://u:pw@h/d", "namespace": "x"},
        "env": [{"PGPASSWORD": "pw"}, {"WANDB_API_KEY": "k"}],
        "seed": 3,
    }
    assert redact_config(config) == {
        "db": {"dsn": "postgresql://u:***@h/d", "namespace": "x"},
        "env": [{"PGPASSWORD": "***"}, {"WANDB_API_KEY": "***"}],
        "seed": 3,
    }


def _with_password(dsn: str) -> str:
    assert "postgres:@" in dsn  # the embedded server trusts local sockets: any password works
    return dsn.replace("postgres:@", f"postgres:{PASSWORD}@")


def test_a_training_run_writes_the_password_nowhere(db, tmp_path) -> None:
    make_feature_table(db, rows=3000)
    secret_db = dataclasses.replace(db, dsn=_with_password(db.dsn))
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            f"db.dsn='{secret_db.dsn}'",
            f"db.namespace={db.ns.prefix}",
            "~data.features",
            "+data.features={a:a,b:b,c:c}",
            "logger=[csv,tensorboard,wandb]",
            "trainer.max_epochs=2",
            "trainer.enable_progress_bar=false",
            f"paths.log_dir={tmp_path}",
            "data.block_pages=16",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"WANDB_MODE": "offline", "WANDB_SILENT": "true", "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert PASSWORD not in run.stdout + run.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".ckpt" for p in written) and any("wandb" in str(p) for p in written)
    leaked = [str(p) for p in written if PASSWORD.encode() in p.read_bytes()]
    assert leaked == []
    with db.connect() as conn:
        rows = conn.execute(
            sql.SQL("SELECT r::text FROM {} r").format(sql.Identifier(db.ns.ml, "runs"))
        ).fetchall()
    assert len(rows) == 1 and PASSWORD not in rows[0][0] and "***" in rows[0][0]
