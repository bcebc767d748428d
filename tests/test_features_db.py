"""features.galaxy built in the database from real SDSS galaxies and real VAST catalogs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from omegaconf import OmegaConf
from psycopg import sql

from desivoid_ml.db.introspect import relation_exists
from desivoid_ml.features.build import build
from desivoid_ml.features.config import load_config
from desivoid_ml.features.galaxy_table import STAGE_NAME
from desivoid_ml.ingest.config import IngestOptions
from desivoid_ml.ingest.runner import ingest

BAD_ROWS = {7: np.nan, 8: -0.01, 9: 0.0}  # row -> redshift that must be excluded
ABSMAG = np.array([-21.0, -19.0, 0.0], dtype=np.float32)  # by row % 3; 0 = FastSpecFit failed


def _sdss_as_fastspec(real_fits: Path, out: Path) -> Path:
    """The 10k VAST test galaxies in FastSpecFit's layout, TARGETID = input row."""
    galaxies = Table.read(real_fits / "vast-test-galaxies-10k.fits")
    n = len(galaxies)
    z = np.asarray(galaxies["z"], dtype=np.float64)
    for row, value in BAD_ROWS.items():
        z[row] = value
    ids = [
        fits.Column("TARGETID", "K", array=np.arange(n)),
        fits.Column("SURVEY", "4A", array=np.full(n, "main")),
        fits.Column("PROGRAM", "6A", array=np.full(n, "bright")),
        fits.Column("HEALPIX", "J", array=np.zeros(n, dtype=np.int32)),
    ]
    meta = ids + [
        fits.Column("RA", "D", array=np.asarray(galaxies["ra"], dtype=np.float64)),
        fits.Column("DEC", "D", array=np.asarray(galaxies["dec"], dtype=np.float64)),
        fits.Column("Z", "D", array=z),
    ]
    specphot = [fits.Column(c.name, c.format, array=c.array) for c in ids] + [
        fits.Column("LOGMSTAR", "E", array=np.full(n, 10.0, dtype=np.float32)),
        fits.Column("LOGMSTAR_IVAR", "E", array=(np.arange(n) % 2).astype(np.float32)),
        fits.Column("ABSMAG01_SDSS_R", "E", array=ABSMAG[np.arange(n) % 3]),
    ]
    fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.BinTableHDU.from_columns(meta, name="METADATA"),
            fits.BinTableHDU.from_columns(specphot, name="SPECPHOT"),
        ]
    ).writeto(out)
    return out


@pytest.fixture(scope="module")
def features_db(module_db, real_fits: Path, tmp_path_factory):
    db, tmp_path = module_db, tmp_path_factory.mktemp("sdss")
    voids = sorted((real_fits / "voids").glob("TEST10K_*[!p].fits"))
    ingest(db, [_sdss_as_fastspec(real_fits, tmp_path / "sdss.fits"), *voids], IngestOptions([]))
    # 10k galaxies in 4 chunks: the chunked path, 3 of them classified by 2 forked processes
    cfg = load_config(["chunk_rows=3000", "processes=2"])
    cfg.properties = OmegaConf.create(
        {
            "ra": {"value": "ra"},
            "dec": {"value": "dec"},
            "z": {"value": "z"},
            "logmstar": {"value": "logmstar", "valid": "logmstar_ivar > 0"},
        }
    )
    summary = build(db, cfg)
    return db, summary


def _features(db) -> dict[str, np.ndarray]:
    with db.connect() as conn:
        cursor = conn.execute(
            sql.SQL("SELECT * FROM {} ORDER BY targetid").format(
                sql.Identifier(db.ns.features, "galaxy")
            )
        )
        names = [d.name for d in cursor.description]
        rows = cursor.fetchall()
    return {name: np.array([r[i] for r in rows], dtype=object) for i, name in enumerate(names)}


def test_features_match_the_toolkit(features_db, real_fits: Path) -> None:
    db, summary = features_db
    assert summary.rows == 10_000 and summary.excluded == len(BAD_ROWS)
    got = _features(db)
    keep = np.ones(10_000, dtype=bool)
    keep[list(BAD_ROWS)] = False
    vf = Table.read(real_fits / "voids" / "TEST10K_VoidFinder_membership.fits")
    clear = keep & (np.asarray(vf["ambiguous"]) == 0)
    assert np.array_equal(
        got["vf_in_void"][clear].astype(bool), np.asarray(vf["in_void"])[clear] == 1
    )
    assert np.array_equal(got["vf_void_id"][clear].astype(int), np.asarray(vf["void_id"])[clear])
    boundary = got["vf_on_boundary"].astype(bool)
    assert summary.on_boundary == boundary.sum() > 3000
    # the default policy is the toolkit's d < R: some boundary galaxies are in a void
    assert summary.boundary_policy == "toolkit"
    assert 0 < summary.on_boundary_in_void < summary.on_boundary
    assert (np.abs(np.asarray(vf["margin_mpch"]))[boundary] < 0.01).all()
    # vflag with the toolkit's own mask, rebuilt (the file has no MASK HDU; MAGCUT = F)
    agree = got["vf_vflag"][clear].astype(int) == np.asarray(vf["vflag"])[clear]
    assert agree.mean() >= 0.999
    assert summary.masks["TEST10K_VoidFinder"].startswith("rebuilt from 9,997 galaxies")
    vflag = got["vf_vflag"].astype(int)
    # the toolkit's arithmetic: its vflag on every row, boundary galaxies included
    assert (vflag[keep] == np.asarray(vf["vflag"])[keep]).mean() >= 0.999
    expected = np.where(vf["vflag"] == 1, "void", np.where(vf["vflag"] == 0, "wall", None))
    assert (got["vf_sample"][keep] == expected[keep]).mean() >= 0.999
    assert np.array_equal(got["vf_sample"] == "void", vflag == 1)
    assert np.array_equal(got["vf_sample"] == "wall", vflag == 0)
    assert all(v is None for v in got["vf_sample"][np.isin(vflag, [2, 9])])  # NULL, not ''
    for algorithm in ("zobov", "vide"):
        truth = Table.read(real_fits / "voids" / f"TEST10K_V2_{algorithm.upper()}_membership.fits")
        assert np.array_equal(
            got[f"{algorithm}_in_void"][keep].astype(bool), np.asarray(truth["in_void"])[keep] == 1
        )
        assert np.array_equal(
            got[f"{algorithm}_void_id"][keep].astype(int), np.asarray(truth["void_id"])[keep]
        )
        assert np.array_equal(
            got[f"{algorithm}_void_id_largest"][keep].astype(int),
            np.asarray(truth["void_id_largest"])[keep],
        )
        inside = keep & (np.asarray(truth["zone"]) >= 0) & (np.asarray(truth["out"]) == 0)
        in_void = np.asarray(truth["in_void"]) == 1
        expected = np.where(inside, np.where(in_void, "void", "wall"), None)
        assert np.array_equal(got[f"{algorithm}_sample"], expected)
        counts = {label: int((expected == label).sum()) for label in ("void", "wall")}
        assert summary.samples[algorithm] == counts  # what `desivoid features` prints


def test_the_staging_table_is_gone_after_a_build(features_db) -> None:
    db, summary = features_db
    assert summary.rows == 10_000
    with db.connect() as conn:
        assert relation_exists(conn, db.ns.features, "galaxy")
        assert not relation_exists(conn, db.ns.features, STAGE_NAME)


def _table_digest(db) -> str:
    with db.connect() as conn:
        return conn.execute(
            sql.SQL("SELECT md5(string_agg(g::text, '|' ORDER BY targetid)) FROM {} g").format(
                sql.Identifier(db.ns.features, "galaxy")
            )
        ).fetchone()[0]


def test_forked_processes_write_what_one_process_writes(features_db) -> None:
    db, forked = features_db
    before = _table_digest(db)
    cfg = load_config(["chunk_rows=3000", "processes=1"])
    cfg.properties = OmegaConf.create(
        {k: {"value": k} for k in ("ra", "dec", "z")}
        | {"logmstar": {"value": "logmstar", "valid": "logmstar_ivar > 0"}}
    )
    alone = build(db, cfg)
    assert _table_digest(db) == before
    assert alone.in_void_fraction == forked.in_void_fraction
    assert alone.samples == forked.samples and alone.on_boundary == forked.on_boundary
    assert alone.on_boundary_in_void == forked.on_boundary_in_void
    assert forked.samples["vf"]["void"] > 0 and forked.on_boundary > 0


def test_a_staging_table_left_by_hand_does_not_stop_a_build(features_db) -> None:
    db, _ = features_db
    before = _table_digest(db)
    stage = sql.Identifier(db.ns.features, STAGE_NAME)
    with db.connect() as conn:
        conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} (junk int)").format(stage))
    cfg = load_config(["chunk_rows=20000", "processes=1"])
    cfg.properties = OmegaConf.create(
        {k: {"value": k} for k in ("ra", "dec", "z")}
        | {"logmstar": {"value": "logmstar", "valid": "logmstar_ivar > 0"}}
    )
    build(db, cfg)
    assert _table_digest(db) == before
    with db.connect() as conn:
        assert not relation_exists(conn, db.ns.features, STAGE_NAME)


def test_missing_values_and_excluded_rows_are_null(features_db) -> None:
    db, _ = features_db
    got = _features(db)
    assert all(v is None for v in got["logmstar"][0::2])  # IVAR = 0 -> NULL, not 0
    assert all(v == 10.0 for v in got["logmstar"][1::2])
    for row in BAD_ROWS:
        assert got["x"][row] is None and got["knn_distance"][row] is None
        assert got["vf_in_void"][row] is False and got["vf_vflag"][row] == 9
    assert all(v is not None and v > 0 for v in got["knn_distance"][20:200])


def test_galaxies_near_a_void_use_the_index_and_match_brute_force(features_db) -> None:
    db, _ = features_db
    with db.connect() as conn:
        fs = db.ns.features
        catalog, void, vx, vy, vz = conn.execute(
            sql.SQL(
                "SELECT catalog, void, x, y, z FROM {} WHERE algorithm = 'VoidFinder' "
                "ORDER BY radius DESC LIMIT 1"
            ).format(sql.Identifier(fs, "voids"))
        ).fetchone()
        near = conn.execute(
            sql.SQL("SELECT targetid, distance_mpch FROM {}(%s, %s, 40.0)").format(
                sql.Identifier(fs, "galaxies_near_void")
            ),
            (catalog, void),
        ).fetchall()
        xyz = conn.execute(
            sql.SQL("SELECT targetid, x, y, zc FROM {} WHERE x IS NOT NULL").format(
                sql.Identifier(fs, "galaxy")
            )
        ).fetchall()
        conn.execute(
            "SET enable_seqscan = off"
        )  # a 10k-row table is cheaper to scan; show the plan
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                sql.SQL(
                    "EXPLAIN SELECT g.targetid FROM {} g WHERE point(g.x, g.y) <@ "
                    "box(point(%s, %s), point(%s, %s))"
                ).format(sql.Identifier(fs, "galaxy")),
                (vx - 40, vy - 40, vx + 40, vy + 40),
            )
        )
    ids = np.array([r[0] for r in xyz])
    pos = np.array([r[1:] for r in xyz], dtype=float)
    brute = set(ids[np.linalg.norm(pos - [vx, vy, vz], axis=1) < 40.0].tolist())
    assert {r[0] for r in near} == brute and len(brute) > 20
    assert "galaxy_point_idx" in plan


def test_nearest_void_per_algorithm(features_db) -> None:
    db, _ = features_db
    with db.connect() as conn:
        rows = conn.execute(
            sql.SQL("SELECT algorithm, void, r_over_radius FROM {}(42)").format(
                sql.Identifier(db.ns.features, "nearest_void")
            )
        ).fetchall()
        stored = conn.execute(
            sql.SQL("SELECT zobov_r_over_rvoid FROM {} WHERE targetid = 42").format(
                sql.Identifier(db.ns.features, "galaxy")
            )
        ).fetchone()[0]
    by_algorithm = {r[0]: r for r in rows}
    assert set(by_algorithm) == {"VoidFinder", "ZOBOV", "VIDE"}
    assert by_algorithm["ZOBOV"][2] == pytest.approx(stored, rel=1e-9)


def test_a_catalog_of_other_galaxies_is_a_clear_error(db, real_fits: Path, tmp_path: Path) -> None:
    from fitsfactory import fastspec_like

    from desivoid_ml.errors import DesivoidError

    galaxies = fastspec_like(tmp_path / "other.fits", n=500)
    ingest(db, [galaxies, real_fits / "voids" / "TEST10K_V2_ZOBOV.fits"], IngestOptions([]))
    cfg = load_config(["chunk_rows=100"])
    cfg.properties = OmegaConf.create({"z": {"value": "z"}})
    with pytest.raises(DesivoidError, match="TEST10K_V2_ZOBOV: none of the 500 galaxies matches"):
        build(db, cfg)
    with db.connect() as conn:
        assert not relation_exists(conn, db.ns.features, "galaxy")
        assert not relation_exists(conn, db.ns.features, STAGE_NAME)  # staged, rolled back


def test_a_mask_hdu_and_a_magnitude_limit_reach_the_features(db, real_fits, tmp_path) -> None:
    with fits.open(real_fits / "voids" / "TEST10K_VoidFinder.fits") as hdul:
        image = np.zeros((360, 180), dtype=np.int16)
        image[:180, :] = 1  # a survey of RA < 180 only
        hdul.insert(1, fits.ImageHDU(image, name="MASK"))
        hdul[0].header["MAGCUT"] = True
        hdul[0].header["MAGLIM"] = -20.0
        hdul.writeto(tmp_path / "DESIVAST_BGS_VOLLIM_VoidFinder_TEST.fits")
    galaxies = _sdss_as_fastspec(real_fits, tmp_path / "sdss.fits")
    ingest(db, [galaxies, tmp_path / "DESIVAST_BGS_VOLLIM_VoidFinder_TEST.fits"], IngestOptions([]))
    cfg = load_config(["chunk_rows=4000"])
    cfg.properties = OmegaConf.create({"ra": {"value": "ra"}})
    summary = build(db, cfg)
    assert summary.masks == {"VoidFinder_TEST": "MASK HDU"}
    got = _features(db)
    in_input = got["vf_in_input"].astype(bool)
    east = got["ra"].astype(float) >= 180
    bright = (np.arange(len(in_input)) % 3) == 0  # ABSMAG -21; -19 and 0 fail MAGLIM -20
    assert not in_input[east | ~bright].any()
    assert in_input[~east & bright].sum() > 1000
    assert (got["vf_vflag"][east & ~got["vf_in_void"].astype(bool)] == 9).all()


def test_following_the_omegam_advice_works(db, real_fits, tmp_path) -> None:
    import re

    from desivoid_ml.errors import DesivoidError

    with fits.open(real_fits / "voids" / "TEST10K_VoidFinder.fits") as hdul:
        del hdul[0].header["OMEGAM"]
        hdul.writeto(tmp_path / "DESIVAST_BGS_VOLLIM_VoidFinder_NOOM.fits")
    galaxies = _sdss_as_fastspec(real_fits, tmp_path / "sdss.fits")
    ingest(db, [galaxies, tmp_path / "DESIVAST_BGS_VOLLIM_VoidFinder_NOOM.fits"], IngestOptions([]))
    with pytest.raises(DesivoidError, match="no OMEGAM keyword") as error:
        build(db, load_config(["chunk_rows=5000"]))
    advice = re.search(r"`desivoid features (\S+)`", str(error.value))
    assert advice, str(error.value)
    assert advice.group(1) == "void_catalogs.omegam=0.3"
    cfg = load_config(["chunk_rows=5000", "void_catalogs.omegam=0.26"])  # the advice, real Ωm
    cfg.properties = OmegaConf.create({"z": {"value": "z"}})
    summary = build(db, cfg)
    assert summary.rows == 10_000
    vf = Table.read(real_fits / "voids" / "TEST10K_VoidFinder_membership.fits")
    got = _features(db)
    keep = np.ones(10_000, dtype=bool)
    keep[list(BAD_ROWS)] = False
    clear = keep & (np.asarray(vf["ambiguous"]) == 0)
    assert np.array_equal(
        got["vf_in_void"][clear].astype(bool), np.asarray(vf["in_void"])[clear] == 1
    )


def test_sky_search_is_indexed_right_after_a_build(features_db) -> None:
    db, _ = features_db
    with db.connect() as conn:
        conn.execute("SET enable_seqscan = off")  # the plan must have an index to choose
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                sql.SQL('EXPLAIN SELECT 1 FROM {} WHERE point(ra, "dec") <@ box(%s, %s)').format(
                    sql.Identifier(db.ns.features, "galaxy")
                ),
                ("(10,10)", "(11,11)"),
            )
        )
    assert "galaxy_sky_idx" in plan


def test_v2_catalogs_read_back_keep_one_copy_of_their_shared_galzone(
    features_db, real_fits: Path
) -> None:
    from desivoid_ml.features.void_catalog_db import read_db_catalogs
    from desivoid_ml.features.void_catalog_fits import read_fits_catalog

    db, _ = features_db
    v2 = {c.algorithm: c for c in read_db_catalogs(db) if hasattr(c, "gal_zone")}
    zobov, vide = v2["ZOBOV"], v2["VIDE"]
    assert zobov.gal_xyz is vide.gal_xyz and zobov.gal_target is vide.gal_target
    assert zobov.gal_zone is not vide.gal_zone  # each algorithm's zones are its own
    for name, catalog in v2.items():  # the values are those of the file, read alone
        alone = read_fits_catalog(real_fits / "voids" / f"TEST10K_V2_{name}.fits")
        assert np.array_equal(catalog.gal_xyz, alone.gal_xyz)
        assert np.array_equal(catalog.gal_zone, alone.gal_zone)
        assert np.array_equal(catalog.gal_out, alone.gal_out)
