"""Where the void finders agree: the per-galaxy consensus columns and the pairwise agreement
table, each against a brute-force count (random arrays here; real VAST outputs and synthetic
catalogs through `desivoid features` below)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from psycopg import sql

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


@pytest.fixture(scope="module")
def synthetic_db(module_db, tmp_path_factory):
    """The project's synthetic DR1-like catalogs (4 algorithms, NGC + SGC) through features."""
    from desivoid_ml.features.build import build
    from desivoid_ml.features.config import load_config
    from desivoid_ml.ingest.config import load_options
    from desivoid_ml.ingest.runner import ingest
    from desivoid_ml.synth import write_catalogs

    raw = tmp_path_factory.mktemp("raw")
    write_catalogs(raw, 4000, seed=5)
    ingest(module_db, [raw], load_options())
    build(module_db, load_config(["chunk_rows=1500"]))
    return module_db


def _galaxy_rows(db, names: list[str]) -> list[tuple]:
    with db.connect() as conn:
        return conn.execute(
            sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, names)),
                sql.Identifier(db.ns.features, "galaxy"),
            )
        ).fetchall()


def test_synthetic_caps_consensus_and_agreement_equal_brute_force(synthetic_db) -> None:
    from desivoid_ml.analysis.agreement import agreement

    prefixes = ("vf", "vide", "zobov", "revolver")
    names = [f"{p}_{s}" for p in prefixes for s in ("sample", "in_input", "cap")]
    rows = _galaxy_rows(synthetic_db, [*names, "in_all_inputs", "consensus_sample"])
    decided = 0
    for row in rows:
        got = dict(zip([*names, "in_all_inputs", "consensus_sample"], row, strict=True))
        covering = [p for p in prefixes if got[f"{p}_cap"]]  # every synthetic catalog has a cap
        in_all = bool(covering) and all(got[f"{p}_in_input"] for p in covering)
        assert got["in_all_inputs"] == in_all
        calls = {got[f"{p}_sample"] for p in covering} - {None}
        expected = calls.pop() if in_all and len(calls) == 1 else None
        assert got["consensus_sample"] == expected
        decided += expected is not None
    assert decided > 100
    with synthetic_db.connect() as conn:
        table = agreement(conn, synthetic_db.ns)
    assert len(table) == 6
    for r in table:
        a = {"VoidFinder": "vf", "VIDE": "vide", "ZOBOV": "zobov", "REVOLVER": "revolver"}
        pa, pb = a[r["algorithm_a"]], a[r["algorithm_b"]]
        ia, ib = names.index(f"{pa}_sample"), names.index(f"{pb}_sample")
        pairs = [(x[ia], x[ib]) for x in rows if x[len(names)] and x[ia] and x[ib]]
        assert r["n"] == len(pairs) and r["void_both"] == pairs.count(("void", "void"))
        assert r["wall_both"] == pairs.count(("wall", "wall"))


def test_analyze_has_a_consensus_row(synthetic_db, tmp_path) -> None:
    from desivoid_ml.analysis.config import load_config as analysis_config
    from desivoid_ml.analysis.run import analyze

    cfg = analysis_config(
        ["algorithms=[VoidFinder,consensus]", "properties=[g_r]", "bootstrap.resamples=50"]
        + ["sample=all", "where=is_galaxy"]  # the galaxies counted below
    )
    rows = {r["algorithm"]: r for r in analyze(synthetic_db, cfg, tmp_path).rows}
    assert set(rows) == {"VoidFinder", "consensus"}
    void, wall = (
        sum(
            1
            for (s, g, p) in _galaxy_rows(synthetic_db, ["consensus_sample", "is_galaxy", "g_r"])
            if s == kind and g and p is not None
        )
        for kind in ("void", "wall")
    )
    assert (rows["consensus"]["n_void"], rows["consensus"]["n_wall"]) == (void, wall)
    assert void > 20 and wall > 20
