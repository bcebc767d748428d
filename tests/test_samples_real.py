"""`<prefix>_sample` ('void', 'wall' or NULL) equals the VAST toolkit's samples on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from desivoid_ml.errors import DesivoidError
from desivoid_ml.features import voidfinder
from desivoid_ml.features.environment import (
    EnvironmentOptions,
    GalaxySample,
    classify_catalog,
    survey_mask,
)
from desivoid_ml.features.samples import sample_column
from desivoid_ml.features.void_catalog_fits import read_fits_catalog


@pytest.fixture(scope="module")
def sample(real_fits: Path) -> GalaxySample:
    galaxies = Table.read(real_fits / "vast-test-galaxies-10k.fits")
    ra, dec = np.asarray(galaxies["ra"], float), np.asarray(galaxies["dec"], float)
    return GalaxySample(ra, dec, np.asarray(galaxies["z"]))


def _truth(real_fits: Path, name: str) -> Table:
    return Table.read(real_fits / "voids" / f"TEST10K_{name}_membership.fits")


@pytest.mark.parametrize("algorithm", ["VIDE", "ZOBOV"])
def test_v2_sample_is_the_in_volume_input(sample, real_fits, algorithm) -> None:
    catalog = read_fits_catalog(real_fits / "voids" / f"TEST10K_V2_{algorithm}.fits")
    truth = _truth(real_fits, f"V2_{algorithm}")
    inside = (np.asarray(truth["zone"]) >= 0) & (np.asarray(truth["out"]) == 0)
    in_void = np.asarray(truth["in_void"]) == 1
    expected = sample_column(inside & in_void, inside & ~in_void)
    got = classify_catalog(sample, catalog)
    assert np.array_equal(got["sample"], expected)  # every row
    assert (got["sample"] == "").sum() == 1800  # the out-of-volume GALZONE rows: neither
    assert not np.isin(got["vflag"][~inside], [0, 1]).any()
    walls = {"VIDE": 3769, "ZOBOV": 0}[algorithm]  # ZOBOV: every in-volume galaxy in a void
    assert (got["sample"] == "wall").sum() == walls
    assert (got["sample"] == "void").sum() == in_void.sum()


@pytest.mark.parametrize("column", ["OUT", "ZONE"])
def test_a_v2_file_without_out_or_zone_is_an_error(real_fits, tmp_path, column) -> None:
    with fits.open(real_fits / "voids" / "TEST10K_V2_ZOBOV.fits") as hdul:
        galzone = hdul["GALZONE"]
        kept = [c for c in galzone.columns if c.name != column]
        hdul["GALZONE"] = fits.BinTableHDU.from_columns(kept, name="GALZONE")
        hdul.writeto(tmp_path / "cut.fits")
    with pytest.raises(DesivoidError, match=f"GALZONE has no {column} column") as error:
        read_fits_catalog(tmp_path / "cut.fits")
    assert "\n" not in str(error.value)


@pytest.fixture(scope="module")
def voidfinder_catalog(real_fits: Path):
    return read_fits_catalog(real_fits / "voids" / "TEST10K_VoidFinder.fits")


def _policy(sample, catalog, policy: str) -> dict[str, np.ndarray]:
    options = EnvironmentOptions(voidfinder.BoundaryRule(policy=policy))
    return classify_catalog(sample, catalog, survey_mask(sample, catalog), options)


def test_voidfinder_sample_equals_the_toolkits_on_every_row(
    sample, voidfinder_catalog, real_fits
) -> None:
    """Default policy `toolkit`: vflag 1 / 0 as the toolkit says, hole-surface galaxies
    included (its float32 positions, so "d < R" rounds as it did)."""
    truth = _truth(real_fits, "VoidFinder")
    flag = np.asarray(truth["vflag"])
    got = _policy(sample, voidfinder_catalog, "toolkit")
    expected = sample_column(flag == 1, flag == 0)
    assert (got["sample"] == expected).mean() >= 0.999  # all 10,000 rows
    for label in ("void", "wall", ""):
        assert (got["sample"] == label).sum() == (expected == label).sum(), label
    boundary = got["on_boundary"]
    assert boundary.sum() > 3000  # the rows rounding decides are part of the comparison
    assert (got["sample"][boundary] == expected[boundary]).mean() >= 0.999
    assert np.array_equal(got["void_id"], np.asarray(truth["void_id"]))
    assert (got["sample"][np.isin(got["vflag"], [2, 9])] == "").all()  # edge, outside: neither


def test_exclude_policy_drops_boundary_galaxies_from_both(sample, voidfinder_catalog) -> None:
    wall = _policy(sample, voidfinder_catalog, "wall")
    exclude = _policy(sample, voidfinder_catalog, "exclude")
    boundary = exclude["on_boundary"]
    assert boundary.sum() > 3000
    assert (exclude["sample"][boundary] == "").all()
    assert np.array_equal(exclude["sample"][~boundary], wall["sample"][~boundary])
    assert np.array_equal(exclude["vflag"], wall["vflag"])
    assert (wall["sample"][boundary] != "").sum() > 100  # `wall` keeps some of them as walls


def test_environment_command_writes_the_sample(real_fits, tmp_path) -> None:
    from typer.testing import CliRunner

    from desivoid_ml.cli import app

    out = tmp_path / "env.fits"
    catalogs = [str(real_fits / "voids" / f"TEST10K_{n}.fits") for n in ("VoidFinder", "V2_VIDE")]
    source = str(real_fits / "vast-test-galaxies-10k.fits")
    result = CliRunner().invoke(app, ["environment", source, *catalogs, "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = Table.read(out)
    vide = np.char.strip(np.asarray(table["test10k_v2_vide_sample"], dtype=str))
    assert set(vide.tolist()) == {"", "void", "wall"}
    assert (vide == "").sum() == 1800
    vf = np.char.strip(np.asarray(table["test10k_voidfinder_sample"], dtype=str))
    assert np.array_equal(vf == "", ~np.isin(np.asarray(table["test10k_voidfinder_vflag"]), [0, 1]))
