"""What `desivoid profiles` reads: the galaxies of the chosen samples as float32 columns (one
binary COPY into arrays allocated once: no second copy at millions of rows), their sky regions
and their bins."""

from __future__ import annotations

import numpy as np
import psycopg
from psycopg import sql

from desivoid_ml.analysis.regions import sky_regions
from desivoid_ml.db.connection import Namespace
from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.db.copy_out import copy_out
from desivoid_ml.errors import DesivoidError

REGION_CELL_DEG = 0.25  # sky cells that share a jackknife region (regions are degrees across)


def read_columns(
    conn: psycopg.Connection, ns: Namespace, prefixes: list[str], floats: list[str]
) -> dict[str, np.ndarray]:
    """Galaxies in any of these samples: `<prefix>_sample` as int8 (1 void, 0 wall, -1
    neither), then the float columns as float32 (NaN for NULL)."""
    codes = [
        sql.SQL("COALESCE(CASE {s} WHEN 'void' THEN 1 WHEN 'wall' THEN 0 END, -1)::int2").format(
            s=sql.Identifier(f"{p}_sample")
        )
        for p in prefixes
    ]
    values = [
        sql.SQL("COALESCE(({})::float4, 'NaN'::float4)").format(sql.Identifier(c)) for c in floats
    ]
    anywhere = sql.SQL(" OR ").join(
        sql.SQL("{} IS NOT NULL").format(sql.Identifier(f"{p}_sample")) for p in prefixes
    )
    table = sql.Identifier(ns.features, "galaxy")
    n = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(table, anywhere))
    n = n.fetchone()[0]
    if n == 0:
        raise DesivoidError("no galaxy is in the void or wall sample of the chosen algorithms")
    query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
        sql.SQL(", ").join(codes + values), table, anywhere
    )
    wire = [CopyColumn(f"{p}_sample", "smallint") for p in prefixes]
    wire += [CopyColumn(c, "real") for c in floats]
    out = {c.name: np.empty(n, np.int8 if c.pg_type == "smallint" else np.float32) for c in wire}
    filled = 0
    for block in copy_out(conn, query, wire):
        size = min(len(block), n - filled)  # rows inserted meanwhile are not counted
        for name, column in out.items():
            column[filled : filled + size] = block[name][:size]
        filled += size
    return {name: column[:filled] for name, column in out.items()}


def regions_of(ra: np.ndarray, dec: np.ndarray, count: int) -> np.ndarray:
    """The jackknife regions (analysis/regions.py) of galaxies, computed once per REGION_CELL_DEG
    cell of the sky (a galaxy takes its cell's region): millions of galaxies, same regions."""
    known = np.isfinite(ra) & np.isfinite(dec)
    region = np.full(len(ra), -1, dtype=np.int16)
    if not known.any():
        return region
    i = np.floor(np.asarray(ra[known], float) % 360.0 / REGION_CELL_DEG).astype(np.int64)
    j = np.floor((np.asarray(dec[known], float) + 90.0) / REGION_CELL_DEG).astype(np.int64)
    cells, inverse = np.unique(i * 10_000 + j, return_inverse=True)
    centre_ra = (cells // 10_000 + 0.5) * REGION_CELL_DEG
    centre_dec = (cells % 10_000 + 0.5) * REGION_CELL_DEG - 90.0
    region[known] = sky_regions(centre_ra, centre_dec, count)[inverse]
    return region


def bins(values: np.ndarray, edges) -> np.ndarray:
    """Bin index (int8) of each value, -1 outside [edges[0], edges[-1]) or NaN."""
    index = np.searchsorted(np.asarray(edges, dtype=np.float32), values, side="right") - 1
    inside = np.isfinite(values) & (index >= 0) & (index < len(edges) - 1)
    return np.where(inside, index, -1).astype(np.int8)
