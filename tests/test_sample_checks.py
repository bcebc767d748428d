"""features.galaxy's Redrock columns and property ranges, and what `desivoid validate` says each
range and each sample cut removes, on the real SDSS galaxies dressed as FastSpecFit rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from omegaconf import OmegaConf
from psycopg import sql

from desivoid_ml.features.build import build
from desivoid_ml.features.config import load_config
from desivoid_ml.features.sample_checks import sample_checks
from desivoid_ml.ingest.config import IngestOptions
from desivoid_ml.ingest.runner import ingest

N = 10_000
ROWS = np.arange(N)
SPECTYPE = np.where(ROWS % 50 == 0, "STAR", np.where(ROWS % 70 == 1, "QSO", "GALAXY"))
ZWARN = np.where(ROWS % 40 == 3, 4, 0)
DELTACHI2 = np.where(ROWS % 30 == 5, 12.0, 250.0)
LOGMSTAR = np.where(ROWS == 11, -12.1, np.where(ROWS == 13, 14.3, 10.0)).astype(np.float32)
LOGMSTAR_IVAR = np.where(ROWS % 9 == 0, 0.0, 1.0).astype(np.float32)  # 0: not measured


def _galaxies(real_fits: Path, out: Path) -> tuple[Path, np.ndarray]:
    sdss = Table.read(real_fits / "vast-test-galaxies-10k.fits")
    z = np.asarray(sdss["z"], dtype=np.float64)
    ids = [
        fits.Column("TARGETID", "K", array=ROWS),
        fits.Column("SURVEY", "4A", array=np.full(N, "main")),
        fits.Column("PROGRAM", "6A", array=np.full(N, "bright")),
        fits.Column("HEALPIX", "J", array=np.zeros(N, dtype=np.int32)),
    ]
    meta = ids + [
        fits.Column("RA", "D", array=np.asarray(sdss["ra"], dtype=np.float64)),
        fits.Column("DEC", "D", array=np.asarray(sdss["dec"], dtype=np.float64)),
        fits.Column("Z", "D", array=z),
        fits.Column("ZWARN", "K", array=ZWARN),
        fits.Column("DELTACHI2", "D", array=DELTACHI2),
        fits.Column("SPECTYPE", "6A", array=SPECTYPE),
    ]
    specphot = [fits.Column(c.name, c.format, array=c.array) for c in ids] + [
        fits.Column("LOGMSTAR", "E", array=LOGMSTAR),
        fits.Column("LOGMSTAR_IVAR", "E", array=LOGMSTAR_IVAR),
    ]
    hdus = [fits.PrimaryHDU()]
    hdus += [fits.BinTableHDU.from_columns(meta, name="METADATA")]
    hdus += [fits.BinTableHDU.from_columns(specphot, name="SPECPHOT")]
    fits.HDUList(hdus).writeto(out)
    return out, z


@pytest.fixture(scope="module")
def checked(module_db, real_fits: Path, tmp_path_factory):
    db, tmp = module_db, tmp_path_factory.mktemp("checks")
    galaxies, z = _galaxies(real_fits, tmp / "sdss.fits")
    ingest(db, [galaxies, real_fits / "voids" / "TEST10K_V2_ZOBOV.fits"], IngestOptions([]))
    cfg = load_config([])
    kept = ("ra", "dec", "z", "spectype", "zwarn", "deltachi2", "logmstar")
    cfg.properties = OmegaConf.create({k: cfg.properties[k] for k in kept})  # the real entries
    build(db, cfg)
    return db, cfg, z


def _column(db, name: str) -> np.ndarray:
    with db.connect() as conn:
        rows = conn.execute(
            sql.SQL("SELECT {} FROM {} ORDER BY targetid").format(
                sql.Identifier(name), sql.Identifier(db.ns.features, "galaxy")
            )
        ).fetchall()
    return np.array([r[0] for r in rows], dtype=object)


def test_redshift_quality_columns_and_ranges_reach_features(checked) -> None:
    db, _, _ = checked
    assert list(_column(db, "spectype")) == list(SPECTYPE)
    assert list(_column(db, "zwarn")) == list(ZWARN)
    assert np.array_equal(_column(db, "deltachi2").astype(float), DELTACHI2)
    logmstar = _column(db, "logmstar")
    assert logmstar[11] is None and logmstar[13] is None  # impossible: NULL, not -12 or 14.3
    measured = LOGMSTAR_IVAR > 0
    assert all(v is None for v in logmstar[~measured])
    assert all(v == 10.0 for i, v in enumerate(logmstar) if measured[i] and i not in (11, 13))


def test_validate_reports_what_each_range_and_cut_removes(checked) -> None:
    db, cfg, z = checked
    checks = {c.name: c for c in sample_checks(db, cfg)}
    assert checks["range of logmstar"].detail.startswith("2 of 10,000 rows outside [6, 13]")
    assert "range of dn4000" not in checks  # only the properties configured
    # good_galaxy, cut after cut, counted here with numpy
    galaxy = SPECTYPE == "GALAXY"
    good_z = galaxy & (ZWARN == 0)
    good_chi = good_z & (DELTACHI2 > 40)
    in_range = good_chi & (z >= 0.01) & (z <= 0.6)
    expected = (
        f"spectype removes {N - galaxy.sum():,}; zwarn removes {galaxy.sum() - good_z.sum():,}; "
        f"deltachi2 removes {good_z.sum() - good_chi.sum():,}; "
        f"redshift removes {good_chi.sum() - in_range.sum():,}; kept {in_range.sum():,} of 10,000"
    )
    assert checks["sample good_galaxy"].detail == expected
    assert checks["sample good_galaxy"].passed and 0 < in_range.sum() < N - 500
    assert checks["sample all"].detail == "kept 10,000 of 10,000"


def test_an_empty_or_broken_sample_fails_validation(checked) -> None:
    db, cfg, _ = checked
    cfg = cfg.copy()
    cfg.samples = OmegaConf.create({"none": {"negative": "z < 0"}, "old": {"x": "nosuch = 1"}})
    checks = {c.name: c for c in sample_checks(db, cfg)}
    assert (
        checks["sample none"].status == "FAIL"
        and "kept 0 of 10,000" in checks["sample none"].detail
    )
    broken = checks["sample old"]
    assert broken.status == "FAIL" and '"nosuch" does not exist' in broken.detail


def test_the_example_galaxy_comes_from_the_training_sample(checked) -> None:
    from desivoid_ml.embed.similarity import example_void_galaxy

    db, _, _ = checked
    table = sql.Identifier(db.ns.features, "galaxy")
    with db.connect() as conn:
        (first,) = conn.execute(
            sql.SQL("SELECT targetid FROM {} ORDER BY key_hash LIMIT 1").format(table)
        ).fetchone()
        before = conn.execute(
            sql.SQL("UPDATE {} SET zwarn = 4 WHERE targetid = %s RETURNING 1").format(table),
            (int(first),),
        ).fetchone()
    assert before  # the first galaxy by key now fails the redshift-quality cut
    try:
        chosen = example_void_galaxy(db)  # no VoidFinder catalog here: any galaxy of the sample
        assert chosen != first
        assert SPECTYPE[chosen] == "GALAXY" and ZWARN[chosen] == 0 and DELTACHI2[chosen] > 40
        assert example_void_galaxy(db, sample="all") == first
    finally:
        with db.connect() as conn:
            conn.execute(
                sql.SQL("UPDATE {} SET zwarn = %s WHERE targetid = %s").format(table),
                (int(ZWARN[first]), int(first)),
            )
