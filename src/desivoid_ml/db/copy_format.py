"""The one description of a column on the binary COPY wire, used for writing and reading alike.

A binary COPY stream is a header, then one tuple per row (int16 field count, then for each field
an int32 byte length, -1 for NULL, followed by the value), then an int16 -1 trailer. Everything
is big-endian, so every numpy dtype here is declared with an explicit `>`.

`CopyColumn` names a column and its SQL type; `wire_dtype` is the numpy layout of its value on
the wire and `native_dtype` what a decoded value becomes. Both are defined here once for
scalars, arrays, text and pgvector's `vector`, so the encoder (copy_binary) and the decoder
(copy_out) cannot disagree.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

import numpy as np

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + struct.pack(">ii", 0, 0)  # flags (no OIDs), header-extension length
TRAILER = struct.pack(">h", -1)
NULL_LENGTH = -1

# name -> (type OID, big-endian numpy dtype)
SCALAR_TYPES: dict[str, tuple[int, str]] = {
    "boolean": (16, "u1"),
    "smallint": (21, ">i2"),
    "integer": (23, ">i4"),
    "bigint": (20, ">i8"),
    "real": (700, ">f4"),
    "double precision": (701, ">f8"),
}
TEXT = "text"
VECTOR = "vector"


@dataclass(frozen=True)
class CopyColumn:
    """One column: SQL name, element type (a SCALAR_TYPES name, `text` or `vector`), array
    shape (() for a scalar, (dim,) for a vector) and, for text, a width in bytes: the widest
    value when writing, the `char(n)` the query casts it to when reading."""

    name: str
    pg_type: str
    shape: tuple[int, ...] = ()
    text_width: int = 0

    def __post_init__(self) -> None:
        if self.pg_type not in (TEXT, VECTOR) and self.pg_type not in SCALAR_TYPES:
            raise ValueError(f"unsupported COPY type {self.pg_type!r} for column {self.name!r}")
        if self.is_vector and len(self.shape) != 1:
            raise ValueError(f"vector column {self.name!r} needs shape=(dim,)")

    @classmethod
    def vector(cls, name: str, dim: int) -> CopyColumn:
        return cls(name, VECTOR, (dim,))

    @classmethod
    def text(cls, name: str, width: int) -> CopyColumn:
        return cls(name, TEXT, text_width=width)

    @classmethod
    def from_sql_type(cls, name: str, sql_type: str, text_width: int = 0) -> CopyColumn:
        """From a type as PostgreSQL prints it: `real`, `text`, `vector(16)`, `bigint[]`..."""
        vector = re.fullmatch(r"vector\((\d+)\)", sql_type)
        if vector:
            return cls.vector(name, int(vector.group(1)))
        base = sql_type.removesuffix("[]")
        if base != sql_type:
            raise ValueError(f"column {name!r}: arrays of unknown shape cannot be read")
        return cls(name, base, text_width=text_width if base == TEXT else 0)

    @property
    def is_text(self) -> bool:
        return self.pg_type == TEXT

    @property
    def is_vector(self) -> bool:
        return self.pg_type == VECTOR

    @property
    def is_scalar(self) -> bool:
        """A fixed-width value outside any array: adjacent ones of one type move in one copy."""
        return not self.shape and not self.is_text

    @property
    def sql_type(self) -> str:
        """The column type as written in CREATE TABLE."""
        if self.is_vector:
            return f"vector({self.shape[0]})"
        return self.pg_type + "[]" * len(self.shape)

    @property
    def format_type(self) -> str:
        """The type as PostgreSQL's format_type() prints it (`table_columns`): the inverse of
        `from_sql_type`; arrays of any rank print as one `[]`, a vector without its dimension."""
        if self.is_vector:
            return VECTOR
        return self.pg_type + ("[]" if self.shape else "")

    @property
    def wire_dtype(self) -> np.dtype:
        """Layout of one value on the wire (text padded to its width)."""
        if self.is_text:
            return np.dtype(f"S{max(self.text_width, 1)}")
        if self.is_vector:
            return _vector_dtype(self.shape[0])
        if self.shape:
            return _array_dtype(self.pg_type, self.shape)
        return np.dtype(SCALAR_TYPES[self.pg_type][1])

    @property
    def native_dtype(self) -> np.dtype:
        """A decoded value: native byte order; a vector or array becomes float/int (shape)."""
        if self.is_text:
            return self.wire_dtype
        element = np.dtype(SCALAR_TYPES["real" if self.is_vector else self.pg_type][1])
        element = element.newbyteorder("=")
        return np.dtype((element, self.shape)) if self.shape else element


def _vector_dtype(dim: int) -> np.dtype:
    """pgvector's binary format: int16 dimension, int16 unused, then float4 values."""
    return np.dtype([("dim", ">i2"), ("unused", ">i2"), ("values", ">f4", (dim,))])


def _array_dtype(pg_type: str, shape: tuple[int, ...]) -> np.dtype:
    """PostgreSQL array layout: ndim, has-null flag, element OID, (size, lower bound) per
    dimension, then (int32 length, value) per element."""
    element = np.dtype([("n", ">i4"), ("v", SCALAR_TYPES[pg_type][1])])
    count = int(np.prod(shape))
    return np.dtype([("header", ">i4", (3 + 2 * len(shape),)), ("items", element, (count,))])


def array_header(column: CopyColumn) -> list[int]:
    """The constant header words of an array value of this column."""
    oid = SCALAR_TYPES[column.pg_type][0]
    return [len(column.shape), 0, oid, *(v for size in column.shape for v in (size, 1))]
