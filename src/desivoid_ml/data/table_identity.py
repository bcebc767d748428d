"""Which table a stream reads: its OID and file node, recorded when training starts and checked
at every block, so that a rewrite (`desivoid features`, VACUUM FULL, TRUNCATE and reload) in the
middle of an epoch stops training instead of repeating or skipping rows.

A stream reads by heap page ranges, which only mean the same rows while the table's storage is
the same: a rewritten table gets a new file node (and, when dropped and created again, a new
OID). Each block is read in one transaction that first takes the table's ACCESS SHARE lock, so
no rewrite can come between the check and the read.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from desivoid_ml.db.introspect import qualified_name
from desivoid_ml.errors import TableRewritten


@dataclass(frozen=True)
class TableIdentity:
    """A table's OID and the file node its rows are stored in."""

    oid: int
    filenode: int


def table_identity(conn: psycopg.Connection, schema: str, table: str) -> TableIdentity | None:
    """The table's identity now; None when it does not exist."""
    row = conn.execute(
        "SELECT oid, pg_relation_filenode(oid) FROM pg_class WHERE oid = to_regclass(%s)",
        (qualified_name(schema, table),),
    ).fetchone()
    return TableIdentity(int(row[0]), int(row[1])) if row else None


def lock_unchanged(
    conn: psycopg.Connection, schema: str, table: str, expected: TableIdentity
) -> None:
    """Inside a transaction: hold the table against rewrites until it ends, and check it is
    still the table `expected` describes; TableRewritten otherwise."""
    try:
        conn.execute(
            sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(sql.Identifier(schema, table))
        )
    except psycopg.errors.UndefinedTable:
        raise TableRewritten(_message(schema, table, "was dropped")) from None
    if table_identity(conn, schema, table) != expected:
        raise TableRewritten(_message(schema, table, "was rewritten"))


def _message(schema: str, table: str, what: str) -> str:
    return (
        f"{schema}.{table} {what} while it was being streamed (`desivoid features` rebuilds it): "
        "stopped so that no row is read twice or missed"
    )


def hold(conn: psycopg.Connection, schema: str, table: str) -> TableIdentity:
    """Inside a transaction: lock the table against rewrites and return its identity (what the
    rest of the transaction, e.g. a row count, describes)."""
    conn.execute(
        sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(sql.Identifier(schema, table))
    )
    identity = table_identity(conn, schema, table)
    assert identity is not None  # locked, so it exists
    return identity
