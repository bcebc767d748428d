"""Jackknife vs bootstrap interval widths of `desivoid analyze` on the current features.galaxy.

Runs the analysis twice, bootstrap first and then the default jackknife (so ml.void_wall ends as
a plain `desivoid analyze` leaves it), and prints per algorithm and property the half-widths of
the 68 % intervals of the raw and the matched shift and their ratio jackknife / bootstrap.
Usage: python scripts/compare_intervals.py [analysis overrides ...]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from desivoid_ml.analysis.config import load_config
from desivoid_ml.analysis.run import analyze
from desivoid_ml.db import open_database


def half_width(row: dict, low: str, high: str) -> float:
    return (row[high] - row[low]) / 2


def main(overrides: list[str]) -> None:
    db = open_database()
    with tempfile.TemporaryDirectory() as folder:
        boot = analyze(db, load_config(overrides + ["intervals.method=bootstrap"]), Path(folder))
        jack = analyze(db, load_config(overrides), Path(folder))
    print(
        f"{jack.galaxies:,} galaxies; jackknife over {jack.rows[0]['regions']} regions, "
        f"bootstrap {boot.rows[0]['resamples']} resamples; 68 % half-widths"
    )
    print(
        "| algorithm | property | shift: jackknife | bootstrap | ratio | matched: jackknife "
        "| bootstrap | ratio |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for j, b in zip(jack.rows, boot.rows, strict=True):
        raw = half_width(j, "shift_lo", "shift_hi"), half_width(b, "shift_lo", "shift_hi")
        matched = (
            half_width(j, "matched_lo", "matched_hi"),
            half_width(b, "matched_lo", "matched_hi"),
        )
        print(
            f"| {j['algorithm']} | {j['property']} | {raw[0]:.3f} | {raw[1]:.3f} | "
            f"{raw[0] / raw[1]:.2f} | {matched[0]:.3f} | {matched[1]:.3f} | "
            f"{matched[0] / matched[1]:.2f} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
