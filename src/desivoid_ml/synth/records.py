"""One chunk of rows as three big-endian record arrays (METADATA, SPECPHOT, FASTSPEC)."""

from __future__ import annotations

import numpy as np

from desivoid_ml.synth.datamodel import (
    FASTSPEC_COLUMNS,
    FIRST_LINE_COLUMN,
    LINE_NAMES,
    LINE_SUFFIXES,
    METADATA_COLUMNS,
    SPECPHOT_COLUMNS,
    row_dtype,
)
from desivoid_ml.synth.lines import fill_lines
from desivoid_ml.synth.properties import Physical
from desivoid_ml.synth.tables import fastspec_columns, metadata_columns, specphot_columns

METADATA_DTYPE = row_dtype(METADATA_COLUMNS)
SPECPHOT_DTYPE = row_dtype(SPECPHOT_COLUMNS)
FASTSPEC_DTYPE = row_dtype(FASTSPEC_COLUMNS)
_LINE_OFFSET = FASTSPEC_DTYPE.fields[FIRST_LINE_COLUMN][1]
_LINE_SHAPE = (len(LINE_NAMES), len(LINE_SUFFIXES))


def line_block(rows: np.ndarray, dtype: str = ">f4") -> np.ndarray:
    """(n, 46, 18) strided view of the contiguous 4-byte line columns of FASTSPEC rows."""
    return np.ndarray(
        (len(rows), *_LINE_SHAPE),
        dtype=dtype,
        buffer=rows,
        offset=_LINE_OFFSET,
        strides=(rows.dtype.itemsize, 4 * _LINE_SHAPE[1], 4),
    )


def _fill(rows: np.ndarray, cols: dict[str, np.ndarray]) -> np.ndarray:
    for name, value in cols.items():
        rows[name] = value
    return rows


class RecordBuffers:
    """Row buffers reused chunk after chunk (fresh 70 MB arrays would be page-faulted each time)."""

    def __init__(self, capacity: int):
        dtypes = (METADATA_DTYPE, SPECPHOT_DTYPE, FASTSPEC_DTYPE)
        self._arrays = [np.zeros(capacity, dtype) for dtype in dtypes]

    def take(self, n: int) -> list[np.ndarray]:
        """Zeroed views of the first n rows (records start as zeros, as in fastspecfit)."""
        views = [a[:n] for a in self._arrays]
        for v in views:
            v.view(np.uint8)[...] = 0
        return views


def build_records(phys: Physical, rng: np.random.Generator, buffers: RecordBuffers | None = None):
    """METADATA, SPECPHOT and FASTSPEC rows of a chunk (row-aligned)."""
    meta, spec, fast = (buffers or RecordBuffers(phys.n)).take(phys.n)
    _fill(meta, metadata_columns(phys, rng))
    _fill(spec, specphot_columns(phys, rng))
    cols = fastspec_columns(phys, rng)
    npix = line_block(fast, ">i4")[:, :, -1]
    moments = fill_lines(line_block(fast)[:, :, :-1], npix, phys, cols, rng)
    return meta, spec, _fill(fast, cols | moments)
