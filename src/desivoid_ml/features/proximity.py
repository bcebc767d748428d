"""Proximity in SQL: galaxies within d Mpc/h of a void, and the nearest void of a galaxy.

The embedded server has no PostGIS or cube, so 3-D positions are indexed with the built-in GiST
on `point(x, y)`: a box query on (x, y) narrows millions of galaxies to a few thousand, and the
exact 3-D distance filters those. Void centres are re-projected into the feature cosmology so
galaxy and void positions share one frame even when catalogs used another Ωm.
"""

from __future__ import annotations

import numpy as np
from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.db.copy_binary import RowEncoder
from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.db.copy_in import copy_in, create_table
from desivoid_ml.features.cosmology import Cosmology, sky_from_cartesian
from desivoid_ml.features.void_catalogs import VoidCatalog

VOID_COLUMNS = [
    CopyColumn("catalog", "text", text_width=64),
    CopyColumn("algorithm", "text", text_width=16),
    CopyColumn("cap", "text", text_width=3),
    CopyColumn("void", "bigint"),
    CopyColumn("x", "double precision"),
    CopyColumn("y", "double precision"),
    CopyColumn("z", "double precision"),
    CopyColumn("radius", "double precision"),
]

FUNCTIONS = """
CREATE OR REPLACE FUNCTION {schema}.galaxies_near_void(
    p_catalog text, p_void bigint, p_distance double precision)
RETURNS TABLE (targetid bigint, survey text, program text, distance_mpch double precision)
LANGUAGE sql STABLE AS $$
    SELECT g.targetid, g.survey, g.program,
           sqrt((g.x - v.x) ^ 2 + (g.y - v.y) ^ 2 + (g.zc - v.z) ^ 2)
    FROM {schema}.voids v
    JOIN {schema}.galaxy g
      ON point(g.x, g.y) <@ box(point(v.x - p_distance, v.y - p_distance),
                                point(v.x + p_distance, v.y + p_distance))
    WHERE v.catalog = p_catalog AND v.void = p_void
      AND (g.x - v.x) ^ 2 + (g.y - v.y) ^ 2 + (g.zc - v.z) ^ 2 < p_distance ^ 2
    ORDER BY 4
$$;

CREATE OR REPLACE FUNCTION {schema}.nearest_void(p_targetid bigint)
RETURNS TABLE (algorithm text, catalog text, void bigint, distance_mpch double precision,
               r_over_radius double precision)
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (v.algorithm) v.algorithm, v.catalog, v.void, d.distance,
           d.distance / v.radius
    FROM {schema}.galaxy g
    CROSS JOIN {schema}.voids v
    CROSS JOIN LATERAL (SELECT sqrt((g.x - v.x) ^ 2 + (g.y - v.y) ^ 2 + (g.zc - v.z) ^ 2)
                        AS distance) d
    WHERE g.targetid = p_targetid AND g.x IS NOT NULL
    ORDER BY v.algorithm, d.distance
$$;
"""


def reproject(centres: np.ndarray, source: Cosmology, target: Cosmology) -> np.ndarray:
    """Positions made with one cosmology, moved to where the same (ra, dec, z) sit in another."""
    if source == target or len(centres) == 0:
        return centres
    ra, dec, r = sky_from_cartesian(centres)
    return target.cartesian(ra, dec, source.redshift_at(r))


def create_proximity(conn, db: Database, catalogs: list[VoidCatalog], cosmology: Cosmology) -> None:
    """features.voids (all void centres in the feature cosmology) and the two SQL functions."""
    table = sql.Identifier(db.ns.features, "voids")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(table))
    create_table(conn, table, VOID_COLUMNS, primary_key=("catalog", "void"))
    encoder = RowEncoder(VOID_COLUMNS)
    with copy_in(conn, table, VOID_COLUMNS) as send:
        for catalog in catalogs:
            send(encoder.encode(_void_rows(catalog, cosmology)))
    conn.execute(sql.SQL(FUNCTIONS).format(schema=sql.Identifier(db.ns.features)))


def _void_rows(catalog: VoidCatalog, cosmology: Cosmology) -> list[np.ndarray]:
    n = len(catalog.void_id)
    xyz = reproject(catalog.void_xyz, catalog.cosmology, cosmology)
    return [
        np.full(n, catalog.name),
        np.full(n, catalog.algorithm),
        np.full(n, catalog.cap or ""),
        catalog.void_id,
        xyz[:, 0],
        xyz[:, 1],
        xyz[:, 2],
        catalog.void_radius,
    ]
