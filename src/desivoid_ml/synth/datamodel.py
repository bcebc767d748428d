"""Column definitions of the FastSpecFit iron v3.0 merged files, in file order.

Derived from the DESI DR1 data model (FastSpecFit §1.5-1.7) (fastspecfit 3.1.5 `create_output_meta`
and `get_output_dtype`). TUNIT strings are astropy's FITS serialisation of the code's units; the
photometry unit is the code's plain string 'nanomaggies'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desivoid_ml.fits_layout import ELEMENT_DTYPES


@dataclass(frozen=True)
class ColumnDef:
    """One FITS binary-table column: TTYPE, TFORM and TUNIT ('' = no unit)."""

    name: str
    tform: str
    unit: str = ""


NMGY = "nanomaggies"
NMGY_IVAR = "nanomaggies-2"
KMS = "km s-1"
KMS_IVAR = "s2 km-2"
FLAM = "10**-17 erg Angstrom-1 s-1 cm-2"
FLAM_IVAR = "10**34 cm4 Angstrom2 s2 erg-2"
LFLUX = "10**-17 erg s-1 cm-2"
LFLUX_IVAR = "10**34 cm4 s2 erg-2"

IDENTITY = (
    ColumnDef("TARGETID", "K"),
    ColumnDef("SURVEY", "4A"),
    ColumnDef("PROGRAM", "6A"),
    ColumnDef("HEALPIX", "J"),
)
TILEID_WIDTH = 23  # up to four 5-digit tile IDs separated by spaces

PHOT_BANDS = ("G", "R", "Z", "W1", "W2", "W3", "W4")
SYNTH_BANDS = ("G", "R", "Z")
# (band-shift tag, band) in file order: 13 bands, 4 ABSMAG columns each, then 13 KCORR columns.
ABSMAG_BANDS = (
    ("10", "DECAM_G"),
    ("10", "DECAM_R"),
    ("10", "DECAM_Z"),
    ("00", "U"),
    ("00", "B"),
    ("00", "V"),
    ("00", "TWOMASS_J"),
    ("01", "SDSS_U"),
    ("01", "SDSS_G"),
    ("01", "SDSS_R"),
    ("01", "SDSS_I"),
    ("01", "SDSS_Z"),
    ("01", "W1"),
)

# The 46 emission lines in file order, with rest vacuum wavelengths in Angstrom (broad = narrow).
EMISSION_LINES = (
    ("LYALPHA", 1215.67),
    ("NV_1240", 1240.14),
    ("OI_1304", 1304.35),
    ("SILIV_1396", 1396.76),
    ("CIV_1549", 1549.06),
    ("HEII_1640", 1640.42),
    ("ALIII_1857", 1857.40),
    ("SILIII_1892", 1892.03),
    ("CIII_1908", 1908.73),
    ("MGII_2796", 2796.352),
    ("MGII_2803", 2803.530),
    ("NEV_3346", 3346.79),
    ("NEV_3426", 3426.85),
    ("OII_3726", 3727.10),
    ("OII_3729", 3729.86),
    ("NEIII_3869", 3869.86),
    ("H6", 3890.166),
    ("H6_BROAD", 3890.166),
    ("HEPSILON", 3971.198),
    ("HEPSILON_BROAD", 3971.198),
    ("HDELTA", 4102.892),
    ("HDELTA_BROAD", 4102.892),
    ("HGAMMA", 4341.692),
    ("HGAMMA_BROAD", 4341.692),
    ("OIII_4363", 4364.436),
    ("HEI_4471", 4472.735),
    ("HEII_4686", 4687.02),
    ("HBETA", 4862.71),
    ("HBETA_BROAD", 4862.71),
    ("OIII_4959", 4960.295),
    ("OIII_5007", 5008.240),
    ("NII_5755", 5756.191),
    ("HEI_5876", 5877.249),
    ("OI_6300", 6302.046),
    ("SIII_6312", 6313.81),
    ("NII_6548", 6549.861),
    ("HALPHA", 6564.60),
    ("HALPHA_BROAD", 6564.60),
    ("NII_6584", 6585.273),
    ("SII_6716", 6718.294),
    ("SII_6731", 6732.674),
    ("ARIII_7135", 7137.77),
    ("OII_7320", 7321.94),
    ("OII_7330", 7332.21),
    ("SIII_9069", 9071.1),
    ("SIII_9532", 9533.2),
)
LINE_NAMES = tuple(name for name, _ in EMISSION_LINES)
LINE_WAVE = np.array([wave for _, wave in EMISSION_LINES])

# The 18 per-line suffixes in file order; all are 4-byte fields, so the block is (n, 46, 18).
LINE_SUFFIXES = (
    ("MODELAMP", "E", FLAM),
    ("AMP", "E", FLAM),
    ("AMP_IVAR", "E", FLAM_IVAR),
    ("FLUX", "E", LFLUX),
    ("FLUX_IVAR", "E", LFLUX_IVAR),
    ("BOXFLUX", "E", LFLUX),
    ("BOXFLUX_IVAR", "E", LFLUX_IVAR),
    ("VSHIFT", "E", KMS),
    ("VSHIFT_IVAR", "E", KMS_IVAR),
    ("SIGMA", "E", KMS),
    ("SIGMA_IVAR", "E", KMS_IVAR),
    ("CONT", "E", FLAM),
    ("CONT_IVAR", "E", FLAM_IVAR),
    ("EW", "E", "Angstrom"),
    ("EW_IVAR", "E", "Angstrom-2"),
    ("FLUX_LIMIT", "E", "erg s-1 cm-2"),
    ("CHI2", "E", ""),
    ("NPIX", "J", ""),
)
SUFFIX_INDEX = {suffix: k for k, (suffix, _, _) in enumerate(LINE_SUFFIXES)}
DOUBLETS = ("MGII", "OII", "OIII", "NII", "SII", "OIIRED")
MOMENT_LINES = ("CIV_1549", "MGII_2800", "HBETA", "OIII_5007")


def _e(*names: str, unit: str = "") -> tuple[ColumnDef, ...]:
    """float32 columns sharing one unit."""
    return tuple(ColumnDef(name, "E", unit) for name in names)


def _metadata() -> tuple[ColumnDef, ...]:
    cols = [
        *IDENTITY,
        ColumnDef("TILEID_LIST", f"{TILEID_WIDTH}A"),
        ColumnDef("RA", "D", "deg"),
        ColumnDef("DEC", "D", "deg"),
        ColumnDef("COADD_FIBERSTATUS", "J"),
        *(ColumnDef(n, "K") for n in ("DESI_TARGET", "BGS_TARGET", "MWS_TARGET", "SCND_TARGET")),
        ColumnDef("Z", "D"),
        ColumnDef("ZWARN", "K"),
        ColumnDef("DELTACHI2", "D"),
        ColumnDef("SPECTYPE", "6A"),
        ColumnDef("SUBTYPE", "20A"),
        ColumnDef("Z_RR", "D"),
        ColumnDef("ZWARN_RR", "K"),
        *_e(*(f"TSNR2_{t}" for t in ("BGS", "LRG", "ELG", "QSO", "LYA"))),
        ColumnDef("PHOTSYS", "1A"),
        ColumnDef("LS_ID", "K"),
        *_e(*(f"FIBERFLUX_{b}" for b in SYNTH_BANDS), unit=NMGY),
        *_e(*(f"FIBERTOTFLUX_{b}" for b in SYNTH_BANDS), unit=NMGY),
        *_e(*(f"FLUX_{b}" for b in PHOT_BANDS), unit=NMGY),
        *_e(*(f"FLUX_IVAR_{b}" for b in PHOT_BANDS), unit=NMGY_IVAR),
        ColumnDef("EBV", "E", "mag"),
        *_e(*(f"MW_TRANSMISSION_{b}" for b in PHOT_BANDS)),
    ]
    return tuple(cols)


def _absmag() -> list[ColumnDef]:
    cols = []
    for shift, band in ABSMAG_BANDS:
        cols += [
            ColumnDef(f"ABSMAG{shift}_{band}", "E", "mag"),
            ColumnDef(f"ABSMAG{shift}_IVAR_{band}", "E", "mag-2"),
            ColumnDef(f"ABSMAG{shift}_SYNTH_{band}", "E", "mag"),
            ColumnDef(f"ABSMAG{shift}_SYNTH_IVAR_{band}", "E", "mag-2"),
        ]
    cols += [ColumnDef(f"KCORR{shift}_{band}", "E", "mag") for shift, band in ABSMAG_BANDS]
    return cols


def _specphot() -> tuple[ColumnDef, ...]:
    cols = [
        *IDENTITY,
        ColumnDef("SEED", "K"),
        ColumnDef("COEFF", "5E", FLAM),
        *_e("RCHI2", "RCHI2_LINE", "RCHI2_CONT", "RCHI2_PHOT"),
        ColumnDef("VDISP", "E", KMS),
        ColumnDef("VDISP_IVAR", "E", KMS_IVAR),
        *_e("TAUV", "TAUV_IVAR"),
        ColumnDef("AGE", "E", "Gyr"),
        ColumnDef("AGE_IVAR", "E", "Gyr-2"),
        *_e("ZZSUN", "ZZSUN_IVAR"),
        ColumnDef("LOGMSTAR", "E", "solMass"),
        ColumnDef("LOGMSTAR_IVAR", "E", "solMass-2"),
        ColumnDef("SFR", "E", "solMass yr-1"),
        ColumnDef("SFR_IVAR", "E", "yr2 solMass-2"),
        *_e("DN4000", "DN4000_OBS", "DN4000_IVAR", "DN4000_MODEL", "DN4000_MODEL_IVAR"),
        *_e(*(f"FLUX_SYNTH_{b}" for b in SYNTH_BANDS), unit=NMGY),
        *_e(*(f"FLUX_SYNTH_SPECMODEL_{b}" for b in SYNTH_BANDS), unit=NMGY),
        *_e(*(f"FLUX_SYNTH_PHOTMODEL_{b}" for b in PHOT_BANDS), unit=NMGY),
        *_absmag(),
    ]
    for wave in ("1500", "2800"):
        cols += _e(f"LOGLNU_{wave}", f"LOGLNU_{wave}_IVAR", unit="10**-28 erg Hz-1 s-1")
    for wave in ("1450", "1700", "3000", "5100"):
        cols += _e(f"LOGL_{wave}", f"LOGL_{wave}_IVAR", unit="10**10 solLum")
    for line in ("FLYA_1215", "FOII_3727", "FHBETA", "FOIII_5007", "FHALPHA"):
        cols += _e(f"{line}_CONT", f"{line}_CONT_IVAR", unit=FLAM)
    return tuple(cols)


def _fastspec() -> tuple[ColumnDef, ...]:
    cols = [
        *IDENTITY,
        *_e("SNR_B", "SNR_R", "SNR_Z"),
        *_e("SMOOTHCORR_B", "SMOOTHCORR_R", "SMOOTHCORR_Z", unit="percent"),
        *_e("APERCORR", "APERCORR_G", "APERCORR_R", "APERCORR_Z"),
        *_e("INIT_SIGMA_UV", "INIT_SIGMA_NARROW", "INIT_SIGMA_BALMER", unit=KMS),
        *_e("INIT_VSHIFT_UV", "INIT_VSHIFT_NARROW", "INIT_VSHIFT_BALMER", unit=KMS),
        ColumnDef("INIT_BALMER_BROAD", "L"),
        ColumnDef("DELTA_LINECHI2", "E"),
        ColumnDef("DELTA_LINENDOF", "J"),
    ]
    for doublet in DOUBLETS:
        cols += _e(f"{doublet}_DOUBLET_RATIO", f"{doublet}_DOUBLET_RATIO_IVAR")
    for line in LINE_NAMES:
        cols += [ColumnDef(f"{line}_{sfx}", tform, unit) for sfx, tform, unit in LINE_SUFFIXES]
    for line in MOMENT_LINES:
        for n in (1, 2, 3):
            power = "" if n == 1 else str(n)
            cols += [
                ColumnDef(f"{line}_MOMENT{n}", "E", f"Angstrom{power}"),
                ColumnDef(f"{line}_MOMENT{n}_IVAR", "E", f"Angstrom-{2 * n}"),
            ]
    return tuple(cols)


METADATA_COLUMNS = _metadata()
SPECPHOT_COLUMNS = _specphot()
FASTSPEC_COLUMNS = _fastspec()
FIRST_LINE_COLUMN = f"{LINE_NAMES[0]}_{LINE_SUFFIXES[0][0]}"


def numpy_format(tform: str) -> str | tuple[str, tuple[int]]:
    """The big-endian numpy format of a TFORM: 'E' -> '>f4', '6A' -> 'S6', '5E' -> ('>f4', (5,))."""
    count = int(tform[:-1] or 1)
    code = tform[-1]
    if code == "A":
        return f"S{count}"
    base = ELEMENT_DTYPES[code]
    return (base, (count,)) if count > 1 else base


def row_dtype(columns: tuple[ColumnDef, ...]) -> np.dtype:
    """The packed big-endian record dtype of a FITS table row (FITS rows have no padding)."""
    fields = []
    for col in columns:
        fmt = numpy_format(col.tform)
        fields.append((col.name, *fmt) if isinstance(fmt, tuple) else (col.name, fmt))
    return np.dtype(fields)
