"""The faster classification paths give the same answers: V2 catalogs that share a GALZONE match
a chunk once, and nearest-neighbour queries in spatial order equal plain ones."""

from __future__ import annotations

import numpy as np
from astropy.table import Table
from scipy.spatial import cKDTree

from desivoid_ml.features import tree_query
from desivoid_ml.features.environment import GalaxySample, classify_catalog
from desivoid_ml.features.void_catalog_fits import read_fits_catalog


def test_nearest_in_spatial_order_equals_plain_query() -> None:
    rng = np.random.default_rng(7)
    shell = rng.normal(size=(5000, 3))
    shell *= (300 + 50 * rng.random(5000))[:, None] / np.linalg.norm(shell, axis=1)[:, None]
    tree = cKDTree(shell)
    points = rng.uniform(-500, 500, size=(20000, 3))  # inside, on and far outside the shell
    distance, index = tree_query.nearest(tree, points)
    plain_distance, plain_index = tree.query(points, k=1)
    assert np.array_equal(index, plain_index)
    assert np.array_equal(distance, plain_distance)
    empty = tree_query.nearest(tree, np.zeros((0, 3)))
    assert len(empty[0]) == 0 and len(empty[1]) == 0


def test_nearest_tree_equals_a_plain_query_inside_and_far_beyond_the_points() -> None:
    rng = np.random.default_rng(11)
    sky = rng.normal(size=(8000, 3))
    sky[:, 2] = np.abs(sky[:, 2]) + 1.0  # a cone of sight lines, like a survey cap
    sky /= np.linalg.norm(sky, axis=1)[:, None]
    points = sky * (300.0 * rng.random(8000) ** (1 / 3))[:, None]  # a volume out to 300
    ahead = rng.normal(size=(6000, 3))
    ahead /= np.linalg.norm(ahead, axis=1)[:, None]
    queries = np.vstack(
        [
            sky[:3000] * rng.uniform(0, 320, 3000)[:, None],  # inside and on the surface
            sky[3000:6000] * rng.uniform(300, 2000, 3000)[:, None],  # far beyond it
            ahead * rng.uniform(0, 2000, 6000)[:, None],  # any direction
        ]
    )
    plain_distance, plain_index = cKDTree(points).query(queries, k=1)
    for shell in (0.0, 5.0, 50.0, 1e9):  # 1e9: every point is in the shell
        distance, index = tree_query.NearestTree(points, shell).nearest(queries)
        assert np.array_equal(index, plain_index), shell
        assert np.array_equal(distance, plain_distance), shell
    empty = tree_query.NearestTree(np.zeros((0, 3))).nearest(queries[:5])
    assert np.isinf(empty[0]).all()


def test_v2_catalogs_of_one_galzone_share_the_match_and_agree_with_their_own() -> None:
    from conftest import REAL_FITS

    galaxies = Table.read(REAL_FITS / "vast-test-galaxies-10k.fits")
    sample = GalaxySample(
        np.asarray(galaxies["ra"], dtype=np.float64),
        np.asarray(galaxies["dec"], dtype=np.float64),
        np.asarray(galaxies["z"], dtype=np.float64),
    )
    catalogs = [
        read_fits_catalog(REAL_FITS / "voids" / f"TEST10K_V2_{name}.fits")
        for name in ("ZOBOV", "VIDE")
    ]
    assert catalogs[0].galzone_key == catalogs[1].galzone_key  # one V2 run, two prunings
    shared: dict = {}
    together = [classify_catalog(sample, c, shared=shared) for c in catalogs]
    assert len(shared) == 1  # positions and GALZONE match computed once for both
    for catalog, result in zip(catalogs, together, strict=True):
        alone = classify_catalog(sample, catalog)
        assert result.keys() == alone.keys()
        for name in alone:
            assert np.array_equal(result[name], alone[name], equal_nan=name == "r_over_rvoid")
    assert not np.array_equal(together[0]["in_void"], together[1]["in_void"])  # not one answer
    assert together[1]["in_void"].sum() > 1000
