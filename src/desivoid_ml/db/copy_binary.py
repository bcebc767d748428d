"""PostgreSQL binary COPY encoding built by numpy: whole chunks of rows at once, no per-row Python.

A binary COPY stream is a header, then one tuple per row (int16 field count, then for each field an
int32 byte length, -1 for NULL, followed by the value), then an int16 -1 trailer. Everything is
big-endian, so every numpy dtype here is declared with an explicit `>`.

Fixed-width fields make every tuple the same size: a structured numpy record then *is* the tuple.
Text and NULLs make tuples vary in size; they are encoded in a fixed-width record padded to the
widest value, and the padding bytes are dropped with one boolean mask over the chunk.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + struct.pack(">ii", 0, 0)  # flags (no OIDs), header-extension length
TRAILER = struct.pack(">h", -1)
NULL_LENGTH = -1

# name -> (type OID, element OID for arrays of it, big-endian numpy dtype)
SCALAR_TYPES: dict[str, tuple[int, str]] = {
    "boolean": (16, "u1"),
    "smallint": (21, ">i2"),
    "integer": (23, ">i4"),
    "bigint": (20, ">i8"),
    "real": (700, ">f4"),
    "double precision": (701, ">f8"),
}
TEXT_OID = 25
VECTOR = "vector"  # pgvector: int16 dimension, int16 unused, then float4 values


@dataclass(frozen=True)
class CopyColumn:
    """One output column: its SQL name, element type, array shape (() for a scalar)."""

    name: str
    pg_type: str
    shape: tuple[int, ...] = ()
    text_width: int = 0

    def __post_init__(self) -> None:
        if self.pg_type not in ("text", VECTOR) and self.pg_type not in SCALAR_TYPES:
            raise ValueError(f"unsupported COPY type {self.pg_type!r} for column {self.name!r}")

    @property
    def is_text(self) -> bool:
        return self.pg_type == "text"

    @property
    def is_vector(self) -> bool:
        return self.pg_type == VECTOR

    @property
    def sql_type(self) -> str:
        """The column type as written in CREATE TABLE."""
        if self.is_vector:
            return f"vector({self.shape[0]})"
        return self.pg_type + "[]" * len(self.shape)


class RowEncoder:
    """Encodes chunks of column arrays into binary COPY tuples for a fixed column list."""

    def __init__(self, columns: Sequence[CopyColumn]):
        self.columns = list(columns)
        self.dtype = _record_dtype(self.columns)
        self._template = _template_record(self.columns, self.dtype)
        self._value_spans = [
            (self.dtype.fields[f"v{i}"][1], self.dtype.fields[f"v{i}"][0].itemsize)
            for i in range(len(self.columns))
        ]

    def encode(
        self,
        values: Sequence[np.ndarray],
        nulls: Sequence[np.ndarray | None] | None = None,
    ) -> bytes | memoryview:
        """Tuples for n rows: `values[i]` has shape (n, *shape_i); `nulls[i]` marks NULL rows."""
        n = len(values[0]) if values else 0
        if n == 0:
            return b""
        records = np.repeat(self._template, n)
        nulls = list(nulls) if nulls is not None else [None] * len(self.columns)
        keep = None
        run: list[int] = []
        for i, (column, array, null) in enumerate(zip(self.columns, values, nulls, strict=True)):
            if run and not self._extends_run(run[-1], i, values):
                self._fill_run(records, run, values)
                run = []
            if column.is_text:
                lengths = _fill_text(records, i, array)
                keep = self._drop_padding(keep, records, i, lengths)
            elif column.shape or column.is_vector:
                _fill_value(records, i, column, array)
            else:
                run.append(i)
            if null is not None and null.any():
                records[f"n{i}"][null] = NULL_LENGTH
                keep = self._drop_nulls(keep, n, i, null)
        if run:
            self._fill_run(records, run, values)
        raw = records.view(np.uint8).reshape(n, self.dtype.itemsize)
        # a memoryview of a 1-D uint8 array: psycopg then splits it into 128 KiB messages itself
        return (raw.reshape(-1) if keep is None else raw[keep]).data

    def _extends_run(self, last: int, i: int, values: Sequence[np.ndarray]) -> bool:
        """Column i continues column `last`'s run: same scalar type, and its input is the very
        next field of the same source rows (as adjacent FITS columns of one HDU are)."""
        column, previous = self.columns[i], self.columns[last]
        if column.is_text or column.shape or column.is_vector or column.pg_type != previous.pg_type:
            return False
        a, b = values[last], values[i]
        if a.dtype != b.dtype or a.ndim != 1 or b.ndim != 1 or a.strides != b.strides:
            return False
        step = b.__array_interface__["data"][0] - a.__array_interface__["data"][0]
        return step == a.dtype.itemsize * (i - last)

    def _fill_run(self, records: np.ndarray, run: list[int], values: Sequence[np.ndarray]) -> None:
        """Adjacent same-type columns in one strided copy instead of one copy per column."""
        first = values[run[0]]
        if len(run) == 1:
            records[f"v{run[0]}"] = first
            return
        source = np.lib.stride_tricks.as_strided(
            first,
            shape=(len(first), len(run)),
            strides=(first.strides[0], first.dtype.itemsize),
            writeable=False,
        )
        value_dtype = self.dtype.fields[f"v{run[0]}"][0]
        pair = np.dtype([("n", ">i4"), ("v", value_dtype)])
        target = np.ndarray(
            shape=(len(records), len(run)),
            dtype=pair,
            buffer=records,
            offset=self.dtype.fields[f"n{run[0]}"][1],
            strides=(self.dtype.itemsize, pair.itemsize),
        )
        target["v"] = source

    def _keep_mask(self, keep: np.ndarray | None, n: int) -> np.ndarray:
        return np.ones((n, self.dtype.itemsize), dtype=bool) if keep is None else keep

    def _drop_padding(
        self, keep: np.ndarray | None, records: np.ndarray, i: int, lengths: np.ndarray
    ) -> np.ndarray:
        keep = self._keep_mask(keep, len(records))
        offset, width = self._value_spans[i]
        keep[:, offset : offset + width] = np.arange(width) < lengths[:, None]
        return keep

    def _drop_nulls(self, keep: np.ndarray | None, n: int, i: int, null: np.ndarray) -> np.ndarray:
        keep = self._keep_mask(keep, n)
        offset, width = self._value_spans[i]
        keep[null, offset : offset + width] = False
        return keep


def _record_dtype(columns: Sequence[CopyColumn]) -> np.dtype:
    fields: list[tuple] = [("count", ">i2")]
    for i, column in enumerate(columns):
        fields.append((f"n{i}", ">i4"))  # byte length of the value, or -1 for NULL
        if column.is_text:
            fields.append((f"v{i}", f"S{max(column.text_width, 1)}"))
        elif column.is_vector:
            fields.append(
                (
                    f"v{i}",
                    [("dim", ">i2"), ("unused", ">i2"), ("values", ">f4", (column.shape[0],))],
                )
            )
        elif column.shape:
            fields.append((f"v{i}", _array_dtype(column)))
        else:
            fields.append((f"v{i}", SCALAR_TYPES[column.pg_type][1]))
    return np.dtype(fields)


def _array_dtype(column: CopyColumn) -> np.dtype:
    """PostgreSQL array layout: ndim, has-null flag, element OID, (size, lower bound) per
    dimension, then (int32 length, value) per element."""
    element = np.dtype([("n", ">i4"), ("v", SCALAR_TYPES[column.pg_type][1])])
    count = int(np.prod(column.shape))
    return np.dtype([("header", ">i4", (3 + 2 * len(column.shape),)), ("items", element, (count,))])


def _template_record(columns: Sequence[CopyColumn], dtype: np.dtype) -> np.ndarray:
    """One tuple with every constant (field count, fixed lengths, array headers) filled in."""
    template = np.zeros(1, dtype=dtype)
    template["count"] = len(columns)
    for i, column in enumerate(columns):
        value_dtype = dtype.fields[f"v{i}"][0]
        template[f"n{i}"] = value_dtype.itemsize
        if column.is_vector:
            template[f"v{i}"]["dim"] = column.shape[0]
        elif column.shape and not column.is_text:
            oid, element_dtype = SCALAR_TYPES[column.pg_type]
            dims = [v for size in column.shape for v in (size, 1)]
            template[f"v{i}"]["header"] = [len(column.shape), 0, oid, *dims]
            template[f"v{i}"]["items"]["n"] = np.dtype(element_dtype).itemsize
    return template


def _fill_value(records: np.ndarray, i: int, column: CopyColumn, array: np.ndarray) -> None:
    if column.is_vector:
        records[f"v{i}"]["values"] = array
    elif column.shape:
        records[f"v{i}"]["items"]["v"] = array.reshape(len(array), -1)
    else:
        records[f"v{i}"] = array


def _fill_text(records: np.ndarray, i: int, array: np.ndarray) -> np.ndarray:
    """Store UTF-8 bytes and their lengths; return the lengths."""
    encoded = array if array.dtype.kind == "S" else np.strings.encode(array, "utf-8")
    lengths = np.strings.str_len(encoded).astype(np.int32)
    width = records.dtype.fields[f"v{i}"][0].itemsize
    if len(lengths) and lengths.max() > width:
        raise ValueError(f"text column {i} has a value of {lengths.max()} bytes > width {width}")
    records[f"v{i}"] = encoded
    records[f"n{i}"] = lengths
    return lengths
