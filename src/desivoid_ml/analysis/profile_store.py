"""Where the profiles go: void_profiles.csv / .json and the table ml.void_profiles (migration
0008; a label's rows replaced in one transaction, so readers see the old or the new set)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from psycopg import sql

from desivoid_ml.db.connection import Database

COLUMNS = {
    "label": "run id, or 'analysis' (the reports/ folder of this output)",
    "algorithm": "void finder (its <alg>_sample: void and wall galaxies)",
    "property": "galaxy property, or 'density' for the voids' n(r)/n_mean",
    "mass_lo": "stellar-mass bin, lower edge (log M*; empty for density)",
    "mass_hi": "stellar-mass bin, upper edge",
    "r_lo": "r/R_void bin, lower edge",
    "r_hi": "r/R_void bin, upper edge",
    "n": "galaxies in the bin (density: in the stacked shells)",
    "median": "median of the property (density: n(r)/n_mean)",
    "median_err": "delete-one jackknife sigma of the median over sky regions",
    "p16": "16th percentile of the property in the bin",
    "p84": "84th percentile",
    "median_matched": "median with the bin reweighted to its mass bin's redshift mix",
    "median_matched_err": "its jackknife sigma",
    "figure": "PNG of the property's profiles, algorithms side by side",
}


def write_files(rows: list[dict], out: Path) -> tuple[Path, Path]:
    """void_profiles.csv and void_profiles.json in `out`."""
    csv_path, json_path = out / "void_profiles.csv", out / "void_profiles.json"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows([{k: _clean(r[k]) for k in COLUMNS} for r in rows])
    json_path.write_text(json.dumps([{k: _clean(r[k]) for k in COLUMNS} for r in rows], indent=1))
    return csv_path, json_path


def write_table(db: Database, label: str, rows: list[dict]) -> None:
    """Replace this label's rows of ml.void_profiles."""
    table = sql.Identifier(db.ns.ml, "void_profiles")
    names = list(COLUMNS)
    with db.connect() as conn, conn.transaction():
        conn.execute(sql.SQL("DELETE FROM {} WHERE label = %s").format(table), (label,))
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    table,
                    sql.SQL(", ").join(map(sql.Identifier, names)),
                    sql.SQL(", ").join(sql.Placeholder() * len(names)),
                ),
                [[_clean(r[n]) for n in names] for r in rows],
            )


def read_table(conn, ns, label: str | None = None) -> list[dict]:
    """Rows of ml.void_profiles (one label: the newest when None), in a stable order."""
    table = sql.Identifier(ns.ml, "void_profiles")
    if label is None:
        newest = conn.execute(
            sql.SQL("SELECT label FROM {} ORDER BY created DESC LIMIT 1").format(table)
        ).fetchone()
        if newest is None:
            return []
        label = newest[0]
    cur = conn.execute(
        sql.SQL(
            "SELECT {} FROM {} WHERE label = %s "
            "ORDER BY algorithm, property, mass_lo NULLS FIRST, r_lo"
        ).format(sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), table),
        (label,),
    )
    return [dict(zip(COLUMNS, row, strict=True)) for row in cur.fetchall()]


def _clean(value):
    return None if isinstance(value, float) and math.isnan(value) else value
