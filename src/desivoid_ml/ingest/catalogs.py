"""Recognise a FITS file by its HDUs and plan which table each of its columns goes to.

- FastSpecFit (METADATA + SPECPHOT [+ FASTSPEC], row-aligned) -> `galaxies`
- VAST VoidFinder (MAXIMALS + HOLES) -> `vf_maximals`, `vf_holes`
- VAST V2 (VOIDS + ZONEVOID + GALZONE [+ TRIANGLE, GALVIZ]) -> `v2_*`
- anything else: each BINTABLE HDU -> a generic table named after the file and the HDU
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from pathlib import Path

from desivoid_ml.algorithms import ALGORITHM_NAMES
from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.errors import FitsError, IngestError
from desivoid_ml.ingest.column_types import MAX_IDENTIFIER_BYTES, copy_column
from desivoid_ml.ingest.fits_reader import FitsFile, Hdu
from desivoid_ml.ingest.plans import ColumnSource, FilePlan, TableLoad

ID_COLUMNS = ("TARGETID", "SURVEY", "PROGRAM", "HEALPIX")
GALAXY_KEY = ["targetid", "survey", "program"]
V2_TABLES = {  # EXTNAME -> (table, key column after `catalog`)
    "VOIDS": ("v2_voids", "void"),
    "ZONEVOID": ("v2_zonevoid", "zone"),
    "GALZONE": ("v2_galzone", "gal"),
    "TRIANGLE": ("v2_triangle", "triangle"),
    "GALVIZ": ("v2_galviz", "gid"),
}
VOIDFINDER_TABLES = {"MAXIMALS": ("vf_maximals", "void"), "HOLES": ("vf_holes", "hole")}
# VAST calls its Cartesian coordinate Z: keep it apart from redshift. Old VAST wrote FLAG for VOID.
VAST_RENAMES = {"z": "zc", "flag": "void"}
RESERVED = {"file_id", "row_index", "catalog"}
ALGORITHMS = tuple(ALGORITHM_NAMES.values())  # VoidFinder, VIDE, ZOBOV, REVOLVER


def classify(fits: FitsFile) -> str:
    """'fastspec', 'voidfinder', 'v2' or 'generic', from the HDU names."""
    names = fits.extnames()
    if not fits.tables:
        raise FitsError(f"{fits.path.name}: no table (BINTABLE) HDU, nothing to ingest")
    if {"METADATA", "SPECPHOT"} <= names:
        return "fastspec"
    if {"MAXIMALS", "HOLES"} <= names:
        return "voidfinder"
    if {"VOIDS", "ZONEVOID", "GALZONE"} <= names:
        return "v2"
    return "generic"


def plan_file(fits: FitsFile, fastspec_columns: list[str]) -> FilePlan:
    """The table loads for one file."""
    kind = classify(fits)
    if kind == "fastspec":
        return FilePlan(fits, kind, [plan_galaxies(fits, fastspec_columns)])
    if kind in ("voidfinder", "v2"):
        return plan_voids(fits, kind)
    return FilePlan(fits, kind, [plan_generic(fits, hdu) for hdu in fits.tables])


def plan_galaxies(fits: FitsFile, fastspec_columns: list[str]) -> TableLoad:
    """METADATA + SPECPHOT + selected FASTSPEC columns, one row per galaxy."""
    hdus = [fits.table("METADATA"), fits.table("SPECPHOT")]
    if "FASTSPEC" in fits.extnames():
        hdus.append(fits.table("FASTSPEC"))
    counts = {h.extname: h.nrows for h in hdus}
    if len(set(counts.values())) > 1:
        raise IngestError(f"{fits.path.name}: HDUs are not row-aligned: row counts {counts}")
    sources = _sources(hdus[0], range(len(hdus[0].columns)))
    sources += _sources(hdus[1], _non_id_positions(hdus[1]))
    if len(hdus) == 3:
        sources += _sources(hdus[2], _select(hdus[2], fastspec_columns))
    _check_unique(sources, fits.path.name)
    return TableLoad(
        "galaxies", hdus, sources, GALAXY_KEY, align_on="TARGETID", allow_new_columns=False
    )


def _non_id_positions(hdu: Hdu) -> list[int]:
    return [i for i, c in enumerate(hdu.columns) if c.name.upper() not in ID_COLUMNS]


def _select(hdu: Hdu, patterns: list[str]) -> list[int]:
    """Positions of FASTSPEC columns matching the configured patterns (case-insensitive globs)."""
    positions = _non_id_positions(hdu)
    chosen: list[int] = []
    for pattern in patterns:
        matches = [
            i
            for i in positions
            if fnmatch.fnmatchcase(hdu.columns[i].name.upper(), pattern.upper())
        ]
        if not matches:
            raise IngestError(
                f"FASTSPEC column selection {pattern!r} matches no column of "
                f"{hdu.path.name}; fix configs/ingest.yaml"
            )
        chosen += [m for m in matches if m not in chosen]
    return chosen


def plan_voids(fits: FitsFile, kind: str) -> FilePlan:
    """VAST tables keyed by catalog; other tables of the file go to generic tables."""
    catalog = catalog_info(fits, kind)
    tables = VOIDFINDER_TABLES if kind == "voidfinder" else V2_TABLES
    loads = []
    for hdu in fits.tables:
        if hdu.extname.upper() in tables:
            table, key = tables[hdu.extname.upper()]
            loads.append(_vast_load(hdu, table, key, catalog["catalog"]))
        else:
            loads.append(plan_generic(fits, hdu))
    return FilePlan(fits, kind, loads, catalog)


def _vast_load(hdu: Hdu, table: str, key: str, catalog: str) -> TableLoad:
    sources = [
        ColumnSource(
            CopyColumn("catalog", "text", text_width=len(catalog.encode())), constant=catalog
        )
    ]
    columns = _sources(
        hdu, range(len(hdu.columns)), lambda n: VAST_RENAMES.get(n.lower(), n.lower())
    )
    if key not in {s.column.name for s in columns}:
        sources.append(ColumnSource(CopyColumn(key, "bigint"), is_row_index=True))
    sources += columns
    _check_unique(sources, hdu.path.name)
    indexes = [["catalog", "void"]] if table in ("vf_holes", "v2_triangle") else []
    if table == "v2_galzone" and "target" in {s.column.name for s in columns}:
        indexes.append(["target"])
    return TableLoad(table, [hdu], sources, ["catalog", key], indexes=indexes)


def catalog_info(fits: FitsFile, kind: str) -> dict:
    """Catalog name (file stem without the DESIVAST prefix), algorithm, cap and cosmology."""
    stem = fits.path.name.removesuffix(".fits")
    name = stem.removeprefix("DESIVAST_BGS_VOLLIM_")
    algorithm = "VoidFinder" if kind == "voidfinder" else "V2"
    for candidate in ALGORITHMS[1:]:
        if kind == "v2" and re.search(rf"(^|_){candidate}(_|$)", stem, re.IGNORECASE):
            algorithm = candidate
    cap = re.search(r"(^|_)(NGC|SGC)(_|$)", stem, re.IGNORECASE)
    header = fits.primary_header
    return {
        "catalog": name,
        "algorithm": algorithm,
        "cap": cap.group(2).upper() if cap else None,
        "omegam": _float_or_none(header.get("OMEGAM")),
        "hp": _float_or_none(header.get("HP")),
    }


def plan_generic(fits: FitsFile, hdu: Hdu) -> TableLoad:
    """Any BINTABLE: its columns as they are (names lower-cased unless that collides)."""
    names = [c.name for c in hdu.columns]
    lowered = [n.lower() for n in names]
    rename = {n: (n.lower() if lowered.count(n.lower()) == 1 else n) for n in names}
    sources = [ColumnSource(CopyColumn("row_index", "bigint"), is_row_index=True)]
    sources += _sources(hdu, range(len(names)), lambda n: rename[n])
    _check_unique(sources, fits.path.name)
    return TableLoad(generic_table_name(fits.path, hdu), [hdu], sources, ["file_id", "row_index"])


def generic_table_name(path: Path, hdu: Hdu) -> str:
    """`<file stem>_<extname or hduN>`, lower-case, safe characters, at most 63 bytes."""
    stem = path.name.removesuffix(".fits").removesuffix(".fit")
    name = re.sub(r"[^a-z0-9_]+", "_", f"{stem}_{hdu.extname or f'hdu{hdu.index}'}".lower())
    name = name.strip("_") or f"hdu{hdu.index}"
    if name[0].isdigit():
        name = f"t_{name}"
    if len(name) > MAX_IDENTIFIER_BYTES:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = f"{name[: MAX_IDENTIFIER_BYTES - 9]}_{digest}"
    return name


def _sources(hdu: Hdu, positions, rename=str.lower) -> list[ColumnSource]:
    out = []
    for position in positions:
        column = hdu.columns[position]
        target = rename(column.name)
        if target in RESERVED:
            target = f"{target}_fits"
        out.append(
            ColumnSource(copy_column(column, target), hdu=hdu.index, field=position, fits=column)
        )
    return out


def _check_unique(sources: list[ColumnSource], filename: str) -> None:
    seen: set[str] = set()
    for source in sources:
        if source.column.name in seen:
            raise IngestError(
                f"{filename}: two columns map to the same name {source.column.name!r}"
            )
        seen.add(source.column.name)


def _float_or_none(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
