"""The staged text columns are the same UTF-8 bytes whichever way they are encoded."""

from __future__ import annotations

import numpy as np

from desivoid_ml.features.galaxy_table import _text_bytes


def test_text_bytes_equal_utf8_encoding() -> None:
    labels = np.array(["void", "wall", "", "NGC"], dtype="U4")[np.arange(1000) % 4]
    fast = _text_bytes(labels)
    assert fast.dtype.kind == "S"
    assert np.array_equal(fast, np.strings.encode(labels, "utf-8"))
    accented = np.array(["née", "a"], dtype="U3")  # not ASCII: the general encoder
    assert np.array_equal(_text_bytes(accented), np.strings.encode(accented, "utf-8"))
    numbers = np.arange(3)
    assert _text_bytes(numbers) is numbers
