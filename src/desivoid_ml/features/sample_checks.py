"""What the feature config's cuts remove (stage 3 of `desivoid validate`): rows each property's
`range` turns into NULL (over raw.galaxies), and rows each cut of each named sample removes, in
order (over features.galaxy)."""

from __future__ import annotations

import psycopg
from omegaconf import DictConfig
from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.errors import first_line
from desivoid_ml.features.galaxy_samples import sample_cuts
from desivoid_ml.ingest.validate import Check

STAGE = 3


def sample_checks(db: Database, cfg: DictConfig) -> list[Check]:
    """One check per ranged property and one per sample; a sample that keeps nothing fails."""
    with db.connect() as conn:
        checks = _range_checks(conn, db, cfg)
        if not table_columns(conn, db.ns.features, "galaxy"):
            return [*checks, Check(STAGE, "sample cuts", "skip", "run `desivoid features` first")]
        for name in cfg.samples:
            checks.append(_sample_check(conn, db, name, sample_cuts(name, cfg.samples)))
    return checks


def _range_checks(conn: psycopg.Connection, db: Database, cfg: DictConfig) -> list[Check]:
    ranged = {n: s for n, s in cfg.properties.items() if s.get("range") is not None}
    if not ranged or not table_columns(conn, db.ns.raw, "galaxies"):
        return []
    counts = sql.SQL(", ").join(
        sql.SQL(
            "count(*) FILTER (WHERE ({valid}) AND NOT (({value}) BETWEEN {lo} AND {hi}))"
        ).format(
            valid=sql.SQL(str(spec.get("valid") or "true")),
            value=sql.SQL(str(spec["value"])),
            lo=sql.Literal(float(spec["range"][0])),
            hi=sql.Literal(float(spec["range"][1])),
        )
        for spec in ranged.values()
    )
    query = sql.SQL("SELECT count(*), {} FROM {}").format(
        counts, sql.Identifier(db.ns.raw, "galaxies")
    )
    try:
        with conn.transaction():
            row = conn.execute(query).fetchone()
    except psycopg.errors.Error as exc:
        return [Check(STAGE, "property ranges", "skip", f"not computable: {first_line(exc)}")]
    total, removed = row[0], row[1:]
    return [
        Check(
            STAGE,
            f"range of {name}",
            "pass",
            f"{count:,} of {total:,} rows outside [{spec['range'][0]}, {spec['range'][1]}] -> NULL",
        )
        for (name, spec), count in zip(ranged.items(), removed, strict=True)
    ]


def _sample_check(conn: psycopg.Connection, db: Database, name: str, cuts: dict[str, str]) -> Check:
    """Rows each cut removes from what the cuts before it kept, and what is left."""
    passed = [sql.SQL("true")]
    for condition in cuts.values():
        passed.append(sql.SQL("{} AND (({}) IS TRUE)").format(passed[-1], sql.SQL(condition)))
    counts = sql.SQL(", ").join(sql.SQL("count(*) FILTER (WHERE {})").format(p) for p in passed)
    query = sql.SQL("SELECT {} FROM {}").format(counts, sql.Identifier(db.ns.features, "galaxy"))
    try:
        with conn.transaction():
            kept = conn.execute(query).fetchone()
    except psycopg.errors.Error as exc:
        detail = f"{first_line(exc)}; rebuild with `desivoid features` or fix the sample"
        return Check(STAGE, f"sample {name}", "FAIL", detail)
    steps = [
        f"{cut} removes {before - after:,}"
        for cut, before, after in zip(cuts, kept, kept[1:], strict=False)
    ]
    detail = "; ".join([*steps, f"kept {kept[-1]:,} of {kept[0]:,}"])
    ok = kept[-1] > 0 or kept[0] == 0
    return Check(STAGE, f"sample {name}", "pass" if ok else "FAIL", detail)
