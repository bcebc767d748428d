"""The galaxies a report looks at: embeddings of a stable hash-selected sample of one split of
the run, with the properties, void labels and raw inputs the figures and AUCs need."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from psycopg import sql

from desivoid_ml.analysis.config import ALGORITHM_NAMES
from desivoid_ml.data.query import split_predicate
from desivoid_ml.db.connection import Database
from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.db.copy_out import read_copy
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.embed.store import embedded_run
from desivoid_ml.keys import SAMPLE_BUCKETS, sample_bucket_sql
from desivoid_ml.runs import Run

SAMPLE_ROWS = 40_000  # galaxies on the embedding map (all splits)


@dataclass
class Sample:
    """Embeddings of a hash-selected sample of galaxies with what the figures need."""

    split: str
    codes: np.ndarray
    labels: dict[str, np.ndarray]  # per algorithm prefix (<prefix>_sample): 1 void, 0 wall, -1
    log_ssfr: np.ndarray
    logmstar: np.ndarray
    g_r: np.ndarray
    features: np.ndarray
    ra: np.ndarray  # for the sky regions of the jackknife (NaN when unknown)
    dec: np.ndarray

    @property
    def in_void(self) -> np.ndarray:
        """VoidFinder label (-1 where unknown), for the map."""
        return self.labels.get("vf", np.full(len(self.codes), -1))


def load_sample(
    db: Database, run: Run, split: str = "all", rows: int = SAMPLE_ROWS, selection: str = "true"
) -> Sample:
    """At most about `rows` embedded galaxies of one split of the run (stable across calls);
    void / wall labels only for galaxies within `selection` (SQL, the analysis's galaxies)."""
    with db.connect() as conn:
        _, partition, dim = embedded_run(conn, db, run.run_id)
        total = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(db.ns.ml, partition))
        ).fetchone()[0]
        share = 1.0 if split == "all" else max(getattr(run.fractions, split), 1e-9)
        keep = int(np.ceil(SAMPLE_BUCKETS * rows / max(total * share, 1)))
        present = table_columns(conn, db.ns.features, run.feature_table)
        prefixes = [p for p in ALGORITHM_NAMES if f"{p}_sample" in present]
        select = _select(run, dim, prefixes, present, selection)
        query = sql.SQL(
            "SELECT {} FROM {} e JOIN {} f USING (targetid, survey, program) WHERE {} < {} AND {}"
        ).format(
            sql.SQL(", ").join(select),
            sql.Identifier(db.ns.ml, partition),
            sql.Identifier(db.ns.features, run.feature_table),
            sample_bucket_sql("f"),
            sql.Literal(max(1, min(SAMPLE_BUCKETS, keep))),
            split_predicate(split, run.fractions),
        )
        data = read_copy(conn, query, _wire(dim, prefixes, len(run.features)))
    return Sample(
        split,
        data["code"],
        {p: data[f"l_{p}"] for p in prefixes},
        data["log_ssfr"],
        data["logmstar"],
        data["g_r"],
        np.stack([data[f"f{i}"] for i in range(len(run.features))], axis=1),
        data["ra"],
        data["dec"],
    )


def _select(
    run: Run, dim: int, prefixes: list[str], present: dict, selection: str
) -> list[sql.Composable]:
    """Code, log sSFR, log M*, g-r, a void label per algorithm (-1 outside its sample), inputs,
    RA and Dec."""
    select = [sql.SQL("e.embedding::vector({})").format(sql.Literal(dim))]
    select += [_float_or_nan(c, present) for c in ("log_ssfr", "logmstar", "g_r")]
    select += [
        sql.SQL(
            "CASE WHEN ({}) IS NOT TRUE THEN -1 WHEN {} = 'void' THEN 1 "
            "WHEN {} = 'wall' THEN 0 ELSE -1 END"
        ).format(sql.SQL(selection), sql.Identifier(f"{p}_sample"), sql.Identifier(f"{p}_sample"))
        for p in prefixes
    ]
    select += [
        sql.SQL("COALESCE(({})::float4, 'NaN')").format(sql.SQL(e)) for e in run.features.values()
    ]
    return select + [_float_or_nan(c, present) for c in ("ra", "dec")]


def _wire(dim: int, prefixes: list[str], inputs: int) -> list[CopyColumn]:
    """How `_select`'s columns decode."""
    wire = [CopyColumn.vector("code", dim)]
    wire += [CopyColumn(name, "real") for name in ("log_ssfr", "logmstar", "g_r")]
    wire += [CopyColumn(f"l_{p}", "integer") for p in prefixes]
    wire += [CopyColumn(f"f{i}", "real") for i in range(inputs)]
    return wire + [CopyColumn(name, "real") for name in ("ra", "dec")]


def _float_or_nan(column: str, present: dict) -> sql.Composable:
    if column in present:
        return sql.SQL("COALESCE({}::float4, 'NaN')").format(sql.Identifier(column))
    return sql.SQL("'NaN'::float4")
