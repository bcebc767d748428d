"""FITS layout shared by the reader (ingest) and the writers (synth, export): block and card
sizes, block padding, and the big-endian numpy dtype of one element of each binary-table TFORM
letter."""

from __future__ import annotations

BLOCK = 2880  # a FITS logical record: headers and data are padded to multiples of it
CARD = 80  # one header card
# TFORM letter -> big-endian numpy dtype of one element ('L' is one byte: b"T", b"F" or 0)
ELEMENT_DTYPES = {"L": "S1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8"}


def padded(nbytes: int) -> int:
    """Bytes after padding to whole FITS blocks."""
    return -(-nbytes // BLOCK) * BLOCK
