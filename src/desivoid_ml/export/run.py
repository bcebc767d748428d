"""One export: pick the source, count its rows in the same snapshot, stream it to the file."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from desivoid_ml.db.connection import Database
from desivoid_ml.errors import DesivoidError
from desivoid_ml.export.source import KINDS, analysis_source, embeddings_source, features_source
from desivoid_ml.export.writers import FORMATS, open_writer
from desivoid_ml.progress import NullReporter, Reporter


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    rows: int
    columns: int
    seconds: float
    description: str


def export(
    db: Database,
    kind: str,
    fmt: str,
    out: Path,
    run: str | None = None,
    algorithm: str | None = None,
    in_void: bool | None = None,
    reporter: Reporter | None = None,
) -> ExportSummary:
    """Write the rows of `kind` to `out` (written beside it, then renamed: never half a file)."""
    if kind not in KINDS:
        raise DesivoidError(f"unknown export {kind!r}; choose one of {', '.join(KINDS)}")
    if fmt not in FORMATS:
        raise DesivoidError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if kind == "analysis" and (in_void is not None or algorithm or run):
        raise DesivoidError("--run, --algorithm, --in-void/--wall apply to features and embeddings")
    if kind == "features" and run:
        raise DesivoidError("--run applies to embeddings (features do not depend on a run)")
    if not out.parent.is_dir():
        raise DesivoidError(f"folder {out.parent} does not exist; create it first")
    started = time.perf_counter()
    partial = out.with_name(f".{out.name}.partial")
    with db.connect() as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # count == rows written
        conn.read_only = True
        with conn.transaction():
            if kind == "features":
                source = features_source(db, conn, algorithm, in_void)
            elif kind == "embeddings":
                source = embeddings_source(db, conn, run, algorithm, in_void)
            else:
                source = analysis_source(db, conn)
            rows = source.count(conn)
            meta = {"kind": kind, "source": source.description, "rows": str(rows)}
            try:
                writer = open_writer(fmt, partial, source.schema(), rows, meta)
                with (reporter or NullReporter()).task(f"export {kind}", rows) as step:
                    for batch in source.batches(conn):
                        writer.write(batch)
                        step.advance(batch.num_rows)
                writer.close()
                os.replace(partial, out)
            finally:
                partial.unlink(missing_ok=True)
    return ExportSummary(
        out, rows, len(source.columns), time.perf_counter() - started, source.description
    )
