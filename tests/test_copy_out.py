"""Binary COPY TO decoded by numpy returns exactly what the server holds, and a table written
with one column list reads back unchanged with the same list."""

from __future__ import annotations

import numpy as np
import pytest
from psycopg import sql

from desivoid_ml.db.copy_binary import RowEncoder
from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.db.copy_in import copy_in, create_table
from desivoid_ml.db.copy_out import copy_out, read_copy
from desivoid_ml.errors import DesivoidError

FIELDS = [
    CopyColumn("id", "bigint"),
    CopyColumn("n", "integer"),
    CopyColumn("x", "real"),
    CopyColumn("y", "double precision"),
    CopyColumn("flag", "boolean"),
    CopyColumn.text("program", 8),
]


def _table(conn, db, rows: int) -> sql.Composable:
    table = sql.Identifier(db.ns.raw, "t")
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} AS SELECT g::bigint * 1000003 AS id, (g %% 7)::int AS n, "
            "(g / 3.0)::real AS x, sqrt(g)::float8 AS y, g %% 2 = 0 AS flag, "
            "CASE WHEN g %% 3 = 0 THEN 'dark' ELSE 'bright' END AS program "
            "FROM generate_series(1, %s) g"
        ).format(table),
        (rows,),
    )
    return sql.SQL("SELECT id, n, x, y, flag, program::char(8) FROM {} ORDER BY id").format(table)


def test_decoded_values_equal_the_server_rows(db) -> None:
    with db.connect() as conn:
        query = _table(conn, db, 200_003)
        arrays = read_copy(conn, query, FIELDS)
        rows = conn.execute(query).fetchall()
    assert len(arrays) == len(rows) == 200_003
    assert arrays["id"].tolist() == [r[0] for r in rows]
    assert arrays["n"].tolist() == [r[1] for r in rows]
    assert np.array_equal(arrays["x"], np.array([r[2] for r in rows], dtype=np.float32))
    assert arrays["y"].tolist() == [r[3] for r in rows]
    assert arrays["flag"].astype(bool).tolist() == [r[4] for r in rows]
    assert [p.decode().rstrip() for p in arrays["program"][:4]] == [r[5].rstrip() for r in rows[:4]]


def test_blocks_are_bounded(db) -> None:
    with db.connect() as conn:
        query = _table(conn, db, 50_000)
        sizes = [len(b) for b in copy_out(conn, query, FIELDS, rows_per_block=4096)]
    assert sum(sizes) == 50_000 and max(sizes) < 3 * 4096


def test_null_is_a_clear_error(db) -> None:
    with db.connect() as conn, pytest.raises(DesivoidError, match="NULL"):
        query = sql.SQL("SELECT NULL::bigint AS id UNION ALL SELECT 2")
        read_copy(conn, query, [CopyColumn("id", "bigint")])


def test_one_column_list_writes_and_reads_back(db) -> None:
    columns = [
        CopyColumn("id", "bigint"),
        CopyColumn("a", "real"),
        CopyColumn("b", "real"),
        CopyColumn.text("survey", 4),
        CopyColumn("small", "smallint"),
        CopyColumn.vector("code", 3),
        CopyColumn("z", "double precision"),
    ]
    rng = np.random.default_rng(3)
    n = 5000
    values = [
        np.arange(n, dtype=np.int64) * 7,
        rng.normal(size=n).astype(np.float32),
        rng.normal(size=n).astype(np.float32),
        np.where(np.arange(n) % 2 == 0, "main", "sv1").astype("U4"),
        (np.arange(n) % 300).astype(np.int16),
        rng.normal(size=(n, 3)).astype(np.float32),
        rng.normal(size=n),
    ]
    table = sql.Identifier(db.ns.raw, "round_trip")
    with db.connect() as conn:
        create_table(conn, table, columns)
        with copy_in(conn, table, columns) as send:
            send(RowEncoder(columns).encode(values))
        names = sql.SQL(", ").join(
            sql.SQL("{}::char(4)" if c.is_text else "{}").format(sql.Identifier(c.name))
            for c in columns
        )
        query = sql.SQL("SELECT {} FROM {} ORDER BY id").format(names, table)
        back = read_copy(conn, query, columns)
    for column, sent in zip(columns, values, strict=True):
        got = back[column.name]
        if column.is_text:
            got = np.char.rstrip(np.char.decode(got, "utf-8"))
        assert np.array_equal(got, sent), column.name


def test_types_as_postgres_prints_them() -> None:
    assert CopyColumn.from_sql_type("e", "vector(16)") == CopyColumn.vector("e", 16)
    assert CopyColumn.from_sql_type("s", "text", 9).wire_dtype == np.dtype("S9")
    assert CopyColumn.from_sql_type("x", "double precision").native_dtype == np.float64
    with pytest.raises(ValueError, match="unsupported"):
        CopyColumn.from_sql_type("j", "jsonb")
