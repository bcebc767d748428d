"""Benchmark the FITS -> PostgreSQL ingest on one FastSpecFit-shaped file, against a raw binary COPY
of the same rows already encoded in memory (the limit) and psycopg's `write_row` (the naive way).

All figures come from the same file in one run; timed figures are the best of --repeat. Each ingest
runs in a fresh spawned process that reports its own peak RSS, at N/4 and at N rows. Tables live in
the `bench_` schema namespace (dropped at the end), files in a temporary folder.

The script is long (~350 lines) because it holds three loaders (ingest, pre-encoded COPY,
write_row) and two modes (one file; a 12-file folder with --multi); each function is one
measurement, and the baselines write the wire format by hand on purpose (they are the floor).
"""

from __future__ import annotations

import argparse
import itertools
import signal
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from psycopg import sql

from desivoid_ml.db.connection import Database, drop_namespace, open_database
from desivoid_ml.db.copy_binary import RowEncoder
from desivoid_ml.db.copy_format import HEADER, TRAILER, CopyColumn
from desivoid_ml.fits_layout import padded
from desivoid_ml.ingest import manifest, runner
from desivoid_ml.ingest.catalogs import plan_file
from desivoid_ml.ingest.config import IngestOptions, load_options
from desivoid_ml.ingest.fits_reader import scan
from desivoid_ml.ingest.plans import TableLoad
from desivoid_ml.ingest.tables import FILE_ID, ensure_table
from desivoid_ml.memory import peak_rss_mb
from desivoid_ml.synth import write_catalogs

PREFIX = "bench_"
COPY_BLOCK = 8 << 20  # bytes per read when concatenating FITS data
TIMED_CALLS = ((manifest, "sha256_file"), (runner, "add_primary_key"), (runner, "analyze"))


def concat_fastspec(sources: list[Path], out: Path, nrows: int) -> None:
    """Write the first `nrows` rows of same-layout FastSpecFit files as one file, HDU by HDU."""
    layouts = [scan(p) for p in sources]
    with out.open("wb") as dst:
        with sources[0].open("rb") as src:
            dst.write(src.read(layouts[0].hdus[0].data_offset))  # PRIMARY: a header, no data
        for k in range(1, len(layouts[0].hdus)):
            header = layouts[0].hdus[k].header.copy()
            header["NAXIS2"] = nrows
            for stale in ("CHECKSUM", "DATASUM"):
                header.remove(stale, ignore_missing=True)
            dst.write(header.tostring().encode("ascii"))
            left, width = nrows, header["NAXIS1"]
            for layout in layouts:
                take = min(left, layout.hdus[k].nrows)
                _copy_range(layout.path, layout.hdus[k].data_offset, take * width, dst)
                left -= take
            dst.write(b"\0" * (padded(nrows * width) - nrows * width))


def _copy_range(path: Path, offset: int, length: int, dst) -> None:
    with path.open("rb") as src:
        src.seek(offset)
        while length > 0:
            block = src.read(min(COPY_BLOCK, length))
            dst.write(block)
            length -= len(block)


def make_files(folder: Path, rows: int, seed: int) -> tuple[Path, Path, float]:
    """Files of N and N/4 rows cut from one synthetic catalog (whose own files are then removed)."""
    started = time.perf_counter()
    synth = write_catalogs(folder / "synth", rows, seed)
    fastspec = sorted(p for p in synth.files if p.name.startswith("fastspec-"))
    big, quarter = folder / "fastspec-bench-full.fits", folder / "fastspec-bench-quarter.fits"
    concat_fastspec(fastspec, big, rows)
    concat_fastspec(fastspec, quarter, rows // 4)
    for path in synth.files:
        path.unlink()
    return big, quarter, time.perf_counter() - started


def fresh_namespace() -> Database:
    """An empty, migrated `bench_` namespace (so each ingest finds nothing loaded yet)."""
    drop_namespace(open_database(PREFIX, migrate=False))
    return open_database(PREFIX)


@contextmanager
def _timer(phases: dict[str, float], name: str):
    started = time.perf_counter()
    try:
        yield
    finally:
        phases[name] += time.perf_counter() - started


def _time_calls(module, name: str, phases: dict[str, float]) -> None:
    """Wrap module.name so its calls add their seconds to phases[name] (src stays untouched)."""
    original = getattr(module, name)

    def timed(*args, **kwargs):
        with _timer(phases, name):
            return original(*args, **kwargs)

    setattr(module, name, timed)


class CopyTimer:
    """A Reporter: the ingest opens one task around each table's COPY loop, which we time."""

    def __init__(self, phases: dict[str, float]):
        self.phases = phases

    @contextmanager
    def task(self, label: str, total: int, unit: str = "rows"):
        with _timer(self.phases, "copy"):
            yield SimpleNamespace(advance=lambda n: None)


def ingest_child(path: str, globs: list[str], chunk_rows: int) -> dict[str, float]:
    """One ingest in a fresh process: seconds per phase, and this process's peak RSS in MB."""
    phases: dict[str, float] = defaultdict(float)
    for module, name in TIMED_CALLS:
        _time_calls(module, name, phases)
    db, options = open_database(PREFIX), IngestOptions(globs, chunk_rows)
    with _timer(phases, "total"):
        runner.ingest(db, [Path(path)], options, CopyTimer(phases))
    phases["peak_rss_mb"] = peak_rss_mb()
    return dict(phases)


def run_ingest(path: Path, globs: list[str], chunk_rows: int) -> dict[str, float]:
    fresh_namespace()
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(ingest_child, str(path), globs, chunk_rows).result()


def timed_copy(db: Database, columns: list[CopyColumn], send, *args) -> float:
    """Seconds for CREATE TABLE + COPY (`send(copy, *args)`) + COMMIT in one transaction, as the
    ingest does: both then skip the WAL alike under wal_level=minimal."""
    table = sql.Identifier(db.ns.raw, "bench_copy")
    statement = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(table)
    with db.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        started = time.perf_counter()
        with conn.transaction():
            ensure_table(conn, db.ns.raw, "bench_copy", columns, False)
            with conn.cursor().copy(statement) as copy:
                send(copy, *args)
        seconds = time.perf_counter() - started
        conn.execute(sql.SQL("DROP TABLE {}").format(table))
    return seconds


def send_encoded(copy, chunks: list[bytes]) -> None:
    copy.write(HEADER)
    for chunk in chunks:
        copy.write(chunk)
    copy.write(TRAILER)


def send_rows(copy, columns: list[CopyColumn], batches) -> None:
    """write_row for every row of every batch (an iterable of lists of tuples)."""
    copy.set_types([c.sql_type for c in columns])
    for row in itertools.chain.from_iterable(batches):
        copy.write_row(row)


def chunks(load: TableLoad, nrows: int, chunk_rows: int):
    """(values, nulls) of rows 0..nrows in chunks, the file_id column first, as the ingest reads."""
    for start in range(0, nrows, chunk_rows):
        values, nulls = load.chunk(start, min(start + chunk_rows, nrows))
        yield [np.ones(len(values[0]), dtype=np.int32), *values], [None, *nulls]


def python_rows(values: list[np.ndarray], nulls: list[np.ndarray | None]) -> list[tuple]:
    """Rows as the Python tuples (int, float, str, lists, None) that write_row takes."""
    lists = []
    for array, null in zip(values, nulls, strict=True):
        items = [v.decode() for v in array] if array.dtype.kind == "S" else array.tolist()
        if null is not None:
            items = [None if m else v for v, m in zip(items, null.tolist(), strict=True)]
        lists.append(items)
    return list(zip(*lists, strict=True))


def measure_copies(db: Database, load: TableLoad, args, chunk_rows: int) -> dict[str, float]:
    """Best-of seconds of the limit and of both naive variants, on the rows the ingest loads."""
    columns, n, best = [FILE_ID, *load.copy_columns], min(args.naive_rows, load.nrows), {}
    encoder, repeats = RowEncoder(columns), range(args.repeat)
    encoded = [encoder.encode(v, m) for v, m in chunks(load, load.nrows, chunk_rows)]
    best["limit"] = min(timed_copy(db, columns, send_encoded, encoded) for _ in repeats)
    del encoded
    best["naive"] = min(timed_copy(db, columns, send_rows, columns, (
        python_rows(v, m) for v, m in chunks(load, n, chunk_rows))) for _ in repeats)
    prebuilt = [python_rows(v, m) for v, m in chunks(load, n, chunk_rows)]
    best["write_row"] = min(timed_copy(db, columns, send_rows, columns, prebuilt) for _ in repeats)
    return best | {"columns": len(columns), "naive_rows": n}


def report(args, bytes_: int, synth_s: float, full: dict[str, float], quarter: dict[str, float],
           peak_full: float, copies: dict[str, float]) -> None:
    """The table of figures, then the one machine-readable line."""
    n, m = args.rows, copies["naive_rows"]
    ingest, limit, naive = n / full["total"], n / copies["limit"], m / copies["naive"]
    copy_rate, write_row = n / full["copy"], m / copies["write_row"]
    serial = [name for _, name in TIMED_CALLS if name != "sha256_file"]  # sha256: in a thread
    rest = full["total"] - full["copy"] - sum(full[name] for name in serial)
    rows = [
        ("ingest, end to end", ingest, full["total"], "sha256 + scan + CREATE TABLE + read FITS "
         "+ encode + COPY + COMMIT + primary key + ANALYZE"),
        ("  COPY phase", copy_rate, full["copy"], "read FITS (memmap) + encode + send + server "
         "COPY (timed by a Reporter hook)"),
        ("raw binary COPY (limit)", limit, copies["limit"], "CREATE TABLE + COPY of the same "
         "rows encoded in memory beforehand + COMMIT"),
        ("write_row COPY (naive)", naive, copies["naive"], f"first {m:,} rows: read FITS chunks "
         "+ build tuples + write_row (set_types) + CREATE/COMMIT"),
        ("  write_row only", write_row, copies["write_row"],
         "the same, tuples built before timing"),
    ]
    print(f"\nbench_ingest: one FastSpecFit-shaped file of {n:,} rows x {copies['columns']} "
          f"columns, {bytes_ / 1e9:.2f} GB (write_catalogs' per-HEALPix files concatenated, "
          f"{synth_s:.0f} s); best of {args.repeat}")
    print(f"\n{'figure':<26}{'rows/s':>10}{'seconds':>9}  includes")
    for name, rate, seconds, note in rows:
        print(f"{name:<26}{rate:>10,.0f}{seconds:>9.2f}  {note}")
    print(f"\ningest besides the COPY phase: primary key {full['add_primary_key']:.2f} s, "
          f"ANALYZE {full['analyze']:.2f} s, rest {rest:.2f} s (scan, plan, manifest, CREATE "
          f"TABLE, COMMIT, waiting for the sha256 thread); sha256 itself {full['sha256_file']:.2f}"
          " s, in a thread overlapping the COPY")
    print(f"ingest / limit = {ingest / limit:.2f} (target >= 0.8); COPY phase / limit = "
          f"{copy_rate / limit:.2f}")
    print(f"ingest / naive = {ingest / naive:.2f} (target >= 2.5); COPY phase / naive = "
          f"{copy_rate / naive:.2f}; ingest / write_row only = {ingest / write_row:.2f}")
    print(f"peak RSS of the ingest process: {quarter['peak_rss_mb']:.0f} MB at {n // 4:,} rows, "
          f"{peak_full:.0f} MB at {n:,} rows")
    print(f"bench_ingest rows={n} ingest_rows_per_s={ingest:.0f} limit_rows_per_s={limit:.0f} "
          f"naive_rows_per_s={naive:.0f} ratio_limit={ingest / limit:.3f} "
          f"ratio_naive={ingest / naive:.3f} peak_rss_mb={peak_full:.0f}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000, help="rows in the file (N)")
    parser.add_argument("--naive-rows", type=int, default=20_000, help="rows sent by write_row")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs; the best is kept")
    parser.add_argument("--chunk-rows", type=int, default=load_options().chunk_rows,
                        help="rows per COPY chunk (from configs/ingest.yaml)")
    parser.add_argument("--seed", type=int, default=1, help="synthetic catalog seed")
    parser.add_argument("--multi", action="store_true",
                        help="instead: a folder of FastSpecFit files (N rows in all) against the "
                             "same rows' raw COPY + one key build + one ANALYZE")
    return parser.parse_args()


def fastspec_folder(folder: Path, rows: int, seed: int) -> Path:
    """The synthetic catalog's FastSpecFit files (one per HEALPix pixel) alone in a folder."""
    synth = write_catalogs(folder / "synth", rows, seed)
    out = folder / "fastspec"
    out.mkdir()
    for path in synth.files:
        if path.name.startswith("fastspec-"):
            path.rename(out / path.name)
        else:
            path.unlink()
    return out


def limit_multi(db: Database, files: list[Path], globs: list[str], chunk_rows: int) -> dict:
    """The floor for a folder: every file's rows COPYed pre-encoded (one transaction per file,
    the table created in the first, as the ingest does), then one primary key, one ANALYZE."""
    loads = [plan_file(scan(path), globs).loads[0] for path in files]
    columns = [FILE_ID, *loads[0].copy_columns]
    table = sql.Identifier(db.ns.raw, loads[0].table)
    statement = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(table)
    encoder, seconds = RowEncoder(columns), defaultdict(float)
    with db.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        for i, load in enumerate(loads):
            encoded = [encoder.encode(v, m) for v, m in chunks(load, load.nrows, chunk_rows)]
            with _timer(seconds, "copy"), conn.transaction():
                if i == 0:
                    ensure_table(conn, db.ns.raw, load.table, columns, False)
                with conn.cursor().copy(statement) as copy:
                    send_encoded(copy, encoded)
            del encoded
        conn.execute(f"SET maintenance_work_mem = '{runner.KEY_BUILD_MEMORY}'")
        with _timer(seconds, "key"):
            runner.add_primary_key(conn, db.ns.raw, loads[0].table, loads[0].key)
        with _timer(seconds, "analyze"):
            runner.analyze(conn, db.ns.raw, loads[0].table)
    return dict(seconds) | {"rows": sum(load.nrows for load in loads)}


def main_multi(args, globs: list[str], chunk_rows: int) -> None:
    """Ingest of a folder of files vs the floor for the same rows; one ratio line."""
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        folder = fastspec_folder(Path(tmp), args.rows, args.seed)
        files = sorted(folder.glob("*.fits"))
        runs = [run_ingest(folder, globs, chunk_rows) for _ in range(args.repeat)]
        full = min(runs, key=lambda r: r["total"])
        db = fresh_namespace()
        try:
            limits = [limit_multi(db, files, globs, chunk_rows) for _ in range(args.repeat)]
        finally:
            drop_namespace(db)
    best = min(limits, key=lambda r: r["copy"] + r["key"] + r["analyze"])
    n, floor = best["rows"], best["copy"] + best["key"] + best["analyze"]
    rest = full["total"] - full["copy"] - full["add_primary_key"] - full["analyze"]
    print(f"\nbench_ingest --multi: {len(files)} FastSpecFit files, {n:,} rows; best of "
          f"{args.repeat}")
    print(f"{'':<28}{'total s':>8}{'COPY s':>8}{'key s':>7}{'ANALYZE s':>10}{'other s':>9}")
    print(f"{'desivoid ingest (folder)':<28}{full['total']:>8.2f}{full['copy']:>8.2f}"
          f"{full['add_primary_key']:>7.2f}{full['analyze']:>10.2f}{rest:>9.2f}")
    print(f"{'raw COPY + 1 key + 1 ANALYZE':<28}{floor:>8.2f}{best['copy']:>8.2f}"
          f"{best['key']:>7.2f}{best['analyze']:>10.2f}{0:>9.2f}")
    print(f"bench_ingest_multi files={len(files)} rows={n} ingest_s={full['total']:.2f} "
          f"floor_s={floor:.2f} ratio={floor / full['total']:.3f} "
          f"ingest_rows_per_s={n / full['total']:.0f} floor_rows_per_s={n / floor:.0f}")


def main() -> None:
    args = parse_args()
    if args.multi:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        main_multi(args, load_options().fastspec_columns, args.chunk_rows)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` cleans up on kill
    globs, chunk_rows = load_options().fastspec_columns, args.chunk_rows
    db = open_database(PREFIX)
    try:
        with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
            big, quarter, synth_s = make_files(Path(tmp), args.rows, args.seed)
            quarter_run = run_ingest(quarter, globs, chunk_rows)
            full_runs = [run_ingest(big, globs, chunk_rows) for _ in range(args.repeat)]
            db = fresh_namespace()
            copies = measure_copies(db, plan_file(scan(big), globs).loads[0], args, chunk_rows)
            report(args, big.stat().st_size, synth_s, min(full_runs, key=lambda r: r["total"]),
                   quarter_run, max(r["peak_rss_mb"] for r in full_runs), copies)
    finally:
        drop_namespace(db)


if __name__ == "__main__":
    main()
