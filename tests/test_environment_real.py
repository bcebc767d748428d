"""Environment features agree with the VAST toolkit's own classification of real SDSS galaxies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from desivoid_ml.features import v2, voidfinder
from desivoid_ml.features.cosmology import Cosmology
from desivoid_ml.features.void_catalogs import read_fits_catalog


@pytest.fixture(scope="module")
def galaxies(real_fits_dir: Path) -> Table:
    return Table.read(real_fits_dir / "vast-test-galaxies-10k.fits")


@pytest.fixture(scope="module")
def real_fits_dir() -> Path:
    from conftest import REAL_FITS

    return REAL_FITS


def test_voidfinder_membership_matches_toolkit(galaxies: Table, real_fits_dir: Path) -> None:
    catalog = read_fits_catalog(real_fits_dir / "voids" / "TEST10K_VoidFinder.fits")
    truth = Table.read(real_fits_dir / "voids" / "TEST10K_VoidFinder_membership.fits")
    xyz = catalog.cosmology.cartesian(galaxies["ra"], galaxies["dec"], galaxies["z"])
    out = voidfinder.classify(xyz, catalog, mask=None)
    clear = np.asarray(truth["ambiguous"]) == 0
    assert clear.sum() > 5000
    assert np.array_equal(out["in_void"][clear], np.asarray(truth["in_void"])[clear] == 1)
    assert np.array_equal(out["void_id"][clear], np.asarray(truth["void_id"])[clear])
    assert (out["void_id"][clear] >= 0).sum() > 200  # the comparison covers real void members


@pytest.mark.parametrize("algorithm", ["ZOBOV", "VIDE"])
def test_v2_membership_matches_toolkit(galaxies: Table, real_fits_dir: Path, algorithm) -> None:
    catalog = read_fits_catalog(real_fits_dir / "voids" / f"TEST10K_V2_{algorithm}.fits")
    truth = Table.read(real_fits_dir / "voids" / f"TEST10K_V2_{algorithm}_membership.fits")
    xyz = catalog.cosmology.cartesian(galaxies["ra"], galaxies["dec"], galaxies["z"])
    out = v2.classify(xyz, None, catalog)
    assert out["in_input"].all()
    assert np.array_equal(out["in_void"], np.asarray(truth["in_void"]) == 1)
    assert np.array_equal(out["void_id"], np.asarray(truth["void_id"]))
    assert np.array_equal(out["void_id_largest"], np.asarray(truth["void_id_largest"]))
    assert out["in_void"].sum() > 1000


def test_v2_match_by_target_id_equals_match_by_position(galaxies, real_fits_dir) -> None:
    catalog = read_fits_catalog(real_fits_dir / "voids" / "TEST10K_V2_ZOBOV.fits")
    xyz = catalog.cosmology.cartesian(galaxies["ra"], galaxies["dec"], galaxies["z"])
    by_position = v2.classify(xyz, None, catalog)
    by_id = v2.classify(xyz, np.arange(len(xyz)), catalog)  # TARGET is the input row here
    assert np.array_equal(by_position["void_id"], by_id["void_id"])


def test_comoving_coordinates_match_galzone(galaxies: Table, real_fits_dir: Path) -> None:
    truth = Table.read(real_fits_dir / "voids" / "TEST10K_V2_ZOBOV_membership.fits")
    inside = np.asarray(truth["zone"]) >= 0
    xyz = Cosmology(0.3).cartesian(galaxies["ra"], galaxies["dec"], galaxies["z"])[inside]
    expected = np.column_stack([truth["x"], truth["y"], truth["zc"]])[inside]
    relative = np.abs(xyz - expected) / np.linalg.norm(expected, axis=1)[:, None]
    assert relative.max() < 1e-6


def test_float64_distances_match_astropy() -> None:
    z = np.random.default_rng(3).uniform(0.001, 0.6, 5000)
    ours = Cosmology(0.315).comoving_distance(z)
    reference = Cosmology(0.315).astropy.comoving_distance(z).value
    assert np.max(np.abs(ours / reference - 1)) < 1e-10
