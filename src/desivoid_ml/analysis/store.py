"""Where the results go: CSV and JSON files, and the table ml.void_wall (replaced per run).

ml.void_wall is the one table written without `db.copy_in`: it holds a few dozen rows, and it
has an identity key and a timestamp default, which a COPY column list does not describe."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.db.introspect import relation_exists

TEXT_COLUMNS = (
    "label",
    "algorithm",
    "property",
    "control",
    "figure",
    "ks_p",
    "ad_p",
    "interval_method",
)
INT_COLUMNS = (
    "n_void",
    "n_wall",
    "n_void_matched",
    "n_wall_matched",
    "n_void_exclude",
    "n_wall_exclude",
    "regions",
    "resamples",
)


def write_files(rows: list[dict], out: Path) -> tuple[Path, Path]:
    """void_wall.csv and void_wall.json in `out`."""
    csv_path, json_path = out / "void_wall.csv", out / "void_wall.json"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    clean = [{k: (None if _nan(v) else v) for k, v in row.items()} for row in rows]
    json_path.write_text(json.dumps(clean, indent=1))
    return csv_path, json_path


def write_table(db: Database, rows: list[dict]) -> None:
    """Replace ml.void_wall with these rows in one transaction (readers see old or new)."""
    names = list(rows[0])
    columns = (
        [sql.SQL("id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY")]
        + [sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(_type(n))) for n in names]
        + [sql.SQL("analysed_at timestamptz NOT NULL DEFAULT now()")]
    )
    table = sql.Identifier(db.ns.ml, "void_wall")
    with db.connect() as conn, conn.transaction():
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(columns)))
        conn.execute(
            sql.SQL("COMMENT ON TABLE {} IS {}").format(
                table,
                sql.Literal(
                    "void vs wall medians per algorithm and property (desivoid analyze --help)"
                ),
            )
        )
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    table,
                    sql.SQL(", ").join(map(sql.Identifier, names)),
                    sql.SQL(", ").join(sql.Placeholder() * len(names)),
                ),
                [[None if _nan(row[n]) else row[n] for n in names] for row in rows],
            )


def read_table(db: Database) -> list[dict]:
    """The rows of ml.void_wall ([] when analyze has not run)."""
    table = sql.Identifier(db.ns.ml, "void_wall")
    with db.connect() as conn:
        if not relation_exists(conn, db.ns.ml, "void_wall"):
            return []
        cur = conn.execute(sql.SQL("SELECT * FROM {} ORDER BY id").format(table))
        names = [d.name for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _type(name: str) -> str:
    if name in TEXT_COLUMNS:
        return "text"
    if name in INT_COLUMNS:
        return "integer"
    return "double precision"


def _nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)
