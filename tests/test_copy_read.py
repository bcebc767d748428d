"""Binary COPY TO decoded by numpy returns exactly what the server holds."""

from __future__ import annotations

import numpy as np
import pytest
from psycopg import sql

from desivoid_ml.db.copy_read import iter_copy_blocks, read_copy
from desivoid_ml.errors import DesivoidError

FIELDS = [
    ("id", "bigint"),
    ("n", "integer"),
    ("x", "real"),
    ("y", "double precision"),
    ("flag", "boolean"),
    ("program", "char(8)"),
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
        sizes = [len(b) for b in iter_copy_blocks(conn, query, FIELDS, rows_per_block=4096)]
    assert sum(sizes) == 50_000 and max(sizes) < 3 * 4096


def test_null_is_a_clear_error(db) -> None:
    with db.connect() as conn, pytest.raises(DesivoidError, match="NULL"):
        read_copy(conn, sql.SQL("SELECT NULL::bigint AS id UNION ALL SELECT 2"), [("id", "bigint")])
