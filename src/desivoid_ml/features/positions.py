"""The galaxy sample out of raw.galaxies, in compact arrays (about 45 bytes a galaxy).

Keys, RA, Dec, z and ABSMAG01_SDSS_R come by binary COPY, decoded block by block; SURVEY and
PROGRAM (a handful of distinct values) are kept as one small code per galaxy, not as text, so
6.4 M galaxies take ~290 MB instead of ~460 MB of structured records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.db.copy_out import copy_out
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.environment import GalaxySample
from desivoid_ml.keys import KEY_COLUMNS, KEY_WIDTH

ABSMAG_R = "absmag01_sdss_r"  # VoidFinder's MAGLIM cut is on this column (NaN when absent/0)
COLUMNS = [
    *KEY_COLUMNS,
    CopyColumn("ra", "double precision"),
    CopyColumn("dec", "double precision"),
    CopyColumn("z", "double precision"),
    CopyColumn("absmag_r", "real"),
]


@dataclass
class GalaxyKeys:
    """(targetid, survey, program) of every galaxy: survey/program as codes into `labels`."""

    targetid: np.ndarray
    code: np.ndarray  # int16 index into labels
    labels: list[tuple[str, str]]

    def survey_program(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Text columns of rows start..stop."""
        survey = np.array([s for s, _ in self.labels] or [""])
        program = np.array([p for _, p in self.labels] or [""])
        codes = self.code[start:stop]
        return survey[codes], program[codes]


def read_sample(conn: psycopg.Connection, db: Database) -> tuple[GalaxySample, GalaxyKeys]:
    """Every raw.galaxies row as a GalaxySample (in table order) and its keys."""
    columns = table_columns(conn, db.ns.raw, "galaxies")
    if not columns:
        raise DesivoidError(
            "raw.galaxies does not exist; run `desivoid ingest` on FastSpecFit files"
        )
    has_absmag = ABSMAG_R in columns
    absmag = (
        sql.SQL("COALESCE(NULLIF({}, 0)::float4, 'NaN')").format(sql.Identifier(ABSMAG_R))
        if has_absmag
        else sql.SQL("'NaN'::float4")
    )
    query = sql.SQL(
        "SELECT targetid, survey::char({w}), program::char({w}), "
        "COALESCE(ra, 'NaN'), COALESCE(dec, 'NaN'), COALESCE(z, 'NaN'), {} FROM {}"
    ).format(absmag, sql.Identifier(db.ns.raw, "galaxies"), w=sql.Literal(KEY_WIDTH))
    parts: dict[str, list[np.ndarray]] = {n: [] for n in ("targetid", "code", "ra", "dec", "z")}
    parts["absmag_r"] = []
    labels: dict[bytes, int] = {}
    for block in copy_out(conn, query, COLUMNS, rows_per_block=262_144):
        pair = np.char.add(block["survey"], block["program"])
        unique, inverse = np.unique(pair, return_inverse=True)
        lookup = np.array([labels.setdefault(bytes(u), len(labels)) for u in unique])
        parts["code"].append(lookup[inverse].astype(np.int16))
        for name in ("targetid", "ra", "dec", "z", "absmag_r"):
            parts[name].append(np.ascontiguousarray(block[name]))
    whole = {name: _concatenate(blocks, name) for name, blocks in parts.items()}
    names = [
        (key[:KEY_WIDTH].decode().rstrip(), key[KEY_WIDTH:].decode().rstrip())
        for key in sorted(labels, key=labels.get)
    ]
    sample = GalaxySample(
        whole["ra"],
        whole["dec"],
        whole["z"],
        whole["targetid"],
        whole["absmag_r"] if has_absmag else None,
    )
    return sample, GalaxyKeys(whole["targetid"], whole["code"], names)


def _concatenate(blocks: list[np.ndarray], name: str) -> np.ndarray:
    """One array from the blocks, emptying the list as it goes (peak: one column extra)."""
    if not blocks:
        dtype = {"targetid": np.int64, "code": np.int16, "absmag_r": np.float32}
        return np.zeros(0, dtype=dtype.get(name, np.float64))
    out = np.empty(sum(len(b) for b in blocks), dtype=blocks[0].dtype)
    start = 0
    while blocks:
        block = blocks.pop(0)
        out[start : start + len(block)] = block
        start += len(block)
    return out
