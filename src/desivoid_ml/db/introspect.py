"""What the database holds right now: a table's columns and types, whether a table exists."""

from __future__ import annotations

import psycopg
from psycopg import sql


def qualified_name(schema: str, table: str) -> str:
    """`"schema"."table"`, quoted as PostgreSQL wants it, e.g. for `to_regclass(%s)`."""
    return sql.Identifier(schema, table).as_string(None)


def relation_exists(conn: psycopg.Connection, schema: str, name: str) -> bool:
    """A table, index or view of that name exists in the schema."""
    found = conn.execute("SELECT to_regclass(%s)", (qualified_name(schema, name),)).fetchone()
    return found[0] is not None


def table_columns(conn: psycopg.Connection, schema: str, table: str) -> dict[str, str]:
    """Column name -> SQL type (as format_type prints it), in column order; {} if no table."""
    rows = conn.execute(
        """SELECT a.attname, format_type(a.atttypid, NULL)
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
           ORDER BY a.attnum""",
        (schema, table),
    ).fetchall()
    return dict(rows)
