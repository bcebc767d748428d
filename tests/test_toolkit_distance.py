"""Positions with the VAST toolkit's arithmetic equal its own, bit for bit (real SDSS set)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from desivoid_ml.features import toolkit_distance
from desivoid_ml.features.cosmology import Cosmology


@pytest.fixture(scope="module")
def truth(real_fits: Path) -> Table:
    return Table.read(real_fits / "voids" / "TEST10K_VoidFinder_membership.fits")


@pytest.fixture(scope="module")
def galaxies(real_fits: Path) -> Table:
    return Table.read(real_fits / "vast-test-galaxies-10k.fits")


def test_distances_and_positions_equal_the_toolkits_bit_for_bit(galaxies, truth) -> None:
    z = np.asarray(galaxies["z"])
    r = toolkit_distance.comoving_distance(z, 0.26)  # the catalog's OMEGAM
    assert r.dtype == np.float32
    assert np.array_equal(r.astype(np.float64), np.asarray(truth["rgal"]))  # all 10,000
    ra, dec = np.asarray(galaxies["ra"]), np.asarray(galaxies["dec"])  # float32 columns
    xyz = toolkit_distance.cartesian(ra, dec, z, 0.26)
    for axis, name in enumerate(("x", "y", "zc")):
        assert np.array_equal(xyz[:, axis], np.asarray(truth[name])), name
    astropy = Cosmology(0.26).cartesian(ra, dec, z)  # c = 299792.458, float64: not the same
    assert (astropy != xyz).all(axis=1).mean() > 0.99


@pytest.mark.parametrize("omegam", [0.26, 0.315])
def test_whole_array_gauss_kronrod_equals_scipys_qags(omegam) -> None:
    z = np.random.default_rng(7).uniform(0.0005, 1.0, 1500).astype(np.float32)
    ours = toolkit_distance.comoving_distance(z, omegam)
    om = np.float32(omegam)
    lower = (1.0 / (1.0 + z.astype(np.float64))).astype(np.float32).astype(np.float64)
    scale = toolkit_distance.SPEED_OF_LIGHT_KMS / np.float32(100.0)
    qags = np.array([toolkit_distance.adaptive_integral(a, om) for a in lower])
    assert np.array_equal(ours, qags.astype(np.float32) * scale)
    # and close to astropy's (the toolkit's c and float32 aside)
    reference = Cosmology(omegam).comoving_distance(z.astype(np.float64))
    assert np.max(np.abs(ours / reference - 1)) < 2e-5


def test_float32_sky_positions_are_recognised_in_float64_columns(galaxies, truth) -> None:
    """raw.galaxies stores RA/Dec as float64: float32 values there still get float32
    trigonometry (the toolkit's, on float32 input); other float64 values get float64."""
    z = np.asarray(galaxies["z"])
    ra32, dec32 = np.asarray(galaxies["ra"]), np.asarray(galaxies["dec"])
    stored = toolkit_distance.cartesian(ra32.astype(np.float64), dec32.astype(np.float64), z, 0.26)
    assert np.array_equal(stored[:, 0], np.asarray(truth["x"]))
    nudged = np.nextafter(ra32.astype(np.float64), 400.0)  # not a float32 value any more
    wide = toolkit_distance.cartesian(nudged, dec32.astype(np.float64), z, 0.26)
    assert (wide[:, 0] != stored[:, 0]).mean() > 0.5  # float64 trigonometry
    assert np.abs(wide - stored).max() < 1e-6 * np.linalg.norm(stored, axis=1).max()
