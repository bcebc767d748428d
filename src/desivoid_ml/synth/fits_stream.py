"""Write FITS files by hand: headers from astropy, row data streamed in chunks at known offsets.

Every HDU's size is fixed up front (rows per table are known), so the file is laid out once, rows
are written with `os.pwrite` at their offset as chunks arrive, and the headers go in last with
DATASUM/CHECKSUM computed incrementally from the streamed bytes. Headers carry no timestamps: the
same rows give byte-identical files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import TracebackType

import numpy as np
from astropy.io import fits

from desivoid_ml.fits_layout import CARD, padded
from desivoid_ml.synth.datamodel import ColumnDef

ONES = 0xFFFFFFFF
CHECKSUM_PLACEHOLDER = "0" * 16
_EXCLUDE = frozenset(b":;<=>?@[\\]^_`")  # punctuation the ASCII encoding avoids
Card = tuple[str, object, str]


def fold(s: int) -> int:
    """Reduce a sum of 32-bit words to a 32-bit ones'-complement sum (end-around carry)."""
    while s >> 32:
        s = (s & ONES) + (s >> 32)
    return s


def ones_sum(data: memoryview, offset: int) -> int:
    """Ones'-complement sum of big-endian 32-bit words of bytes that sit at `offset` in the HDU."""
    raw = np.frombuffer(data, dtype=np.uint8)
    whole = len(raw) // 4 * 4
    s = int(np.add.reduce(raw[:whole].view(">u4"), dtype=np.uint64)) if whole else 0
    if whole < len(raw):
        s += int.from_bytes(bytes(raw[whole:]).ljust(4, b"\0"), "big")
    s = fold(s)
    shift = 8 * (offset % 4)  # 2**32 == 1 (mod 2**32 - 1): a byte shift is a word rotation
    return ((s >> shift) | (s << (32 - shift))) & ONES if shift else s


def encode_checksum(value: int) -> str:
    """The 16-character ASCII encoding of a checksum (FITS standard, appendix J)."""
    asc = [0] * 16
    for i in range(4):
        byte = (value >> (8 * (3 - i))) & 0xFF
        quotient, remainder = byte // 4 + ord("0"), byte % 4
        ch = [quotient + remainder, quotient, quotient, quotient]
        clash = True
        while clash:
            clash = False
            for j in (0, 2):
                if ch[j] in _EXCLUDE or ch[j + 1] in _EXCLUDE:
                    ch[j], ch[j + 1] = ch[j] + 1, ch[j + 1] - 1
                    clash = True
        for j in range(4):
            asc[4 * j + i] = ch[j]
    return bytes(asc[(i + 15) % 16] for i in range(16)).decode("ascii")


class HeaderCards:
    """A FITS header kept as 80-byte card images, so keywords are patched in place cheaply."""

    def __init__(self, images: Iterable[bytes]):
        self._cards = list(images)

    @classmethod
    def from_header(cls, header: fits.Header) -> HeaderCards:
        return cls(_images(header))

    def _slot(self, key: str) -> int:
        tag = key.ljust(8).encode("ascii")
        for i, card in enumerate(self._cards):
            if card[:8] == tag:
                return i
        raise KeyError(key)

    def set(self, key: str, value: object, comment: str = "") -> None:
        """Replace the card of an existing keyword (single-card values only)."""
        image = fits.Card(key, value, comment).image.encode("ascii")
        if len(image) != CARD:
            raise ValueError(f"{key}: value too long for one card")
        self._cards[self._slot(key)] = image

    def get_int(self, key: str, default: int = 0) -> int:
        try:
            return int(self._cards[self._slot(key)][10:30])
        except KeyError:
            return default

    def add(self, cards: Iterable[Card]) -> None:
        """Insert cards before the checksum cards (long strings may take CONTINUE cards)."""
        at = self._slot("CHECKSUM")
        self._cards[at:at] = _images(fits.Header([(k, v, c) for k, v, c in cards]))

    def tobytes(self) -> bytes:
        text = b"".join(self._cards) + b"END".ljust(CARD)
        return text.ljust(padded(len(text)), b" ")


def _images(header: fits.Header) -> list[bytes]:
    """The 80-byte card images of a header (without END)."""
    text = header.tostring(endcard=False, padding=False).encode("ascii")
    return [text[i : i + CARD] for i in range(0, len(text), CARD)]


def primary_header(cards: Iterable[Card]) -> HeaderCards:
    """An empty PRIMARY HDU header with extra keywords and checksum placeholders."""
    header = HeaderCards.from_header(_with_checksum_cards(fits.PrimaryHDU().header))
    header.add(cards)
    return header


def bintable_header(
    name: str,
    columns: tuple[ColumnDef, ...],
    nrows: int,
    row_bytes: int,
    cards: Iterable[Card] = (),
) -> HeaderCards:
    """A BINTABLE header (astropy's layout and comments) for rows of `row_bytes` bytes."""
    header = HeaderCards(_bintable_template(name, columns, row_bytes))  # a copy of the images
    header.set("NAXIS2", nrows, "length of dimension 2")
    header.add(cards)
    return header


@cache
def _bintable_template(name: str, columns: tuple[ColumnDef, ...], row_bytes: int) -> tuple[bytes]:
    """Card images of a BINTABLE header with NAXIS2 = 0, built once per table kind."""
    cards = [
        ("XTENSION", "BINTABLE", "binary table extension"),
        ("BITPIX", 8, "array data type"),
        ("NAXIS", 2, "number of array dimensions"),
        ("NAXIS1", row_bytes, "length of dimension 1"),
        ("NAXIS2", 0, "length of dimension 2"),
        ("PCOUNT", 0, "number of group parameters"),
        ("GCOUNT", 1, "number of groups"),
        ("TFIELDS", len(columns), "number of table fields"),
    ]
    for i, col in enumerate(columns, start=1):
        cards += [(f"TTYPE{i}", col.name), (f"TFORM{i}", col.tform)]
        cards += [(f"TUNIT{i}", col.unit)] if col.unit else []
    header = fits.Header(cards)  # one call: appending card by card is quadratic in astropy
    header.append(("EXTNAME", name, "extension name"))
    return tuple(_images(_with_checksum_cards(header)))


def _with_checksum_cards(header: fits.Header) -> fits.Header:
    header["CHECKSUM"] = (CHECKSUM_PLACEHOLDER, "HDU checksum")
    header["DATASUM"] = ("0", "data unit checksum")
    return header


class _Hdu:
    """Where one HDU lives in the file and how much of its data has arrived."""

    def __init__(self, header: HeaderCards, offset: int):
        self.header = header
        self.offset = offset
        self.header_bytes = len(header.tobytes())
        naxis = header.get_int("NAXIS")
        self.nbytes = header.get_int("NAXIS1") * header.get_int("NAXIS2") if naxis else 0
        self.written = 0
        self.datasum = 0

    @property
    def data_offset(self) -> int:
        return self.offset + self.header_bytes

    @property
    def end(self) -> int:
        return self.data_offset + padded(self.nbytes)

    def render(self) -> bytes:
        """Header bytes with DATASUM and CHECKSUM filled in."""
        self.header.set("DATASUM", str(self.datasum), "data unit checksum")
        self.header.set("CHECKSUM", CHECKSUM_PLACEHOLDER, "HDU checksum")
        total = fold(ones_sum(memoryview(self.header.tobytes()), 0) + self.datasum)
        self.header.set("CHECKSUM", encode_checksum(~total & ONES), "HDU checksum")
        out = self.header.tobytes()
        if len(out) != self.header_bytes:
            raise RuntimeError("header size changed while adding checksums")
        return out


class FitsStream:
    """A FITS file whose HDU headers (hence sizes) are fixed first and whose rows come in chunks.

    Use as a context manager: leaving it on an exception removes the partial file.
    """

    def __init__(self, path: Path, headers: list[HeaderCards]):
        self.path = Path(path)
        self._hdus: list[_Hdu] = []
        offset = 0
        for header in headers:
            hdu = _Hdu(header, offset)
            self._hdus.append(hdu)
            offset = hdu.end
        self.size = offset
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.ftruncate(self._fd, self.size)  # data padding reads back as zeros

    def write(self, hdu_index: int, rows: np.ndarray) -> None:
        """Append rows (a big-endian record array matching the header) to a table HDU."""
        hdu = self._hdus[hdu_index]
        data = memoryview(np.ascontiguousarray(rows)).cast("B")
        if hdu.written + len(data) > hdu.nbytes:
            raise ValueError(f"too many rows for HDU {hdu_index} of {self.path.name}")
        os.pwrite(self._fd, data, hdu.data_offset + hdu.written)
        hdu.datasum = fold(hdu.datasum + ones_sum(data, hdu.written))
        hdu.written += len(data)

    def close(self) -> None:
        """Check every HDU got all its rows, write the headers, close the file."""
        try:
            for i, hdu in enumerate(self._hdus):
                if hdu.written != hdu.nbytes:
                    raise ValueError(
                        f"HDU {i} of {self.path.name}: {hdu.written} of {hdu.nbytes} bytes written"
                    )
                os.pwrite(self._fd, hdu.render(), hdu.offset)
        finally:
            os.close(self._fd)

    def abort(self) -> None:
        """Close and remove the partial file."""
        os.close(self._fd)
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> FitsStream:
        return self

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_tables(
    path: Path, primary: HeaderCards, tables: list[tuple[HeaderCards, np.ndarray]]
) -> int:
    """Write a whole small FITS file (PRIMARY + in-memory tables); returns its size in bytes."""
    with FitsStream(path, [primary] + [header for header, _ in tables]) as stream:
        for i, (_, rows) in enumerate(tables, start=1):
            if len(rows):
                stream.write(i, rows)
    return stream.size
