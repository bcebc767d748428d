"""What to load where: a TableLoad maps row-aligned FITS HDUs to one database table."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.errors import IngestError
from desivoid_ml.ingest.column_types import column_values
from desivoid_ml.ingest.fits_reader import FitsColumn, FitsFile, Hdu


@dataclass(frozen=True)
class ColumnSource:
    """Where one output column comes from: a FITS column, a constant, or the row number."""

    column: CopyColumn
    hdu: int | None = None
    field: int | None = None
    fits: FitsColumn | None = None
    constant: object = None
    is_row_index: bool = False


@dataclass
class TableLoad:
    """Rows of `hdus` (row-aligned, same NAXIS2) into `table`; `key` is added after the load."""

    table: str
    hdus: list[Hdu]
    columns: list[ColumnSource]
    key: list[str]
    align_on: str | None = None  # a column that must agree across the HDUs, row by row
    allow_new_columns: bool = True
    indexes: list[list[str]] = field(default_factory=list)

    @property
    def nrows(self) -> int:
        return self.hdus[0].nrows

    @property
    def copy_columns(self) -> list[CopyColumn]:
        return [source.column for source in self.columns]

    def chunk(self, start: int, stop: int) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        """Column values and NULL masks for rows start..stop."""
        rows = {hdu.index: hdu.rows(start, stop) for hdu in self.hdus}
        self._check_alignment(rows, start)
        n = len(next(iter(rows.values())))
        values, nulls = [], []
        for source in self.columns:
            value, null = _source_values(source, rows, start, n)
            values.append(value)
            nulls.append(null)
        return values, nulls

    def _check_alignment(self, rows: dict[int, np.ndarray], start: int) -> None:
        if self.align_on is None or len(self.hdus) < 2:
            return
        first = self.hdus[0]
        reference = rows[first.index][f"f{first.column_index(self.align_on)}"]
        for hdu in self.hdus[1:]:
            other = rows[hdu.index][f"f{hdu.column_index(self.align_on)}"]
            bad = np.flatnonzero(reference != other)
            if bad.size:
                row = start + int(bad[0])
                raise IngestError(
                    f"{first.path.name}: HDUs {first.extname} and {hdu.extname} are not "
                    "row-aligned: "
                    f"row {row} has {self.align_on} {reference[bad[0]]} vs {other[bad[0]]}"
                )


@dataclass
class FilePlan:
    """Everything one file contributes: its kind, table loads, and catalog metadata."""

    fits: FitsFile
    kind: str
    loads: list[TableLoad]
    catalog: dict | None = None


def _source_values(
    source: ColumnSource, rows: dict[int, np.ndarray], start: int, n: int
) -> tuple[np.ndarray, np.ndarray | None]:
    if source.fits is not None:
        return column_values(source.fits, rows[source.hdu][f"f{source.field}"])
    if source.is_row_index:
        return np.arange(start, start + n, dtype=np.int64), None
    if source.column.is_text:
        return np.full(n, str(source.constant).encode()), None
    return np.full(n, source.constant), None
