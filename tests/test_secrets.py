"""No secrets at rest: one masking function for every form a password takes, and connect errors
masked (every road a password travels: test_password_roads.py)."""

from __future__ import annotations

import io
import logging
import sys
import traceback

import pytest

from desivoid_ml.db.connection import connect
from desivoid_ml.errors import DatabaseUnavailable
from desivoid_ml.secrets import (
    RedactingFilter,
    masked_argv,
    redact_config,
    redact_error,
    redact_text,
)


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
        # a keyword DSN inside a quoted Hydra override: the value is quoted one layer deeper
        (
            r"db.dsn='host=h password=\'ab\\\'cd Tail9\' port=1'",
            "db.dsn='host=h password=*** port=1'",
        ),
        (r"db.dsn='host=h password=\'ab Tail9", "db.dsn='host=h password=***"),
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


def test_argv_is_masked_only_inside_the_block(monkeypatch) -> None:
    real = ["train.py", "db.dsn='postgresql://u:Tail9@h/d'"]
    monkeypatch.setattr(sys, "argv", list(real))
    with masked_argv():
        assert sys.argv == ["train.py", "db.dsn='postgresql://u:***@h/d'"]
    assert sys.argv == real  # what Lightning's DDP launcher re-runs


def test_the_logging_filter_masks_message_arguments_and_traceback() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("test_secrets.filter")
    log.addHandler(handler)
    try:
        log.warning("#0 : %s", "db.dsn='host=h password=Tail9'")
        try:
            raise RuntimeError("cannot use postgresql://u:Tail9@h/d")
        except RuntimeError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert "Tail9" not in text and "#0 : db.dsn='host=h password=***" in text
    assert "RuntimeError: cannot use postgresql://u:***@h/d" in text
