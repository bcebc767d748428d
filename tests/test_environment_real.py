"""Environment features agree with the VAST toolkit's own classification of real SDSS galaxies."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from desivoid_ml.features import v2, voidfinder
from desivoid_ml.features.cosmology import Cosmology
from desivoid_ml.features.environment import GalaxySample, classify_catalog, survey_mask
from desivoid_ml.features.void_catalog_fits import read_fits_catalog
from desivoid_ml.features.void_catalogs import magnitude_limit


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
    in_volume = (np.asarray(truth["zone"]) >= 0) & (np.asarray(truth["out"]) == 0)
    assert np.array_equal(out["in_input"], in_volume)  # GALZONE rows inside the V2 volume
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


# The toolkit's distances (c = 299792 km/s, float32) differ from astropy's by up to 6.8e-6
# relative on this set: the flag is compared outside that band around the tolerance.
TOOLKIT_DISTANCE_RELATIVE = 7e-6


@pytest.fixture(scope="module")
def voidfinder_run(galaxies: Table, real_fits_dir: Path):
    catalog = read_fits_catalog(real_fits_dir / "voids" / "TEST10K_VoidFinder.fits")
    truth = Table.read(real_fits_dir / "voids" / "TEST10K_VoidFinder_membership.fits")
    xyz = catalog.cosmology.cartesian(galaxies["ra"], galaxies["dec"], galaxies["z"])
    return catalog, truth, xyz


def _signed_margin(xyz: np.ndarray, catalog) -> np.ndarray:
    """Brute force: min over every hole of (distance to its centre - its radius)."""
    margin = np.full(len(xyz), np.inf)
    for start in range(0, len(catalog.hole_radius), 500):
        centres = catalog.hole_xyz[start : start + 500]
        d2 = np.zeros((len(xyz), len(centres)))
        for axis in range(3):
            d2 += np.subtract.outer(xyz[:, axis], centres[:, axis]) ** 2
        d = np.sqrt(d2, out=d2) - catalog.hole_radius[start : start + 500]
        np.minimum(margin, d.min(axis=1), out=margin)
    return margin


def test_boundary_flag_matches_the_toolkits_margin(voidfinder_run) -> None:
    catalog, truth, xyz = voidfinder_run
    rule = voidfinder.BoundaryRule()
    out = voidfinder.classify(xyz, catalog, None, rule)
    tolerance = rule.tolerance(xyz)
    band = TOOLKIT_DISTANCE_RELATIVE * np.linalg.norm(xyz, axis=1)
    margin = np.abs(np.asarray(truth["margin_mpch"]))  # min over holes of (d - R), toolkit's
    surely_on = margin <= tolerance - band
    surely_off = margin > tolerance + band
    assert surely_on.sum() > 3000  # real boundary galaxies: VoidFinder grows holes onto them
    assert out["on_boundary"][surely_on].all()
    assert not out["on_boundary"][surely_off].any()
    assert np.array_equal(out["on_boundary"], margin <= tolerance)  # none fell in the band here


def test_each_boundary_policy_does_what_it_says(voidfinder_run) -> None:
    catalog, truth, xyz = voidfinder_run
    wall = voidfinder.classify(xyz, catalog, None, voidfinder.BoundaryRule(policy="wall"))
    toolkit = voidfinder.classify(xyz, catalog, None, voidfinder.BoundaryRule(policy="toolkit"))
    signed = _signed_margin(xyz, catalog)
    tolerance = voidfinder.BoundaryRule().tolerance(xyz)
    assert np.array_equal(toolkit["in_void"], signed < 0)  # d < R, as computed
    assert np.array_equal(wall["in_void"], signed < -tolerance)  # clear of every surface
    # they differ only on boundary galaxies, where "wall" never says void
    differ = wall["in_void"] != toolkit["in_void"]
    assert differ.sum() > 1000 and wall["on_boundary"][differ].all()
    assert toolkit["in_void"][differ].all()
    assert (wall["vflag"][differ] != voidfinder.IN_VOID).all()
    assert (toolkit["vflag"][differ] == voidfinder.IN_VOID).all()
    clear = np.asarray(truth["ambiguous"]) == 0
    for out in (wall, toolkit):
        assert np.array_equal(out["in_void"][clear], np.asarray(truth["in_void"])[clear] == 1)


def test_vflag_matches_the_toolkit_with_its_own_mask_rebuilt(galaxies, voidfinder_run) -> None:
    catalog, truth, xyz = voidfinder_run
    sample = GalaxySample(
        np.asarray(galaxies["ra"], float), np.asarray(galaxies["dec"], float), galaxies["z"]
    )
    mask = survey_mask(sample, catalog)
    assert mask.source.startswith("rebuilt from 10,000 galaxies")
    out = voidfinder.classify(xyz, catalog, mask)
    clear = np.asarray(truth["ambiguous"]) == 0
    agree = out["vflag"][clear] == np.asarray(truth["vflag"])[clear]
    assert agree.mean() >= 0.999
    assert {0, 1, 2, 9} <= set(out["vflag"][clear].tolist())  # every class is compared
    not_void = clear & (np.asarray(truth["vflag"]) != 1)  # the toolkit's 9 = outside its sample
    assert np.array_equal(out["in_input"][not_void], np.asarray(truth["vflag"])[not_void] != 9)


def test_a_mask_hdu_is_used_instead_of_the_galaxies(galaxies, real_fits_dir, tmp_path) -> None:
    source = real_fits_dir / "voids" / "TEST10K_VoidFinder.fits"
    image = np.zeros((360, 180), dtype=np.int16)
    image[:180, :] = 1  # a survey of RA < 180 only
    with fits.open(source) as hdul:
        hdul.insert(1, fits.ImageHDU(image, name="MASK"))
        hdul.writeto(tmp_path / "masked.fits")
    catalog = read_fits_catalog(tmp_path / "masked.fits")
    ra = np.asarray(galaxies["ra"], float)
    sample = GalaxySample(ra, np.asarray(galaxies["dec"], float), galaxies["z"])
    mask = survey_mask(sample, catalog)
    assert mask.source == "MASK HDU"
    result = classify_catalog(sample, catalog, mask)
    east = ra >= 180
    assert east.sum() > 1000 and not result["in_input"][east].any()
    assert (result["vflag"][east & ~result["in_void"]] == voidfinder.OUTSIDE).all()
    assert result["in_input"][~east].sum() > 3000


def test_magnitude_limit_from_the_header() -> None:
    assert magnitude_limit({"MAGCUT": False}) is None  # the real test file
    assert magnitude_limit({"MAGCUT": True, "MAGLIM": -20.0}) == -20.0  # synthetic DR1-like
    assert magnitude_limit({"MAGLIM": ""}) is None  # DR1's empty MAGLIM
    assert magnitude_limit({"MAGCUT": False, "MAGLIM": -20.0}) is None


def test_vf_in_input_applies_the_magnitude_limit(galaxies, voidfinder_run) -> None:
    catalog, _, _ = voidfinder_run
    n = len(galaxies)
    absmag = np.where(np.arange(n) % 2 == 0, -21.0, -19.0)
    absmag[5] = np.nan  # failed fit: not in a magnitude-limited sample
    ra, dec = np.asarray(galaxies["ra"], float), np.asarray(galaxies["dec"], float)
    sample = GalaxySample(ra, dec, galaxies["z"], absmag_r=absmag)
    plain = classify_catalog(sample, catalog, survey_mask(sample, catalog))
    cut = dataclasses.replace(catalog, magnitude_limit=-20.0)
    mask = survey_mask(sample, cut)
    limited = classify_catalog(sample, cut, mask)
    assert mask.source.startswith("rebuilt from 10,000 galaxies")  # the footprint: all
    assert np.array_equal(limited["in_input"], plain["in_input"] & (absmag < -20.0))
    assert plain["in_input"][1::2].sum() > 1000 and not limited["in_input"][1::2].any()


def test_the_v2_position_tolerance_setting_is_read(galaxies, real_fits_dir) -> None:
    from desivoid_ml.features.config import environment_options, load_config

    catalog = read_fits_catalog(real_fits_dir / "voids" / "TEST10K_V2_ZOBOV.fits")
    ra, dec = np.asarray(galaxies["ra"], float), np.asarray(galaxies["dec"], float)
    sample = GalaxySample(ra, dec, galaxies["z"])  # no TARGETIDs: matched by position

    def in_input(overrides: list[str]) -> int:
        options = environment_options(load_config(overrides))
        return int(classify_catalog(sample, catalog, None, options)["in_input"].sum())

    truth = Table.read(real_fits_dir / "voids" / "TEST10K_V2_ZOBOV_membership.fits")
    in_volume = int(((np.asarray(truth["zone"]) >= 0) & (np.asarray(truth["out"]) == 0)).sum())
    assert in_input([]) == in_volume == 8200  # 0.01 Mpc/h: every in-volume GALZONE row
    assert in_input(["v2.position_tolerance_mpch=1e-9"]) < len(ra) // 2  # float rounding


def test_environment_command_follows_the_config(galaxies, real_fits_dir, tmp_path) -> None:
    """`desivoid environment` on real SDSS galaxies: the toolkit's answer on unambiguous rows,
    and `--set voidfinder.boundary_policy=toolkit` changes exactly the boundary galaxies."""
    from typer.testing import CliRunner

    from desivoid_ml.cli import app

    truth = Table.read(real_fits_dir / "voids" / "TEST10K_VoidFinder_membership.fits")
    catalog = str(real_fits_dir / "voids" / "TEST10K_VoidFinder.fits")
    source = str(real_fits_dir / "vast-test-galaxies-10k.fits")
    tables = {}
    for policy in ("wall", "toolkit"):
        out = tmp_path / f"{policy}.fits"
        args = ["environment", source, catalog, "--out", str(out)]
        result = CliRunner().invoke(app, [*args, "--set", f"voidfinder.boundary_policy={policy}"])
        assert result.exit_code == 0, result.output
        tables[policy] = Table.read(out)
    name = next(c for c in tables["wall"].colnames if c.endswith("_in_void"))
    wall, toolkit = (np.asarray(tables[p][name]) for p in ("wall", "toolkit"))
    boundary = np.asarray(tables["wall"][name.replace("_in_void", "_on_boundary")])
    clear = np.asarray(truth["ambiguous"]) == 0
    assert len(wall) == len(galaxies)
    assert np.array_equal(wall[clear], np.asarray(truth["in_void"])[clear] == 1)
    assert (toolkit & ~wall).sum() > 1000 and boundary[toolkit != wall].all()
    args = ["environment", source, catalog, "--out", str(tmp_path / "x.fits")]
    bad = subprocess.run(
        [sys.executable, "-m", "desivoid_ml.cli", *args, "--set", "voidfinder.boundary_policy=x"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(lines) == 1 and "boundary_policy='x'" in lines[0]
    assert not (tmp_path / "x.fits").exists()
    ignored = CliRunner().invoke(app, [*args, "--set", "density.k=3"])
    assert ignored.exit_code != 0 and "density.k=3" in str(ignored.exception)


def test_one_mask_resolution_for_features_and_environment() -> None:
    """`voidfinder.mask_resolution` reaches the options both commands build their masks from."""
    from desivoid_ml.features.config import environment_options, load_config

    assert environment_options(load_config(["voidfinder.mask_resolution=4"])).mask_resolution == 4
    assert environment_options(load_config([])).mask_resolution is None
