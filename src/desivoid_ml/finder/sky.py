"""Sky-coordinate search: the GiST index on point(ra, dec) and Python wrappers of
`features.galaxy_at` / `ml.similar_to_position` (migration 0005)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.db.introspect import relation_exists, table_columns
from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.galaxy_table import SKY_INDEX

MAX_RADIUS_ARCSEC = 36_000.0  # 10 degrees: the SQL function refuses more


def ensure_sky_index(db: Database) -> bool:
    """Create the sky index on features.galaxy if it lacks one; True when it was created.

    `desivoid features` builds it with the table; this covers tables built before it did."""
    with db.connect(autocommit=True) as conn:
        if not relation_exists(conn, db.ns.features, "galaxy"):
            raise DesivoidError("features.galaxy does not exist; run `desivoid features` first")
        if {"ra", "dec"} - set(table_columns(conn, db.ns.features, "galaxy")):
            raise DesivoidError("features.galaxy has no ra/dec columns; re-run `desivoid features`")
        if relation_exists(conn, db.ns.features, SKY_INDEX):
            return False
        conn.execute(
            sql.SQL('CREATE INDEX IF NOT EXISTS {} ON {} USING gist (point(ra, "dec"))').format(
                sql.Identifier(SKY_INDEX), sql.Identifier(db.ns.features, "galaxy")
            )
        )
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(db.ns.features, "galaxy")))
    return True


def check_position(ra: float, dec: float, radius_arcsec: float | None = None) -> None:
    """Refuse coordinates the SQL function would refuse, with a readable message."""
    if not (ra == ra and abs(ra) != float("inf")):
        raise DesivoidError(f"RA must be a finite number of degrees, got {ra}")
    if not -90.0 <= dec <= 90.0:
        raise DesivoidError(f"Dec must be between -90 and 90 degrees, got {dec}")
    if radius_arcsec is not None and not 0.0 <= radius_arcsec <= MAX_RADIUS_ARCSEC:
        raise DesivoidError(
            f"radius must be between 0 and {MAX_RADIUS_ARCSEC:g} arcsec, got {radius_arcsec}"
        )


def galaxies_at(
    conn: psycopg.Connection,
    db: Database,
    ra: float,
    dec: float,
    radius_arcsec: float = 2.0,
    limit: int = 100,
) -> list[dict]:
    """Galaxies within radius of (ra, dec), nearest first, as dicts."""
    check_position(ra, dec, radius_arcsec)
    cursor = conn.execute(
        sql.SQL("SELECT * FROM {}(%s, %s, %s) LIMIT %s").format(
            sql.Identifier(db.ns.features, "galaxy_at")
        ),
        (ra, dec, radius_arcsec, limit),
    )
    names = [d.name for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
