"""Streaming file writers: each takes Arrow record batches one at a time and holds none.

FITS is written by hand: the binary-table header (NAXIS2 from a count made beforehand in the
same snapshot) and then each batch's rows as big-endian bytes, padded to 2880 at the end."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from astropy.io import fits

from desivoid_ml.export.columns import describe
from desivoid_ml.fits_layout import ELEMENT_DTYPES, padded

FORMATS = ("parquet", "fits", "csv")
# Arrow type -> FITS TFORM letter (its dtype is fits_layout.ELEMENT_DTYPES'). Integer columns
# carry a TNULL value for NULL; floats use NaN, logicals 0 (undefined)
FITS_TFORMS = {
    pa.float64(): "D",
    pa.float32(): "E",
    pa.bool_(): "L",
    pa.int16(): "I",
    pa.int32(): "J",
    pa.int64(): "K",
}


class Writer(Protocol):
    def write(self, batch: pa.RecordBatch) -> None: ...
    def close(self) -> None: ...


def open_writer(fmt: str, path: Path, schema: pa.Schema, rows: int, meta: dict[str, str]) -> Writer:
    if fmt == "parquet":
        return ParquetOut(path, schema, meta)
    if fmt == "csv":
        return CsvOut(path, schema)
    return FitsOut(path, schema, rows, meta)


def annotated(schema: pa.Schema, meta: dict[str, str]) -> pa.Schema:
    """The schema with unit/description per field and the export's provenance."""
    fields = []
    for field in schema:
        unit, text = describe(field.name)
        fields.append(field.with_metadata({"unit": unit, "description": text}))
    return pa.schema(fields, metadata={f"desivoid.{k}": v for k, v in meta.items()})


class ParquetOut:
    """One row group per batch."""

    def __init__(self, path: Path, schema: pa.Schema, meta: dict[str, str]) -> None:
        self.schema = annotated(schema, meta)
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")

    def write(self, batch: pa.RecordBatch) -> None:
        self.writer.write_table(pa.Table.from_batches([batch]).cast(self.schema))

    def close(self) -> None:
        self.writer.close()


class CsvOut:
    """Header line, then rows; NULL is an empty field; vectors become columns name_0..name_d-1."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.flat = _flat_schema(schema)
        self.writer = pacsv.CSVWriter(str(path), self.flat)

    def write(self, batch: pa.RecordBatch) -> None:
        self.writer.write_batch(_flatten(batch, self.flat))

    def close(self) -> None:
        self.writer.close()


def _flat_schema(schema: pa.Schema) -> pa.Schema:
    fields = []
    for f in schema:
        if pa.types.is_fixed_size_list(f.type):
            fields += [pa.field(f"{f.name}_{i}", pa.float32()) for i in range(f.type.list_size)]
        else:
            fields.append(f)
    return pa.schema(fields)


def _flatten(batch: pa.RecordBatch, flat: pa.Schema) -> pa.RecordBatch:
    arrays = []
    for column, field in zip(batch.columns, batch.schema, strict=True):
        if pa.types.is_fixed_size_list(field.type):
            values = column.flatten().to_numpy().reshape(len(column), field.type.list_size)
            arrays += [pa.array(values[:, i]) for i in range(field.type.list_size)]
        else:
            arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=flat)


class FitsOut:
    """A FITS file with an empty primary HDU and one binary table of `rows` rows."""

    def __init__(self, path: Path, schema: pa.Schema, rows: int, meta: dict[str, str]) -> None:
        self.schema = schema
        self.rows_expected = rows
        self.rows_written = 0
        self.layout = [_fits_layout(f) for f in schema]
        self.dtype = np.dtype(
            [(f.name, layout[1]) for f, layout in zip(schema, self.layout, strict=True)]
        )
        self.file: BinaryIO = open(path, "wb")  # noqa: SIM115 (closed in close())
        primary = fits.PrimaryHDU()
        for key, value in meta.items():
            primary.header.add_comment(f"{key}: {value}"[:72])
        self.file.write(primary.header.tostring().encode("ascii"))
        self.file.write(self._header(rows, meta))

    def _header(self, rows: int, meta: dict[str, str]) -> bytes:
        columns = []
        for field, (tform, _, tnull) in zip(self.schema, self.layout, strict=True):
            unit, _ = describe(field.name)
            columns.append(
                fits.Column(name=field.name, format=tform, unit=unit or None, null=tnull)
            )
        header = fits.BinTableHDU.from_columns(columns, nrows=0).header
        header["NAXIS2"] = rows
        for i, field in enumerate(self.schema, start=1):
            header[f"TCOMM{i}"] = describe(field.name)[1][:68]
        header["EXTNAME"] = meta.get("kind", "DATA").upper()
        text = header.tostring()
        return text.encode("ascii")

    def write(self, batch: pa.RecordBatch) -> None:
        rows = np.zeros(batch.num_rows, dtype=self.dtype)
        for column, field, (_, _, tnull) in zip(
            batch.columns, self.schema, self.layout, strict=True
        ):
            rows[field.name] = _fits_values(column, field.type, tnull)
        self.file.write(rows.tobytes())
        self.rows_written += batch.num_rows

    def close(self) -> None:
        if self.rows_written != self.rows_expected:
            self.file.close()
            raise RuntimeError(
                f"FITS export wrote {self.rows_written} rows, the header says "
                f"{self.rows_expected}: the table changed during the export"
            )
        size = self.rows_written * self.dtype.itemsize
        self.file.write(b"\0" * (padded(size) - size))
        self.file.close()


def _fits_layout(field: pa.Field) -> tuple[str, str, int | None]:
    """(TFORM, numpy big-endian dtype, TNULL) of an Arrow field."""
    t = field.type
    if pa.types.is_fixed_size_list(t):
        return f"{t.list_size}E", f"({t.list_size},){ELEMENT_DTYPES['E']}", None
    if t in FITS_TFORMS:
        tform = FITS_TFORMS[t]
        dtype = ELEMENT_DTYPES[tform]
        return tform, dtype, int(np.iinfo(np.dtype(dtype)).min) if pa.types.is_integer(t) else None
    width = max(1, int(field.metadata.get(b"width", b"16")) if field.metadata else 16)
    return f"{width}A", f"S{width}", None


def _fits_values(column: pa.Array, kind: pa.DataType, tnull: int | None) -> np.ndarray:
    if pa.types.is_fixed_size_list(kind):
        return column.flatten().to_numpy().reshape(len(column), kind.list_size)
    if pa.types.is_floating(kind):
        return column.to_numpy(zero_copy_only=False)
    if kind == pa.bool_():
        values = np.where(column.fill_null(False).to_numpy(zero_copy_only=False), b"T", b"F")
        if column.null_count:
            values[column.is_null().to_numpy(zero_copy_only=False)] = b"\0"
        return values
    if tnull is not None:
        return column.fill_null(tnull).to_numpy()
    return np.array(column.fill_null("").to_pylist(), dtype="S")
