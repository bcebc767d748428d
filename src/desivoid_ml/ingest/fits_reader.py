"""FITS structure without loading data: HDU headers, table layouts, and memory-mapped row ranges.

Headers are read block by block (FITS is 2880-byte blocks of 80-character cards), so a truncated
or corrupt file is caught before any row reaches the database. Table rows are then read through
`np.memmap` with a big-endian record dtype built from the TFORMs: reading rows i..j touches only
those rows, never the whole HDU.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from astropy.io import fits

from desivoid_ml.errors import FitsError
from desivoid_ml.fits_layout import BLOCK, CARD, ELEMENT_DTYPES, padded

END_CARD = b"END" + b" " * 77
MAX_HEADER_BLOCKS = 10_000  # 28.8 MB of header means the file is not what it claims

UNSUPPORTED = {
    "X": "bit arrays",
    "C": "complex",
    "M": "complex",
    "P": "variable-length arrays",
    "Q": "variable-length arrays",
}
TFORM_RE = re.compile(r"^\s*(\d*)([A-Z])(.*)$")


@dataclass(frozen=True)
class FitsColumn:
    """A BINTABLE column as declared by its TTYPE/TFORM/TDIM/TUNIT/TZERO/TSCAL cards."""

    name: str
    code: str
    repeat: int
    shape: tuple[int, ...]
    unit: str
    tzero: float
    tscal: float

    @property
    def is_string(self) -> bool:
        return self.code == "A"

    @property
    def record_dtype(self) -> np.dtype | tuple:
        if self.is_string:
            return np.dtype(f"S{max(self.repeat, 1)}")
        base = np.dtype(ELEMENT_DTYPES[self.code])
        return (base, self.shape) if self.shape else base


@dataclass(frozen=True)
class Hdu:
    """One HDU: its header and where its data sits in the file."""

    path: Path
    index: int
    header: fits.Header
    data_offset: int
    data_bytes: int

    @property
    def extname(self) -> str:
        return str(self.header.get("EXTNAME", "") or "").strip()

    @property
    def is_table(self) -> bool:
        return self.index > 0 and str(self.header.get("XTENSION", "")).strip() == "BINTABLE"

    @property
    def nrows(self) -> int:
        return int(self.header.get("NAXIS2", 0))

    @cached_property
    def columns(self) -> tuple[FitsColumn, ...]:
        """Parsed column definitions (tables only)."""
        return tuple(_column(self.header, i, self) for i in range(1, self.header["TFIELDS"] + 1))

    @cached_property
    def dtype(self) -> np.dtype:
        """Record dtype of one row; fields are named f0, f1... (FITS names may repeat or be odd)."""
        dtype = np.dtype([(f"f{i}", c.record_dtype) for i, c in enumerate(self.columns)])
        if dtype.itemsize != self.header["NAXIS1"]:
            raise FitsError(
                f"{self.path.name}: HDU {self.index} declares {self.header['NAXIS1']} bytes per "
                f"row but its columns add up to {dtype.itemsize}; the header is corrupt"
            )
        return dtype

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows start..stop as a read-only memory-mapped record array."""
        stop = min(stop, self.nrows)
        if stop <= start:
            return np.zeros(0, dtype=self.dtype)
        offset = self.data_offset + start * self.dtype.itemsize
        return np.memmap(
            self.path, dtype=self.dtype, mode="r", offset=offset, shape=(stop - start,)
        )

    def column_index(self, name: str) -> int:
        """Position of a column, matched without regard to case."""
        wanted = name.upper()
        for i, column in enumerate(self.columns):
            if column.name.upper() == wanted:
                return i
        raise KeyError(name)


@dataclass(frozen=True)
class FitsFile:
    """All HDUs of a file, after checking the file is complete."""

    path: Path
    size: int
    hdus: tuple[Hdu, ...]

    @property
    def tables(self) -> list[Hdu]:
        return [h for h in self.hdus if h.is_table]

    @property
    def primary_header(self) -> fits.Header:
        return self.hdus[0].header

    def table(self, extname: str) -> Hdu:
        """The table HDU with this EXTNAME (case-insensitive)."""
        for hdu in self.tables:
            if hdu.extname.upper() == extname.upper():
                return hdu
        raise KeyError(extname)

    def extnames(self) -> set[str]:
        return {h.extname.upper() for h in self.tables}


def scan(path: Path | str) -> FitsFile:
    """Read every header of a FITS file and check the data it declares is all there."""
    path = Path(path)
    if not path.exists():
        raise FitsError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise FitsError(f"{path}: is a directory, expected a FITS file")
    size = path.stat().st_size
    hdus: list[Hdu] = []
    with path.open("rb") as handle:
        offset = 0
        while offset < size:
            if hdus and size - offset < BLOCK and not _starts_extension(handle, offset):
                break  # trailing bytes shorter than a block and not a header: tolerated
            header, header_bytes = _read_header(handle, path, offset, first=not hdus)
            data_offset = offset + header_bytes
            data_bytes = _data_bytes(header)
            if data_offset + data_bytes > size:
                raise FitsError(
                    f"{path.name}: truncated: HDU {len(hdus)} ({header.get('EXTNAME', '')}) needs "
                    f"{data_bytes} bytes of data from byte {data_offset}, the file has {size}; "
                    "download it again"
                )
            hdus.append(Hdu(path, len(hdus), header, data_offset, data_bytes))
            offset = data_offset + padded(data_bytes)
    return FitsFile(path, size, tuple(hdus))


def _read_header(handle, path: Path, offset: int, first: bool) -> tuple[fits.Header, int]:
    handle.seek(offset)
    raw = bytearray()
    for _ in range(MAX_HEADER_BLOCKS):
        block = handle.read(BLOCK)
        if len(block) < BLOCK:
            if first and not raw:
                raise FitsError(f"{path.name}: not a FITS file (shorter than one 2880-byte block)")
            raise FitsError(f"{path.name}: truncated inside the header of HDU at byte {offset}")
        if first and not raw and not block.startswith(b"SIMPLE  ="):
            raise FitsError(f"{path.name}: not a FITS file (it does not start with SIMPLE =)")
        raw += block
        if _has_end_card(block):
            return _parse_header(raw, path, offset), len(raw)
    raise FitsError(f"{path.name}: no END card in the header at byte {offset}; file is corrupt")


def _starts_extension(handle, offset: int) -> bool:
    handle.seek(offset)
    return handle.read(8) == b"XTENSION"


def _has_end_card(block: bytes) -> bool:
    return any(block[i : i + CARD] == END_CARD for i in range(0, BLOCK, CARD))


def _parse_header(raw: bytes, path: Path, offset: int) -> fits.Header:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fits.Header.fromstring(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FitsError(f"{path.name}: unreadable header at byte {offset}: {exc}") from exc


def _data_bytes(header: fits.Header) -> int:
    naxis = int(header.get("NAXIS", 0))
    if naxis == 0:
        return 0
    elements = int(np.prod([int(header[f"NAXIS{i}"]) for i in range(1, naxis + 1)]))
    bitpix = abs(int(header["BITPIX"]))
    return bitpix // 8 * int(header.get("GCOUNT", 1)) * (int(header.get("PCOUNT", 0)) + elements)


def _column(header: fits.Header, n: int, hdu: Hdu) -> FitsColumn:
    tform = str(header.get(f"TFORM{n}", "")).strip().upper()
    match = TFORM_RE.match(tform)
    name = str(header.get(f"TTYPE{n}", f"col{n}")).strip() or f"col{n}"
    where = f"{hdu.path.name} HDU {hdu.index} column {name!r}"
    if not match:
        raise FitsError(f"{where}: unreadable TFORM {tform!r}")
    repeat = int(match.group(1) or 1)
    code = match.group(2)
    if code in UNSUPPORTED:
        raise FitsError(f"{where}: TFORM {tform} ({UNSUPPORTED[code]}) is not supported")
    if code != "A" and code not in ELEMENT_DTYPES:
        raise FitsError(f"{where}: unknown TFORM code {code!r}")
    return FitsColumn(
        name=name,
        code=code,
        repeat=repeat,
        shape=_shape(header.get(f"TDIM{n}"), repeat, code),
        unit=str(header.get(f"TUNIT{n}", "")).strip(),
        tzero=float(header.get(f"TZERO{n}", 0.0)),
        tscal=float(header.get(f"TSCAL{n}", 1.0)),
    )


def _shape(tdim: str | None, repeat: int, code: str) -> tuple[int, ...]:
    """Array shape in numpy (C) order; TDIM lists axes fastest-first, so it is reversed."""
    if code == "A":
        return ()
    if tdim:
        dims = tuple(int(d) for d in str(tdim).strip("() ").split(",") if d.strip())
        if int(np.prod(dims)) == repeat and len(dims) > 1:
            return tuple(reversed(dims))
    return (repeat,) if repeat != 1 else ()
