"""Synthetic DR1-like catalogs: layout, conventions, determinism, physics that later stages use.

Long (~430 lines) because one set of files written once per module is checked against the whole
data model (three FastSpecFit HDUs, eight DESIVAST files); each test checks one convention."""

from __future__ import annotations

import hashlib
import re
import tracemalloc
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM
from astropy.io import fits
from astropy_healpix import lonlat_to_healpix
from scipy.spatial import cKDTree

from desivoid_ml.synth import MAGLIM, PLANTED, ZLIML, ZLIMU, write_catalogs
from desivoid_ml.synth.datamodel import (
    FASTSPEC_COLUMNS,
    LINE_NAMES,
    LINE_SUFFIXES,
    METADATA_COLUMNS,
    SPECPHOT_COLUMNS,
    row_dtype,
)
from desivoid_ml.synth.fits_stream import FitsStream, bintable_header, primary_header
from desivoid_ml.synth.galzone import V2_INPUT_ZMAX
from desivoid_ml.synth.healpix import radec_to_nest
from desivoid_ml.synth.universe import CAPS
from desivoid_ml.synth.zones import MINR

N_GALAXIES = 6000
SURFACE_MPCH = 1e-6  # a galaxy this close to a hole's surface bounds the hole
SEED = 11
FASTSPEC_RE = re.compile(r"fastspec-iron-main-bright-nside1-hp(\d\d)\.fits")
REAL_OF = {
    "VoidFinder": "TEST10K_VoidFinder.fits",
    "VIDE": "TEST10K_V2_VIDE.fits",
    "REVOLVER": "TEST10K_V2_VIDE.fits",
    "ZOBOV": "TEST10K_V2_ZOBOV.fits",
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> tuple[Path, object, list[int]]:
    """One synthetic release (several chunks), with the progress increments it reported."""
    out = tmp_path_factory.mktemp("synth")
    steps: list[int] = []
    summary = write_catalogs(out, N_GALAXIES, SEED, chunk_rows=1500, progress=steps.append)
    return out, summary, steps


@pytest.fixture(scope="module")
def galaxies(catalog) -> dict[str, np.ndarray]:
    """Columns of all fastspec files concatenated (native byte order), plus the file pixel."""
    out, _, _ = catalog
    names = {
        "METADATA": ["TARGETID", "RA", "DEC", "Z", "SPECTYPE", "HEALPIX", "DELTACHI2"],
        "SPECPHOT": ["LOGMSTAR", "LOGMSTAR_IVAR", "SFR", "ABSMAG01_SDSS_G", "ABSMAG01_SDSS_R"],
    }
    parts: dict[str, list] = {k: [] for v in names.values() for k in v} | {"FILE_PIXEL": []}
    for path in sorted(out.glob("fastspec-*.fits")):
        with fits.open(path) as hdul:
            for hdu, cols in names.items():
                for col in cols:
                    parts[col].append(np.asarray(hdul[hdu].data[col]))
            parts["FILE_PIXEL"].append(np.full(hdul[1].header["NAXIS2"], int(path.name[-7:-5])))
    return {k: np.concatenate(v) for k, v in parts.items()}


def _xyz(ra, dec, z, omega_m: float) -> np.ndarray:
    r = FlatLambdaCDM(H0=100, Om0=omega_m).comoving_distance(z).value
    ra_r, dec_r = np.radians(ra), np.radians(dec)
    return np.column_stack(
        [r * np.cos(dec_r) * np.cos(ra_r), r * np.cos(dec_r) * np.sin(ra_r), r * np.sin(dec_r)]
    )


def _in_holes(xyz: np.ndarray, holes) -> np.ndarray:
    """Brute membership: inside any HOLES sphere, clear of its surface (distance < RADIUS - 1e-6;
    the galaxies that bound a hole sit on its surface and are wall galaxies)."""
    centres = np.column_stack([holes["X"], holes["Y"], holes["Z"]])
    radius = np.asarray(holes["RADIUS"])
    near = cKDTree(centres).query_ball_point(xyz, radius.max())
    return np.array(
        [
            any(np.linalg.norm(p - centres[j]) < radius[j] - SURFACE_MPCH for j in js)
            for p, js in zip(xyz, near, strict=True)
        ],
        dtype=bool,
    )


@pytest.fixture(scope="module")
def in_void(catalog, galaxies) -> np.ndarray:
    """VoidFinder membership of every row, from the void files alone (their OMEGAM)."""
    out, _, _ = catalog
    g = galaxies
    inside = np.zeros(len(g["Z"]), dtype=bool)
    for cap in CAPS:
        with fits.open(out / f"DESIVAST_BGS_VOLLIM_VoidFinder_{cap.name}.fits") as hdul:
            xyz = _xyz(g["RA"], g["DEC"], g["Z"], hdul[0].header["OMEGAM"])
            sel = cap.contains(g["RA"], g["DEC"])
            inside[sel] = _in_holes(xyz[sel], hdul["HOLES"].data)
    return inside


def test_column_definitions_follow_the_data_model():
    assert (len(METADATA_COLUMNS), len(SPECPHOT_COLUMNS), len(FASTSPEC_COLUMNS)) == (54, 127, 887)
    assert len(LINE_NAMES) * len(LINE_SUFFIXES) + 59 == 887
    for cols in (METADATA_COLUMNS, SPECPHOT_COLUMNS, FASTSPEC_COLUMNS):
        assert len({c.name for c in cols}) == len(cols)
        assert [c.name for c in cols[:4]] == ["TARGETID", "SURVEY", "PROGRAM", "HEALPIX"]
    by_name = {c.name: c for c in METADATA_COLUMNS + SPECPHOT_COLUMNS + FASTSPEC_COLUMNS}
    expected = {
        "TARGETID": ("K", ""),
        "SPECTYPE": ("6A", ""),
        "SUBTYPE": ("20A", ""),
        "RA": ("D", "deg"),
        "FLUX_IVAR_W1": ("E", "nanomaggies-2"),
        "COEFF": ("5E", None),
        "VDISP": ("E", "km s-1"),
        "LOGMSTAR": ("E", "solMass"),
        "ZWARN": ("K", ""),
        "ABSMAG01_IVAR_SDSS_R": ("E", "mag-2"),
        "KCORR00_TWOMASS_J": ("E", "mag"),
        "INIT_BALMER_BROAD": ("L", ""),
        "DELTA_LINENDOF": ("J", ""),
        "HALPHA_FLUX": ("E", "10**-17 erg s-1 cm-2"),
        "HALPHA_NPIX": ("J", ""),
        "OIII_5007_MOMENT2_IVAR": ("E", "Angstrom-4"),
    }
    for name, (tform, unit) in expected.items():
        assert by_name[name].tform == tform, name
        assert unit is None or by_name[name].unit == unit, name
    assert [c.name for c in SPECPHOT_COLUMNS].index("KCORR10_DECAM_G") == 92
    names = [c.name for c in FASTSPEC_COLUMNS]
    assert names[35:37] == ["LYALPHA_MODELAMP", "LYALPHA_AMP"]
    assert names[-1] == "OIII_5007_MOMENT3_IVAR"


def test_line_columns_are_one_contiguous_block_of_4_byte_fields():
    dtype = row_dtype(FASTSPEC_COLUMNS)
    first = dtype.fields["LYALPHA_MODELAMP"][1]
    offsets = [
        dtype.fields[f"{line}_{sfx}"][1] for line in LINE_NAMES for sfx, _, _ in LINE_SUFFIXES
    ]
    assert offsets == list(range(first, first + 4 * len(offsets), 4))


def test_healpix_matches_astropy_healpix():
    rng = np.random.default_rng(0)
    ra = rng.uniform(0, 360, 200_000)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 200_000)))
    for nside in (1, 2, 64, 256):
        expected = lonlat_to_healpix(ra * u.deg, dec * u.deg, nside, order="nested")
        np.testing.assert_array_equal(radec_to_nest(ra, dec, nside), expected)


def test_checksums_survive_unaligned_chunks(tmp_path):
    cols = row_dtype(METADATA_COLUMNS[:6])  # 4 + 6 + 23 + ... bytes: rows are not 4-byte multiples
    rows = np.zeros(103, dtype=cols)
    rows["TARGETID"] = np.arange(103) * 7919 + 1
    rows["SURVEY"], rows["TILEID_LIST"] = b"main", b"1234 5678"
    header = bintable_header("METADATA", METADATA_COLUMNS[:6], len(rows), cols.itemsize)
    with FitsStream(tmp_path / "t.fits", [primary_header([("X", 1, "")]), header]) as stream:
        for a, b in ((0, 1), (1, 4), (4, 50), (50, 103)):
            stream.write(1, rows[a:b])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fits.open(tmp_path / "t.fits", checksum=True) as hdul:
            np.testing.assert_array_equal(hdul[1].data["TARGETID"], rows["TARGETID"])


def test_every_file_opens_with_valid_checksums(catalog):
    out, summary, steps = catalog
    names = sorted(p.name for p in out.iterdir())
    assert sorted(p.name for p in summary.files) == names
    assert summary.bytes_written == sum(p.stat().st_size for p in out.iterdir())
    assert sum(steps) == N_GALAXIES and len(steps) == 4
    assert len([n for n in names if FASTSPEC_RE.fullmatch(n)]) >= 8
    assert {n for n in names if n.startswith("DESIVAST")} == {
        f"DESIVAST_BGS_VOLLIM_{kind}_{cap}.fits"
        for cap in ("NGC", "SGC")
        for kind in ("VoidFinder", "V2_VIDE", "V2_ZOBOV", "V2_REVOLVER")
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for path in out.iterdir():
            with fits.open(path, checksum=True) as hdul:
                for hdu in hdul:
                    assert "CHECKSUM" in hdu.header and "DATASUM" in hdu.header
                    if hdu.data is not None:
                        assert len(hdu.data) == hdu.header["NAXIS2"]


def test_fastspec_layout_and_header(catalog):
    out, _, _ = catalog
    path = next(out.glob("fastspec-*.fits"))
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "METADATA", "SPECPHOT", "FASTSPEC"]
        primary = hdul[0].header
        assert (primary["SPECPROD"], primary["COADDTYP"], primary["NSIDE"], primary["NEST"]) == (
            "iron",
            "healpix",
            1,
            True,
        )
        assert primary["DEPNAM00"] == "fastspecfit" and primary["DEPVER00"] == "3.1.5"
        for hdu, cols in zip(
            hdul[1:], (METADATA_COLUMNS, SPECPHOT_COLUMNS, FASTSPEC_COLUMNS), strict=True
        ):
            assert hdu.columns.names == [c.name for c in cols]
            assert [f.upper() for f in hdu.columns.formats] == [c.tform for c in cols]
            assert [hdu.header.get(f"TUNIT{i + 1}", "") for i in range(len(cols))] == [
                c.unit for c in cols
            ]
            assert hdu.header["NAXIS1"] == row_dtype(cols).itemsize


def test_rows_are_aligned_and_split_by_nside1_pixel(catalog, galaxies):
    out, _, _ = catalog
    for path in out.glob("fastspec-*.fits"):
        with fits.open(path) as hdul:
            for col in ("TARGETID", "SURVEY", "PROGRAM", "HEALPIX"):
                ref = hdul["METADATA"].data[col]
                assert np.array_equal(ref, hdul["SPECPHOT"].data[col])
                assert np.array_equal(ref, hdul["FASTSPEC"].data[col])
    g = galaxies
    assert len(g["TARGETID"]) == N_GALAXIES == len(np.unique(g["TARGETID"]))
    pixel = lonlat_to_healpix(g["RA"] * u.deg, g["DEC"] * u.deg, 1, order="nested")
    np.testing.assert_array_equal(pixel, g["FILE_PIXEL"])
    hp64 = lonlat_to_healpix(g["RA"] * u.deg, g["DEC"] * u.deg, 64, order="nested")
    np.testing.assert_array_equal(hp64, g["HEALPIX"])


def test_missing_values_follow_the_ivar_convention(catalog):
    out, _, _ = catalog
    block_names = [f"{line}_{sfx}" for line in LINE_NAMES for sfx, _, _ in LINE_SUFFIXES]
    kinds, failed = set(), 0
    for path in out.glob("fastspec-*.fits"):
        with fits.open(path) as hdul:
            m, s, f = (hdul[i].data for i in (1, 2, 3))
            kinds |= set(m["SPECTYPE"])
            assert np.all(s["VDISP"][s["VDISP_IVAR"] == 0] == 250)
            bad = s["LOGMSTAR_IVAR"] == 0
            failed += int(bad.sum())
            assert np.all(s["LOGMSTAR"][bad] == 0) and np.all(s["ABSMAG01_SDSS_R"][bad] == 0)
            assert np.all(s["COEFF"][bad] == 0) and np.all(f["APERCORR"][bad] == 1)
            fallback = (s["ABSMAG01_IVAR_W1"] == 0) & ~bad
            assert np.array_equal(s["ABSMAG01_W1"][fallback], s["ABSMAG01_SYNTH_W1"][fallback])
            for band in ("G", "R", "W1", "W4"):
                assert np.all(m[f"FLUX_{band}"][m[f"FLUX_IVAR_{band}"] == 0] == 0)
            for line in ("HALPHA", "OIII_5007", "HBETA_BROAD", "LYALPHA", "SIII_9532"):
                no_flux = f[f"{line}_FLUX_IVAR"] == 0
                assert np.all(f[f"{line}_FLUX"][no_flux] == 0)
                assert np.all(f[f"{line}_EW"][no_flux] == 0)
                assert np.all(f[f"{line}_FLUX"] >= 0)
                out_of_range = f[f"{line}_NPIX"] == 0
                for sfx, _, _ in LINE_SUFFIXES:
                    assert np.all(f[f"{line}_{sfx}"][out_of_range] == 0)
            # Lya (1215.67 A) reaches the 3604 A blue end of the spectra at z = 1.965
            assert np.all(f["LYALPHA_NPIX"][m["Z"] < 1.95] == 0)
            raw = np.asarray(f).view(np.uint8).reshape(len(f), -1)
            start = f.dtype.fields[block_names[0]][1]
            words = raw[:, start : start + 4 * len(block_names)].copy().view(">u4")
            assert not np.any(words == 0x80000000), "missing values must be +0.0, not -0.0"
            for hdu in (s, f):
                for name in hdu.dtype.names:
                    if hdu.dtype[name].kind == "f":
                        assert np.all(np.isfinite(hdu[name])), name
    assert {"GALAXY", "STAR", "QSO"} <= kinds
    assert 0 < failed < 0.03 * N_GALAXIES


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(catalog, tmp_path):
    out, _, _ = catalog

    def digests(folder: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}

    again = write_catalogs(tmp_path / "again", N_GALAXIES, SEED, chunk_rows=1500)
    assert digests(tmp_path / "again") == digests(out)
    assert again.galaxy_rows == N_GALAXIES
    write_catalogs(tmp_path / "other", 2000, SEED + 1, chunk_rows=1500)
    other = digests(tmp_path / "other")
    assert all(other[name] != digest for name, digest in digests(out).items() if name in other)


def test_vast_files_have_the_real_layout(catalog, real_fits):
    out, _, _ = catalog
    for path in out.glob("DESIVAST_*.fits"):
        kind = path.stem.split("_")[-2]
        with fits.open(path) as ours, fits.open(real_fits / "voids" / REAL_OF[kind]) as real:
            assert [h.name for h in ours] == [h.name for h in real]
            assert set(real[0].header) - {"COMMENT"} <= set(ours[0].header)
            for mine, theirs in zip(ours[1:], real[1:], strict=True):
                assert mine.columns.names == theirs.columns.names
                assert mine.columns.formats == theirs.columns.formats
                assert [mine.header.get(f"TUNIT{i}") for i in range(1, len(mine.columns) + 1)] == [
                    theirs.header.get(f"TUNIT{i}") for i in range(1, len(theirs.columns) + 1)
                ]
                assert set(k for k in theirs.header if k not in mine.header) <= {"CHECKSUM"}
            omega = ours[0].header["OMEGAM"]
            assert omega == (0.315 if kind == "VoidFinder" else 0.3)


def test_voids_are_underdense_and_hold_a_fair_share_of_galaxies(catalog, galaxies, in_void):
    out, summary, _ = catalog
    g = galaxies
    assert 0.10 <= in_void.mean() <= 0.25
    # the generator's own count; a failed redshift (DELTACHI2 <= 40) may be catalogued at a
    # wrong Z that happens to fall in a hole
    generated = round(summary.in_void_fraction * N_GALAXIES)
    failed = g["DELTACHI2"] <= 40
    assert (in_void & ~failed).sum() - 1 <= generated <= in_void.sum() + 1
    rng = np.random.default_rng(1)
    for cap in CAPS:
        with fits.open(out / f"DESIVAST_BGS_VOLLIM_VoidFinder_{cap.name}.fits") as hdul:
            header, holes = hdul[0].header, hdul["HOLES"].data
        ra, dec = cap.sample(20_000, rng)
        r = np.cbrt(rng.uniform(header["DLIML"] ** 3, header["DLIMU"] ** 3, 20_000))
        unit = np.column_stack(
            [
                np.cos(np.radians(dec)) * np.cos(np.radians(ra)),
                np.cos(np.radians(dec)) * np.sin(np.radians(ra)),
                np.sin(np.radians(dec)),
            ]
        )
        filling = _in_holes(unit * r[:, None], holes).mean()
        r_gal = FlatLambdaCDM(H0=100, Om0=header["OMEGAM"]).comoving_distance(g["Z"]).value
        shell = (
            cap.contains(g["RA"], g["DEC"])
            & (r_gal > header["DLIML"])
            & (r_gal < header["DLIMU"])
            & (g["SPECTYPE"] == "GALAXY")
        )
        density_in = (shell & in_void).sum() / filling
        density_out = (shell & ~in_void).sum() / (1 - filling)
        assert 0.4 < filling < 0.8
        assert density_in < 0.5 * density_out, cap.name


def test_planted_effect_and_mass_redshift_relation(galaxies, in_void):
    g = galaxies
    good = (
        (g["SPECTYPE"] == "GALAXY")
        & (g["LOGMSTAR_IVAR"] > 0)
        & (g["LOGMSTAR"] > 5)
        & (g["LOGMSTAR"] < 13)
    )
    assert 0.45 < np.corrcoef(g["LOGMSTAR"][good], g["Z"][good])[0, 1] < 0.75
    colour = g["ABSMAG01_SDSS_G"] - g["ABSMAG01_SDSS_R"]
    edges = np.arange(0.02, 0.26, 0.03)
    for values, planted, tol in (
        (g["LOGMSTAR"], PLANTED.delta_logmstar, 0.08),
        (colour, PLANTED.delta_gr, 0.03),
    ):
        diffs, weights = [], []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            sel = good & (g["Z"] >= lo) & (g["Z"] < hi)
            if (sel & in_void).sum() >= 15 and (sel & ~in_void).sum() >= 15:
                diffs.append(values[sel & in_void].mean() - values[sel & ~in_void].mean())
                weights.append((sel & in_void).sum())
        assert len(diffs) >= 3
        assert np.average(diffs, weights=weights) == pytest.approx(planted, abs=tol)


def test_v2_catalogs_are_consistent_with_the_input_sample(catalog, galaxies):
    """GALZONE holds every input galaxy; those outside the V2 volume have ZONE -1 and OUT 1."""
    out, _, _ = catalog
    g = galaxies
    v2_input = (
        (g["SPECTYPE"] == "GALAXY") & (g["Z"] < V2_INPUT_ZMAX) & (g["ABSMAG01_SDSS_R"] < MAGLIM)
    )
    in_volume = v2_input & (g["Z"] > ZLIML) & (g["Z"] < ZLIMU)
    assert 0.1 < in_volume.mean() < 0.34
    nested = 0
    for cap in CAPS:
        mine = v2_input & cap.contains(g["RA"], g["DEC"])
        counts = {}
        with fits.open(out / f"DESIVAST_BGS_VOLLIM_VoidFinder_{cap.name}.fits") as hdul:
            counts["VoidFinder"] = len(hdul["MAXIMALS"].data)
            assert hdul[0].header["GALAXY"] == (in_volume & cap.contains(g["RA"], g["DEC"])).sum()
            assert np.all(
                hdul["HOLES"].data["RADIUS"]
                <= hdul["MAXIMALS"].data["RADIUS"][hdul["HOLES"].data["VOID"]]
            )
        for algorithm in ("VIDE", "ZOBOV", "REVOLVER"):
            with fits.open(out / f"DESIVAST_BGS_VOLLIM_V2_{algorithm}_{cap.name}.fits") as hdul:
                voids, zv, gz = hdul["VOIDS"].data, hdul["ZONEVOID"].data, hdul["GALZONE"].data
                counts[algorithm] = len(voids)
                assert np.all(voids["RADIUS"] > MINR)
                np.testing.assert_array_equal(voids["VOID"], np.arange(len(voids)))
                np.testing.assert_array_equal(gz["GAL"], np.arange(len(gz)))
                assert np.isin(g["TARGETID"][mine], gz["TARGET"]).all() and len(gz) == mine.sum()
                order = np.argsort(g["TARGETID"])
                row = order[np.searchsorted(g["TARGETID"], gz["TARGET"], sorter=order)]
                outside = ~in_volume[row]
                np.testing.assert_array_equal(gz["OUT"], outside.astype(int))
                np.testing.assert_array_equal(gz["ZONE"] == -1, outside)
                assert np.all(gz["DEPTH"][outside] == -1) and np.all(gz["EDGE"][outside] == 0)
                assert hdul[0].header["MSKGAL"] == (~outside).sum()
                np.testing.assert_array_equal(zv["ZONE"], np.arange(len(zv)))
                assert np.isin(gz["ZONE"][~outside], zv["ZONE"]).all()
                assert np.all((zv["VOID0"] >= -1) & (zv["VOID0"] < len(voids)))
                assert np.all((zv["VOID1"] == -1) == (zv["VOID0"] == -1))
                expected = _xyz(g["RA"][row], g["DEC"][row], g["Z"][row], hdul[0].header["OMEGAM"])
                np.testing.assert_allclose(
                    np.column_stack([gz["X"], gz["Y"], gz["Z"]]), expected, atol=1e-6
                )
                if algorithm == "ZOBOV":
                    nested += int(np.sum(zv["VOID1"] != zv["VOID0"]))
                    assert "GALVIZ" not in hdul
                else:
                    np.testing.assert_array_equal(zv["VOID0"], zv["VOID1"])
                    g2v = hdul["GALVIZ"].data["G2V"]
                    np.testing.assert_array_equal(g2v[~outside], zv["VOID1"][gz["ZONE"][~outside]])
                    assert np.all(g2v[outside] == -1)
                    assert np.all(hdul["GALVIZ"].data["G2V2"][outside] == -1)
                    assert set(hdul["TRIANGLE"].data["VOID"]) == set(voids["VOID"])
        assert counts["VoidFinder"] > counts["ZOBOV"] > counts["REVOLVER"] > counts["VIDE"] > 0
    assert nested > 0


def test_memory_is_bounded_by_the_chunk_not_the_catalogue(catalog, tmp_path):
    def peak(n: int) -> int:
        tracemalloc.start()
        write_catalogs(tmp_path / str(n), n, SEED, chunk_rows=1000)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(2000), peak(8000)
    assert large < 1.5 * small, (small, large)


def test_the_generator_distances_agree_with_the_feature_cosmology() -> None:
    """synth/cosmo.py is an independent copy on purpose; the two must still agree."""
    from desivoid_ml.features.cosmology import Cosmology
    from desivoid_ml.synth.cosmo import distances

    z = np.linspace(0.001, 0.45, 2000)
    for omega_m in (0.26, 0.3, 0.315):
        reference = Cosmology(omega_m).comoving_distance(z)
        fast = distances(omega_m).comoving_fast(z)
        assert np.max(np.abs(fast - reference)) < 1e-4  # Mpc/h
        assert np.allclose(distances(omega_m).redshift(reference), z, atol=1e-7)


def test_no_galaxies_is_one_line_and_writes_nothing(tmp_path) -> None:
    from typer.testing import CliRunner

    from desivoid_ml.cli import app
    from desivoid_ml.errors import DesivoidError

    out = tmp_path / "none"
    bad = CliRunner().invoke(app, ["synth", "--out", str(out), "--galaxies", "0"])
    assert isinstance(bad.exception, DesivoidError)  # main() prints `error: ...`, exit 2
    assert str(bad.exception).startswith("synth needs at least 1 galaxy")
    assert not out.exists()
