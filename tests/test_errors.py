"""One-line error messages: the line taken from an exception is never empty."""

from __future__ import annotations

from desivoid_ml.errors import first_line


def test_first_line_of_an_error() -> None:
    assert first_line(ValueError("\n  bad value \nmore detail")) == "bad value"
    assert first_line(ValueError("connection failed\nFATAL: no such db"), last=True) == (
        "FATAL: no such db"
    )
    assert first_line(KeyError()) == "KeyError"  # an empty message names the error instead
