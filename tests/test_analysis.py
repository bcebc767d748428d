"""`desivoid analyze`: the statistics, the outputs, and bad input (one-line errors)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from psycopg import sql

from desivoid_ml.analysis.config import load_config
from desivoid_ml.analysis.environment_auc import weighted_auc
from desivoid_ml.analysis.medians import histogram_median, weighted_median
from desivoid_ml.analysis.resampling import BOOTSTRAP, Resampling
from desivoid_ml.analysis.run import COLUMNS, analyze
from desivoid_ml.analysis.stats import compare
from desivoid_ml.analysis.store import read_table
from desivoid_ml.errors import DesivoidError

ROWS = 6000


def test_matched_shift_removes_the_mass_mix_and_raw_shift_does_not() -> None:
    """Void galaxies are lighter; colour follows mass plus a -0.1 void offset at fixed mass."""
    rng = np.random.default_rng(3)
    n = 40_000
    void = rng.random(n) < 0.2
    mass = rng.normal(10.0, 0.5, n) - 0.4 * void
    z = rng.uniform(0.02, 0.2, n)
    colour = 0.7 + 0.25 * (mass - 10.0) + 0.05 * rng.standard_normal(n) - 0.1 * void
    result, dist = compare(
        colour, void, np.stack([mass, z], 1), 8, Resampling(BOOTSTRAP, resamples=200), 512
    )
    sigma = (result.matched_hi - result.matched_lo) / 2
    assert abs(result.matched_shift + 0.1) < 3 * sigma + 0.005, result
    assert result.shift < -0.17  # the raw shift mixes in the mass difference
    assert result.shift_lo < result.shift < result.shift_hi
    assert result.n_void == void.sum() and result.ks_p == "< 1e-300" and result.ad_p == "< 0.001"
    assert len(dist.wall_matched) == len(dist.wall_weights) > 0


def test_histogram_and_weighted_medians() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=10_001)
    edges = np.unique(np.quantile(x, np.linspace(0, 1, 1025)))
    counts = np.histogram(x, edges)[0]
    assert abs(histogram_median(counts, edges)[0] - np.median(x)) < 0.01
    assert weighted_median(x) == pytest.approx(np.median(x), abs=1e-12)


def test_weighted_auc_matches_sklearn_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.random(500) < 0.3
    s = np.round(rng.normal(size=500) + y, 1)
    w = rng.poisson(1.0, 500).astype(float)
    assert weighted_auc(s, y, w)[0] == pytest.approx(roc_auc_score(y, s, sample_weight=w))


def _make_table(db, vide: bool = False, zobov: str = "NULL") -> None:
    """A features.galaxy with the columns analyze reads. VoidFinder: every 5th galaxy in a void,
    every 7th on a hole surface, and the void galaxies on a surface are redder (+0.3 in g-r) than
    the other void galaxies (-0.1): a result that hangs on the surfaces. VIDE: no galaxy in its
    samples unless `vide`; ZOBOV: `zobov` (SQL) as its sample."""
    with db.connect() as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} AS SELECT g::bigint AS targetid, true AS is_galaxy, "
                "0.05 + 0.15 * ((g * 7919) %% 1000) / 1000.0 AS z, "
                "9.5 + ((g * 104729) %% 1000) / 500.0 AS logmstar, "
                "-20 - ((g * 15485863) %% 1000) / 400.0 AS abs_mag_r, "
                "(g * 0.618034 * 360) %% 360 AS ra, ((g * 0.414214) %% 1) * 60 AS dec, "
                "0.6 + sin(g)::float / 5 - CASE WHEN g %% 5 = 0 THEN 0.1 ELSE 0 END "
                "+ CASE WHEN g %% 35 = 0 THEN 0.4 ELSE 0 END AS g_r, "
                "CASE WHEN g %% 5 = 0 THEN 'void' ELSE 'wall' END AS vf_sample, "
                "g %% 7 = 0 AS vf_on_boundary, "
                "CASE WHEN %s THEN (CASE WHEN g %% 3 = 0 THEN 'void' ELSE 'wall' END) END "
                "AS vide_sample, " + zobov + "::text AS zobov_sample "
                "FROM generate_series(1::bigint, %s) g"
            ).format(sql.Identifier(db.ns.features, "galaxy")),
            (vide, ROWS),
        )


def _cfg(*overrides: str):
    return load_config(
        ["algorithms=[VoidFinder]", "properties=[g_r,logmstar]", "bootstrap.resamples=50"]
        + ["sample=all"]
        + list(overrides)
    )


@pytest.fixture
def table_db(db):
    _make_table(db)
    return db


def test_analyze_writes_files_figures_and_replaces_the_table(table_db, tmp_path) -> None:
    result = analyze(table_db, _cfg(), tmp_path / "analysis")
    assert [r["property"] for r in result.rows] == ["g_r", "logmstar"]
    assert set(result.rows[0]) <= set(COLUMNS)
    saved = json.loads(result.json.read_text())
    assert saved[0]["n_void"] == ROWS // 5 and saved[1]["control"] == "z,abs_mag_r"
    assert result.csv.read_text().startswith("label,algorithm,property,control,n_void")
    assert all(p.stat().st_size > 5_000 for p in result.figures)
    assert saved[0]["interval_method"] == "jackknife" and saved[0]["regions"] == 64
    assert saved[0]["resamples"] is None
    analyze(table_db, _cfg("properties=[g_r]", "intervals.method=bootstrap"), tmp_path / "again")
    rows = read_table(table_db)
    assert [(r["algorithm"], r["property"]) for r in rows] == [("VoidFinder", "g_r")]
    assert (rows[0]["interval_method"], rows[0]["regions"], rows[0]["resamples"]) == (
        "bootstrap",
        None,
        50,
    )
    assert "interval_method,regions,resamples" in (tmp_path / "again" / "void_wall.csv").read_text()


def test_missing_property_is_named(table_db, tmp_path) -> None:
    with pytest.raises(DesivoidError, match="analysis property 'dn4000' is not a column"):
        analyze(table_db, _cfg("properties=[g_r,dn4000]"), tmp_path)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("where='z > 5'", "the analysis selection is empty: no galaxy with sample='all', where="),
        ("sample=bright", "sample 'bright' is not defined in features.yaml `samples`"),
        ("sample=good_galaxy", r"selection \(sample='good_galaxy'\) is not a condition over"),
        ("where=no_such_flag", 'is not a condition over features.galaxy: column "no_such_flag'),
        (
            "where=z",
            "is not a condition over features.galaxy: argument of AND must be type boolean",
        ),
    ],
)
def test_empty_or_unknown_selection_is_named_and_nothing_is_written(
    table_db, tmp_path, override, message
) -> None:
    """The test table has no spectype / zwarn / deltachi2, so good_galaxy cannot select."""
    with pytest.raises(DesivoidError, match=message):
        analyze(table_db, _cfg(override), tmp_path / "out")
    assert not (tmp_path / "out").exists() and read_table(table_db) == []


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ("z = 0.05", r"control variable 'z' is constant \(0.05\) in the VoidFinder sample"),
        ("z = NULL", "control variable 'z' is NULL for every galaxy of the VoidFinder sample"),
    ],
)
def test_constant_or_null_control_is_named_and_nothing_is_written(
    table_db, tmp_path, update, message
) -> None:
    """Before: an IndexError (constant) or ValueError (all NULL) from the matching."""
    with table_db.connect() as conn:
        conn.execute(
            sql.SQL("UPDATE {} SET " + update).format(
                sql.Identifier(table_db.ns.features, "galaxy")
            )
        )
    with pytest.raises(DesivoidError, match=message):
        analyze(table_db, _cfg("properties=[g_r]"), tmp_path / "out")
    assert not (tmp_path / "out").exists() and read_table(table_db) == []


def test_absent_algorithm_is_named(table_db, tmp_path) -> None:
    cfg = _cfg("algorithms=[VoidFinder,VIDE]")
    with pytest.raises(DesivoidError, match="algorithm VIDE is absent from the database"):
        analyze(table_db, cfg, tmp_path)
    cfg = _cfg("algorithms=[VoidFinder,REVOLVER]")
    with pytest.raises(
        DesivoidError, match=r"REVOLVER \(revolver_\*\) is absent from features.galaxy"
    ):
        analyze(table_db, cfg, tmp_path)


def test_algorithm_without_a_wall_sample_is_one_line_and_no_row(db, tmp_path) -> None:
    """ZOBOV can put every in-volume galaxy in a void: no numbers for it, no row."""
    _make_table(db, vide=True, zobov="'void'")
    lines: list[str] = []
    result = analyze(db, _cfg("algorithms=[VoidFinder,VIDE,ZOBOV]"), tmp_path, log=lines.append)
    line = "ZOBOV: every in-volume galaxy is in a void; no wall sample"
    assert result.skipped == [line] and line in lines
    stored = {(r["algorithm"], r["property"]) for r in read_table(db)}
    assert stored == {(a, p) for a in ("VoidFinder", "VIDE") for p in ("g_r", "logmstar")}
    assert "ZOBOV" not in result.csv.read_text()
    with pytest.raises(DesivoidError, match=f"nothing to compare: {line}"):
        analyze(db, _cfg("algorithms=[ZOBOV]"), tmp_path / "zobov")
    assert not (tmp_path / "zobov").exists() and len(read_table(db)) == 4


def test_matched_shift_without_the_boundary_galaxies_is_beside_the_default(db, tmp_path) -> None:
    """The void galaxies on hole surfaces carry +0.4 in g-r: the default shift moves with them,
    the exclude one (surfaces in neither sample) keeps the -0.1 of the other void galaxies."""
    _make_table(db, vide=True)
    result = analyze(db, _cfg("algorithms=[VoidFinder,VIDE]"), tmp_path)
    vf, vide = (r for r in result.rows if r["property"] == "g_r")
    sigma = (vf["matched_exclude_hi"] - vf["matched_exclude_lo"]) / 2
    assert abs(vf["matched_shift_exclude"] + 0.1) < 3 * sigma + 0.01, vf
    assert vf["matched_shift"] > vf["matched_shift_exclude"] + 3 * sigma, vf
    assert vf["n_void_exclude"] == pytest.approx(vf["n_void_matched"] * 6 / 7, rel=0.02)
    assert vide["matched_shift_exclude"] is None and vide["n_void_exclude"] is None
    header = result.csv.read_text().splitlines()[0]
    assert "matched_hi,n_void_exclude,n_wall_exclude,matched_shift_exclude" in header
    assert set(vf) <= set(COLUMNS)


def test_cli_error_is_one_line(table_db, tmp_path) -> None:
    env = {"DESIVOID_DSN": table_db.dsn, "DESIVOID_NAMESPACE": table_db.ns.prefix, "PATH": ""}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "desivoid_ml.cli",
            "analyze",
            "--out",
            str(tmp_path),
            "properties=[nope]",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "'nope' is not a column of features.galaxy" in lines[0], lines


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("intervals.method=jack", "intervals.method='jack': unknown interval method"),
        ("intervals.regions=2", "intervals.regions=2: must be an integer >= 4"),
    ],
)
def test_bad_interval_settings_are_one_line(override, message) -> None:
    with pytest.raises(DesivoidError, match=message):
        load_config([override])


def test_jackknife_without_sky_positions_is_named(table_db, tmp_path) -> None:
    with table_db.connect() as conn:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP COLUMN dec").format(
                sql.Identifier(table_db.ns.features, "galaxy")
            )
        )
    with pytest.raises(DesivoidError, match="features.galaxy has no 'dec' column: the jackknife"):
        analyze(table_db, _cfg(), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    result = analyze(table_db, _cfg("intervals.method=bootstrap"), tmp_path / "out")
    assert result.rows[0]["interval_method"] == "bootstrap"


def test_cli_prints_the_left_out_algorithm_and_both_matched_shifts(db, tmp_path) -> None:
    _make_table(db, zobov="'void'")
    env = {"DESIVOID_DSN": db.dsn, "DESIVOID_NAMESPACE": db.ns.prefix, "PATH": "", "COLUMNS": "250"}
    done = subprocess.run(
        [sys.executable, "-m", "desivoid_ml.cli", "analyze", "--out", str(tmp_path)]
        + ["algorithms=[VoidFinder,ZOBOV]", "properties=[g_r]", "sample=all"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "ZOBOV: every in-volume galaxy is in a void; no wall sample" in done.stdout
    assert "surfaces excluded" in done.stdout and "jackknife" in done.stdout
    assert (tmp_path / "analysis" / "void_wall.csv").exists()
