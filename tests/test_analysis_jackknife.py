"""Spatial errors (issue 16, item 2): equal-area sky regions and the delete-one jackknife."""

from __future__ import annotations

import numpy as np
import pytest

from desivoid_ml.analysis.regions import sky_regions
from desivoid_ml.analysis.resampling import BOOTSTRAP, JACKKNIFE, Resampling
from desivoid_ml.analysis.stats import compare


def _uniform_sky(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Uniform per area: RA in [120, 240], Dec in [0, 60]."""
    ra = rng.uniform(120, 240, n)
    dec = np.degrees(np.arcsin(rng.uniform(0, np.sin(np.radians(60)), n)))
    return ra, dec


def test_regions_are_as_many_as_asked_and_of_equal_area() -> None:
    rng = np.random.default_rng(0)
    ra, dec = _uniform_sky(100_000, rng)
    ra[:5] = np.nan
    region = sky_regions(ra, dec, 64)
    assert (region[:5] == -1).all()
    counts = np.bincount(region[5:])
    assert len(counts) == 64 and counts.min() > 0
    # equal area: galaxies uniform per area fill them alike (Poisson +-3 % and edge pixels)
    assert counts.max() / counts.min() < 1.4, counts
    # compact: a region spans a small part of the footprint, not a stripe across it
    spans = [np.ptp(dec[5:][region[5:] == k]) for k in range(64)]
    assert np.median(spans) < 20, spans


def test_few_occupied_pixels_give_fewer_regions() -> None:
    ra, dec = np.array([10.0, 10.0, 200.0]), np.array([5.0, 5.0, -40.0])
    assert sorted(set(sky_regions(ra, dec, 64))) == [0, 1]


def test_jackknife_sigma_of_a_mean_is_the_standard_error() -> None:
    """Delete-one over single-galaxy regions: sqrt((n-1)/n sum (m_k - m)^2) = s / sqrt(n)."""
    x = np.random.default_rng(1).normal(size=40)
    leave_one_out = (x.sum() - x) / (len(x) - 1)
    low, high = Resampling(JACKKNIFE, np.arange(40)).interval(x.mean(), leave_one_out, 0.0)
    assert (high - low) / 2 == pytest.approx(x.std(ddof=1) / np.sqrt(len(x)), rel=1e-12)


def _patchy(offset_sigma: float, seed: int):
    """Void and wall galaxies in 64 sky patches; each patch moves its void galaxies by a common
    offset (galaxies of one region are correlated) of spread offset_sigma."""
    rng = np.random.default_rng(seed)
    n = 32_000
    patch = rng.integers(0, 64, n)
    void = rng.random(n) < 0.3
    offset = rng.normal(0, offset_sigma, 64)
    values = rng.normal(size=n) + void * offset[patch]
    controls = rng.normal(size=(n, 1))
    return values, void, controls, patch


def _sigma(values, void, controls, resampling) -> float:
    result, _ = compare(values, void, controls, 4, resampling, 256)
    return (result.shift_hi - result.shift_lo) / 2


def test_jackknife_sees_correlated_regions_and_the_bootstrap_does_not() -> None:
    values, void, controls, patch = _patchy(0.3, 2)
    jack = _sigma(values, void, controls, Resampling(JACKKNIFE, patch))
    boot = _sigma(values, void, controls, Resampling(BOOTSTRAP, resamples=200))
    # the median of the void sample moves by ~0.3 / sqrt(64) = 0.04 from the patches alone;
    # the bootstrap, treating galaxies as independent, sees only the ~0.015 of the galaxies
    assert jack > 2 * boot, (jack, boot)
    values, void, controls, patch = _patchy(0.0, 2)
    jack = _sigma(values, void, controls, Resampling(JACKKNIFE, patch))
    boot = _sigma(values, void, controls, Resampling(BOOTSTRAP, resamples=200))
    assert 0.6 < jack / boot < 1.6, (jack, boot)


def test_comparison_records_the_method_and_the_regions_used() -> None:
    values, void, controls, patch = _patchy(0.0, 3)
    patch[patch == 7] = 8  # region 7 holds nothing
    result, _ = compare(values, void, controls, 4, Resampling(JACKKNIFE, patch), 64)
    assert (result.interval_method, result.regions, result.resamples) == ("jackknife", 63, None)
    result, _ = compare(values, void, controls, 4, Resampling(BOOTSTRAP, resamples=30), 64)
    assert (result.interval_method, result.regions, result.resamples) == ("bootstrap", None, 30)
    assert result.matched_lo < result.matched_shift < result.matched_hi


def test_environment_auc_intervals_come_from_the_jackknife() -> None:
    from desivoid_ml.analysis.environment_auc import compare_inputs

    rng = np.random.default_rng(4)
    n = 1500
    y = (rng.random(n) < 0.3).astype(int)
    inputs = {
        "embedding": (y + rng.normal(0, 1.0, n))[:, None],
        "logmstar": rng.normal(size=(n, 1)),
    }
    region = rng.integers(0, 40, n)
    out = compare_inputs(inputs, y, Resampling(JACKKNIFE, region))
    assert (out["interval_method"], out["replicates"]) == ("jackknife", 40)
    value, low, high = out["auc"]["embedding"]
    assert low < value < high and 0.6 < value < 0.8 and high - low < 0.1
    boot = compare_inputs(inputs, y, Resampling(BOOTSTRAP, resamples=100))
    assert boot["interval_method"] == "bootstrap" and boot["replicates"] == 100
    # independent galaxies: the two widths agree to within their own noise
    jack_width, boot_width = high - low, boot["auc"]["embedding"][2] - boot["auc"]["embedding"][1]
    assert 0.6 < jack_width / boot_width < 1.6, (jack_width, boot_width)
