"""What an export reads: a query over features.galaxy, a run's embeddings or ml.void_wall,
streamed by binary COPY and decoded block by block into Arrow record batches.

Binary COPY decodes fast only when every tuple has the same width (db/copy_out.py), so each
column is selected NULL-free: floats with NULL as NaN, other types as a value plus an
`is null` flag, text as char(n) with n the longest value."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import psycopg
import pyarrow as pa
from psycopg import sql

from desivoid_ml.algorithms import ALGORITHM_NAMES
from desivoid_ml.db.connection import Database
from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.db.copy_out import copy_out
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.errors import DesivoidError

ROWS_PER_BLOCK = 65_536
KINDS = ("features", "embeddings", "analysis")
ALGORITHMS = tuple(ALGORITHM_NAMES)  # the column prefixes: vf, vide, zobov, revolver
FLOATS = {"double precision": pa.float64(), "real": pa.float32()}
OTHERS = {
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "smallint": pa.int16(),
    "boolean": pa.bool_(),
    "text": pa.string(),
}
HIDDEN = {"key_hash"}


def arrow_type(column: CopyColumn) -> pa.DataType:
    """The Arrow type a column is exported as."""
    if column.is_vector:
        return pa.list_(pa.float32(), column.shape[0])
    return FLOATS.get(column.pg_type) or OTHERS[column.pg_type]


@dataclass
class Source:
    """A query whose rows an export writes, with its columns and where it came from."""

    kind: str
    table: sql.Composable  # FROM ... [JOIN ...] [WHERE ...]
    columns: list[CopyColumn]  # text columns with the width of their longest value
    description: str

    def schema(self) -> pa.Schema:
        """Arrow schema; text fields carry their width (FITS needs a fixed one)."""
        return pa.schema(
            [
                pa.field(
                    c.name,
                    arrow_type(c),
                    metadata={"width": str(c.text_width)} if c.is_text else None,
                )
                for c in self.columns
            ]
        )

    def count(self, conn: psycopg.Connection) -> int:
        return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(self.table)).fetchone()[0]

    def batches(self, conn: psycopg.Connection) -> Iterator[pa.RecordBatch]:
        """Record batches of about ROWS_PER_BLOCK rows, in table order."""
        selects, wire = [], []
        for c in self.columns:
            ident = sql.SQL("t.{}").format(sql.Identifier(c.name))
            wire.append(c)
            if c.pg_type in FLOATS:
                selects.append(sql.SQL("COALESCE({}, 'NaN')::{}").format(ident, sql.SQL(c.pg_type)))
                continue
            if c.is_vector:
                selects.append(sql.SQL("{}::{}").format(ident, sql.SQL(c.sql_type)))
                continue
            if c.is_text:
                width = sql.Literal(c.text_width)
                value = sql.SQL("COALESCE({}, '')::char({})").format(ident, width)
            else:
                zero = "false" if c.pg_type == "boolean" else "0"
                value = sql.SQL("COALESCE({}, {})::{}").format(
                    ident, sql.SQL(zero), sql.SQL(c.pg_type)
                )
            selects.append(value)
            selects.append(sql.SQL("{} IS NULL").format(ident))
            wire.append(CopyColumn(f"_null_{c.name}", "boolean"))
        query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(selects), self.table)
        schema = self.schema()
        for block in copy_out(conn, query, wire, ROWS_PER_BLOCK):
            yield pa.RecordBatch.from_arrays(
                [_arrow(block, c) for c in self.columns], schema=schema
            )


def _arrow(block: np.ndarray, column: CopyColumn) -> pa.Array:
    values = block[column.name]
    if column.pg_type in FLOATS:
        return pa.array(values, mask=np.isnan(values), type=arrow_type(column))
    if column.is_vector:
        flat = pa.array(np.ascontiguousarray(values).reshape(-1))
        return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
    mask = block[f"_null_{column.name}"].astype(bool)
    if column.is_text:
        values = np.char.rstrip(np.char.decode(values, "utf-8"))
    return pa.array(values, mask=mask if mask.any() else None, type=arrow_type(column))


def features_source(
    db: Database, conn: psycopg.Connection, algorithm: str | None, in_void: bool | None
) -> Source:
    """features.galaxy, optionally only void (or wall) galaxies of one algorithm."""
    present = table_columns(conn, db.ns.features, "galaxy")
    if not present:
        raise DesivoidError("features.galaxy does not exist; run `desivoid features` first")
    where = _environment_filter(present, algorithm, in_void, "t")
    table = sql.SQL("{} t {}").format(sql.Identifier(db.ns.features, "galaxy"), where)
    columns = _columns(conn, table, {k: v for k, v in present.items() if k not in HIDDEN})
    what = "features.galaxy" + _filter_text(algorithm, in_void)
    return Source("features", table, columns, what)


def embeddings_source(
    db: Database,
    conn: psycopg.Connection,
    run: str | None,
    algorithm: str | None,
    in_void: bool | None,
) -> Source:
    """One run's embeddings (default: the newest), with the same optional environment filter."""
    row = conn.execute(
        sql.SQL(
            "SELECT run_id, partition, dim FROM {} WHERE run_id = %s "
            "OR (%s::text IS NULL AND created = (SELECT max(created) FROM {}))"
        ).format(
            sql.Identifier(db.ns.ml, "embedding_sets"), sql.Identifier(db.ns.ml, "embedding_sets")
        ),
        (run, run),
    ).fetchone()
    if row is None:
        raise DesivoidError(
            f"no embeddings for run {run or 'latest'}; see `desivoid runs`, then "
            "`desivoid embed --run ...`"
        )
    run_id, part, dim = row
    table = sql.SQL("{} t").format(sql.Identifier(db.ns.ml, part))
    if in_void is not None:
        present = table_columns(conn, db.ns.features, "galaxy")
        where = _environment_filter(present, algorithm, in_void, "f")
        table = sql.SQL("{} t JOIN {} f USING (targetid, survey, program) {}").format(
            sql.Identifier(db.ns.ml, part), sql.Identifier(db.ns.features, "galaxy"), where
        )
    base = {"targetid": "bigint", "survey": "text", "program": "text"}
    columns = _columns(conn, table, base) + [CopyColumn.vector("embedding", dim)]
    return Source(
        "embeddings",
        table,
        columns,
        f"embeddings of run {run_id}" + _filter_text(algorithm, in_void),
    )


def analysis_source(db: Database, conn: psycopg.Connection) -> Source:
    """ml.void_wall as `desivoid analyze` left it, whatever its columns."""
    present = table_columns(conn, db.ns.ml, "void_wall")
    if not present:
        raise DesivoidError("no void-vs-wall results (ml.void_wall); run `desivoid analyze` first")
    unsupported = [k for k, v in present.items() if v not in FLOATS and v not in OTHERS]
    table = sql.SQL("{} t").format(sql.Identifier(db.ns.ml, "void_wall"))
    kept = {k: v for k, v in present.items() if k not in unsupported}
    return Source("analysis", table, _columns(conn, table, kept), "ml.void_wall")


def _environment_filter(
    present: dict[str, str], algorithm: str | None, in_void: bool | None, alias: str
) -> sql.Composable:
    if in_void is None:
        if algorithm is not None:
            raise DesivoidError("--algorithm needs --in-void or --wall")
        return sql.SQL("")
    algorithm = algorithm or "vf"
    if algorithm not in ALGORITHMS:
        raise DesivoidError(
            f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}"
        )
    column = f"{algorithm}_sample"  # the one void / wall definition (features/samples.py)
    if column not in present:
        raise DesivoidError(f"features.galaxy has no {column}; re-run `desivoid features`")
    return sql.SQL("WHERE {}.{} = {}").format(
        sql.Identifier(alias), sql.Identifier(column), sql.Literal("void" if in_void else "wall")
    )


def _filter_text(algorithm: str | None, in_void: bool | None) -> str:
    if in_void is None:
        return ""
    return f", only {'void' if in_void else 'wall'} galaxies of {algorithm or 'vf'}"


def _columns(
    conn: psycopg.Connection, table: sql.Composable, types: dict[str, str]
) -> list[CopyColumn]:
    """Columns of supported types; text columns get the char(n) width of their longest value."""
    texts = [name for name, kind in types.items() if kind == "text"]
    widths = {}
    if texts:
        row = conn.execute(
            sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(
                    sql.SQL("COALESCE(max(octet_length(t.{})), 1)").format(sql.Identifier(n))
                    for n in texts
                ),
                table,
            )
        ).fetchone()
        widths = {n: max(1, int(w)) for n, w in zip(texts, row, strict=True)}
    return [
        CopyColumn.from_sql_type(name, kind, widths.get(name, 0))
        for name, kind in types.items()
        if kind in FLOATS or kind in OTHERS
    ]
