"""Ingest FITS files: check them all, then load each file in one transaction (all or nothing).

A file is identified by its sha256. A file already loaded is skipped; a run killed at any moment
leaves no trace of the file it was loading (its transaction never committed), so re-running
loads exactly the missing files. Keys and indexes are built after the bulk load, then ANALYZE.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql

from desivoid_ml.db.connection import Database, Namespace, set_setting
from desivoid_ml.db.copy_binary import RowEncoder
from desivoid_ml.db.copy_in import copy_in
from desivoid_ml.errors import DesivoidError, FitsError, IngestError, first_line
from desivoid_ml.ingest import manifest
from desivoid_ml.ingest.catalogs import plan_file
from desivoid_ml.ingest.config import IngestOptions
from desivoid_ml.ingest.fits_reader import scan
from desivoid_ml.ingest.plans import FilePlan, TableLoad
from desivoid_ml.ingest.tables import FILE_ID, add_index, add_primary_key, analyze, ensure_table
from desivoid_ml.ingest.vf_mask import store_mask
from desivoid_ml.prefetch import prefetch
from desivoid_ml.progress import NullReporter, Reporter

INGEST_LOCK_BASE = 0x696E_6765  # "inge"
LOCK_WAIT_S = 30
KEY_BUILD_MEMORY = "512MB"  # lets the primary-key sort of a few million rows stay in memory


@dataclass
class FileResult:
    """What happened to one file."""

    path: Path
    kind: str
    status: str  # 'loaded' or 'skipped'
    rows: dict[str, int]
    seconds: float

    @property
    def rows_per_s(self) -> float:
        total = sum(self.rows.values())
        return total / self.seconds if self.seconds > 0 else 0.0


def find_fits_files(paths: list[Path]) -> list[Path]:
    """The FITS files named, with folders expanded to the *.fits inside them."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix.lower() in (".fits", ".fit"))
            if not inside:
                raise FitsError(f"{path}: folder holds no .fits files")
            found += inside
        elif path.exists():
            found.append(path)
        else:
            raise FitsError(f"{path}: no such file or folder; check the path")
    return found


def ingest(
    db: Database,
    paths: list[Path],
    options: IngestOptions | None = None,
    reporter: Reporter | None = None,
    jobs: int = 1,
) -> list[FileResult]:
    """Load every file not loaded yet; every file is checked before anything is written.
    jobs > 1 loads that many files at once, each on its own connection and in its own
    transaction (for servers with cores to spare); keys and ANALYZE still come once, at the end."""
    options = options or IngestOptions()
    reporter = reporter or NullReporter()
    plans = [plan_file(scan(path), options.fastspec_columns) for path in find_fits_files(paths)]
    # autocommit: each `conn.transaction()` below is then a real transaction, one per file
    with db.connect(autocommit=True) as conn:
        _take_lock(conn, db.ns)
        if jobs > 1:
            results = _ingest_parallel(db, conn, plans, options, reporter, jobs)
        else:
            results = [_ingest_file(conn, db.ns, plan, options, reporter) for plan in plans]
        loaded = [p for p, r in zip(plans, results, strict=True) if r.status == "loaded"]
        _build_keys(conn, db.ns, [load for plan in loaded for load in plan.loads])
    return results


def _ingest_parallel(
    db: Database, conn, plans: list[FilePlan], options: IngestOptions, reporter, jobs: int
) -> list[FileResult]:
    """The first file of each target table alone (it creates the table), the rest `jobs` at a
    time; results in the order of `plans`."""
    results: dict[int, FileResult] = {}
    created: set[str] = set()
    rest = []
    for i, plan in enumerate(plans):
        tables = {load.table for load in plan.loads}
        if tables <= created:
            rest.append(i)
        else:
            results[i] = _ingest_file(conn, db.ns, plan, options, reporter)
            created |= tables

    def one(i: int) -> tuple[int, FileResult]:
        with db.connect(autocommit=True) as own:
            return i, _ingest_file(own, db.ns, plans[i], options, reporter)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results.update(pool.map(one, rest))
    return [results[i] for i in range(len(plans))]


def _take_lock(conn: psycopg.Connection, ns: Namespace) -> None:
    """One ingest per namespace at a time; waits a little for a killed run's session to end."""
    key = INGEST_LOCK_BASE ^ int(hashlib.sha1(ns.prefix.encode()).hexdigest()[:4], 16)
    set_setting(conn, "lock_timeout", f"{LOCK_WAIT_S}s")
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
    except psycopg.errors.LockNotAvailable as exc:
        raise IngestError(
            "another ingest is running against this database; wait for it to end"
        ) from exc
    conn.execute("RESET lock_timeout")


class _SameContent(Exception):
    """The file just loaded has the content of a file loaded before from another path."""


def _ingest_file(
    conn, ns: Namespace, plan: FilePlan, options: IngestOptions, reporter: Reporter
) -> FileResult:
    """Load one file in one transaction; its sha256 is computed meanwhile in a thread."""
    path = plan.fits.path
    if _loaded_from_here(conn, ns, path):
        return FileResult(path, plan.kind, "skipped", {}, 0.0)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(manifest.sha256_file, path)
        try:
            with conn.transaction():
                file_id = manifest.begin(conn, ns, path, plan.kind)
                if plan.catalog:
                    _register_catalog(conn, ns, plan, file_id)
                rows = {
                    load.table: _load_table(conn, ns, load, file_id, options, reporter)
                    for load in plan.loads
                }
                previous = manifest.find(conn, ns, digest.result())
                if previous and previous.status == "done":
                    raise _SameContent(previous.path)
                manifest.finish(conn, ns, file_id, time.perf_counter() - started, digest.result())
        except _SameContent:  # rare: a copy of a loaded file under another name; rolled back
            return FileResult(path, plan.kind, "skipped", {}, 0.0)
        except (psycopg.Error, DesivoidError, ValueError) as exc:
            message = first_line(exc)
            manifest.record_failure(conn, ns, path, digest.result(), plan.kind, message)
            raise IngestError(
                f"{path.name}: {message}; nothing of this file was committed"
            ) from exc
    return FileResult(path, plan.kind, "loaded", rows, time.perf_counter() - started)


def _loaded_from_here(conn, ns: Namespace, path: Path) -> bool:
    """Already loaded from this path with the same content (size first, then sha256)."""
    previous = manifest.find_done_at(conn, ns, path)
    if previous is None or previous.size_bytes != path.stat().st_size:
        return False
    return manifest.sha256_file(path) == previous.sha256


def _register_catalog(conn, ns: Namespace, plan: FilePlan, file_id: int) -> None:
    info = plan.catalog
    table = sql.Identifier(ns.raw, "void_catalogs")
    clash = conn.execute(
        sql.SQL("SELECT file_id FROM {} WHERE catalog = %s").format(table), (info["catalog"],)
    ).fetchone()
    if clash:
        raise IngestError(
            f"catalog {info['catalog']!r} is already loaded from another file "
            f"(file_id {clash[0]}); `desivoid db reset --yes` starts afresh"
        )
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (catalog, algorithm, cap, file_id, omegam, hp, header) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)"
        ).format(table),
        (
            info["catalog"],
            info["algorithm"],
            info["cap"],
            file_id,
            info["omegam"],
            info["hp"],
            json.dumps(manifest.header_dict(plan.fits.primary_header)),
        ),
    )
    if info["algorithm"] == "VoidFinder":
        store_mask(conn, ns, plan.fits, info["catalog"], file_id)  # its MASK HDU, if any


def _load_table(
    conn, ns: Namespace, load: TableLoad, file_id: int, options: IngestOptions, reporter: Reporter
) -> int:
    """Binary COPY of every row of the load; returns the rows written."""
    started = time.perf_counter()
    columns = [FILE_ID, *load.copy_columns]
    ensure_table(conn, ns.raw, load.table, columns, load.allow_new_columns)
    encoder = RowEncoder(columns)
    table = sql.Identifier(ns.raw, load.table)
    label = f"{load.hdus[0].path.name} → {load.table}"
    with reporter.task(label, load.nrows) as step, copy_in(conn, table, columns) as send:
        for rows, payload in prefetch(_encoded_chunks(load, encoder, file_id, options.chunk_rows)):
            send(payload)
            step.advance(rows)
    seconds = time.perf_counter() - started
    for hdu in load.hdus:
        manifest.record_hdu(
            conn,
            ns,
            file_id,
            hdu.index,
            hdu.extname,
            load.table,
            hdu.nrows,
            load.nrows,
            seconds,
            hdu.header,
        )
    return load.nrows


def _encoded_chunks(load: TableLoad, encoder: RowEncoder, file_id: int, chunk_rows: int):
    """(rows, COPY bytes) per chunk: reading the FITS rows and encoding them."""
    for start in range(0, load.nrows, chunk_rows):
        stop = min(start + chunk_rows, load.nrows)
        values, nulls = load.chunk(start, stop)
        file_ids = np.full(stop - start, file_id, dtype=np.int32)
        yield stop - start, encoder.encode([file_ids, *values], [None, *nulls])


def _build_keys(conn, ns: Namespace, loads: list[TableLoad]) -> None:
    """Primary keys and indexes after the bulk load, then ANALYZE each table touched."""
    by_table = {load.table: load for load in loads}
    set_setting(conn, "maintenance_work_mem", KEY_BUILD_MEMORY)
    with conn.transaction():
        for table, load in by_table.items():
            add_primary_key(conn, ns.raw, table, load.key)
            for columns in load.indexes:
                add_index(conn, ns.raw, table, columns)
    for table in by_table:
        analyze(conn, ns.raw, table)
