"""Read query results as numpy arrays through `COPY (SELECT ...) TO STDOUT (FORMAT BINARY)`.

When every selected column has a fixed width, every tuple has the same size and a whole block of
the stream decodes with one `np.frombuffer`: no per-row Python. Text becomes fixed width when the
query casts it to `char(n)` (values shorter than n are space-padded by PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import psycopg
from psycopg import sql

from desivoid_ml.db.copy_binary import HEADER, SCALAR_TYPES
from desivoid_ml.errors import DesivoidError

TRAILER_BYTES = 2


def tuple_dtype(fields: Sequence[tuple[str, str]]) -> np.dtype:
    """Structured dtype of one tuple; a field type is a scalar name or `char(n)`."""
    layout: list[tuple] = [("_count", ">i2")]
    for name, pg_type in fields:
        layout.append((f"_len_{name}", ">i4"))
        if pg_type.startswith("char("):
            layout.append((name, f"S{int(pg_type[5:-1])}"))
        elif pg_type.startswith("vector("):  # pgvector: int16 dim, int16 unused, float4 values
            dim = int(pg_type[7:-1])
            layout.append((name, [("dim", ">i2"), ("unused", ">i2"), ("values", ">f4", (dim,))]))
        else:
            layout.append((name, SCALAR_TYPES[pg_type][1]))
    return np.dtype(layout)


def iter_copy_blocks(
    conn: psycopg.Connection,
    query: sql.Composable,
    fields: Sequence[tuple[str, str]],
    rows_per_block: int = 65_536,
) -> Iterator[np.ndarray]:
    """Decoded blocks of about `rows_per_block` tuples, in query order."""
    dtype = tuple_dtype(fields)
    block_bytes = dtype.itemsize * rows_per_block
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT BINARY)").format(query)
    pending = bytearray()
    header_left = len(HEADER)
    with conn.cursor().copy(statement) as copy:
        for data in copy:
            pending += data
            if header_left:
                if len(pending) < header_left:
                    continue
                del pending[:header_left]
                header_left = 0
            if len(pending) >= block_bytes:
                whole = len(pending) // dtype.itemsize * dtype.itemsize
                yield _decode(pending[:whole], dtype, fields)
                del pending[:whole]
    tail = bytes(pending[:-TRAILER_BYTES])
    if tail:
        yield _decode(tail, dtype, fields)


def read_copy(
    conn: psycopg.Connection, query: sql.Composable, fields: Sequence[tuple[str, str]]
) -> np.ndarray:
    """The whole result as one structured array (fields named as given)."""
    blocks = list(iter_copy_blocks(conn, query, fields))
    if not blocks:
        return np.zeros(0, dtype=_public_dtype(tuple_dtype(fields), fields))
    return np.concatenate(blocks)


def _decode(buffer: bytes | bytearray, dtype: np.dtype, fields) -> np.ndarray:
    if len(buffer) % dtype.itemsize:
        raise DesivoidError(
            "binary COPY stream does not divide into fixed-size tuples: a column "
            "is NULL or wider than declared; select it with COALESCE or char(n)"
        )
    records = np.frombuffer(buffer, dtype=dtype)
    out = np.empty(len(records), dtype=_public_dtype(dtype, fields))
    bad = records["_count"] != len(fields)
    for first, count in _runs(fields):
        bad |= _copy_run(records, out, fields, first, count)
    if bad.any():
        raise DesivoidError(
            f"binary COPY row {int(np.argmax(bad))} has a NULL or a value of "
            "unexpected width; select columns with COALESCE or cast text to char(n)"
        )
    return out


def _runs(fields) -> list[tuple[int, int]]:
    """(first, count) of consecutive fields of one scalar type: each run decodes in one copy."""
    runs: list[tuple[int, int]] = []
    for i, (_, pg_type) in enumerate(fields):
        groupable = not pg_type.startswith(("vector(", "char("))
        if runs and groupable and fields[runs[-1][0]][1] == pg_type and _ends_at(runs[-1], i):
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


def _ends_at(run: tuple[int, int], i: int) -> bool:
    return run[0] + run[1] == i


def _copy_run(records: np.ndarray, out: np.ndarray, fields, first: int, count: int) -> np.ndarray:
    """Copy `count` adjacent fields (byte-swapping to native order); return rows whose length
    words are wrong (a NULL or an unexpected width)."""
    name, pg_type = fields[first]
    value = records.dtype.fields[name][0]
    if pg_type.startswith("vector("):
        out[name] = records[name]["values"]
        return records[f"_len_{name}"] != value.itemsize
    wire = np.dtype([("n", ">i4"), ("v", value)])
    source = np.ndarray(
        (len(records), count),
        dtype=wire,
        buffer=records,
        offset=records.dtype.fields[f"_len_{name}"][1],
        strides=(records.dtype.itemsize, wire.itemsize),
    )
    target = np.ndarray(
        (len(out), count),
        dtype=out.dtype.fields[name][0],
        buffer=out,
        offset=out.dtype.fields[name][1],
        strides=(out.dtype.itemsize, value.itemsize),
    )
    target[...] = source["v"]
    return (source["n"] != value.itemsize).any(axis=1)


def _public_dtype(dtype: np.dtype, fields) -> np.dtype:
    """Native-endian dtype with only the value fields (a vector becomes float32 (dim,))."""
    public = []
    for name, pg_type in fields:
        if pg_type.startswith("vector("):
            public.append((name, np.float32, (int(pg_type[7:-1]),)))
        else:
            public.append((name, dtype.fields[name][0].newbyteorder("=")))
    return np.dtype(public)
