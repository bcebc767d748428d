"""Exports: Parquet, FITS and CSV equal the database value for value (NULLs included), carry
units, honour the filters, and leave no file behind on error."""

from __future__ import annotations

import csv
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy.io import fits
from astropy.table import Table
from psycopg import sql

from desivoid_ml.errors import DesivoidError
from desivoid_ml.export.run import export

ROWS = 5000
DIM = 4
RUN = "ae4-20260101-000000-abcd"


@pytest.fixture(scope="module")
def tables(module_db):
    """features.galaxy with every column type and NULLs, and one run's embeddings."""
    db = module_db
    f, ml = db.ns.features, db.ns.ml
    with db.connect() as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} AS SELECT g::bigint * 1000000007 AS targetid, "
                "CASE WHEN g %% 3 = 0 THEN 'sv1' ELSE 'main' END AS survey, 'bright' AS program, "
                "g AS key_hash, ((g * 0.07) %% 360)::float8 AS ra, "
                '((g %% 170) - 85.0)::float8 AS "dec", '
                "CASE WHEN g %% 7 = 0 THEN NULL ELSE (g %% 100) / 200.0 END::float8 AS z, "
                "CASE WHEN g %% 11 = 0 THEN NULL ELSE (9 + (g %% 30) / 10.0)::real END "
                "AS logmstar, "
                "CASE WHEN g %% 13 = 0 THEN NULL ELSE g %% 2 = 0 END AS vf_in_void, "
                "CASE WHEN g %% 17 = 0 THEN NULL ELSE (g %% 50)::integer END AS vf_void_id, "
                "(g %% 3)::smallint AS vf_vflag, "
                "CASE WHEN g %% 19 = 0 THEN NULL ELSE 'NGC' END AS vf_cap, "
                "CASE WHEN g %% 13 = 0 OR (g %% 5 = 0 AND g %% 2 = 1) THEN NULL "
                "WHEN g %% 2 = 0 THEN 'void' ELSE 'wall' END AS vf_sample "
                "FROM generate_series(1, %s) g"
            ).format(sql.Identifier(f, "galaxy")),
            (ROWS,),
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (run_id, model_kind, code_dim, config, features, normalization) "
                "VALUES (%s, 'ae', %s, '{{}}', '[]', '{{}}')"
            ).format(sql.Identifier(ml, "runs")),
            (RUN, DIM),
        )
        conn.execute(
            sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES IN ({})").format(
                sql.Identifier(ml, "emb_test"), sql.Identifier(ml, "embeddings"), sql.Literal(RUN)
            )
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {} SELECT %s::text, targetid, survey, program, "
                'ARRAY[ra, "dec", 1, -1]::real[]::vector FROM {}'
            ).format(sql.Identifier(ml, "embeddings"), sql.Identifier(f, "galaxy")),
            (RUN,),
        )
        conn.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, 'emb_test', %s, %s)").format(
                sql.Identifier(ml, "embedding_sets")
            ),
            (RUN, DIM, ROWS),
        )
    return db


def _rows(db, query: str) -> list[tuple]:
    with db.connect() as conn:
        return conn.execute(
            sql.SQL(query).format(f=sql.Identifier(db.ns.features, "galaxy"))
        ).fetchall()


COLUMNS = (
    'targetid, survey, program, ra, "dec", z, logmstar, vf_in_void, vf_void_id, vf_vflag, vf_cap, '
    "vf_sample"
)


def _same(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if isinstance(b, float):
        return math.isclose(float(a), b, rel_tol=1e-6)
    return a == b


def test_parquet_equals_the_table(tables, tmp_path) -> None:
    summary = export(tables, "features", "parquet", tmp_path / "f.parquet")
    table = pq.read_table(tmp_path / "f.parquet")
    assert summary.rows == ROWS == table.num_rows and "key_hash" not in table.column_names
    expected = _rows(tables, f"SELECT {COLUMNS} FROM {{f}}")
    got = list(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
    assert all(
        _same(a, b) for e, g in zip(expected, got, strict=True) for a, b in zip(g, e, strict=True)
    )
    assert table.schema.field("ra").metadata[b"unit"] == b"deg"
    assert b"void" in table.schema.field("vf_in_void").metadata[b"description"]


def test_fits_reads_in_astropy_with_units_and_nulls(tables, tmp_path) -> None:
    export(tables, "features", "fits", tmp_path / "f.fits")
    with fits.open(tmp_path / "f.fits") as hdul:
        hdul.verify("exception")
        assert hdul[1].header["NAXIS2"] == ROWS
        assert hdul[1].header["TUNIT4"] == "deg" and "right ascension" in hdul[1].header["TCOMM4"]
        raw = hdul[1].data.base["vf_in_void"]  # FITS logical: 'T', 'F', or 0 for NULL
        flags = _rows(tables, "SELECT vf_in_void FROM {f}")
        assert [{84: True, 70: False, 0: None}[int(b)] for b in raw] == [v for (v,) in flags]
    t = Table.read(tmp_path / "f.fits")
    expected = _rows(tables, f"SELECT {COLUMNS} FROM {{f}}")
    t.remove_column("vf_in_void")  # astropy reads a NULL logical as False: checked raw above
    expected = [e[:7] + e[8:] for e in expected]
    for i in (0, 6, 10, 12, 16, 18, 4999):
        got = [t[c][i] for c in t.colnames]
        got = [None if np.ma.is_masked(v) else v.item() if hasattr(v, "item") else v for v in got]
        got = [None if isinstance(v, float) and math.isnan(v) else v for v in got]
        assert all(_same(a, b) for a, b in zip(got, expected[i], strict=True)), (
            i,
            str(got),
            str(expected[i]),
        )


def test_csv_and_filters(tables, tmp_path) -> None:
    export(tables, "features", "csv", tmp_path / "void.csv", algorithm="vf", in_void=True)
    with open(tmp_path / "void.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    (count,) = _rows(tables, "SELECT count(*) FROM {f} WHERE vf_sample = 'void'")[0]
    assert len(rows) == count and {r["vf_sample"] for r in rows} == {"void"}
    assert rows[0]["targetid"] == str(
        _rows(tables, "SELECT targetid FROM {f} WHERE vf_sample = 'void' LIMIT 1")[0][0]
    )


def test_embeddings_in_every_format(tables, tmp_path) -> None:
    export(tables, "embeddings", "parquet", tmp_path / "e.parquet", run=RUN, in_void=False)
    table = pq.read_table(tmp_path / "e.parquet")
    (walls,) = _rows(tables, "SELECT count(*) FROM {f} WHERE vf_sample = 'wall'")[0]
    (not_void,) = _rows(tables, "SELECT count(*) FROM {f} WHERE vf_in_void IS FALSE")[0]
    assert table.num_rows == walls < not_void  # the wall sample, not "not in a void"
    first = table.slice(0, 1).to_pylist()[0]
    assert len(first["embedding"]) == DIM and first["embedding"][2:] == [1.0, -1.0]
    export(tables, "embeddings", "fits", tmp_path / "e.fits")
    assert Table.read(tmp_path / "e.fits")["embedding"].shape == (ROWS, DIM)
    export(tables, "embeddings", "csv", tmp_path / "e.csv")
    header = (tmp_path / "e.csv").read_text().splitlines()[0]
    assert header.endswith('"embedding_2","embedding_3"')


def test_analysis_dumps_whatever_void_wall_holds(tables, tmp_path) -> None:
    with pytest.raises(DesivoidError, match="desivoid analyze"):
        export(tables, "analysis", "csv", tmp_path / "a.csv")
    table = sql.Identifier(tables.ns.ml, "void_wall")
    with tables.connect() as conn:
        conn.execute(
            sql.SQL("CREATE TABLE {} (property text, delta float8, n bigint)").format(table)
        )
        conn.execute(
            sql.SQL("INSERT INTO {} VALUES ('g_r', -0.1, 5), ('logmstar', NULL, 7)").format(table)
        )
    try:
        export(tables, "analysis", "fits", tmp_path / "a.fits")
        t = Table.read(tmp_path / "a.fits")
        assert list(t["property"]) == ["g_r", "logmstar"] and list(t["n"]) == [5, 7]
    finally:
        with tables.connect() as conn:
            conn.execute(sql.SQL("DROP TABLE {}").format(table))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"kind": "galaxies", "fmt": "csv"}, "unknown export"),
        ({"kind": "features", "fmt": "xlsx"}, "unknown format"),
        ({"kind": "features", "fmt": "csv", "algorithm": "sdss", "in_void": True}, "algorithm"),
        ({"kind": "features", "fmt": "csv", "algorithm": "vf"}, "--in-void"),
        ({"kind": "embeddings", "fmt": "csv", "run": "nope"}, "no embeddings for run nope"),
        ({"kind": "features", "fmt": "csv", "run": RUN}, "--run applies to embeddings"),
    ],
)
def test_bad_requests_leave_no_file(tables, tmp_path, kwargs, message) -> None:
    out = tmp_path / "x.out"
    with pytest.raises(DesivoidError, match=message):
        export(tables, out=out, **kwargs)
    assert list(tmp_path.iterdir()) == []
