"""Real FITS files from DESI, Legacy Surveys and VAST ingest unchanged, value for value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from psycopg import sql

from desivoid_ml.ingest.catalogs import generic_table_name
from desivoid_ml.ingest.fits_reader import scan
from desivoid_ml.ingest.runner import ingest

GENERIC_FILES = [
    "redrock-4-80613-thru20210324.fits",
    "tractor-1054p567.fits",
    "vast-test-galaxies-10k.fits",
]


def _db_column(conn, schema: str, table: str, column: str, order: str) -> list:
    query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
        sql.Identifier(column), sql.Identifier(schema, table), sql.SQL(order)
    )
    return [row[0] for row in conn.execute(query)]


def _same(fits_values: np.ndarray, db_values: list) -> bool:
    """Equal value for value: strings without padding, NaN equal to NaN, arrays elementwise."""
    if fits_values.dtype.kind in "SU":
        return [v.rstrip() if isinstance(v, str) else v for v in fits_values.tolist()] == db_values
    expected = np.asarray(fits_values)
    got = np.asarray(db_values, dtype=expected.dtype if expected.dtype.kind != "b" else bool)
    return expected.shape == got.shape and np.array_equal(
        expected, got, equal_nan=expected.dtype.kind == "f"
    )


def _one_row(db, query: str, schema: str, table: str) -> tuple:
    """The single row of `query` with {} replaced by schema.table."""
    with db.connect() as conn:
        return conn.execute(sql.SQL(query).format(sql.Identifier(schema, table))).fetchone()


@pytest.mark.parametrize("name", GENERIC_FILES)
def test_generic_tables_match_astropy_value_for_value(db, real_fits: Path, name: str) -> None:
    path = real_fits / name
    [result] = ingest(db, [path])
    assert result.status == "loaded"
    with fits.open(path) as hdul, db.connect() as conn:
        for hdu in scan(path).tables:
            table = generic_table_name(path, hdu)
            data = hdul[hdu.index].data
            assert result.rows[table] == hdu.nrows
            for column in hdul[hdu.index].columns:
                got = _db_column(conn, db.ns.raw, table, column.name.lower(), "row_index")
                assert _same(data[column.name], got), f"{table}.{column.name}"


def test_void_catalogs_match_astropy(db, real_fits: Path) -> None:
    files = sorted((real_fits / "voids").glob("TEST10K_*[!p].fits"))
    assert {f.name for f in files} == {
        "TEST10K_V2_VIDE.fits",
        "TEST10K_V2_ZOBOV.fits",
        "TEST10K_VoidFinder.fits",
    }
    results = ingest(db, files)
    assert [r.kind for r in results] == ["v2", "v2", "voidfinder"]
    with fits.open(real_fits / "voids" / "TEST10K_VoidFinder.fits") as hdul, db.connect() as conn:
        holes = hdul["HOLES"].data
        order = "hole"
        for fits_name, db_name in [("X", "x"), ("Z", "zc"), ("RADIUS", "radius"), ("VOID", "void")]:
            got = _db_column(conn, db.ns.raw, "vf_holes", db_name, order)
            assert _same(holes[fits_name], got)
        catalogs = conn.execute(
            sql.SQL("SELECT catalog, algorithm, omegam FROM {} ORDER BY 1").format(
                sql.Identifier(db.ns.raw, "void_catalogs")
            )
        ).fetchall()
    assert catalogs == [
        ("TEST10K_V2_VIDE", "VIDE", 0.3),
        ("TEST10K_V2_ZOBOV", "ZOBOV", 0.3),
        ("TEST10K_VoidFinder", "VoidFinder", 0.26),
    ]


def test_second_run_skips_and_keeps_exact_counts(db, real_fits: Path) -> None:
    files = [real_fits / n for n in GENERIC_FILES]
    first = ingest(db, files)
    second = ingest(db, files)
    assert [r.status for r in first] == ["loaded"] * 3
    assert [r.status for r in second] == ["skipped"] * 3
    assert _one_row(db, "SELECT count(*) FROM {}", db.ns.raw, "vast_test_galaxies_10k_hdu1") == (
        10_000,
    )
    manifest = _one_row(
        db, "SELECT count(*), sum(rows_loaded) FROM {}", db.ns.meta, "ingest_manifest"
    )
    assert manifest == (6, 1 + 1 + 30 + 1 + 1 + 10_000)


def test_primary_keys_exist_after_load(db, real_fits: Path) -> None:
    ingest(db, [real_fits / "voids" / "TEST10K_V2_VIDE.fits"])
    with db.connect() as conn:
        keys = conn.execute(
            "SELECT c.relname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND k.contype = 'p'",
            (db.ns.raw,),
        ).fetchall()
    assert {k[0] for k in keys} >= {
        "v2_voids",
        "v2_zonevoid",
        "v2_galzone",
        "v2_triangle",
        "v2_galviz",
        "void_catalogs",
    }


def test_a_copy_under_another_name_is_skipped(db, real_fits: Path, tmp_path: Path) -> None:
    original = real_fits / "vast-test-galaxies-10k.fits"
    copy = tmp_path / "vast-test-galaxies-10k.fits"
    copy.write_bytes(original.read_bytes())
    results = ingest(db, [original, copy])
    assert [r.status for r in results] == ["loaded", "skipped"]
    assert _one_row(db, "SELECT count(*) FROM {}", db.ns.raw, "vast_test_galaxies_10k_hdu1") == (
        10_000,
    )
    files = _one_row(db, "SELECT count(*), min(sha256) FROM {}", db.ns.meta, "source_files")
    assert files == (1, "a0b6de71cf29ac980b9c17c1b09e27d26654928b1b3dc38916079bd7c285bc71")
