"""Connections: DESIVOID_DSN when set, else the embedded server; schema names per namespace."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import psycopg
from psycopg import sql

from desivoid_ml.errors import DatabaseUnavailable, first_line
from desivoid_ml.secrets import redact_error
from desivoid_ml.settings import data_dir

DSN_ENV = "DESIVOID_DSN"
NAMESPACE_ENV = "DESIVOID_NAMESPACE"
CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class Namespace:
    """Schema names; tests use a unique prefix so each runs in schemas of its own."""

    prefix: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_]*", self.prefix):
            raise ValueError(
                f"namespace prefix must be lowercase letters, digits, _: {self.prefix!r}"
            )

    @property
    def meta(self) -> str:
        return f"{self.prefix}meta"

    @property
    def raw(self) -> str:
        return f"{self.prefix}raw"

    @property
    def features(self) -> str:
        return f"{self.prefix}features"

    @property
    def ml(self) -> str:
        return f"{self.prefix}ml"

    @property
    def optuna(self) -> str:
        """Where Optuna keeps its studies (sweeps.py); dropped with the namespace."""
        return f"{self.prefix}optuna"

    def all(self) -> list[str]:
        return [self.meta, self.raw, self.features, self.ml]


@dataclass(frozen=True)
class Database:
    """A server DSN plus the namespace whose schemas this process works in."""

    dsn: str
    ns: Namespace = Namespace()

    def connect(self, autocommit: bool = False) -> psycopg.Connection:
        """Open a connection, turning connection failures into one clear line."""
        return connect(self.dsn, autocommit=autocommit)


def connect(dsn: str, autocommit: bool = False) -> psycopg.Connection:
    """psycopg.connect with a short timeout and an actionable error. Any failure, a malformed
    DSN included, becomes one line with the password masked; the original exception is not
    chained, since its text and traceback would show the DSN in clear."""
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        reason = redact_error(first_line(exc, last=True), dsn)
        problem = "cannot connect to" if isinstance(exc, psycopg.OperationalError) else "bad DSN"
        message = f"{problem} {redact_error(dsn, dsn)}: {reason}; {_connect_hint(dsn)}"
    raise DatabaseUnavailable(message)


def _connect_hint(dsn: str) -> str:
    if os.environ.get(DSN_ENV) == dsn:
        return f"check {DSN_ENV} or unset it to use the embedded server"
    if str(data_dir() / "pg") in dsn:
        return "run `desivoid db start` or check data/pg/log"
    return "check the DSN (db.dsn) and that its server is up"


def set_setting(conn: psycopg.Connection, name: str, value: object, local: bool = False) -> None:
    """SET name = value for this session (or, with `local`, this transaction)."""
    conn.execute("SELECT set_config(%s, %s, %s)", (name, str(value), local))


def resolve_dsn(start_embedded: bool = True) -> str:
    """DESIVOID_DSN if set (never starting anything), else the embedded server's DSN."""
    dsn = os.environ.get(DSN_ENV)
    if dsn:
        return dsn
    from desivoid_ml.db import embedded

    if start_embedded:
        return embedded.start()
    state = embedded.status()
    if not state.running or state.uri is None:
        raise DatabaseUnavailable("the embedded database is not running; run `desivoid db start`")
    return state.uri


def open_database(prefix: str | None = None, migrate: bool = True) -> Database:
    """Resolve the server, check it answers, and bring the schema up to date. The schema-name
    prefix defaults to DESIVOID_NAMESPACE (empty: schemas raw, features, ml, meta)."""
    if prefix is None:
        prefix = os.environ.get(NAMESPACE_ENV, "")
    db = Database(resolve_dsn(), Namespace(prefix))
    if migrate:
        from desivoid_ml.db.migrations import migrate as apply_migrations

        with db.connect() as conn:
            apply_migrations(conn, db.ns)
    return db


def drop_namespace(db: Database) -> None:
    """Drop every schema of the namespace (tests clean up with this)."""
    with db.connect(autocommit=True) as conn:
        for schema in [*db.ns.all(), db.ns.optuna]:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
