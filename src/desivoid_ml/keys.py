"""The galaxy key and its hash, defined once.

A galaxy is (targetid, survey, program). Survey and program travel through binary COPY as
char(KEY_WIDTH) so every tuple has a fixed size. `key_hash` (a column of features.galaxy) is a
64-bit hash of the key: its low SPLIT_BITS bits pick the train/val/test split (a galaxy keeps its
split when the table grows), the bits from SHARD_SHIFT up pick the DataLoader/DDP shard, and the
bits from SAMPLE_SHIFT up pick reproducible random subsets (the report's sample).
"""

from __future__ import annotations

from psycopg import sql

from desivoid_ml.db.copy_format import CopyColumn

KEY_WIDTH = 16
KEY_COLUMNS = (
    CopyColumn("targetid", "bigint"),
    CopyColumn.text("survey", KEY_WIDTH),
    CopyColumn.text("program", KEY_WIDTH),
)  # as binary COPY carries the key both ways
SPLIT_BITS = 10
SPLIT_BUCKETS = 1 << SPLIT_BITS
SHARD_SHIFT = SPLIT_BITS
SAMPLE_SHIFT = 20
SAMPLE_BUCKETS = 1024


def key_hash_sql(alias: str | None = None) -> sql.Composable:
    """The SQL expression of `key_hash` over the key columns (of table `alias` if given)."""
    col = (lambda c: sql.Identifier(alias, c)) if alias else sql.Identifier
    return sql.SQL("hashtextextended({}::text || '/' || {} || '/' || {}, 0)").format(
        col("targetid"), col("survey"), col("program")
    )


def split_bucket_sql() -> sql.Composable:
    """`key_hash`'s split bucket, 0 .. SPLIT_BUCKETS - 1."""
    return sql.SQL("(key_hash & {})").format(sql.Literal(SPLIT_BUCKETS - 1))


def shard_sql(shards: int) -> sql.Composable:
    """The shard of a row, 0 .. shards - 1, from the bits above the split bits."""
    return sql.SQL("((key_hash >> {}) & 2147483647) % {}").format(
        sql.Literal(SHARD_SHIFT), sql.Literal(shards)
    )


def sample_bucket_sql(alias: str | None = None) -> sql.Composable:
    """A reproducible bucket 0 .. SAMPLE_BUCKETS - 1 for drawing subsets."""
    column = sql.Identifier(alias, "key_hash") if alias else sql.Identifier("key_hash")
    return sql.SQL("(({} >> {}) & {})").format(
        column, sql.Literal(SAMPLE_SHIFT), sql.Literal(SAMPLE_BUCKETS - 1)
    )
