"""What each output column of `desivoid analyze` means (its --help, the README, the tests)."""

from __future__ import annotations

COLUMNS = {
    "label": "run id, or 'analysis' (the reports/ folder of this output)",
    "algorithm": "void finder: VoidFinder, VIDE, ZOBOV or REVOLVER (NGC + SGC), or consensus",
    "property": "galaxy property (column of features.galaxy)",
    "control": "control variables of the matched shift",
    "n_void": "galaxies with <prefix>_sample = 'void' (and `sample`), property known",
    "n_wall": "galaxies with <prefix>_sample = 'wall', property known",
    "median_void": "median of the property over void galaxies",
    "median_wall": "median over wall galaxies",
    "shift": "median_void - median_wall (raw: mixes in the voids' fainter, lower-mass mix)",
    "shift_lo": "low end of the 68 % interval of the shift (jackknife: shift - sigma; "
    "bootstrap: 16th percentile)",
    "shift_hi": "high end (jackknife: shift + sigma; bootstrap: 84th percentile)",
    "ks_p": "two-sample Kolmogorov-Smirnov p-value, void vs wall (text; '< 1e-300' at underflow)",
    "ad_p": "k-sample Anderson-Darling p-value (text; at scipy's table limits a bound: '< 0.001', "
    "'> 0.25')",
    "n_void_matched": "void galaxies in control cells that hold wall galaxies",
    "n_wall_matched": "wall galaxies in control cells that hold void galaxies",
    "median_wall_matched": "weighted median of the wall reweighted to the voids' control mix",
    "matched_shift": "median_void (matched) - median_wall_matched: the shift at fixed controls",
    "matched_lo": "low end of the 68 % interval of the matched shift",
    "matched_hi": "high end of the 68 % interval of the matched shift",
    "n_void_exclude": "VoidFinder: void galaxies (matched) once hole-surface galaxies "
    "(vf_on_boundary) are in neither sample, as boundary_policy=exclude; empty for V2",
    "n_wall_exclude": "VoidFinder: wall galaxies (matched) under exclude",
    "matched_shift_exclude": "VoidFinder: the matched shift under exclude, beside the default: "
    "a result that hangs on the hole surfaces' float rounding differs here",
    "matched_exclude_lo": "low end of its 68 % interval",
    "matched_exclude_hi": "high end of its 68 % interval",
    "interval_method": "how the intervals were made: jackknife (sky regions) or bootstrap",
    "regions": "jackknife: equal-area sky regions holding galaxies of this comparison",
    "resamples": "bootstrap: Poisson resamples",
    "figure": "PNG of the void / wall / matched-wall distributions",
}
