"""Integrity (stage 1) and plausibility (stage 2) checks of what the ingest loaded.

Stage 1 asks whether the database holds exactly the FITS rows: counts against NAXIS2 per file,
unique keys, coordinates in range, and how often the upstream "0 with IVAR = 0" means missing.
Stage 2 asks whether the values look like DESI BGS galaxies and VAST voids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from desivoid_ml.db.connection import Database, Namespace
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.ingest.tables import SCHEMA_TABLES

KEYS = {
    "galaxies": ["targetid", "survey", "program"],
    "vf_maximals": ["catalog", "void"],
    "vf_holes": ["catalog", "hole"],
    "v2_voids": ["catalog", "void"],
    "v2_zonevoid": ["catalog", "zone"],
    "v2_galzone": ["catalog", "gal"],
}
# IVAR columns whose zero rate is reported; a rate above the limit fails (a column that is all
# "missing" means the load or the file is wrong).
IVAR_RATES = {"logmstar_ivar": 0.5, "dn4000_ivar": 0.9, "flux_ivar_r": 0.5, "sfr_ivar": 0.9}
VOID_RADIUS_MPCH = (5.0, 60.0)  # plausible median radius of any VAST algorithm's voids


@dataclass(frozen=True)
class Check:
    stage: int
    name: str
    status: str  # 'pass', 'FAIL' or 'skip'
    detail: str

    @property
    def passed(self) -> bool:
        return self.status != "FAIL"


def _check(stage: int, name: str, ok: bool, detail: str) -> Check:
    return Check(stage, name, "pass" if ok else "FAIL", detail)


def run_checks(db: Database) -> list[Check]:
    """Every check, in order; none raises on bad data, each reports."""
    with db.connect() as conn:
        tables = _tables(conn, db.ns.raw)
        if not tables - SCHEMA_TABLES:
            return [Check(1, "tables loaded", "FAIL", "nothing ingested; run `desivoid ingest`")]
        checks = _manifest_counts(conn, db.ns, tables)
        for table, key in KEYS.items():
            if table in tables:
                checks.append(_unique_key(conn, db.ns, table, key))
        stages: list[Callable[[psycopg.Connection, Namespace], list[Check]]] = []
        if "galaxies" in tables:
            stages += [_galaxy_bounds, _ivar_rates, _redshift_range, _mass_redshift_trend]
        stages += [_void_radii]
        for stage in stages:
            checks += stage(conn, db.ns)
    return checks


def _tables(conn, schema: str) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
    )
    return {r[0] for r in rows}


def _manifest_counts(conn, ns: Namespace, tables: set[str]) -> list[Check]:
    """Rows per (file, table) in the database equal the NAXIS2 the manifest recorded."""
    expected = conn.execute(
        sql.SQL(
            "SELECT m.target_table, m.file_id, max(m.rows_expected), min(s.path) "
            "FROM {} m JOIN {} s USING (file_id) WHERE s.status = 'done' "
            "GROUP BY m.target_table, m.file_id"
        ).format(
            sql.Identifier(ns.meta, "ingest_manifest"), sql.Identifier(ns.meta, "source_files")
        )
    ).fetchall()
    bad = []
    for table, file_id, rows, path in expected:
        if table not in tables:
            bad.append(f"{table} missing for {path}")
            continue
        found = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE file_id = %s").format(
                sql.Identifier(ns.raw, table)
            ),
            (file_id,),
        ).fetchone()[0]
        if found != rows:
            bad.append(f"{table}: {found} rows from {path}, FITS NAXIS2 says {rows}")
    detail = "; ".join(bad[:3]) if bad else f"{len(expected)} (file, table) pairs match NAXIS2"
    return [_check(1, "row counts = FITS NAXIS2", not bad, detail)]


def _unique_key(conn, ns: Namespace, table: str, key: list[str]) -> Check:
    columns = sql.SQL(", ").join(map(sql.Identifier, key))
    total, distinct = conn.execute(
        sql.SQL("SELECT count(*), count(DISTINCT ({})) FROM {}").format(
            columns, sql.Identifier(ns.raw, table)
        )
    ).fetchone()
    return _check(
        1,
        f"unique key {table}({', '.join(key)})",
        total == distinct,
        f"{total:,} rows, {total - distinct:,} duplicates",
    )


def _galaxy_bounds(conn, ns: Namespace) -> list[Check]:
    bad = conn.execute(
        sql.SQL(
            "SELECT count(*) FILTER (WHERE NOT (ra >= 0 AND ra < 360)), "
            "count(*) FILTER (WHERE NOT (dec BETWEEN -90 AND 90)), count(*) FROM {}"
        ).format(sql.Identifier(ns.raw, "galaxies"))
    ).fetchone()
    return [
        _check(
            1,
            "galaxy coordinates in range",
            bad[0] == 0 and bad[1] == 0,
            f"{bad[0]} RA outside [0, 360), {bad[1]} DEC outside [-90, 90] of {bad[2]:,}",
        )
    ]


def _ivar_rates(conn, ns: Namespace) -> list[Check]:
    present = set(table_columns(conn, ns.raw, "galaxies"))
    checks = []
    for column, limit in IVAR_RATES.items():
        if column not in present:
            checks.append(Check(1, f"missing rate {column} = 0", "skip", "column not loaded"))
            continue
        rate = conn.execute(
            sql.SQL("SELECT avg(({} = 0)::int) FROM {}").format(
                sql.Identifier(column), sql.Identifier(ns.raw, "galaxies")
            )
        ).fetchone()[0]
        checks.append(
            _check(
                1,
                f"missing rate {column} = 0",
                float(rate) <= limit,
                f"{float(rate):.1%} of rows (limit {limit:.0%})",
            )
        )
    return checks


def _redshift_range(conn, ns: Namespace) -> list[Check]:
    low, high, bgs = conn.execute(
        sql.SQL(
            "SELECT min(z), max(z), avg((z < 0.6)::int) FILTER (WHERE spectype = 'GALAXY') FROM {}"
        ).format(sql.Identifier(ns.raw, "galaxies"))
    ).fetchone()
    ok = low > 0.001 - 1e-9 and high < 7 and (bgs or 0) > 0.9
    return [
        _check(
            2,
            "redshift range",
            ok,
            f"z {low:.4f}..{high:.3f}; {float(bgs or 0):.1%} of GALAXY rows at z < 0.6",
        )
    ]


def _mass_redshift_trend(conn, ns: Namespace) -> list[Check]:
    """A flux-limited survey sees heavier galaxies further away: corr(log M*, z) > 0.2."""
    r, n, failed = conn.execute(
        sql.SQL(
            "SELECT corr(logmstar, z) FILTER (WHERE ok), count(*) FILTER (WHERE ok), "
            "avg((logmstar_ivar > 0 AND NOT logmstar BETWEEN 6 AND 13)::int) "
            "FROM (SELECT *, logmstar_ivar > 0 AND logmstar BETWEEN 6 AND 13 "
            "AND spectype = 'GALAXY' AS ok FROM {}) g"
        ).format(sql.Identifier(ns.raw, "galaxies"))
    ).fetchone()
    r = float(r) if r is not None else float("nan")
    return [
        _check(
            2,
            "stellar mass rises with redshift",
            r > 0.2,
            f"corr(log M*, z) = {r:.2f} over {n:,} galaxies with a mass fit",
        ),
        _check(
            2,
            "failed mass fits are rare",
            float(failed or 0) < 0.05,
            f"{float(failed or 0):.2%} with IVAR > 0 but log M* outside 6..13",
        ),
    ]


def _void_radii(conn, ns: Namespace) -> list[Check]:
    rows = (
        conn.execute(
            sql.SQL(
                "SELECT c.algorithm, count(*), "
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY v.radius) "
                "FROM ({}) v JOIN {} c USING (catalog) GROUP BY c.algorithm ORDER BY 1"
            ).format(_void_union(conn, ns), sql.Identifier(ns.raw, "void_catalogs"))
        ).fetchall()
        if _void_union(conn, ns) is not None
        else []
    )
    if not rows:
        return [Check(2, "void radii", "skip", "no void catalog loaded")]
    low, high = VOID_RADIUS_MPCH
    return [
        _check(
            2,
            f"void radii {algorithm}",
            count > 0 and low <= median <= high,
            f"{count:,} voids, median radius {median:.1f} Mpc/h",
        )
        for algorithm, count, median in rows
    ]


def _void_union(conn, ns: Namespace) -> sql.Composable | None:
    present = _tables(conn, ns.raw)
    parts = [
        sql.SQL("SELECT catalog, radius FROM {}").format(sql.Identifier(ns.raw, table))
        for table in ("vf_maximals", "v2_voids")
        if table in present
    ]
    return sql.SQL(" UNION ALL ").join(parts) if parts else None
