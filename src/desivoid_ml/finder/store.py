"""What the finder reads from the database, through read-only connections only."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from desivoid_ml.algorithms import ALGORITHM_NAMES
from desivoid_ml.db.connection import CONNECT_TIMEOUT_S, Database
from desivoid_ml.db.introspect import relation_exists, table_columns
from desivoid_ml.finder.search_cache import SearchCache

READ_ONLY = "-c default_transaction_read_only=on -c statement_timeout=20000"
ALGORITHMS = tuple(ALGORITHM_NAMES)  # the column prefixes: vf, vide, zobov, revolver
KEY = ("targetid", "survey", "program")
CATALOG_TTL_S = 5.0  # how long column lists and table existence are trusted


class NotFound(LookupError):
    """An unknown galaxy, run or page: the app answers 404 with the message."""


class NestedConnection(RuntimeError):
    """A request asked the pool for a second connection while holding one: with as many such
    requests as the pool has connections, every one of them would wait for the others."""


def read_only_pool(db: Database, size: int = 8) -> ConnectionPool:
    """A pool whose every connection refuses writes (default_transaction_read_only=on)."""
    return ConnectionPool(
        db.dsn,
        min_size=1,
        max_size=size,
        kwargs={"autocommit": True, "options": READ_ONLY, "connect_timeout": CONNECT_TIMEOUT_S},
        open=True,
        timeout=30,
    )


@dataclass
class Store:
    """The database seen by the app: a namespace and a read-only connection pool."""

    db: Database
    pool: ConnectionPool
    searches: SearchCache = field(default_factory=SearchCache, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)
    _held: threading.local = field(default_factory=threading.local, repr=False)

    @contextmanager
    def conn(self) -> Iterator[psycopg.Connection]:
        """One pooled connection; a second one in the same thread is refused (a deadlock once
        the pool is exhausted), so read what you need before or after, never inside."""
        if getattr(self._held, "conn", False):
            raise NestedConnection("a pool connection was requested while one is held")
        self._held.conn = True
        try:
            with self.pool.connection() as conn:
                yield conn
        finally:
            self._held.conn = False

    def galaxy_columns(self) -> dict[str, str]:
        """features.galaxy's columns (cached a few seconds: `desivoid features` may rebuild it)."""
        return self._cached(
            ("columns",), lambda conn: table_columns(conn, self.db.ns.features, "galaxy")
        )

    def table_exists(self, schema: str, table: str) -> bool:
        return self._cached(
            ("exists", schema, table), lambda conn: relation_exists(conn, schema, table)
        )

    def _cached(self, key: tuple, read):
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CATALOG_TTL_S:
            return hit[1]
        with self.conn() as conn:
            value = read(conn)
        self._cache[key] = (now, value)
        return value

    def galaxies(
        self, targetid: int, survey: str | None = None, program: str | None = None
    ) -> list[dict]:
        """Every features.galaxy row with this TARGETID (and survey/program when given)."""
        query = sql.SQL(
            "SELECT * FROM {} WHERE targetid = %s AND (%s::text IS NULL OR survey = %s) "
            "AND (%s::text IS NULL OR program = %s) ORDER BY survey, program"
        ).format(sql.Identifier(self.db.ns.features, "galaxy"))
        with self.conn() as conn:
            cursor = conn.execute(query, (targetid, survey, survey, program, program))
            names = [d.name for d in cursor.description]
            return [clean(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]

    def nearest_voids(self, galaxy: dict) -> dict[str, dict]:
        """Per algorithm, the void whose centre is nearest to the galaxy (features.voids, held
        in memory as arrays and reloaded every CATALOG_TTL_S)."""
        if galaxy.get("x") is None or not self.table_exists(self.db.ns.features, "voids"):
            return {}
        voids = self._cached(("voids",), self._read_voids)
        point = np.array([galaxy["x"], galaxy["y"], galaxy["zc"]], dtype=float)
        nearest = {}
        for algorithm, (catalogs, ids, centres, radii) in voids.items():
            distances = np.sqrt(((centres - point) ** 2).sum(axis=1))
            i = int(np.argmin(distances))
            nearest[algorithm.lower()] = {
                "catalog": str(catalogs[i]),
                "void": int(ids[i]),
                "distance_mpch": float(distances[i]),
                "r_over_radius": float(distances[i] / radii[i]),
            }
        return nearest

    def _read_voids(self, conn: psycopg.Connection) -> dict[str, tuple]:
        rows = conn.execute(
            sql.SQL("SELECT algorithm, catalog, void, x, y, z, radius FROM {}").format(
                sql.Identifier(self.db.ns.features, "voids")
            )
        ).fetchall()
        by_algorithm: dict[str, list] = {}
        for row in rows:
            by_algorithm.setdefault(row[0], []).append(row[1:])
        return {
            a: (
                np.array([r[0] for r in rs]),
                np.array([r[1] for r in rs]),
                np.array([r[2:5] for r in rs], dtype=float),
                np.array([r[5] for r in rs], dtype=float),
            )
            for a, rs in by_algorithm.items()
        }

    def embedded_runs(self) -> list[str]:
        """Run ids with embeddings, newest first (cached a few seconds)."""
        query = sql.SQL("SELECT run_id FROM {} ORDER BY created DESC").format(
            sql.Identifier(self.db.ns.ml, "embedding_sets")
        )
        return self._cached(("runs",), lambda conn: [r[0] for r in conn.execute(query).fetchall()])

    def runs(self) -> list[dict]:
        """ml.runs joined with their embedding sets, newest first."""
        query = sql.SQL(
            "SELECT r.run_id, r.created, r.model_kind, r.code_dim, r.metrics, "
            "s.rows AS embedded_rows, s.created AS embedded_at "
            "FROM {} r LEFT JOIN {} s USING (run_id) ORDER BY r.created DESC"
        ).format(
            sql.Identifier(self.db.ns.ml, "runs"), sql.Identifier(self.db.ns.ml, "embedding_sets")
        )
        with self.conn() as conn:
            cursor = conn.execute(query)
            names = [d.name for d in cursor.description]
            return [clean(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]

    def void_wall(self) -> tuple[list[str], list[tuple]] | None:
        """ml.void_wall as (columns, rows), whatever its columns; None when it does not exist."""
        with self.conn() as conn:
            if not relation_exists(conn, self.db.ns.ml, "void_wall"):
                return None  # not cached: `desivoid analyze` may have just run
            cursor = conn.execute(
                sql.SQL("SELECT * FROM {}").format(sql.Identifier(self.db.ns.ml, "void_wall"))
            )
            names = [d.name for d in cursor.description]
            return names, [tuple(clean_value(v) for v in row) for row in cursor.fetchall()]


def clean_value(value):
    """JSON-friendly: non-finite floats become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def clean(row: dict) -> dict:
    return {k: clean_value(v) for k, v in row.items()}
