"""Writing features.galaxy: the computed columns go to a staging table by binary COPY, chunk by
chunk; the table is then made in one statement from raw.galaxies' property expressions (the
feature config) joined with the staged columns, in spatial order, with its keys and indexes.

The staging table is an unlogged table of the features schema, created and dropped inside the
build's transaction (a failed build leaves nothing): unlike a temporary table, parallel workers
can read it, so the join and the spatial sort run in parallel."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import psycopg
from omegaconf import DictConfig
from psycopg import sql

from desivoid_ml.db.connection import Database, set_setting
from desivoid_ml.db.copy_binary import RowEncoder
from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.db.copy_in import column_definitions, copy_in
from desivoid_ml.errors import DesivoidError, first_line
from desivoid_ml.features.positions import GalaxyKeys
from desivoid_ml.keys import KEY_COLUMNS, key_hash_sql

SKY_INDEX = "galaxy_sky_idx"  # GiST on point(ra, dec), for features.galaxy_at
NUMPY_TO_PG = {"b": "boolean", "i": "bigint", "f": "double precision", "U": "text"}
# server memory of the join and the spatial ORDER BY (this statement's transaction only): at
# 6.4 M galaxies 1GB holds the parallel hash of raw.galaxies in one batch (256MB: 8 batches
# spilled, 1.8 GB written to temp files and read back); EXPLAIN ANALYZE of the statement on the
# same data, alternated: 256MB 116, 112 s; 1GB 92, 104 s (README, run E)
JOIN_WORK_MEM = "1GB"
INDEX_MEMORY = "512MB"  # maintenance_work_mem of the key and GiST builds (this transaction only)
STAGE_NAME = "galaxy_stage"


def stage_table(db: Database) -> sql.Identifier:
    """The staging table of the computed columns (exists only inside the build's transaction)."""
    return sql.Identifier(db.ns.features, STAGE_NAME)


class StageLayout:
    """The staging table's columns (keys, then the computed columns as the first chunk has
    them) and their binary COPY encoder; forked workers inherit it and encode their chunks."""

    def __init__(self, keys: GalaxyKeys, first: dict[str, np.ndarray]) -> None:
        self.keys = keys
        self.names = list(first)
        computed = [_copy_column(name, values) for name, values in first.items()]
        self.columns = list(KEY_COLUMNS) + computed
        self.encoder = RowEncoder(self.columns)

    def encode(self, start: int, stop: int, columns: dict[str, np.ndarray]) -> np.ndarray:
        """Binary COPY tuples of galaxies start..stop (their keys and computed columns), as
        bytes in a uint8 array."""
        survey, program = self.keys.survey_program(start, stop)
        values = [self.keys.targetid[start:stop], survey, program]
        values += [columns[n] for n in self.names]
        nulls = [None, None, None, *(_nulls(columns[n]) for n in self.names)]
        encoded = self.encoder.encode([_text_bytes(v) for v in values], nulls)
        return np.frombuffer(encoded, dtype=np.uint8)  # picklable, no copy


def stage_columns(
    conn: psycopg.Connection, db: Database, layout: StageLayout, payloads: Iterable[np.ndarray]
) -> None:
    """Binary COPY of the encoded chunks into the staging table (created here, then
    ANALYZEd for the join's plan). A build never leaves one behind (it is made and dropped in
    the build's transaction); one made by hand is replaced."""
    stage = stage_table(db)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
    conn.execute(
        sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(
            stage, column_definitions(layout.columns)
        )
    )
    with copy_in(conn, stage, layout.columns) as send:
        for payload in payloads:
            send(payload.data)
    conn.execute(sql.SQL("ANALYZE {}").format(stage))


def _copy_column(name: str, values: np.ndarray) -> CopyColumn:
    kind = values.dtype.kind
    if kind == "U":
        return CopyColumn(name, "text", text_width=max(values.dtype.itemsize // 4, 1))
    if kind == "i" and values.dtype.itemsize <= 2:
        return CopyColumn(name, "smallint")
    return CopyColumn(name, NUMPY_TO_PG[kind])


def _text_bytes(values: np.ndarray) -> np.ndarray:
    """Text as UTF-8 bytes; ASCII (the labels here: caps, samples, survey, program) by taking
    the low byte of each UCS-4 code, ~100x faster than np.strings.encode."""
    if values.dtype.kind != "U" or values.dtype.itemsize == 0:
        return values
    width = values.dtype.itemsize // 4
    codes = np.ascontiguousarray(values).view(np.uint32).reshape(len(values), width)
    if codes.max(initial=0) >= 128:
        return np.strings.encode(values, "utf-8")
    return codes.astype(np.uint8).view(f"S{width}").reshape(len(values))


def _nulls(values: np.ndarray) -> np.ndarray | None:
    """NaN and empty text become NULL (never a silent number)."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "U":
        return values == ""
    return None


def property_condition(spec) -> sql.Composable:
    """When a property has a value: its `valid` condition and, if given, its `range`."""
    valid = sql.SQL("({})").format(sql.SQL(str(spec.get("valid") or "true")))
    if spec.get("range") is None:
        return valid
    low, high = (float(v) for v in spec["range"])
    return sql.SQL("{} AND ({}) BETWEEN {} AND {}").format(
        valid, sql.SQL(str(spec["value"])), sql.Literal(low), sql.Literal(high)
    )


def write_galaxy_table(
    conn: psycopg.Connection, db: Database, cfg: DictConfig, columns: list[str]
) -> None:
    """features.galaxy := raw.galaxies properties joined with the staged environment, in
    spatial order (its keys and indexes: `index_galaxy_table`)."""
    properties = [
        sql.SQL("CASE WHEN {valid} THEN {value} END AS {name}").format(
            valid=property_condition(spec),
            value=sql.SQL(str(spec["value"])),
            name=sql.Identifier(name),
        )
        for name, spec in cfg.properties.items()
    ]
    environment = [
        sql.SQL("e.{}").format(sql.Identifier(name)) for name in columns if name != "cell"
    ]
    target = sql.Identifier(db.ns.features, "galaxy")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
    set_setting(conn, "work_mem", JOIN_WORK_MEM, local=True)  # one hash batch, fewer sort runs
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} AS SELECT g.targetid, g.survey, g.program, "
                    "{key_hash} AS key_hash, {}, {} "
                    "FROM {} g JOIN {} e USING (targetid, survey, program) "
                    "ORDER BY e.cell"
                ).format(
                    target,
                    sql.SQL(", ").join(properties),
                    sql.SQL(", ").join(environment),
                    sql.Identifier(db.ns.raw, "galaxies"),
                    stage_table(db),
                    key_hash=key_hash_sql("g"),
                )
            )
            conn.execute(sql.SQL("DROP TABLE {}").format(stage_table(db)))
    except psycopg.errors.Error as exc:
        raise DesivoidError(
            f"a feature property in the config failed in SQL: "
            f"{first_line(exc)}; fix configs/features.yaml"
        ) from exc


def index_galaxy_table(conn: psycopg.Connection, db: Database, cfg: DictConfig) -> None:
    """features.galaxy's key, the GiST on point(x, y) and, with ra/dec, the sky index."""
    target = sql.Identifier(db.ns.features, "galaxy")
    set_setting(conn, "maintenance_work_mem", INDEX_MEMORY, local=True)
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (targetid, survey, program)").format(target)
    )
    conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (point(x, y))").format(target))
    if {"ra", "dec"} <= set(cfg.properties):  # sky search (features.galaxy_at) uses it
        conn.execute(
            sql.SQL('CREATE INDEX {} ON {} USING gist (point(ra, "dec"))').format(
                sql.Identifier(SKY_INDEX), target
            )
        )
