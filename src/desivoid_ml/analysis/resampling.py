"""Replicates for intervals: delete-one jackknife over sky regions (the default) or a Poisson
bootstrap of the galaxies.

Galaxies in one void or one patch of sky are not independent, so the jackknife drops one
region at a time and measures how much the statistic moves. Both schemes work on count tables
(rows x table entry): a jackknife replicate is the whole table minus one region's table, a
bootstrap replicate redraws every entry as Poisson(count). Memory is `CHUNK` tables at a time,
whatever the number of galaxies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import stats

JACKKNIFE, BOOTSTRAP = "jackknife", "bootstrap"
METHODS = (JACKKNIFE, BOOTSTRAP)
CHUNK = 25  # replicate tables held at once


@dataclass(frozen=True)
class Resampling:
    """How intervals are made. `region` (jackknife): the sky region of every row, -1 unknown."""

    method: str = JACKKNIFE
    region: np.ndarray | None = None
    resamples: int = 400
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown interval method {self.method!r}; choose from {METHODS}")
        if self.method == JACKKNIFE and self.region is None:
            raise ValueError("the jackknife needs the sky region of every row")

    def units(self, rows: np.ndarray) -> int:
        """Regions holding some of these rows (jackknife), or resamples (bootstrap)."""
        if self.method == BOOTSTRAP:
            return self.resamples
        return len(_active_regions(self.region, rows))

    def tables(
        self, parts: list[tuple[np.ndarray, np.ndarray]], size: int
    ) -> Iterator[list[np.ndarray]]:
        """Replicates of several count tables at once, paired (the same region dropped, or the
        same draw, in all). Each part is (rows: bool mask, entry: int table entry of those
        rows); yields lists of (r, size) arrays, one per part."""
        if self.method == BOOTSTRAP:
            yield from _bootstrap_tables(parts, size, self.resamples, self.seed)
        else:
            yield from _jackknife_tables(parts, size, self.region)

    def weights(self, rows: np.ndarray) -> Iterator[np.ndarray]:
        """Per-galaxy weights of each replicate, (r, rows.sum()) at a time: 0 for the dropped
        region (jackknife) or Poisson(1) counts (bootstrap)."""
        n = int(rows.sum())
        if self.method == BOOTSTRAP:
            rng = np.random.default_rng(self.seed)
            for size in _chunk_sizes(self.resamples):
                yield rng.poisson(1.0, (size, n)).astype(float)
            return
        region = self.region[rows]
        active = _active_regions(self.region, rows)
        for start in range(0, len(active), CHUNK):
            dropped = active[start : start + CHUNK]
            yield (region[None, :] != dropped[:, None]).astype(float)

    def interval(
        self, estimate: float, replicates: np.ndarray, centre: float, sigmas: float = 1.0
    ) -> tuple[float, float]:
        """A central interval of `sigmas` Gaussian sigmas around the exact estimate.

        Jackknife: estimate +- sigmas * sqrt((K-1)/K * sum (theta_k - mean)^2). Bootstrap: the
        replicates' percentiles, shifted by (estimate - centre) where `centre` is the statistic
        of the unresampled table (tables bin the values; the estimate itself is exact)."""
        reps = replicates[np.isfinite(replicates)]
        if len(reps) < 2:
            return float("nan"), float("nan")
        if self.method == JACKKNIFE:
            k = len(reps)
            sigma = float(np.sqrt((k - 1) / k * np.sum((reps - reps.mean()) ** 2)))
            return estimate - sigmas * sigma, estimate + sigmas * sigma
        tail = 100 * stats.norm.cdf(-sigmas)
        low, high = np.percentile(reps, [tail, 100 - tail])
        return float(estimate + low - centre), float(estimate + high - centre)


def _active_regions(region: np.ndarray, rows: np.ndarray) -> np.ndarray:
    present = np.unique(region[rows])
    return present[present >= 0]


def _bootstrap_tables(parts, size: int, resamples: int, seed: int) -> Iterator[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    totals = [np.bincount(entry, minlength=size).astype(float) for _, entry in parts]
    for chunk in _chunk_sizes(resamples):
        yield [rng.poisson(total, (chunk, size)).astype(float) for total in totals]


def _jackknife_tables(parts, size: int, region: np.ndarray) -> Iterator[list[np.ndarray]]:
    """Whole table minus one region's, for every region holding rows of some part."""
    union = np.zeros(len(region), dtype=bool)
    for rows, _ in parts:
        union |= rows
    active = _active_regions(region, union)
    slot = np.full(int(region.max()) + 2, -1)  # region -> position in `active`
    slot[active] = np.arange(len(active))
    totals = [np.bincount(entry, minlength=size).astype(float) for _, entry in parts]
    where = [slot[region[rows]] for rows, _ in parts]
    for start in range(0, len(active), CHUNK):
        n = min(CHUNK, len(active) - start)
        chunk = []
        for (_, entry), total, at in zip(parts, totals, where, strict=True):
            inside = (at >= start) & (at < start + n)
            flat = (at[inside] - start) * size + entry[inside]
            dropped = np.bincount(flat, minlength=n * size).reshape(n, size)
            chunk.append(total[None, :] - dropped)
        yield chunk


def _chunk_sizes(total: int) -> list[int]:
    full, rest = divmod(total, CHUNK)
    return [CHUNK] * full + ([rest] if rest else [])
