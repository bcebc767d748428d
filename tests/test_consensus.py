"""Where the void finders agree: the per-galaxy consensus columns and the pairwise agreement
table, each against a brute-force count (random arrays here; real VAST outputs and synthetic
catalogs through `desivoid features` below)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from desivoid_ml.analysis.agreement import PairCounts
from desivoid_ml.features.consensus import consensus

PREFIXES = ("vf", "vide", "zobov", "revolver")


def brute_consensus(samples, in_input, covers, i: int) -> tuple[bool, int, str]:
    """One galaxy, written out as the definition reads."""
    covering = [p for p in samples if covers[p][i]]
    in_all = bool(covering) and all(in_input[p][i] for p in covering)
    n_void = sum(1 for p in samples if samples[p][i] == "void")
    calls = [samples[p][i] for p in covering if samples[p][i] in ("void", "wall")]
    if not in_all or not calls:
        return in_all, n_void, ""
    if all(c == "void" for c in calls):
        return in_all, n_void, "void"
    if all(c == "wall" for c in calls):
        return in_all, n_void, "wall"
    return in_all, n_void, ""


def random_columns(rng, n: int):
    covers = {p: rng.random(n) < 0.9 for p in PREFIXES}
    in_input = {p: covers[p] & (rng.random(n) < 0.8) for p in PREFIXES}
    samples = {}
    for p in PREFIXES:
        calls = rng.choice(np.array(["void", "wall", ""]), n, p=[0.45, 0.45, 0.1])
        samples[p] = np.where(in_input[p], calls, "")
    return samples, in_input, covers


def test_consensus_equals_brute_force_on_random_calls() -> None:
    rng = np.random.default_rng(5)
    samples, in_input, covers = random_columns(rng, 4000)
    got = consensus(samples, in_input, covers)
    for i in range(4000):
        expected = brute_consensus(samples, in_input, covers, i)
        assert (
            bool(got["in_all_inputs"][i]),
            int(got["n_void_algorithms"][i]),
            str(got["consensus_sample"][i]),
        ) == expected, i
    assert {"void", "wall", ""} <= set(got["consensus_sample"].tolist())


def test_pair_statistics_by_hand() -> None:
    counts = PairCounts(void_both=40, void_a_only=10, void_b_only=20, wall_both=30)
    assert counts.n == 100 and counts.agree_fraction() == pytest.approx(0.70)
    expected = (50 * 60 + 50 * 40) / 100**2  # chance agreement from the marginals
    assert counts.kappa() == pytest.approx((0.70 - expected) / (1 - expected))
    assert counts.jaccard() == pytest.approx(40 / 70)
    assert math.isnan(PairCounts(5, 0, 0, 0).kappa())  # one class only: kappa undefined
    assert PairCounts(3, 0, 0, 7).kappa() == pytest.approx(1.0)
