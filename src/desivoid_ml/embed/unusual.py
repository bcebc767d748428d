"""The most unusual galaxies of a run: the highest reconstruction errors (`recon_mse`, stored by
`desivoid embed`), optionally among the void or wall galaxies of one algorithm's sample.

A galaxy's percentile is the share of the chosen sample with a smaller error (100 = the most
unusual), so "top 1 %" reads as percentile >= 99. Read-only: the CLI and the finder share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from desivoid_ml.algorithms import ALGORITHM_NAMES, ALGORITHM_PREFIX
from desivoid_ml.db.connection import Namespace
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.embed.store import RECON_COLUMN
from desivoid_ml.errors import DesivoidError

ENVIRONMENTS = ("void", "wall")
CONSENSUS = "consensus"  # --of consensus: features.galaxy's consensus_sample
SHOWN = ("z", "logmstar", "ra", "dec")  # galaxy properties listed when features.galaxy has them
MAX_K = 1000
SKY_VIEWER = "https://www.legacysurvey.org/viewer?ra={ra:.6f}&dec={dec:.6f}&layer=ls-dr10&zoom=16"


@dataclass(frozen=True)
class Selection:
    """Which sample to rank in: everything, or void/wall galaxies of one sample column."""

    only: str | None = None  # 'void', 'wall' or None (all embedded galaxies)
    of: str = "vf"  # an algorithm prefix, or 'consensus'

    @property
    def column(self) -> str:
        return "consensus_sample" if self.of == CONSENSUS else f"{self.of}_sample"

    def describe(self) -> str:
        if self.only is None:
            return "all galaxies"
        name = "the consensus" if self.of == CONSENSUS else ALGORITHM_NAMES.get(self.of, self.of)
        return f"{self.only} galaxies of {name}"


@dataclass
class Unusual:
    run: str
    sample: str
    n: int  # galaxies with an error in the sample
    columns: list[str]
    rows: list[dict]


def selection(only: str | None, of: str | None) -> Selection:
    """Check --only / --of: an environment and an algorithm (name or prefix) or 'consensus'."""
    if only is not None and only not in ENVIRONMENTS:
        raise DesivoidError(f"--only must be void or wall, got {only!r}")
    if of is not None and only is None:
        raise DesivoidError("--of needs --only void or --only wall")
    prefix = _prefix(of or "VoidFinder")
    return Selection(only, prefix)


def _prefix(of: str) -> str:
    if of.lower() == CONSENSUS:
        return CONSENSUS
    by_name = {name.lower(): prefix for name, prefix in ALGORITHM_PREFIX.items()}
    prefix = by_name.get(of.lower(), of.lower())
    if prefix not in ALGORITHM_PREFIX.values():
        names = ", ".join([*ALGORITHM_PREFIX, CONSENSUS])
        raise DesivoidError(f"unknown algorithm {of!r}; choose one of {names}")
    return prefix


def unusual(
    conn: psycopg.Connection, ns: Namespace, k: int, run: str | None, chosen: Selection
) -> Unusual:
    """The k galaxies with the largest reconstruction error in the chosen sample of a run."""
    if not 1 <= k <= MAX_K:
        raise DesivoidError(f"-k must be between 1 and {MAX_K}, got {k}")
    run_id, partition = _partition(conn, ns, run)
    present = table_columns(conn, ns.features, "galaxy")
    if chosen.only is not None and chosen.column not in present:
        raise DesivoidError(
            f"features.galaxy has no {chosen.column} column; rebuild it with `desivoid features`"
        )
    source, where, args = _source(ns, partition, chosen, bool(present))
    n = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(source, where), args)
    n = n.fetchone()[0]
    if n == 0:
        raise DesivoidError(_empty(run_id, chosen))
    shown = [c for c in (*SHOWN, *_sample_columns(present)) if c in present]
    query = sql.SQL(
        "SELECT e.targetid, e.survey, e.program, e.{r}::float8 {extra} FROM {src} WHERE {w} "
        "ORDER BY e.{r} DESC, e.targetid LIMIT %s"
    ).format(
        r=sql.Identifier(RECON_COLUMN),
        extra=sql.SQL("").join(sql.SQL(", {}").format(_shown(c)) for c in shown),
        src=source,
        w=where,
    )
    found = conn.execute(query, [*args, k]).fetchall()
    columns = ["rank", "targetid", "survey", "program", RECON_COLUMN, "percentile", *shown]
    rows = [_row(i, n, record, shown) for i, record in enumerate(found, start=1)]
    return Unusual(run_id, chosen.describe(), n, [*columns, "sky_viewer"], rows)


def _shown(column: str) -> sql.Composable:
    """A listed column: properties as float8 (JSON and CSV get plain numbers), samples as text."""
    cast = "" if column.endswith("_sample") else "::float8"
    return sql.SQL("f.{}{}").format(sql.Identifier(column), sql.SQL(cast))


def _row(rank: int, n: int, record: tuple, shown: list[str]) -> dict:
    targetid, survey, program, error, *extra = record
    row = {
        "rank": rank,
        "targetid": targetid,
        "survey": survey,
        "program": program,
        RECON_COLUMN: error,
        "percentile": 100.0 * (n - rank) / n,
        **dict(zip(shown, extra, strict=True)),
    }
    ra, dec = row.get("ra"), row.get("dec")
    row["sky_viewer"] = SKY_VIEWER.format(ra=ra, dec=dec) if ra is not None else None
    return row


def _sample_columns(present: dict[str, str]) -> list[str]:
    return [c for c in present if c.endswith("_sample")]


def _source(ns: Namespace, partition: str, chosen: Selection, with_features: bool):
    """(FROM clause, WHERE clause, parameters) of the sample: the run's partition joined to the
    galaxies' properties (inner join when a sample column decides, else a LEFT JOIN)."""
    where = sql.SQL("e.{} IS NOT NULL").format(sql.Identifier(RECON_COLUMN))
    embedded = sql.SQL("{} e").format(sql.Identifier(ns.ml, partition))
    if not with_features:
        return embedded, where, []
    join = sql.SQL("JOIN" if chosen.only is not None else "LEFT JOIN")
    source = sql.SQL("{} {} {} f USING (targetid, survey, program)").format(
        embedded, join, sql.Identifier(ns.features, "galaxy")
    )
    if chosen.only is None:
        return source, where, []
    where = sql.SQL("{} AND f.{} = %s").format(where, sql.Identifier(chosen.column))
    return source, where, [chosen.only]


def _partition(conn: psycopg.Connection, ns: Namespace, run: str | None) -> tuple[str, str]:
    """(run id, partition) of the run (None/'latest': the newest embedded) with stored errors."""
    sets = sql.Identifier(ns.ml, "embedding_sets")
    if run in (None, "latest"):
        query = sql.SQL("SELECT run_id, partition FROM {} ORDER BY created DESC LIMIT 1")
        row = conn.execute(query.format(sets)).fetchone()
    else:
        query = sql.SQL("SELECT run_id, partition FROM {} WHERE run_id = %s")
        row = conn.execute(query.format(sets), (run,)).fetchone()
    if row is None:
        which = "no run has embeddings yet" if run in (None, "latest") else f"run {run!r} has none"
        raise DesivoidError(f"{which}; run `desivoid embed` first")
    stored = conn.execute(
        sql.SQL("SELECT EXISTS (SELECT FROM {} WHERE {} IS NOT NULL)").format(
            sql.Identifier(ns.ml, row[1]), sql.Identifier(RECON_COLUMN)
        )
    ).fetchone()[0]
    if not stored:
        raise DesivoidError(
            f"run {row[0]} was embedded without reconstruction errors; "
            f"run `desivoid embed --run {row[0]}` again"
        )
    return row[0], row[1]


def _empty(run_id: str, chosen: Selection) -> str:
    return f"run {run_id}: no {chosen.describe()} have a reconstruction error"
