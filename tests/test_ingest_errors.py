"""Bad input gets a one-line error naming the problem, and nothing of it is committed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from fitsfactory import fastspec_like, simple_table
from psycopg import sql

from desivoid_ml.db.connection import connect
from desivoid_ml.errors import DatabaseUnavailable, FitsError, IngestError, SchemaMismatch
from desivoid_ml.ingest.config import IngestOptions
from desivoid_ml.ingest.runner import ingest
from desivoid_ml.ingest.tables import SCHEMA_TABLES

OPTIONS = IngestOptions(fastspec_columns=["HALPHA_*"])


def _raw_tables(db) -> set[str]:
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (db.ns.raw,),
        ).fetchall()
    return {r[0] for r in rows} - SCHEMA_TABLES


def _done_files(db) -> int:
    with db.connect() as conn:
        return conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE status = 'done'").format(
                sql.Identifier(db.ns.meta, "source_files")
            )
        ).fetchone()[0]


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_truncated_fits(db, real_fits: Path, tmp_path: Path) -> None:
    source = real_fits / "vast-test-galaxies-10k.fits"
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    with pytest.raises(FitsError) as exc:
        ingest(db, [truncated])
    assert "truncated" in _one_line(exc)
    assert _raw_tables(db) == set() and _done_files(db) == 0


def test_truncated_inside_header(db, real_fits: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "cut.fits"
    truncated.write_bytes((real_fits / "tractor-1054p567.fits").read_bytes()[:4000])
    with pytest.raises(FitsError, match="truncated"):
        ingest(db, [truncated])


def test_non_fits_file(db, tmp_path: Path) -> None:
    path = tmp_path / "notes.fits"
    path.write_text("this is not FITS\n" * 400)
    with pytest.raises(FitsError) as exc:
        ingest(db, [path])
    assert "not a FITS file" in _one_line(exc)


def test_fits_without_table(db, tmp_path: Path) -> None:
    path = tmp_path / "image.fits"
    fits.PrimaryHDU(np.zeros((4, 4), dtype=np.float32)).writeto(path)
    with pytest.raises(FitsError) as exc:
        ingest(db, [path])
    assert "no table" in _one_line(exc)


def test_missing_path(db, tmp_path: Path) -> None:
    with pytest.raises(FitsError) as exc:
        ingest(db, [tmp_path / "nowhere" / "file.fits"])
    assert "no such file" in _one_line(exc)


def test_bad_file_in_a_batch_stops_before_anything_loads(db, real_fits, tmp_path) -> None:
    bad = tmp_path / "bad.fits"
    bad.write_bytes(b"garbage" * 1000)
    with pytest.raises(FitsError):
        ingest(db, [real_fits / "vast-test-galaxies-10k.fits", bad])
    assert _raw_tables(db) == set()


def test_fastspec_row_counts_differ(db, tmp_path: Path) -> None:
    path = fastspec_like(tmp_path / "fastspec.fits", n=20)
    with fits.open(path) as hdul:
        hdul["SPECPHOT"] = fits.BinTableHDU(hdul["SPECPHOT"].data[:15], name="SPECPHOT")
        hdul.writeto(tmp_path / "short.fits")
    with pytest.raises(IngestError) as exc:
        ingest(db, [tmp_path / "short.fits"], OPTIONS)
    assert "not row-aligned" in _one_line(exc)
    assert _raw_tables(db) == set()


def test_fastspec_rows_in_different_order(db, tmp_path: Path) -> None:
    path = fastspec_like(tmp_path / "fastspec.fits", n=30_000, misalign=True)
    with pytest.raises(IngestError) as exc:
        ingest(db, [path], IngestOptions(["HALPHA_*"], chunk_rows=5_000))
    message = _one_line(exc)
    assert "not row-aligned" in message and "nothing of this file was committed" in message
    assert _raw_tables(db) == set() and _done_files(db) == 0
    with db.connect() as conn:
        status, error = conn.execute(
            sql.SQL("SELECT status, error FROM {}").format(
                sql.Identifier(db.ns.meta, "source_files")
            )
        ).fetchone()
    assert status == "failed" and "TARGETID" in error


def test_galaxies_table_with_another_column_selection(db, tmp_path: Path) -> None:
    ingest(db, [fastspec_like(tmp_path / "a.fits", seed=1)], OPTIONS)
    other = fastspec_like(tmp_path / "b.fits", seed=2, extra_fastspec=True)
    with pytest.raises(IngestError) as exc:
        ingest(db, [other], IngestOptions(["HALPHA_*", "HBETA_FLUX"]))
    assert "hbeta_flux" in _one_line(exc)
    assert isinstance(exc.value.__cause__, SchemaMismatch)
    with db.connect() as conn:
        count = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(db.ns.raw, "galaxies"))
        ).fetchone()[0]
    assert count == 50


def test_fastspec_selection_matching_nothing(db, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="matches no column"):
        ingest(db, [fastspec_like(tmp_path / "a.fits")], IngestOptions(["NOPE_*"]))


def test_hostile_column_names_are_quoted(db, tmp_path: Path) -> None:
    hostile = 'x"; DROP TABLE pg_class; --'
    path = simple_table(tmp_path / "hostile.fits", 5, names=(hostile, "Select", "a b"))
    [result] = ingest(db, [path])
    table = next(iter(result.rows))
    with db.connect() as conn:
        values = conn.execute(
            sql.SQL("SELECT {}, {}, {} FROM {} ORDER BY row_index").format(
                sql.Identifier(hostile.lower()),
                sql.Identifier("select"),
                sql.Identifier("a b"),
                sql.Identifier(db.ns.raw, table),
            )
        ).fetchall()
    with fits.open(path) as hdul:
        expected = hdul[1].data[hostile]
    assert np.allclose([v[0] for v in values], expected)


def test_unreachable_dsn_is_one_clear_line() -> None:
    with pytest.raises(DatabaseUnavailable) as exc:
        connect("postgresql://nobody@127.0.0.1:1/nothing")
    message = _one_line(exc)
    assert "cannot connect to postgresql://nobody@127.0.0.1:1/nothing" in message


def test_cli_reports_dead_database_in_one_line(tmp_path: Path) -> None:
    cli = shutil.which("desivoid") or str(Path(sys.executable).parent / "desivoid")
    env = {"DESIVOID_DSN": "postgresql://u:secret@127.0.0.1:1/db", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [cli, "db", "status"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot connect")
    assert "secret" not in done.stderr


def test_same_galaxies_in_two_files_is_reported_at_key_build(db, tmp_path: Path) -> None:
    first = fastspec_like(tmp_path / "a.fits", n=50, seed=3)
    overlapping = fastspec_like(tmp_path / "b.fits", n=40, seed=3)
    with pytest.raises(IngestError) as exc:
        ingest(db, [first, overlapping], OPTIONS)
    message = _one_line(exc)
    assert "duplicate keys (targetid, survey, program)" in message
    assert "is duplicated" in message and "39627000000" in message
