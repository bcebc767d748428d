"""Reading query results as numpy arrays through `COPY (SELECT ...) TO STDOUT (FORMAT BINARY)`.

When every selected column has a fixed width, every tuple has the same size and a whole block of
the stream decodes with one `np.frombuffer`: no per-row Python. Columns are described by the same
`CopyColumn` the writer uses; text becomes fixed width when the query casts it to `char(n)` and
the column says `text_width=n` (PostgreSQL pads shorter values with spaces).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import psycopg
from psycopg import sql

from desivoid_ml.db.copy_format import HEADER, TRAILER, CopyColumn
from desivoid_ml.errors import DesivoidError


def tuple_dtype(columns: Sequence[CopyColumn]) -> np.dtype:
    """Structured dtype of one tuple on the wire."""
    layout: list[tuple] = [("_count", ">i2")]
    for column in columns:
        if column.shape and not column.is_vector:
            raise ValueError(f"column {column.name!r}: arrays cannot be read by copy_out")
        if column.is_text and column.text_width < 1:
            raise ValueError(f"text column {column.name!r} needs the char(n) width it is cast to")
        layout.append((f"_len_{column.name}", ">i4"))
        layout.append((column.name, column.wire_dtype))
    return np.dtype(layout)


def result_dtype(columns: Sequence[CopyColumn]) -> np.dtype:
    """The decoded rows: one native-order field per column."""
    return np.dtype([(c.name, c.native_dtype) for c in columns])


def copy_out(
    conn: psycopg.Connection,
    query: sql.Composable,
    columns: Sequence[CopyColumn],
    rows_per_block: int = 65_536,
) -> Iterator[np.ndarray]:
    """Decoded blocks of about `rows_per_block` rows of `query`, in query order."""
    dtype = tuple_dtype(columns)
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
                yield _decode(pending[:whole], dtype, columns)
                del pending[:whole]
    tail = bytes(pending[: -len(TRAILER)])
    if tail:
        yield _decode(tail, dtype, columns)


def read_copy(
    conn: psycopg.Connection, query: sql.Composable, columns: Sequence[CopyColumn]
) -> np.ndarray:
    """The whole result as one structured array (fields named as the columns)."""
    blocks = list(copy_out(conn, query, columns))
    if not blocks:
        return np.zeros(0, dtype=result_dtype(columns))
    return np.concatenate(blocks)


def _decode(buffer: bytes | bytearray, dtype: np.dtype, columns: Sequence[CopyColumn]):
    if len(buffer) % dtype.itemsize:
        raise DesivoidError(
            "binary COPY stream does not divide into fixed-size tuples: a column "
            "is NULL or wider than declared; select it with COALESCE or char(n)"
        )
    records = np.frombuffer(buffer, dtype=dtype)
    out = np.empty(len(records), dtype=result_dtype(columns))
    bad = records["_count"] != len(columns)
    for first, count in _runs(columns):
        bad |= _copy_run(records, out, columns[first], count)
    if bad.any():
        raise DesivoidError(
            f"binary COPY row {int(np.argmax(bad))} has a NULL or a value of "
            "unexpected width; select columns with COALESCE or cast text to char(n)"
        )
    return out


def _runs(columns: Sequence[CopyColumn]) -> list[tuple[int, int]]:
    """(first, count) of consecutive scalar columns of one type: each run decodes in one copy."""
    runs: list[tuple[int, int]] = []
    for i in range(len(columns)):
        if runs and _continues(columns, runs[-1], i):
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


def _continues(columns: Sequence[CopyColumn], run: tuple[int, int], i: int) -> bool:
    first = columns[run[0]]
    return first.is_scalar and columns[i].is_scalar and columns[i].pg_type == first.pg_type


def _copy_run(records: np.ndarray, out: np.ndarray, first: CopyColumn, count: int) -> np.ndarray:
    """Copy `count` adjacent columns from `first` on (byte-swapping to native order); return the
    rows whose length words are wrong (a NULL or an unexpected width)."""
    name, value = first.name, first.wire_dtype
    if first.is_vector:
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
