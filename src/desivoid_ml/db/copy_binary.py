"""PostgreSQL binary COPY encoding built by numpy: whole chunks of rows at once, no per-row Python.

Fixed-width fields make every tuple the same size: a structured numpy record then *is* the tuple
(the wire layout of each value comes from `copy_format`). Text and NULLs make tuples vary in
size; they are encoded in a fixed-width record padded to the widest value, and the padding bytes
are dropped with one boolean mask over the chunk.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from desivoid_ml.db.copy_format import NULL_LENGTH, CopyColumn, array_header


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
            elif not column.is_scalar:
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
        if not column.is_scalar or column.pg_type != previous.pg_type:
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
        fields.append((f"v{i}", column.wire_dtype))
    return np.dtype(fields)


def _template_record(columns: Sequence[CopyColumn], dtype: np.dtype) -> np.ndarray:
    """One tuple with every constant (field count, fixed lengths, array headers) filled in."""
    template = np.zeros(1, dtype=dtype)
    template["count"] = len(columns)
    for i, column in enumerate(columns):
        template[f"n{i}"] = column.wire_dtype.itemsize
        if column.is_vector:
            template[f"v{i}"]["dim"] = column.shape[0]
        elif column.shape:
            template[f"v{i}"]["header"] = array_header(column)
            template[f"v{i}"]["items"]["n"] = column.wire_dtype["items"].base["v"].itemsize
    return template


def _fill_value(records: np.ndarray, i: int, column: CopyColumn, array: np.ndarray) -> None:
    """A vector's or an array's values (their headers are in the template)."""
    if column.is_vector:
        records[f"v{i}"]["values"] = array
    else:
        records[f"v{i}"]["items"]["v"] = array.reshape(len(array), -1)


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
