"""Where the void finders agree: for each pair of algorithms, on the galaxies in the input of every
algorithm of their cap (`in_all_inputs`) that both put in a sample (void or wall), the fraction
agreeing, Cohen's kappa and the Jaccard index of the two void samples. Read-only."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from itertools import combinations

import psycopg
from psycopg import sql

from desivoid_ml.algorithms import ALGORITHM_NAMES, ALGORITHM_PREFIX
from desivoid_ml.db.connection import Namespace
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.errors import DesivoidError

COLUMNS = {
    "algorithm_a": "first void finder of the pair",
    "algorithm_b": "second void finder",
    "n": "galaxies in the input of every algorithm of their cap with a sample in both",
    "void_both": "galaxies both call void",
    "void_a_only": "void for a, wall for b",
    "void_b_only": "wall for a, void for b",
    "wall_both": "galaxies both call wall",
    "agree_fraction": "(void_both + wall_both) / n",
    "kappa": "Cohen's kappa: agreement beyond what the two void fractions give by chance",
    "jaccard": "void_both / (void_both + void_a_only + void_b_only): overlap of the void samples",
}


@dataclass(frozen=True)
class PairCounts:
    """The 2x2 table of two algorithms' void / wall calls on the same galaxies."""

    void_both: int
    void_a_only: int
    void_b_only: int
    wall_both: int

    @property
    def n(self) -> int:
        return self.void_both + self.void_a_only + self.void_b_only + self.wall_both

    def agree_fraction(self) -> float:
        return (self.void_both + self.wall_both) / self.n if self.n else math.nan

    def kappa(self) -> float:
        """Cohen's kappa; NaN when chance agreement is total (one class only)."""
        n = self.n
        if not n:
            return math.nan
        void_a, void_b = self.void_both + self.void_a_only, self.void_both + self.void_b_only
        expected = (void_a * void_b + (n - void_a) * (n - void_b)) / n**2
        if expected >= 1.0:
            return math.nan
        return (self.agree_fraction() - expected) / (1.0 - expected)

    def jaccard(self) -> float:
        union = self.void_both + self.void_a_only + self.void_b_only
        return self.void_both / union if union else math.nan


def sample_algorithms(present: dict[str, str]) -> dict[str, str]:
    """prefix -> name of the algorithms with a `<prefix>_sample` column, in the usual order."""
    names = {prefix: name for name, prefix in ALGORITHM_PREFIX.items()}
    order = [*ALGORITHM_NAMES, "v2"]
    return {p: names[p] for p in order if f"{p}_sample" in present}


def agreement(conn: psycopg.Connection, ns: Namespace) -> list[dict]:
    """One row per pair of algorithms (COLUMNS), counted in one scan of features.galaxy."""
    present = table_columns(conn, ns.features, "galaxy")
    if not present:
        raise DesivoidError("features.galaxy not found; run `desivoid features` first")
    algorithms = sample_algorithms(present)
    if "in_all_inputs" not in present or len(algorithms) < 2:
        raise DesivoidError(
            "features.galaxy has no consensus columns or fewer than two algorithms with a "
            "<alg>_sample column; ingest the DESIVAST catalogs and run `desivoid features`"
        )
    pairs = list(combinations(algorithms, 2))
    cells = [
        sql.SQL("count(*) FILTER (WHERE {} = %s AND {} = %s)").format(
            sql.Identifier(f"{a}_sample"), sql.Identifier(f"{b}_sample")
        )
        for a, b in pairs
        for _ in range(4)
    ]
    args = [v for _ in pairs for cell in _CELLS for v in cell]
    query = sql.SQL("SELECT {} FROM {} WHERE in_all_inputs").format(
        sql.SQL(", ").join(cells), sql.Identifier(ns.features, "galaxy")
    )
    counts = conn.execute(query, args).fetchone()
    return [
        _row(algorithms[a], algorithms[b], PairCounts(*counts[4 * i : 4 * i + 4]))
        for i, (a, b) in enumerate(pairs)
    ]


_CELLS = (("void", "void"), ("void", "wall"), ("wall", "void"), ("wall", "wall"))


def _row(a: str, b: str, counts: PairCounts) -> dict:
    return {
        "algorithm_a": a,
        "algorithm_b": b,
        "n": counts.n,
        **asdict(counts),
        "agree_fraction": counts.agree_fraction(),
        "kappa": counts.kappa(),
        "jaccard": counts.jaccard(),
    }
