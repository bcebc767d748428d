"""The synthetic world looks like real VAST output, measured with the project's own environment
code (no database): hole-bounding galaxies on VoidFinder surfaces, vflag-2 edge galaxies from the
survey geometry, GALZONE rows outside the V2 volume, and stars, QSOs and failed redshifts; the
same yardsticks find the first three in the real toolkit files of tests/data/real.

One set of 40,000 rows: VoidFinder's mask is rebuilt from the galaxies (1 deg cells), and below
~30,000 rows empty cells inside the footprint add edges that a DR1-sized sample does not have."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from desivoid_ml.features import voidfinder
from desivoid_ml.features.environment import (
    EnvironmentOptions,
    GalaxySample,
    classify_catalog,
    survey_mask,
)
from desivoid_ml.features.void_catalog_fits import read_fits_catalog
from desivoid_ml.synth import ZLIML, ZLIMU, write_catalogs
from desivoid_ml.synth.universe import CAPS

N_GALAXIES = 40_000
SEED = 5
RULE = voidfinder.BoundaryRule(policy="toolkit")  # the default policy and boundary tolerance
TOOLKIT = EnvironmentOptions(RULE)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth-realism")
    write_catalogs(out, N_GALAXIES, SEED, chunk_rows=20_000)
    return out


@pytest.fixture(scope="module")
def metadata(world) -> dict[str, np.ndarray]:
    """METADATA columns of every row, and ABSMAG01_SDSS_R (VoidFinder's magnitude cut)."""
    names = ("TARGETID", "RA", "DEC", "Z", "SPECTYPE", "ZWARN", "DELTACHI2")
    parts: dict[str, list] = {name: [] for name in (*names, "ABSMAG01_SDSS_R")}
    for path in sorted(world.glob("fastspec-*.fits")):
        with fits.open(path) as hdul:
            for name in names:
                parts[name].append(np.asarray(hdul["METADATA"].data[name]))
            parts["ABSMAG01_SDSS_R"].append(np.asarray(hdul["SPECPHOT"].data["ABSMAG01_SDSS_R"]))
    native = {name: np.concatenate(p) for name, p in parts.items()}
    return {name: a.astype(a.dtype.newbyteorder("=")) for name, a in native.items()}


def _voidfinder_input(sample: GalaxySample, catalog_path: Path) -> dict[str, np.ndarray]:
    """Per input galaxy of one VoidFinder catalog: vflag (toolkit policy) and the hole margin
    (distance - radius of the nearest surface) over the boundary tolerance, from the positions the
    features code computes from RA, DEC, Z: |value| <= 1 is a boundary galaxy."""
    catalog = read_fits_catalog(catalog_path)
    found = classify_catalog(sample, catalog, survey_mask(sample, catalog), TOOLKIT)
    rows = np.nonzero(found["in_input"])[0]
    xyz = catalog.cosmology.cartesian(sample.ra[rows], sample.dec[rows], sample.z[rows])
    tolerance = RULE.tolerance(xyz)
    margin, _, _ = voidfinder.hole_margin(xyz, catalog, tolerance)
    return {"vflag": found["vflag"][rows], "margin": margin / tolerance}


@pytest.fixture(scope="module")
def voidfinder_input(world, metadata) -> dict[str, np.ndarray]:
    """`_voidfinder_input` of both caps' catalogs, concatenated."""
    g = metadata
    sample = GalaxySample(g["RA"], g["DEC"], g["Z"], g["TARGETID"], g["ABSMAG01_SDSS_R"])
    caps = [
        _voidfinder_input(sample, world / f"DESIVAST_BGS_VOLLIM_VoidFinder_{cap.name}.fits")
        for cap in CAPS
    ]
    return {name: np.concatenate([c[name] for c in caps]) for name in ("vflag", "margin")}


def test_a_fifth_of_the_voidfinder_input_bounds_a_hole(voidfinder_input) -> None:
    """15-25 % of the input are boundary galaxies (within the features' tolerance of a hole
    surface); the generator puts them just outside (half the tolerance), so they are wall
    galaxies under the default policy, as their properties are."""
    margin, vflag = voidfinder_input["margin"], voidfinder_input["vflag"]
    on_boundary = np.abs(margin) <= 1
    assert len(margin) > 5000
    assert 0.15 <= on_boundary.mean() <= 0.25, on_boundary.mean()
    placed = np.abs(margin - 0.5) < 0.01
    assert placed.sum() >= 0.95 * on_boundary.sum()  # the rest landed near a surface by chance
    assert not np.any(vflag[placed] == voidfinder.IN_VOID)  # wall (or edge), never void


def test_about_one_input_galaxy_in_seven_is_an_edge_galaxy(voidfinder_input) -> None:
    vflag = voidfinder_input["vflag"]
    assert 0.10 <= np.mean(vflag == voidfinder.EDGE) <= 0.22, np.mean(vflag == voidfinder.EDGE)
    assert np.mean(vflag == voidfinder.WALL) > 0.3 and np.mean(vflag == voidfinder.IN_VOID) > 0.15


def test_galzone_holds_input_galaxies_outside_the_v2_volume(world, metadata) -> None:
    z_of = dict(zip(metadata["TARGETID"], metadata["Z"], strict=True))
    for cap in CAPS:
        for algorithm in ("VIDE", "ZOBOV", "REVOLVER"):
            path = world / f"DESIVAST_BGS_VOLLIM_V2_{algorithm}_{cap.name}.fits"
            with fits.open(path) as hdul:
                galzone = hdul["GALZONE"].data
                out = galzone["OUT"] == 1
                z = np.array([z_of[t] for t in galzone["TARGET"]])
            assert 0.05 <= out.mean() <= 0.25, (path.name, out.mean())
            np.testing.assert_array_equal(galzone["ZONE"] == -1, out)
            np.testing.assert_array_equal(out, (z <= ZLIML) | (z >= ZLIMU))


def test_stars_qsos_and_failed_redshifts_at_dr1_like_rates(metadata) -> None:
    g = metadata
    spectype = np.char.strip(g["SPECTYPE"].astype(str))
    galaxy = spectype == "GALAXY"
    assert 0.005 <= np.mean(spectype == "STAR") <= 0.05
    assert 0.002 <= np.mean(spectype == "QSO") <= 0.02
    assert 0.005 <= np.mean(g["ZWARN"] != 0) <= 0.03
    assert 0.01 <= np.mean(g["DELTACHI2"][galaxy] <= 40) <= 0.05
    good = galaxy & (g["ZWARN"] == 0) & (g["DELTACHI2"] > 40)
    assert 0.90 <= good.mean() <= 0.97


def test_failed_redshifts_are_often_wrong_ones(metadata) -> None:
    """A failed fit's Z is unreliable: about half of them put the galaxy far beyond the survey's
    galaxies (Z > 0.25), which no successful galaxy redshift does."""
    g = metadata
    galaxy = np.char.strip(g["SPECTYPE"].astype(str)) == "GALAXY"
    failed = galaxy & (g["DELTACHI2"] <= 40)
    assert 0.3 <= np.mean(g["Z"][failed] > 0.25) <= 0.7
    assert not np.any(g["Z"][galaxy & ~failed] > 0.25)


def test_the_same_yardsticks_find_these_in_real_vast_output() -> None:
    """The real toolkit files (10,000 SDSS galaxies, tests/data/real) have each feature the
    synthetic files must have, measured as above: hole-bounding and edge galaxies in VoidFinder's
    input, GALZONE rows outside the V2 volume."""
    from conftest import REAL_FITS

    galaxies = Table.read(REAL_FITS / "vast-test-galaxies-10k.fits")
    sample = GalaxySample(*(np.asarray(galaxies[c]) for c in ("ra", "dec", "z")))
    real = _voidfinder_input(sample, REAL_FITS / "voids" / "TEST10K_VoidFinder.fits")
    on_boundary = np.abs(real["margin"]) <= 1
    assert on_boundary.mean() > 0.15  # about one in two on this small set
    # on the real surfaces "distance < radius" is float rounding: both answers occur
    assert 0.2 < np.mean(real["vflag"][on_boundary] == voidfinder.IN_VOID) < 0.9
    assert np.mean(real["vflag"] == voidfinder.EDGE) > 0.05
    for algorithm in ("ZOBOV", "VIDE"):
        with fits.open(REAL_FITS / "voids" / f"TEST10K_V2_{algorithm}.fits") as hdul:
            galzone = hdul["GALZONE"].data
            assert np.mean(galzone["OUT"] == 1) > 0.05
            np.testing.assert_array_equal(galzone["ZONE"] == -1, galzone["OUT"] == 1)
