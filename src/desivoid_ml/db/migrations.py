"""Versioned SQL migrations, applied once each and recorded in `meta.schema_migrations`.

Each file is a psycopg `sql.SQL` template, rendered like every other statement of the project:
`{raw}`, `{features}`, `{ml}` and `{meta}` become the namespace's quoted schema names. Braces
are therefore placeholders only; write an empty JSON object as `jsonb_build_object()`.
"""

from __future__ import annotations

import re
from importlib import resources

import psycopg
from psycopg import sql

from desivoid_ml.db.connection import Namespace
from desivoid_ml.errors import DesivoidError

# One key for every namespace: CREATE EXTENSION is database-wide and races between processes.
MIGRATION_LOCK_KEY = 0x6465_7369  # "desi"


def available() -> list[tuple[int, str, str]]:
    """(version, name, sql text) of the bundled migrations, in order."""
    found = []
    for entry in resources.files("desivoid_ml.db.sql").iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text()))
    return sorted(found)


def migrate(conn: psycopg.Connection, ns: Namespace) -> list[int]:
    """Apply the migrations this namespace lacks; return the versions applied."""
    names = {f"{key}": sql.Identifier(value) for key, value in _schema_names(ns).items()}
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(names["meta"]))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(names["meta"])
        )
        done = {
            row[0]
            for row in conn.execute(
                sql.SQL("SELECT version FROM {}.schema_migrations").format(names["meta"])
            )
        }
        pending = [m for m in available() if m[0] not in done]
        if pending:
            require_vector_available(conn)
        for version, name, text in pending:
            conn.execute(sql.SQL(text).format(**names))
            conn.execute(
                sql.SQL("INSERT INTO {}.schema_migrations (version, name) VALUES (%s, %s)").format(
                    names["meta"]
                ),
                (version, name),
            )
            applied.append(version)
    return applied


def _schema_names(ns: Namespace) -> dict[str, str]:
    return {"meta": ns.meta, "raw": ns.raw, "features": ns.features, "ml": ns.ml}


def require_vector_available(conn: psycopg.Connection) -> None:
    """pgvector must be installable on this server: say so plainly when it is not."""
    row = conn.execute(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"
    ).fetchone()
    if not row[0]:
        raise DesivoidError(
            "this PostgreSQL server has no pgvector extension; install pgvector "
            "(https://github.com/pgvector/pgvector) or unset DESIVOID_DSN to use the embedded "
            "server"
        )


def require_vector_installed(conn: psycopg.Connection) -> None:
    """The current database must have the vector extension created."""
    if not conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'vector'").fetchone()[0]:
        require_vector_available(conn)
        raise DesivoidError(
            "the vector extension is not created in this database; run "
            "`desivoid db start` (it applies the migrations) or CREATE EXTENSION vector"
        )
