"""Void catalogs read back from the `raw` tables the ingest loaded (`desivoid features`)."""

from __future__ import annotations

import json

import numpy as np
import psycopg
from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.db.copy_out import read_copy
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.void_catalogs import (
    GALZONE_COLUMNS,
    HOLES_COLUMNS,
    MAXIMALS_COLUMNS,
    VOIDS_COLUMNS,
    ZONEVOID_COLUMNS,
    V2Catalog,
    VoidCatalog,
    build_v2,
    build_voidfinder,
    share_galzone,
)

DB_OMEGAM_ADVICE = (
    "say which Ωm it was made with, e.g. `desivoid features void_catalogs.omegam=0.3`"
)


def read_db_catalogs(db: Database, omegam: float | None = None) -> list[VoidCatalog]:
    """Every catalog registered in raw.void_catalogs; `omegam` for those without OMEGAM."""
    with db.connect() as conn:
        rows = conn.execute(
            sql.SQL("SELECT catalog, algorithm, cap, header FROM {} ORDER BY catalog").format(
                sql.Identifier(db.ns.raw, "void_catalogs")
            )
        ).fetchall()
        catalogs: list[VoidCatalog] = []
        seen: dict[tuple, V2Catalog] = {}
        for name, algorithm, cap, header in rows:
            header = header if isinstance(header, dict) else json.loads(header)

            def cols(table: str, names: list[str], name=name) -> dict[str, np.ndarray]:
                return _db_columns(conn, db.ns.raw, table, name, names)

            if algorithm == "VoidFinder":
                catalogs.append(
                    build_voidfinder(
                        name,
                        header,
                        cap,
                        cols("vf_maximals", MAXIMALS_COLUMNS),
                        cols("vf_holes", HOLES_COLUMNS),
                        omegam,
                        read_db_mask(conn, db.ns.raw, name),
                        DB_OMEGAM_ADVICE,
                    )
                )
            else:
                catalog = build_v2(
                    name,
                    algorithm,
                    header,
                    cap,
                    cols("v2_voids", VOIDS_COLUMNS),
                    cols("v2_zonevoid", ZONEVOID_COLUMNS),
                    cols("v2_galzone", GALZONE_COLUMNS),
                    omegam,
                    DB_OMEGAM_ADVICE,
                )
                share_galzone(catalog, seen)
                catalogs.append(catalog)
    return catalogs


def read_db_mask(conn: psycopg.Connection, schema: str, catalog: str) -> np.ndarray | None:
    """The MASK HDU stored at ingest (raw.vf_masks, made by migration 0006), or None."""
    row = conn.execute(
        sql.SQL("SELECT n_ra, n_dec, cells FROM {} WHERE catalog = %s").format(
            sql.Identifier(schema, "vf_masks")
        ),
        (catalog,),
    ).fetchone()
    if row is None:
        return None
    n_ra, n_dec, cells = row
    return np.unpackbits(np.frombuffer(cells, dtype=np.uint8), count=n_ra * n_dec).reshape(
        n_ra, n_dec
    )


def _db_columns(
    conn: psycopg.Connection, schema: str, table: str, catalog: str, names: list[str]
) -> dict[str, np.ndarray]:
    """The named columns this catalog has, by binary COPY. A column another catalog's file
    added to the shared table is NULL on this catalog's rows: it is left out, as if absent."""
    present = table_columns(conn, schema, table)
    where = sql.SQL("catalog = {}").format(sql.Literal(catalog))
    wanted = [n for n in names if n in present]
    kept = _filled(conn, sql.Identifier(schema, table), where, wanted)
    columns = [CopyColumn.from_sql_type(n, present[n]) for n in kept]
    query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
        sql.SQL(", ").join(sql.Identifier(c.name) for c in columns),
        sql.Identifier(schema, table),
        where,
    )
    rows = read_copy(conn, query, columns)
    return {c.name: rows[c.name] for c in columns}


def _filled(conn, table: sql.Identifier, where: sql.Composable, names: list[str]) -> list[str]:
    """The columns with a value on every row (one scan); a partly NULL one is a clear error."""
    counts = conn.execute(
        sql.SQL("SELECT count(*), {} FROM {} WHERE {}").format(
            sql.SQL(", ").join(sql.SQL("count({})").format(sql.Identifier(n)) for n in names),
            table,
            where,
        )
    ).fetchone()
    rows, values = counts[0], dict(zip(names, counts[1:], strict=True))
    for name, filled in values.items():
        if 0 < filled < rows:
            raise DesivoidError(
                f"{table.as_string(None)}.{name} is NULL on {rows - filled} of {rows} rows of "
                "one catalog; re-ingest the catalog file"
            )
    return [n for n in names if values[n] == rows]
