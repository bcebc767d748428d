"""Writing tables by binary COPY: one way to create a table from its columns, one COPY lifecycle.

`copy_in` owns the statement, the signature header and the trailer; callers only hand it
encoded chunks (`RowEncoder.encode`). Leaving the block on an exception aborts the COPY on the
server, so nothing half-written is ever committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import sql

from desivoid_ml.db.copy_format import HEADER, TRAILER, CopyColumn


def column_definitions(columns: Sequence[CopyColumn]) -> sql.Composable:
    """`"name" type, ...` for CREATE TABLE, from the same columns the COPY encodes."""
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.sql_type)) for c in columns
    )


def create_table(
    conn: psycopg.Connection,
    table: sql.Composable,
    columns: Sequence[CopyColumn],
    primary_key: Sequence[str] = (),
    temporary: bool = False,
) -> None:
    """CREATE TABLE with these columns (a temporary table is dropped at commit)."""
    parts = [column_definitions(columns)]
    if primary_key:
        keys = sql.SQL(", ").join(map(sql.Identifier, primary_key))
        parts.append(sql.SQL("PRIMARY KEY ({})").format(keys))
    statement = "CREATE TEMP TABLE {} ({}) ON COMMIT DROP" if temporary else "CREATE TABLE {} ({})"
    conn.execute(sql.SQL(statement).format(table, sql.SQL(", ").join(parts)))


@contextmanager
def copy_in(
    conn: psycopg.Connection, table: sql.Composable, columns: Sequence[CopyColumn]
) -> Iterator[Callable[[bytes | memoryview], object]]:
    """Binary COPY into `table` (these columns, in this order); yields `send(encoded_chunk)`."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        table, sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    )
    with conn.cursor().copy(statement) as copy:
        copy.write(HEADER)
        yield copy.write
        copy.write(TRAILER)
