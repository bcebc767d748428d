"""SQL for the training matrix: deterministic splits and shards from each galaxy's key hash.

`key_hash` (features.galaxy, see `desivoid_ml.keys`) is a hash of (targetid, survey, program).
Its low bits pick the split, so a galaxy keeps its split when the table grows; bits above pick
the shard, so splits and shards are independent. Rows are read in blocks of heap pages (TID range
scans) so that each block is one cheap query and the order of blocks can be shuffled per epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.keys import KEY_COLUMNS, KEY_WIDTH, SPLIT_BUCKETS, shard_sql, split_bucket_sql

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Fractions:
    """Fractions of galaxies in each split (they must add up to 1)."""

    train: float = 0.8
    val: float = 0.1
    test: float = 0.1

    def __post_init__(self) -> None:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-9 or min(self.train, self.val, self.test) < 0:
            raise ValueError(f"split fractions must be >= 0 and add up to 1, got {total}")

    def bucket_range(self, split: str) -> tuple[int, int]:
        """[low, high) of the split bucket (`keys.split_bucket_sql`) for a split."""
        edges = [
            0,
            round(self.train * SPLIT_BUCKETS),
            round((self.train + self.val) * SPLIT_BUCKETS),
            SPLIT_BUCKETS,
        ]
        index = SPLITS.index(split)
        return edges[index], edges[index + 1]

    def split_of_bucket(self, bucket: int) -> str:
        """The split a split bucket (`keys.split_bucket_sql`) belongs to."""
        return next(
            s for s in SPLITS if self.bucket_range(s)[0] <= bucket < self.bucket_range(s)[1]
        )


def split_predicate(split: str, fractions: Fractions) -> sql.Composable:
    """WHERE clause selecting one split ('all' selects every row)."""
    if split == "all":
        return sql.SQL("true")
    low, high = fractions.bucket_range(split)
    return sql.SQL("{bucket} >= {} AND {bucket} < {}").format(
        sql.Literal(low), sql.Literal(high), bucket=split_bucket_sql()
    )


def sample_predicate(split: str, sample: str) -> sql.Composable:
    """The training sample's SQL condition on the train/val/test splits; 'all' (what is
    embedded) keeps every row."""
    if split == "all" or sample.strip() == "true":
        return sql.SQL("true")
    return sql.SQL("({})").format(sql.SQL(sample))


def shard_predicate(shard: int, shards: int) -> sql.Composable:
    """WHERE clause keeping one of `shards` disjoint shards (bits above the split bits)."""
    if shards == 1:
        return sql.SQL("true")
    return sql.SQL("{} = {}").format(shard_sql(shards), sql.Literal(shard))


def page_predicate(first_page: int, last_page: int | None) -> sql.Composable:
    """Rows stored on heap pages [first, last); last None means to the end of the table."""
    low = sql.SQL("ctid >= {}::tid").format(sql.Literal(f"({first_page},0)"))
    if last_page is None:
        return low
    return sql.SQL("{} AND ctid < {}::tid").format(low, sql.Literal(f"({last_page},0)"))


def feature_select(expressions: dict[str, str], with_keys: bool) -> sql.Composable:
    """key_hash [, targetid, survey, program], then each feature as float4 (NaN when NULL)."""
    parts = [sql.SQL("key_hash")]
    if with_keys:
        width = sql.Literal(KEY_WIDTH)
        parts += [
            sql.SQL("targetid"),
            sql.SQL("survey::char({})").format(width),
            sql.SQL("program::char({})").format(width),
        ]
    parts += [
        sql.SQL("COALESCE(({})::float4, 'NaN'::float4) AS {}").format(
            sql.SQL(expr), sql.Identifier(name)
        )
        for name, expr in expressions.items()
    ]
    return sql.SQL(", ").join(parts)


def block_query(
    table: sql.Identifier,
    expressions: dict[str, str],
    where: list[sql.Composable],
    with_keys: bool = False,
) -> sql.Composable:
    return sql.SQL("SELECT {} FROM {} WHERE {}").format(
        feature_select(expressions, with_keys), table, sql.SQL(" AND ").join(where)
    )


def copy_columns(names: list[str], with_keys: bool) -> list[CopyColumn]:
    """The columns `feature_select` returns, as `copy_out` decodes them."""
    columns = [CopyColumn("key_hash", "bigint")]
    if with_keys:
        columns += KEY_COLUMNS
    return columns + [CopyColumn(f"f{i}", "real") for i in range(len(names))]
