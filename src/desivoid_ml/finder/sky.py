"""Sky-coordinate search: the GiST index on point(ra, dec) and Python wrappers of
`features.galaxy_at` / `ml.similar_to_position` (migration 0005)."""

from __future__ import annotations

import math

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
    """The one rule for a position typed by a user (web, API, CLI): RA in [0, 360), Dec in
    [-90, 90], radius in [0, 36000] arcsec; anything else is refused, never wrapped."""
    if not (math.isfinite(ra) and 0.0 <= ra < 360.0):
        raise DesivoidError(f"ra must be in [0, 360) degrees, got {ra:g}")
    if not (math.isfinite(dec) and -90.0 <= dec <= 90.0):
        raise DesivoidError(f"dec must be in [-90, 90] degrees, got {dec:g}")
    if radius_arcsec is not None and not (
        math.isfinite(radius_arcsec) and 0.0 <= radius_arcsec <= MAX_RADIUS_ARCSEC
    ):
        raise DesivoidError(
            f"radius must be in [0, {MAX_RADIUS_ARCSEC:g}] arcsec, got {radius_arcsec:g}"
        )


def _check_arguments(ra: float, dec: float, radius_arcsec: float) -> None:
    """What the SQL function refuses (it also takes any finite RA and wraps it)."""
    if not math.isfinite(ra):
        raise DesivoidError(f"ra must be a finite number of degrees, got {ra:g}")
    check_position(0.0, dec, radius_arcsec)


def galaxies_at(
    conn: psycopg.Connection,
    db: Database,
    ra: float,
    dec: float,
    radius_arcsec: float = 2.0,
    limit: int = 100,
) -> list[dict]:
    """Galaxies within radius of (ra, dec), nearest first, as dicts; the function itself stops
    at `limit` rows (a 10-degree cap never builds its whole result)."""
    _check_arguments(ra, dec, radius_arcsec)
    cursor = conn.execute(
        sql.SQL("SELECT * FROM {}(%s, %s, %s, p_limit => %s)").format(
            sql.Identifier(db.ns.features, "galaxy_at")
        ),
        (ra, dec, radius_arcsec, limit),
    )
    names = [d.name for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
