"""The ingest manifest: which file (by sha256) went into which tables, with how many rows."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from astropy.io import fits
from psycopg import sql

from desivoid_ml.checksums import sha256_file  # noqa: F401  (re-exported: runner, benchmarks)
from desivoid_ml.db.connection import Namespace


@dataclass(frozen=True)
class LoadedFile:
    file_id: int
    path: str
    status: str
    sha256: str
    size_bytes: int


def find(conn: psycopg.Connection, ns: Namespace, sha256: str) -> LoadedFile | None:
    """The manifest entry for this file content, if any."""
    return _one(conn, ns, "sha256 = %s", sha256)


def find_done_at(conn: psycopg.Connection, ns: Namespace, path: Path) -> LoadedFile | None:
    """The finished entry loaded from this path, if any."""
    return _one(conn, ns, "path = %s AND status = 'done'", str(path.resolve()))


def _one(conn, ns: Namespace, where: str, value: str) -> LoadedFile | None:
    row = conn.execute(
        sql.SQL(
            "SELECT file_id, path, status, sha256, size_bytes FROM {} WHERE {} "
            "ORDER BY file_id DESC LIMIT 1"
        ).format(sql.Identifier(ns.meta, "source_files"), sql.SQL(where)),
        (value,),
    ).fetchone()
    return LoadedFile(*row) if row else None


def begin(conn, ns: Namespace, path: Path, kind: str) -> int:
    """Insert a 'loading' entry; its sha256 is filled in by `finish` (hashed while loading)."""
    row = conn.execute(
        sql.SQL(
            "INSERT INTO {} (path, sha256, size_bytes, kind, status) "
            "VALUES (%s, %s, %s, %s, 'loading') RETURNING file_id"
        ).format(sql.Identifier(ns.meta, "source_files")),
        (str(path.resolve()), f"pending:{uuid.uuid4()}", path.stat().st_size, kind),
    ).fetchone()
    return int(row[0])


def record_hdu(
    conn,
    ns: Namespace,
    file_id: int,
    hdu_index: int,
    extname: str,
    table: str,
    rows_expected: int,
    rows_loaded: int,
    seconds: float,
    header: fits.Header,
) -> None:
    """One manifest row per HDU loaded."""
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (file_id, hdu, extname, target_table, rows_expected, rows_loaded, "
            "seconds, header) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(sql.Identifier(ns.meta, "ingest_manifest")),
        (
            file_id,
            hdu_index,
            extname,
            table,
            rows_expected,
            rows_loaded,
            seconds,
            json.dumps(header_dict(header)),
        ),
    )


def finish(conn, ns: Namespace, file_id: int, seconds: float, sha256: str) -> None:
    """Mark the file loaded under its content hash (dropping older failed attempts of it)."""
    table = sql.Identifier(ns.meta, "source_files")
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE sha256 = %s AND status <> 'done' AND file_id <> %s").format(
            table
        ),
        (sha256, file_id),
    )
    conn.execute(
        sql.SQL(
            "UPDATE {} SET status = 'done', finished_at = now(), seconds = %s, sha256 = %s "
            "WHERE file_id = %s"
        ).format(table),
        (seconds, sha256, file_id),
    )


def record_failure(conn, ns: Namespace, path: Path, sha256: str, kind: str, error: str) -> None:
    """Leave a 'failed' entry (no data) so the manifest shows what went wrong."""
    table = sql.Identifier(ns.meta, "source_files")
    with conn.transaction():
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE sha256 = %s AND status <> 'done'").format(table),
            (sha256,),
        )
        file_id = begin(conn, ns, path, kind)
        conn.execute(
            sql.SQL(
                "UPDATE {} SET status = 'failed', finished_at = now(), error = %s, "
                "sha256 = %s WHERE file_id = %s"
            ).format(table),
            (error, sha256, file_id),
        )


def header_dict(header: fits.Header) -> dict:
    """A FITS header as JSON-ready {keyword: value}; commentary cards dropped."""
    out = {}
    for card in header.cards:
        if card.keyword in ("", "COMMENT", "HISTORY", "END"):
            continue
        value = card.value
        if (
            isinstance(value, float)
            and not math.isfinite(value)
            or not isinstance(value, bool | int | float | str)
        ):
            value = None
        out[card.keyword] = value
    return out
