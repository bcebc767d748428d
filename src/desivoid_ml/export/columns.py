"""Units and one-line descriptions of exported columns (FITS TUNIT/TCOMM, Parquet metadata)."""

from __future__ import annotations

from desivoid_ml.algorithms import ALGORITHM_NAMES

# column prefix -> the label its descriptions start with: VoidFinder, V2/VIDE, V2/ZOBOV, V2/REVOLVER
ALGORITHMS = {p: n if n == "VoidFinder" else f"V2/{n}" for p, n in ALGORITHM_NAMES.items()}

KNOWN: dict[str, tuple[str, str]] = {
    "targetid": ("", "DESI TARGETID (with survey, program: the galaxy key)"),
    "survey": ("", "DESI survey (main, sv1, ...)"),
    "program": ("", "DESI program (bright, dark, ...)"),
    "ra": ("deg", "right ascension, ICRS"),
    "dec": ("deg", "declination, ICRS"),
    "z": ("", "Redrock redshift"),
    "logmstar": ("log10(Msun)", "stellar mass (FastSpecFit)"),
    "sfr": ("Msun/yr", "star-formation rate (FastSpecFit)"),
    "log_sfr": ("log10(Msun/yr)", "log star-formation rate"),
    "log_ssfr": ("log10(1/yr)", "log specific star-formation rate"),
    "g_r": ("mag", "rest-frame g - r colour (SDSS bands, z=0.1)"),
    "u_r": ("mag", "rest-frame u - r colour (SDSS bands, z=0.1)"),
    "dn4000": ("", "4000 A break strength"),
    "halpha_ew": ("Angstrom", "H-alpha equivalent width"),
    "age_gyr": ("Gyr", "light-weighted stellar age"),
    "tauv": ("", "V-band dust optical depth"),
    "vdisp": ("km/s", "stellar velocity dispersion"),
    "is_galaxy": ("", "Redrock SPECTYPE is GALAXY"),
    "x": ("Mpc/h", "comoving position x (feature cosmology)"),
    "y": ("Mpc/h", "comoving position y"),
    "zc": ("Mpc/h", "comoving position z (not a redshift)"),
    "knn_distance": ("Mpc/h", "distance to the k-th nearest galaxy"),
    "log_density": ("", "log of the k-nearest-neighbour density"),
    "distance": ("", "Euclidean distance in embedding space"),
    "in_all_inputs": ("", "in the input of every void finder covering the galaxy"),
    "n_void_algorithms": ("", "how many void finders put the galaxy in their void sample"),
    "consensus_sample": ("", "void or wall where all void finders with a sample agree, else empty"),
}
SUFFIXES: dict[str, tuple[str, str]] = {
    "in_void": ("", "inside a void"),
    "void_id": ("", "id of the (smallest) void holding the galaxy, -1 if none"),
    "void_id_largest": ("", "id of the largest void holding the galaxy (V2 VOID1)"),
    "r_over_rvoid": ("", "distance to the nearest void centre over its radius"),
    "vflag": ("", "0 wall, 1 void, 2 edge, 9 outside the survey"),
    "in_input": ("", "galaxy is in the algorithm's input sample (V2: inside its volume)"),
    "sample": ("", "void, wall or empty: the void / wall sample (VoidFinder: vflag 1 / 0)"),
    "cap": ("", "Galactic cap whose catalogue classified the galaxy"),
    "on_boundary": ("", "galaxy lies on a VoidFinder hole surface"),
}


def describe(name: str) -> tuple[str, str]:
    """(unit, description) of a column; generic for names we do not know."""
    if name in KNOWN:
        return KNOWN[name]
    for prefix, algorithm in ALGORITHMS.items():
        suffix = name.removeprefix(prefix + "_")
        if suffix != name and suffix in SUFFIXES:
            unit, text = SUFFIXES[suffix]
            return unit, f"{algorithm}: {text}"
    if name.startswith(("abs_mag_", "kcorr_")):
        return "mag", name.replace("_", " ")
    if name.startswith(("flux_", "fiberflux_")):
        return "nanomaggy", f"Legacy Surveys {name.replace('_', ' ')}"
    if name.endswith("_flux"):
        return "1e-17 erg/(s cm2)", f"{name[:-5]} line flux"
    if name.startswith("e") and name[1:].isdigit():
        return "", f"embedding coordinate {name[1:]}"
    return "", name.replace("_", " ")
