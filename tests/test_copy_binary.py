"""The numpy binary COPY encoder against psycopg's own binary COPY of the same rows."""

from __future__ import annotations

import numpy as np
import pytest
from psycopg import sql

from desivoid_ml.db.copy_binary import RowEncoder
from desivoid_ml.db.copy_format import HEADER, TRAILER, CopyColumn
from desivoid_ml.db.copy_in import create_table

COLUMNS = [
    CopyColumn("id", "bigint"),
    CopyColumn("small", "smallint"),
    CopyColumn("medium", "integer"),
    CopyColumn("flux", "real"),
    CopyColumn("z", "double precision"),
    CopyColumn("flag", "boolean"),
    CopyColumn("name", "text", text_width=12),
    CopyColumn("coeff", "real", shape=(5,)),
    CopyColumn("grid", "double precision", shape=(2, 3)),
]
PSYCOPG_NAMES = {
    "bigint": "int8",
    "smallint": "int2",
    "integer": "int4",
    "real": "float4",
    "double precision": "float8",
    "boolean": "bool",
    "text": "text",
}


def _values(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    names = np.array([f"gal{i}" + " é" * (i % 3) for i in range(n)], dtype="U16")
    flux = rng.normal(size=n).astype(">f4")
    flux[::7] = np.nan
    return [
        rng.integers(-(2**62), 2**62, n).astype(">i8"),
        rng.integers(-(2**15), 2**15, n).astype("<i2"),  # little-endian input must be swapped
        rng.integers(-(2**31), 2**31, n).astype(">i4"),
        flux,
        rng.normal(size=n),
        rng.random(n) < 0.5,
        names,
        rng.normal(size=(n, 5)).astype(">f4"),
        rng.normal(size=(n, 2, 3)),
    ]


def _create(conn, schema: str, table: str) -> None:
    create_table(conn, sql.Identifier(schema, table), COLUMNS)


def test_encoder_matches_psycopg_binary_copy(db) -> None:
    rng = np.random.default_rng(1)
    n = 500
    values = _values(n, rng)
    nulls = [None] * len(COLUMNS)
    nulls[3] = np.arange(n) % 5 == 0
    nulls[6] = np.arange(n) % 11 == 0
    nulls[7] = np.arange(n) % 13 == 0
    payload = RowEncoder(COLUMNS).encode(values, nulls)
    with db.connect() as conn:
        _create(conn, db.ns.raw, "ours")
        _create(conn, db.ns.raw, "theirs")
        with conn.cursor().copy(
            sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(sql.Identifier(db.ns.raw, "ours"))
        ) as copy:
            copy.write(HEADER + payload + TRAILER)
        with conn.cursor().copy(
            sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(
                sql.Identifier(db.ns.raw, "theirs")
            )
        ) as copy:
            copy.set_types([PSYCOPG_NAMES[c.pg_type] + "[]" * bool(c.shape) for c in COLUMNS])
            for row in range(n):
                copy.write_row(_python_row(values, nulls, row))
        ours = conn.execute(
            sql.SQL("SELECT * FROM {} ORDER BY id").format(sql.Identifier(db.ns.raw, "ours"))
        ).fetchall()
        theirs = conn.execute(
            sql.SQL("SELECT * FROM {} ORDER BY id").format(sql.Identifier(db.ns.raw, "theirs"))
        ).fetchall()
    assert len(ours) == n
    assert _normalise(ours) == _normalise(theirs)
    first = min(range(n), key=lambda r: values[0][r])
    assert ours[0][6] == (None if nulls[6][first] else values[6][first])


def _python_row(values, nulls, row: int) -> list:
    out = []
    for i, array in enumerate(values):
        if nulls[i] is not None and nulls[i][row]:
            out.append(None)
        elif array.ndim > 1:
            out.append(array[row].astype(array.dtype.newbyteorder("=")).tolist())
        else:
            out.append(array[row].item())
    return out


def _normalise(rows: list[tuple]) -> list[str]:
    """Compare with NaN == NaN by going through repr."""
    return [repr(row) for row in rows]


def test_empty_chunk_encodes_to_nothing() -> None:
    assert RowEncoder(COLUMNS).encode(_values(0, np.random.default_rng())) == b""


def test_text_wider_than_declared_is_refused() -> None:
    encoder = RowEncoder([CopyColumn("name", "text", text_width=3)])
    with pytest.raises(ValueError, match="width"):
        encoder.encode([np.array(["toolong"])])


def test_vectors_match_pgvector_text_input(db) -> None:
    vectors = np.random.default_rng(5).normal(size=(50, 16)).astype(np.float32)
    columns = [CopyColumn("id", "bigint"), CopyColumn("embedding", "vector", shape=(16,))]
    payload = RowEncoder(columns).encode([np.arange(50), vectors])
    with db.connect() as conn:
        table = sql.Identifier(db.ns.raw, "vectors")
        conn.execute(sql.SQL("CREATE TABLE {} (id bigint, embedding vector(16))").format(table))
        with conn.cursor().copy(
            sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(table)
        ) as copy:
            copy.write(HEADER + payload + TRAILER)
        text = conn.execute(sql.SQL("SELECT embedding::text FROM {} ORDER BY id").format(table))
        stored = np.array([[float(v) for v in row[0].strip("[]").split(",")] for row in text])
    assert np.array_equal(stored.astype(np.float32), vectors)
