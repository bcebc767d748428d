"""Which similarity index a run's partition gets (HNSW or IVFFlat, both pgvector) and its DDL.

The family and parameters were chosen from the measured grid of scripts/bench_index_grid.py
(README, "Benchmarks"); the other family stays selectable through DESIVOID_INDEX_KIND.
Both index the expression `embedding::vector(d)`, which the SQL functions order by.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from psycopg import sql

from desivoid_ml.errors import DesivoidError

KIND_ENV = "DESIVOID_INDEX_KIND"
M_ENV = "DESIVOID_HNSW_M"
EF_CONSTRUCTION_ENV = "DESIVOID_HNSW_EF_CONSTRUCTION"
LISTS_ENV = "DESIVOID_IVF_LISTS"
KINDS = ("hnsw", "ivfflat")
DEFAULT_KIND = "hnsw"
# m 8 / ef_construction 32 with rows written in cell order (embed/insert_order.py): at 1 M,
# 64 s to build (m 16 / 64 in random order: 479 s), recall@10 0.95 at ef_search 100.
DEFAULT_M = 8
DEFAULT_EF_CONSTRUCTION = 32
ROWS_PER_LIST = 1000  # pgvector's advice up to 1 M rows; sqrt(rows) beyond
MIN_LISTS = 1


def ivf_lists(rows: int) -> int:
    """IVFFlat lists for `rows` vectors: rows / 1000 up to 1 M rows, sqrt(rows) beyond."""
    if rows <= 1_000_000:
        return max(MIN_LISTS, rows // ROWS_PER_LIST)
    return int(math.sqrt(rows))


@dataclass(frozen=True)
class IndexSpec:
    """One similarity index: its family and build parameters (lists None: sized to the rows)."""

    kind: str = DEFAULT_KIND
    m: int = DEFAULT_M
    ef_construction: int = DEFAULT_EF_CONSTRUCTION
    lists: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DesivoidError(f"{KIND_ENV}: {self.kind!r} is not one of {', '.join(KINDS)}")

    @classmethod
    def from_env(cls) -> IndexSpec:
        """The spec from DESIVOID_INDEX_KIND, _HNSW_M, _HNSW_EF_CONSTRUCTION, _IVF_LISTS."""
        try:
            lists = os.environ.get(LISTS_ENV)
            return cls(
                os.environ.get(KIND_ENV, DEFAULT_KIND).strip().lower(),
                int(os.environ.get(M_ENV, DEFAULT_M)),
                int(os.environ.get(EF_CONSTRUCTION_ENV, DEFAULT_EF_CONSTRUCTION)),
                int(lists) if lists else None,
            )
        except ValueError as exc:
            raise DesivoidError(f"index settings: {exc}") from exc

    def options(self, rows: int) -> dict[str, int]:
        """The WITH (...) options of the CREATE INDEX for `rows` vectors."""
        if self.kind == "hnsw":
            return {"m": self.m, "ef_construction": self.ef_construction}
        return {"lists": self.lists or ivf_lists(rows)}

    def label(self, rows: int) -> str:
        """e.g. 'HNSW (m 16, ef_construction 64)' or 'IVFFlat (lists 2538)'."""
        name = "HNSW" if self.kind == "hnsw" else "IVFFlat"
        return f"{name} ({', '.join(f'{k} {v}' for k, v in self.options(rows).items())})"

    def statement(
        self, table: sql.Composable, index_name: str, dim: int, rows: int
    ) -> sql.Composed:
        """CREATE INDEX on embedding::vector(dim) with L2 distance."""
        options = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.SQL(k), sql.Literal(v))
            for k, v in self.options(rows).items()
        )
        return sql.SQL(
            "CREATE INDEX {} ON {} USING {} ((embedding::vector({})) vector_l2_ops) WITH ({})"
        ).format(sql.Identifier(index_name), table, sql.SQL(self.kind), sql.Literal(dim), options)
