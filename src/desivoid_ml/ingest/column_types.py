"""FITS column -> PostgreSQL column type, and the per-chunk value conversion that goes with it."""

from __future__ import annotations

import numpy as np

from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.errors import FitsError
from desivoid_ml.ingest.fits_reader import FitsColumn

PG_TYPES = {
    "L": "boolean",
    "B": "smallint",
    "I": "smallint",
    "J": "integer",
    "K": "bigint",
    "E": "real",
    "D": "double precision",
    "A": "text",
}
# FITS stores unsigned integers as signed with an offset (TZERO); widen to hold them exactly.
UNSIGNED = {("B", -128.0): "smallint", ("I", 32768.0): "integer", ("J", 2147483648.0): "bigint"}
MAX_IDENTIFIER_BYTES = 63  # PostgreSQL truncates longer names silently


def copy_column(column: FitsColumn, name: str) -> CopyColumn:
    """The database column a FITS column becomes."""
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise FitsError(f"column name {name!r} is longer than PostgreSQL's 63-byte limit")
    if "\x00" in name:
        raise FitsError(f"column name {name!r} contains a NUL byte")
    if column.is_string:
        return CopyColumn(name, "text", text_width=max(column.repeat, 1))
    return CopyColumn(name, _scaled_type(column), shape=column.shape)


def _scaled_type(column: FitsColumn) -> str:
    if column.tzero == 0.0 and column.tscal == 1.0:
        return PG_TYPES[column.code]
    if column.tscal == 1.0 and (column.code, column.tzero) in UNSIGNED:
        return UNSIGNED[(column.code, column.tzero)]
    if column.code == "K" and column.tzero != 0.0:
        raise FitsError(f"column {column.name!r}: unsigned 64-bit integers are not supported")
    return "double precision"


def column_values(column: FitsColumn, field: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Values ready for the encoder, and a NULL mask where FITS says "undefined"."""
    if column.is_string:
        return np.strings.rstrip(field, b" "), None
    if column.code == "L":
        nulls = (field == b"\x00") if not column.shape else None
        return field == b"T", nulls
    if column.tzero == 0.0 and column.tscal == 1.0:
        return field, None
    if column.tscal == 1.0 and (column.code, column.tzero) in UNSIGNED:
        wide = np.dtype(">i8") if column.code == "J" else np.dtype(">i4")
        return field.astype(wide) + int(column.tzero), None
    return field.astype(np.float64) * column.tscal + column.tzero, None
