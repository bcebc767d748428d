#!/usr/bin/env python
"""Cost per galaxy of the VAST toolkit's positions (features/toolkit_distance.py) against the
astropy-spline positions used before (features/cosmology.py), measured in the same run.

Random DESI-like sky positions and redshifts (float64, z in [0.001, 0.6]); also the per-row
scipy QAGS that the toolkit itself runs, on a small subset (it is ~100 µs a row).

    .venv/bin/python scripts/bench_toolkit_distance.py            # 1,000,000 galaxies
    .venv/bin/python scripts/bench_toolkit_distance.py --rows 100000
Last line: `bench_toolkit_distance rows= toolkit_us= astropy_us= qags_us= ratio=`
(ratio = toolkit / astropy time per row).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from desivoid_ml.features import toolkit_distance
from desivoid_ml.features.cosmology import Cosmology

QAGS_ROWS = 2000


def _per_row_us(seconds: float, rows: int) -> float:
    return seconds / rows * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--omegam", type=float, default=0.315)
    args = p.parse_args()
    rng = np.random.default_rng(16)
    ra = rng.uniform(0, 360, args.rows)
    dec = np.degrees(np.arcsin(rng.uniform(-0.3, 1.0, args.rows)))
    z = rng.uniform(0.001, 0.6, args.rows)
    cosmology = Cosmology(args.omegam)
    cosmology.cartesian(ra[:10], dec[:10], z[:10])  # builds its spline once, as a run does

    started = time.perf_counter()
    baseline = cosmology.cartesian(ra, dec, z)
    astropy_s = time.perf_counter() - started

    started = time.perf_counter()
    toolkit = toolkit_distance.cartesian(ra, dec, z, args.omegam)
    toolkit_s = time.perf_counter() - started

    om = np.float32(args.omegam)
    lower = (1.0 / (1.0 + z[:QAGS_ROWS])).astype(np.float32).astype(np.float64)
    started = time.perf_counter()
    for a in lower:
        toolkit_distance.adaptive_integral(float(a), om)
    qags_s = time.perf_counter() - started

    shift = np.linalg.norm(toolkit - baseline, axis=1) / np.linalg.norm(baseline, axis=1)
    toolkit_us, astropy_us = _per_row_us(toolkit_s, args.rows), _per_row_us(astropy_s, args.rows)
    qags_us = _per_row_us(qags_s, QAGS_ROWS)
    print(f"toolkit positions: {toolkit_s:.2f} s for {args.rows:,} rows")
    print(f"astropy positions: {astropy_s:.2f} s (the baseline, same run)")
    print(f"per-row scipy QAGS: {qags_us:.1f} us a row ({QAGS_ROWS:,} rows)")
    print(f"largest relative shift toolkit vs astropy: {shift.max():.2e}")
    print(
        f"6.4 M galaxies: toolkit {toolkit_us * 6.4:.1f} s, astropy {astropy_us * 6.4:.1f} s, "
        f"per-row QAGS {qags_us * 6.4:.0f} s"
    )
    print(
        f"bench_toolkit_distance rows={args.rows} toolkit_us={toolkit_us:.3f} "
        f"astropy_us={astropy_us:.3f} qags_us={qags_us:.1f} ratio={toolkit_us / astropy_us:.2f}"
    )


if __name__ == "__main__":
    main()
