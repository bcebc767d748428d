"""The analysis statistics (issue 16, item 3): one interpolated weighted median, p-values at
scipy's table limits stored as bounds, and the environment-AUC share shown only when it means
something. Pure numpy: no database."""

from __future__ import annotations

import numpy as np
import pytest

from desivoid_ml.analysis.environment_auc import share_is_defined
from desivoid_ml.analysis.medians import weighted_median
from desivoid_ml.analysis.resampling import BOOTSTRAP, Resampling
from desivoid_ml.analysis.stats import compare
from desivoid_ml.report.html import _auc_html


def _identical_halves(x: np.ndarray, controls: np.ndarray):
    """The same galaxies twice: once as void, once as wall."""
    values = np.concatenate([x, x])
    void = np.repeat([True, False], len(x))
    return values, void, np.concatenate([controls, controls])


def test_identical_void_and_wall_give_exactly_zero_shift() -> None:
    """Before: the raw median interpolated and the matched wall one did not ([1,2,3,4]: +0.5)."""
    x = np.array([1.0, 2.0, 3.0, 4.0])
    values, void, controls = _identical_halves(x, x[:, None])
    result, _ = compare(values, void, controls, 2, Resampling(BOOTSTRAP, resamples=20), 16)
    assert result.median_void == result.median_wall_matched == 2.5, result
    assert result.shift == 0.0 and result.matched_shift == 0.0, result


def test_identical_samples_give_zero_on_random_data_too() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=1001)
    values, void, controls = _identical_halves(x, rng.normal(size=(1001, 2)))
    result, _ = compare(values, void, controls, 4, Resampling(BOOTSTRAP, resamples=20), 64)
    assert result.shift == 0.0 and result.matched_shift == 0.0, result


def test_weighted_median_is_numpys_for_unit_weights_and_splits_weight_evenly() -> None:
    rng = np.random.default_rng(2)
    for n in (1, 2, 7, 10):
        x = rng.normal(size=n)
        assert weighted_median(x) == pytest.approx(np.median(x), abs=1e-15)
    x = rng.normal(size=50)
    assert weighted_median(np.concatenate([x, x]), np.full(100, 0.5)) == pytest.approx(
        np.median(x), abs=1e-15
    )
    assert weighted_median(np.array([1.0, 5.0, 9.0]), np.array([1.0, 0.0, 1.0])) == 5.0
    assert np.isnan(weighted_median(np.array([1.0]), np.array([0.0])))


def test_p_values_at_the_table_limits_are_bounds() -> None:
    """Before: scipy's clipped 0.001 was stored as if it were a measured p-value."""
    rng = np.random.default_rng(0)
    far = np.concatenate([rng.normal(0, 1, 500), rng.normal(1, 1, 500)])
    void = np.repeat([True, False], 500)
    result, _ = compare(
        far, void, rng.random((1000, 1)), 4, Resampling(BOOTSTRAP, resamples=20), 16
    )
    assert result.ad_p == "< 0.001"
    assert float(result.ks_p) < 1e-10
    same = np.tile(rng.normal(size=500), 2)
    result, _ = compare(
        same, void, rng.random((1000, 1)), 4, Resampling(BOOTSTRAP, resamples=20), 16
    )
    assert result.ad_p == "> 0.25" and float(result.ks_p) == 1.0


def test_a_constant_property_gives_a_zero_shift_not_an_error() -> None:
    void = np.repeat([True, False], 50)
    rng = np.random.default_rng(1)
    result, _ = compare(
        np.ones(100), void, rng.random((100, 1)), 4, Resampling(BOOTSTRAP, resamples=20), 16
    )
    assert result.shift == 0.0 and result.matched_shift == 0.0


def _auc_result(inputs: list[float]) -> dict:
    return {
        "n": 400,
        "n_void": 100,
        "auc": {"embedding": [0.56, 0.51, 0.61], "inputs": inputs},
        "embedding_share_of_inputs": [5.884, -18.0, 23.9],
    }


def test_share_of_inputs_auc_is_na_unless_the_inputs_interval_excludes_half() -> None:
    """Before: the VIDE row of the demo read 5.884 [-18.049, 23.936]."""
    from types import SimpleNamespace

    parts = SimpleNamespace(
        auc_given_environment=[],
        fractions=SimpleNamespace(train=0.8, val=0.1, test=0.1),
        selection="sample='good_galaxy'",
        test_rows=400,
        auc={"vide": _auc_result([0.508, 0.444, 0.578])},
    )
    page = _auc_html(parts)
    assert "<td>n/a</td>" in page and "5.884" not in page
    parts.auc = {"vide": _auc_result([0.62, 0.55, 0.70])}
    assert "5.884 [-18.000, 23.900]" in _auc_html(parts)
    assert not share_is_defined([0.52, 0.49, 0.58]) and share_is_defined([0.45, 0.40, 0.49])


def test_report_void_wall_table_names_the_interval_method_and_the_exclude_shift() -> None:
    from desivoid_ml.report.html import _void_wall_html

    row = {
        "algorithm": "VoidFinder",
        "property": "g_r",
        "n_void": 937,
        "n_wall": 1936,
        "median_void": 0.609,
        "median_wall": 0.713,
        "shift": -0.104,
        "shift_lo": -0.116,
        "shift_hi": -0.091,
        "ks_p": "2.03e-78",
        "ad_p": "< 0.001",
        "control": "logmstar,z",
        "matched_shift": 0.041,
        "matched_lo": 0.032,
        "matched_hi": 0.051,
        "matched_shift_exclude": 0.040,
        "matched_exclude_lo": 0.031,
        "matched_exclude_hi": 0.049,
        "interval_method": "jackknife",
        "regions": 64,
        "figure": None,
    }
    page = _void_wall_html([row, row | {"algorithm": "VIDE", "matched_shift_exclude": None}])
    assert "a delete-one jackknife over 64 equal-area sky regions" in page
    assert "+0.040 [+0.031, +0.049]" in page and "<td>-</td>" in page
    assert "<td>&lt; 0.001</td>" in page and "jackknife, 64 regions" in page
    old = {k: v for k, v in row.items() if "exclude" not in k and k not in ("interval_method",)}
    assert "a Poisson bootstrap" in _void_wall_html([old])  # a table from before the jackknife
