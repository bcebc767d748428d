"""DDL for loaded tables: create or extend to fit incoming columns, keys and ANALYZE after loads."""

from __future__ import annotations

import psycopg
from psycopg import sql

from desivoid_ml.db.connection import set_setting
from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.db.copy_in import column_definitions, create_table
from desivoid_ml.db.introspect import qualified_name, table_columns
from desivoid_ml.errors import IngestError, SchemaMismatch

FILE_ID = CopyColumn("file_id", "integer")
SCHEMA_TABLES = frozenset({"void_catalogs", "vf_masks"})  # raw tables the migrations create


def ensure_table(
    conn: psycopg.Connection,
    schema: str,
    table: str,
    columns: list[CopyColumn],
    allow_new_columns: bool,
) -> None:
    """Create the table, or check it fits `columns` (adding missing ones where allowed)."""
    existing = table_columns(conn, schema, table)
    target = sql.Identifier(schema, table)
    if not existing:
        create_table(conn, target, columns)
        return
    missing = [c for c in columns if c.name not in existing]
    if missing and not allow_new_columns:
        names = ", ".join(c.name for c in missing[:5])
        raise SchemaMismatch(
            f"{schema}.{table} exists without columns {names} ({len(missing)} in all): it was made "
            "from a different column selection; drop it or ingest with the same configuration"
        )
    for column in columns:
        if column.name in existing and existing[column.name] != column.format_type:
            raise SchemaMismatch(
                f"{schema}.{table}.{column.name} is {existing[column.name]} in the database but "
                f"{column.format_type} in the file; drop the table or rename the column"
            )
    for column in missing:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN {}").format(target, column_definitions([column]))
        )


def add_primary_key(conn: psycopg.Connection, schema: str, table: str, key: list[str]) -> bool:
    """Add the primary key if missing; a duplicate key is a clear error. True if added."""
    exists = conn.execute(
        "SELECT 1 FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
        (qualified_name(schema, table),),
    ).fetchone()
    if exists:
        return False
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                    sql.Identifier(schema, table), sql.SQL(", ").join(map(sql.Identifier, key))
                )
            )
    except psycopg.errors.UniqueViolation as exc:
        example = exc.diag.message_detail or ""
        raise IngestError(
            f"{schema}.{table} has duplicate keys ({', '.join(key)}): {example} The same rows "
            "came from two files; remove one file's rows (see meta.source_files) and re-run"
        ) from exc
    return True


def add_index(conn: psycopg.Connection, schema: str, table: str, columns: list[str]) -> None:
    """A btree index on `columns` if there is none of that name yet."""
    name = f"{table}_{'_'.join(columns)}_idx"[:63]
    conn.execute(
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
            sql.Identifier(name),
            sql.Identifier(schema, table),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
        )
    )


# ANALYZE samples 300 x target rows and sorts each column's sample: on the 200-column
# raw.galaxies that is ~17 ms a column at the default target (100). Raw tables are read in bulk
# (the feature build scans them whole), so a coarser sample is enough and 3x cheaper.
RAW_STATISTICS_TARGET = 30


def analyze(conn: psycopg.Connection, schema: str, table: str) -> None:
    """ANALYZE with the raw-table statistics target (a session setting, reset afterwards)."""
    set_setting(conn, "default_statistics_target", RAW_STATISTICS_TARGET)
    try:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, table)))
    finally:
        conn.execute("RESET default_statistics_target")
