"""Integrity (stage 1) and plausibility (stage 2) checks of what the ingest loaded.

Stage 1 asks whether the database holds exactly the FITS rows: counts against NAXIS2 per file,
unique keys, coordinates in range, and how often the upstream "0 with IVAR = 0" means missing.
Stage 2 asks whether the values look like DESI BGS galaxies and VAST voids.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """Every check, in order; none raises on bad data, each reports. Each raw table is read at
    most once: its rows per file in one GROUP BY, raw.galaxies' values in one aggregate scan."""
    with db.connect() as conn:
        tables = _tables(conn, db.ns.raw)
        if not tables - SCHEMA_TABLES:
            return [Check(1, "tables loaded", "FAIL", "nothing ingested; run `desivoid ingest`")]
        expected = _manifest(conn, db.ns)
        counts = _rows_per_file(conn, db.ns, ({t for t, *_ in expected} | set(KEYS)) & tables)
        checks = [_manifest_counts(expected, counts, tables)]
        for table, key in KEYS.items():
            if table in tables:
                checks.append(_unique_key(conn, db.ns, table, key, sum(counts[table].values())))
        if "galaxies" in tables:
            checks += _galaxy_checks(_galaxy_stats(conn, db.ns))
        checks += _void_radii(conn, db.ns)
    return checks


def _tables(conn, schema: str) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
    )
    return {r[0] for r in rows}


def _manifest(conn, ns: Namespace) -> list[tuple[str, int, int, str]]:
    """(table, file_id, rows the FITS header promised, path) of every finished file."""
    return conn.execute(
        sql.SQL(
            "SELECT m.target_table, m.file_id, max(m.rows_expected), min(s.path) "
            "FROM {} m JOIN {} s USING (file_id) WHERE s.status = 'done' "
            "GROUP BY m.target_table, m.file_id"
        ).format(
            sql.Identifier(ns.meta, "ingest_manifest"), sql.Identifier(ns.meta, "source_files")
        )
    ).fetchall()


def _rows_per_file(conn, ns: Namespace, tables: set[str]) -> dict[str, dict[int, int]]:
    """{table: {file_id: rows}}, one scan per table (a table without file_id: one count)."""
    counts: dict[str, dict[int, int]] = {}
    for table in sorted(tables):
        name = sql.Identifier(ns.raw, table)
        if "file_id" in table_columns(conn, ns.raw, table):
            query = sql.SQL("SELECT file_id, count(*) FROM {} GROUP BY file_id").format(name)
        else:
            query = sql.SQL("SELECT NULL, count(*) FROM {}").format(name)
        counts[table] = dict(conn.execute(query).fetchall())
    return counts


def _manifest_counts(expected: list[tuple], counts: dict[str, dict], tables: set[str]) -> Check:
    """Rows per (file, table) in the database equal the NAXIS2 the manifest recorded."""
    bad = []
    for table, file_id, rows, path in expected:
        if table not in tables:
            bad.append(f"{table} missing for {path}")
            continue
        found = counts.get(table, {}).get(file_id, 0)
        if found != rows:
            bad.append(f"{table}: {found} rows from {path}, FITS NAXIS2 says {rows}")
    detail = "; ".join(bad[:3]) if bad else f"{len(expected)} (file, table) pairs match NAXIS2"
    return _check(1, "row counts = FITS NAXIS2", not bad, detail)


def _unique_index(conn, schema: str, table: str, key: list[str]) -> str | None:
    """A valid unique index on exactly `key` (then the server guarantees it), by name."""
    row = conn.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND i.indisvalid "
        "AND i.indpred IS NULL AND i.indexprs IS NULL "
        "AND ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k (attnum, n) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "ORDER BY k.n) = %s::text[] LIMIT 1",
        (sql.Identifier(schema, table).as_string(conn), key),
    ).fetchone()
    return row[0] if row else None


def _unique_key(conn, ns: Namespace, table: str, key: list[str], total: int) -> Check:
    """No two rows share the key: by its unique index if there is one, else by counting."""
    name = f"unique key {table}({', '.join(key)})"
    index = _unique_index(conn, ns.raw, table, key)
    if index:
        return _check(1, name, True, f"{total:,} rows, 0 duplicates (unique index {index})")
    columns = sql.SQL(", ").join(map(sql.Identifier, key))
    distinct = conn.execute(
        sql.SQL("SELECT count(DISTINCT ({})) FROM {}").format(
            columns, sql.Identifier(ns.raw, table)
        )
    ).fetchone()[0]
    return _check(1, name, total == distinct, f"{total:,} rows, {total - distinct:,} duplicates")


MASS_OK = "logmstar_ivar > 0 AND logmstar BETWEEN 6 AND 13 AND spectype = 'GALAXY'"


def _galaxy_stats(conn, ns: Namespace) -> dict:
    """Every value the galaxy checks need, from one scan of raw.galaxies."""
    present = set(table_columns(conn, ns.raw, "galaxies"))
    parts = {
        "rows": "count(*)",
        "bad_ra": "count(*) FILTER (WHERE NOT (ra >= 0 AND ra < 360))",
        "bad_dec": "count(*) FILTER (WHERE NOT (dec BETWEEN -90 AND 90))",
        "z_low": "min(z)",
        "z_high": "max(z)",
        "bgs": "avg((z < 0.6)::int) FILTER (WHERE spectype = 'GALAXY')",
        "mass_r": f"corr(logmstar, z) FILTER (WHERE {MASS_OK})",
        "mass_n": f"count(*) FILTER (WHERE {MASS_OK})",
        "mass_failed": "avg((logmstar_ivar > 0 AND NOT logmstar BETWEEN 6 AND 13)::int)",
    }
    parts.update(
        {column: f"avg(({column} = 0)::int)" for column in IVAR_RATES if column in present}
    )
    row = conn.execute(
        sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(sql.SQL(v) for v in parts.values()),
            sql.Identifier(ns.raw, "galaxies"),
        )
    ).fetchone()
    return dict(zip(parts, row, strict=True))


def _galaxy_checks(stats: dict) -> list[Check]:
    return [
        _galaxy_bounds(stats),
        *_ivar_rates(stats),
        _redshift_range(stats),
        *_mass_redshift_trend(stats),
    ]


def _galaxy_bounds(stats: dict) -> Check:
    return _check(
        1,
        "galaxy coordinates in range",
        stats["bad_ra"] == 0 and stats["bad_dec"] == 0,
        f"{stats['bad_ra']} RA outside [0, 360), {stats['bad_dec']} DEC outside [-90, 90] "
        f"of {stats['rows']:,}",
    )


def _ivar_rates(stats: dict) -> list[Check]:
    checks = []
    for column, limit in IVAR_RATES.items():
        if column not in stats:
            checks.append(Check(1, f"missing rate {column} = 0", "skip", "column not loaded"))
            continue
        rate = float(stats[column] or 0)
        checks.append(
            _check(
                1,
                f"missing rate {column} = 0",
                rate <= limit,
                f"{rate:.1%} of rows (limit {limit:.0%})",
            )
        )
    return checks


def _redshift_range(stats: dict) -> Check:
    low, high, bgs = stats["z_low"], stats["z_high"], float(stats["bgs"] or 0)
    ok = low > 0.001 - 1e-9 and high < 7 and bgs > 0.9
    return _check(
        2, "redshift range", ok, f"z {low:.4f}..{high:.3f}; {bgs:.1%} of GALAXY rows at z < 0.6"
    )


def _mass_redshift_trend(stats: dict) -> list[Check]:
    """A flux-limited survey sees heavier galaxies further away: corr(log M*, z) > 0.2."""
    r = float(stats["mass_r"]) if stats["mass_r"] is not None else float("nan")
    failed = float(stats["mass_failed"] or 0)
    return [
        _check(
            2,
            "stellar mass rises with redshift",
            r > 0.2,
            f"corr(log M*, z) = {r:.2f} over {stats['mass_n']:,} galaxies with a mass fit",
        ),
        _check(
            2,
            "failed mass fits are rare",
            failed < 0.05,
            f"{failed:.2%} with IVAR > 0 but log M* outside 6..13",
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
