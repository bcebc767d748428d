"""Issue 20 on the real VAST outputs (tests/data/real: 10,000 SDSS galaxies, VoidFinder, VIDE and
ZOBOV catalogs): the consensus columns and the agreement table against brute force, and the
stacked profiles (VoidFinder's voids are underdense inside, with a dense ridge at the edge)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from psycopg import sql
from test_features_db import _sdss_as_fastspec

from desivoid_ml.analysis.agreement import agreement
from desivoid_ml.analysis.profiles import ProfileRequest, profiles
from desivoid_ml.features.build import build
from desivoid_ml.features.config import load_config
from desivoid_ml.ingest.config import IngestOptions
from desivoid_ml.ingest.runner import ingest

PREFIXES = ("vf", "vide", "zobov")


@pytest.fixture(scope="module")
def real_db(module_db, real_fits: Path, tmp_path_factory):
    db, tmp_path = module_db, tmp_path_factory.mktemp("sdss")
    voids = sorted((real_fits / "voids").glob("TEST10K_*[!p].fits"))
    ingest(db, [_sdss_as_fastspec(real_fits, tmp_path / "sdss.fits"), *voids], IngestOptions([]))
    cfg = load_config(["chunk_rows=3000"])
    cfg.properties = OmegaConf.create(
        {
            "ra": {"value": "ra"},
            "dec": {"value": "dec"},
            "z": {"value": "z"},
            "logmstar": {"value": "logmstar", "valid": "logmstar_ivar > 0"},
        }
    )
    build(db, cfg)
    return db


def _columns(db) -> dict[str, np.ndarray]:
    names = [
        "x",
        *(f"{p}_{s}" for p in PREFIXES for s in ("sample", "in_input")),
        "in_all_inputs",
        "n_void_algorithms",
        "consensus_sample",
    ]
    with db.connect() as conn:
        rows = conn.execute(
            sql.SQL("SELECT {} FROM {} ORDER BY targetid").format(
                sql.SQL(", ").join(map(sql.Identifier, names)),
                sql.Identifier(db.ns.features, "galaxy"),
            )
        ).fetchall()
    return {n: np.array([r[i] for r in rows], dtype=object) for i, n in enumerate(names)}


def test_consensus_columns_equal_brute_force(real_db) -> None:
    got = _columns(real_db)
    checked = {"void": 0, "wall": 0, None: 0}
    for i in range(len(got["x"])):
        covered = got["x"][i] is not None  # the cap-less test catalogs cover every valid galaxy
        calls = {p: got[f"{p}_sample"][i] for p in PREFIXES}
        in_all = covered and all(got[f"{p}_in_input"][i] for p in PREFIXES)
        assert got["in_all_inputs"][i] == in_all, i
        assert got["n_void_algorithms"][i] == sum(c == "void" for c in calls.values()), i
        valid = [c for c in calls.values() if c is not None]
        expected = None
        if in_all and valid and all(c == "void" for c in valid):
            expected = "void"
        elif in_all and valid and all(c == "wall" for c in valid):
            expected = "wall"
        assert got["consensus_sample"][i] == expected, (i, calls)
        checked[expected] += 1
    assert checked["void"] > 100 and checked[None] > 100
    # ZOBOV puts every in-volume galaxy in a void: no galaxy is wall for all three
    assert checked["wall"] == 0


def test_agreement_table_equals_brute_force(real_db) -> None:
    got = _columns(real_db)
    with real_db.connect() as conn:
        rows = {(r["algorithm_a"], r["algorithm_b"]): r for r in agreement(conn, real_db.ns)}
    names = {"vf": "VoidFinder", "vide": "VIDE", "zobov": "ZOBOV"}
    assert set(rows) == {("VoidFinder", "VIDE"), ("VoidFinder", "ZOBOV"), ("VIDE", "ZOBOV")}
    for (a, b), row in rows.items():
        pa = next(p for p, n in names.items() if n == a)
        pb = next(p for p, n in names.items() if n == b)
        both = [
            (got[f"{pa}_sample"][i], got[f"{pb}_sample"][i])
            for i in range(len(got["x"]))
            if got["in_all_inputs"][i] and got[f"{pa}_sample"][i] and got[f"{pb}_sample"][i]
        ]
        cells = [
            sum(1 for x in both if x == pair)
            for pair in (("void", "void"), ("void", "wall"), ("wall", "void"), ("wall", "wall"))
        ]
        assert [row["void_both"], row["void_a_only"], row["void_b_only"], row["wall_both"]] == cells
        n = len(both)
        assert row["n"] == n > 1000
        assert row["agree_fraction"] == pytest.approx((cells[0] + cells[3]) / n)
        assert row["jaccard"] == pytest.approx(cells[0] / (cells[0] + cells[1] + cells[2]))
        void_a, void_b = cells[0] + cells[1], cells[0] + cells[2]
        chance = (void_a * void_b + (n - void_a) * (n - void_b)) / n**2
        if chance < 1:
            expected = ((cells[0] + cells[3]) / n - chance) / (1 - chance)
            assert row["kappa"] == pytest.approx(expected)


def test_voidfinder_density_profile_has_an_empty_core_and_a_ridge(real_db) -> None:
    request = ProfileRequest(
        properties=("z",),
        algorithms=("vf", "vide"),
        mass_edges=(9.0, 11.0),
        regions=8,
    )
    with real_db.connect() as conn:
        found = profiles(conn, real_db.ns, request)
    density = {
        r["r_lo"]: r
        for r in found.rows
        if r["property"] == "density" and r["algorithm"] == "VoidFinder"
    }
    # underdense core (VoidFinder's holes hold only its isolated "field" galaxies), then the
    # compensation ridge at the void edge, then towards the mean: a textbook void profile
    assert density[0.0]["median"] < 0.35 and density[0.25]["median"] < 0.35
    assert density[0.25]["median"] < density[0.5]["median"] < density[0.75]["median"]
    assert density[0.75]["median"] > 1.5 > density[0.25]["median"] + 3 * density[0.25]["median_err"]
    assert density[1.5]["median"] > 0.5 and density[1.5]["median_err"] > 0
    # VIDE has no galaxy within a quarter radius of its centres: that bin stays empty, listed
    inner = [
        r
        for r in found.rows
        if r["property"] == "z" and r["algorithm"] == "VIDE" and r["r_lo"] == 0.0
    ]
    assert inner[0]["n"] == 0 and np.isnan(inner[0]["median"])
    assert "VIDE: no galaxy with z at r/R_void 0-0.25 and logmstar 9-11" in found.empty
    # a filled bin's median is numpy's median of the same galaxies (to the 1/1024 grid)
    with real_db.connect() as conn:
        zs = conn.execute(
            sql.SQL(
                "SELECT z FROM {} WHERE vide_sample IS NOT NULL AND logmstar >= 9 "
                "AND logmstar < 11 AND vide_r_over_rvoid >= 1 AND vide_r_over_rvoid < 1.25"
            ).format(sql.Identifier(real_db.ns.features, "galaxy"))
        ).fetchall()
    row = next(
        r
        for r in found.rows
        if r["algorithm"] == "VIDE" and r["property"] == "z" and r["r_lo"] == 1.0
    )
    assert row["n"] == len(zs) > 50
    assert row["median"] == pytest.approx(np.median([z[0] for z in zs]), abs=2e-4)
