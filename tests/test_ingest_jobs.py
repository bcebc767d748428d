"""`desivoid ingest --jobs N`: several files at once, each its own transaction, same result."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg import sql

from desivoid_ml.db.connection import drop_namespace, open_database
from desivoid_ml.ingest.runner import ingest
from desivoid_ml.synth import write_catalogs


def _contents(db) -> dict[str, tuple[int, int]]:
    """Rows and an order-free checksum of every value but file_id (load order), per table."""
    out = {}
    with db.connect() as conn:
        for table in ("galaxies", "vf_holes", "v2_galzone"):
            out[table] = conn.execute(
                sql.SQL(
                    "SELECT count(*), sum(hashtextextended((to_jsonb(t) - 'file_id')::text, 0) "
                    "% 1000003) FROM {} t"
                ).format(sql.Identifier(db.ns.raw, table))
            ).fetchone()
        out["done"] = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE status = 'done'").format(
                sql.Identifier(db.ns.meta, "source_files")
            )
        ).fetchone()
    return out


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("raw")
    write_catalogs(out, 3000, seed=3, chunk_rows=1000)
    return out


def test_jobs_load_the_same_rows_as_one_connection(db, catalogs: Path) -> None:
    results = ingest(db, [catalogs], jobs=3)
    assert all(r.status == "loaded" for r in results)
    assert [r.path for r in results] == sorted(catalogs.glob("*.fits"))
    parallel = _contents(db)
    serial_db = open_database(prefix=f"{db.ns.prefix}s_")
    try:
        ingest(serial_db, [catalogs])
        assert _contents(serial_db) == parallel
    finally:
        drop_namespace(serial_db)
    assert parallel["galaxies"][0] == 3000
    again = ingest(db, [catalogs], jobs=3)
    assert {r.status for r in again} == {"skipped"}
