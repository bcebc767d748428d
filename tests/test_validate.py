"""Validation reports what is wrong with loaded data, and passes clean data."""

from __future__ import annotations

from pathlib import Path

from fitsfactory import fastspec_like
from psycopg import sql

from desivoid_ml.ingest.config import IngestOptions
from desivoid_ml.ingest.runner import ingest
from desivoid_ml.ingest.validate import run_checks


def _by_name(checks) -> dict[str, str]:
    return {c.name: c.status for c in checks}


def test_nothing_loaded_fails(db) -> None:
    [check] = run_checks(db)
    assert check.status == "FAIL" and "desivoid ingest" in check.detail


def test_counts_keys_and_void_radii_pass_on_real_catalogs(db, real_fits: Path) -> None:
    ingest(db, sorted((real_fits / "voids").glob("TEST10K_*[!p].fits")))
    status = _by_name(run_checks(db))
    assert status["row counts = FITS NAXIS2"] == "pass"
    assert status["unique key vf_holes(catalog, hole)"] == "pass"
    assert status["void radii VoidFinder"] == "pass"
    assert status["void radii ZOBOV"] == "pass"


def test_a_lost_row_and_an_unphysical_sample_fail(db, tmp_path: Path) -> None:
    ingest(db, [fastspec_like(tmp_path / "f.fits", n=200)], IngestOptions(["HALPHA_*"]))
    with db.connect() as conn:
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE ctid IN (SELECT ctid FROM {} LIMIT 1)").format(
                sql.Identifier(db.ns.raw, "galaxies"), sql.Identifier(db.ns.raw, "galaxies")
            )
        )
    checks = run_checks(db)
    status = _by_name(checks)
    assert status["row counts = FITS NAXIS2"] == "FAIL"
    # masses drawn independently of redshift: no flux-limit trend, so the check must fail
    assert status["stellar mass rises with redshift"] == "FAIL"
    assert status["galaxy coordinates in range"] == "pass"
    detail = next(c.detail for c in checks if c.name == "row counts = FITS NAXIS2")
    assert "199 rows" in detail and "200" in detail


def test_a_duplicate_key_fails_when_no_unique_index_guards_it(db, real_fits: Path) -> None:
    ingest(db, sorted((real_fits / "voids").glob("TEST10K_*[!p].fits")))
    holes = sql.Identifier(db.ns.raw, "vf_holes")
    status = {c.name: c for c in run_checks(db)}
    assert "unique index" in status["unique key vf_holes(catalog, hole)"].detail
    with db.connect() as conn:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                holes, sql.Identifier("vf_holes_pkey")
            )
        )
        conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {} LIMIT 1").format(holes, holes))
    check = {c.name: c for c in run_checks(db)}["unique key vf_holes(catalog, hole)"]
    assert check.status == "FAIL" and "1 duplicates" in check.detail
