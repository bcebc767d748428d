"""Environment computations on synthetic geometry: KD-tree vs brute force, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from desivoid_ml.errors import DesivoidError
from desivoid_ml.features import v2, voidfinder
from desivoid_ml.features.cosmology import Cosmology, from_header
from desivoid_ml.features.void_catalogs import V2Catalog, VoidFinderCatalog


def _spheres(rng: np.random.Generator, n_holes: int = 3000) -> VoidFinderCatalog:
    centres = rng.uniform(-200, 200, (n_holes, 3))
    return VoidFinderCatalog(
        name="synthetic",
        cosmology=Cosmology(0.3),
        cap=None,
        hole_xyz=centres,
        hole_radius=rng.uniform(2, 15, n_holes),
        hole_void=rng.integers(0, 400, n_holes),
        void_id=np.arange(400),
        void_xyz=rng.uniform(-200, 200, (400, 3)),
        void_radius=rng.uniform(10, 20, 400),
        distance_limits=None,
    )


def _brute_force(points: np.ndarray, catalog: VoidFinderCatalog) -> np.ndarray:
    """Every point against every sphere."""
    d2 = ((points[:, None, :] - catalog.hole_xyz[None, :, :]) ** 2).sum(axis=2)
    inside = d2 < catalog.hole_radius[None, :] ** 2
    smallest = np.where(inside, catalog.hole_void[None, :], np.iinfo(np.int64).max).min(axis=1)
    return np.where(smallest == np.iinfo(np.int64).max, -1, smallest)


def test_kdtree_membership_equals_brute_force() -> None:
    rng = np.random.default_rng(11)
    catalog = _spheres(rng)
    points = rng.uniform(-210, 210, (20_000, 3))
    ours = voidfinder.smallest_containing_void(points, catalog)
    brute = np.concatenate([_brute_force(block, catalog) for block in np.split(points, 20)])
    assert np.array_equal(ours, brute)
    assert 0.05 < (ours >= 0).mean() < 0.95


def test_point_on_a_sphere_surface_is_outside() -> None:
    catalog = _spheres(np.random.default_rng(1), n_holes=1)
    catalog.hole_xyz[:] = 0.0
    catalog.hole_radius[:] = 10.0
    points = np.array([[10.0, 0, 0], [9.999, 0, 0]])
    assert voidfinder.smallest_containing_void(points, catalog).tolist() == [
        -1,
        catalog.hole_void[0],
    ]


def test_nearest_void_distance_in_radius_units() -> None:
    index, ratio = voidfinder.nearest_void_distance(
        np.array([[0.0, 0, 0], [30.0, 0, 0]]),
        np.array([[5.0, 0, 0], [40.0, 0, 0]]),
        np.array([10.0, 20.0]),
    )
    assert index.tolist() == [0, 1]
    assert ratio.tolist() == [0.5, 0.5]


def test_missing_cosmology_names_the_keyword() -> None:
    with pytest.raises(DesivoidError, match="no OMEGAM keyword.*--omegam"):
        from_header({"HP": 1.0}, "V2_VIDE_NGC")
    assert from_header({}, "V2_VIDE_NGC", omegam=0.31).omegam == 0.31


def test_galzone_matching_nothing_is_an_error() -> None:
    catalog = V2Catalog(
        name="V2_ZOBOV_NGC",
        algorithm="ZOBOV",
        cosmology=Cosmology(0.3),
        cap="NGC",
        gal_target=np.array([1, 2, 3]),
        gal_xyz=np.zeros((3, 3)) + [[0, 0, 0], [1, 0, 0], [2, 0, 0]],
        gal_zone=np.array([0, 0, 1]),
        zone_id=np.array([0, 1]),
        zone_void0=np.array([-1, 0]),
        zone_void1=np.array([-1, 0]),
        void_id=np.array([0]),
        void_xyz=np.zeros((1, 3)),
        void_radius=np.array([12.0]),
    )
    far = np.array([[500.0, 0, 0], [600.0, 0, 0]])
    lost = v2.classify(far, np.array([7, 8]), catalog)
    assert not lost["in_input"].any()
    with pytest.raises(DesivoidError, match="none of the 2 galaxies matches a GALZONE"):
        v2.require_matches(catalog, int(lost["in_input"].sum()), len(far))
    near = v2.classify(np.array([[2.0, 0, 0], [900.0, 0, 0]]), np.array([3, 99]), catalog)
    assert near["in_input"].tolist() == [True, False]
    assert near["void_id"].tolist() == [0, 0]  # the far galaxy takes its nearest GALZONE's zone


def test_density_equals_brute_force() -> None:
    from desivoid_ml.features.density import kth_neighbour_density

    points = np.random.default_rng(4).uniform(0, 100, (2000, 3))
    distance, density = kth_neighbour_density(points, 5)
    d = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))
    expected = np.sort(d, axis=1)[:, 5]
    assert np.allclose(distance, expected)
    assert np.allclose(density, 5 / (4 / 3 * np.pi * expected**3))


@pytest.mark.parametrize(
    "override", ["density.k=abc", "density.k=0", "chunk_rows=-5", "density.omegam=2"]
)
def test_bad_feature_settings_are_named(override: str) -> None:
    from desivoid_ml.features.config import load_config

    with pytest.raises(DesivoidError, match=override.split("=")[0]):
        load_config([override])


def test_mask_cells_and_smoothing_follow_the_toolkit() -> None:
    from desivoid_ml.features.sky_mask import cell_index, smooth

    # int() truncates toward zero: Dec -0.5 and +0.5 share the cell of index 90
    i, j = cell_index(np.array([10.5, 10.5, 359.99]), np.array([-0.5, 0.5, -1.5]), 1, (360, 180))
    assert i.tolist() == [10, 10, 359] and j.tolist() == [90, 90, 89]
    cells = np.zeros((360, 180), dtype=bool)
    cells[[9, 11, 10], [50, 50, 49]] = True  # 3 of the 4 neighbours of (10, 50)
    cells[[20, 21], [60, 60]] = True  # 1 neighbour of (20, 61)... and (21, 61): not enough
    cells[1, 0] = cells[0, 1] = cells[1, 1] = True  # (0, 0) is a border cell: never filled
    smoothed = smooth(cells)
    assert smoothed[10, 50] and not smoothed[20, 61] and not smoothed[0, 0]
    assert (smoothed & ~cells).sum() == 1  # one pass, decided on the unsmoothed mask


def test_galactic_cap_matches_astropy() -> None:
    from astropy.coordinates import SkyCoord

    from desivoid_ml.features.environment import galactic_cap

    rng = np.random.default_rng(5)
    ra, dec = rng.uniform(0, 360, 20_000), np.degrees(np.arcsin(rng.uniform(-1, 1, 20_000)))
    b = SkyCoord(ra=ra, dec=dec, unit="deg").galactic.b.deg
    assert np.array_equal(galactic_cap(ra, dec), np.where(b >= 0, "NGC", "SGC"))
