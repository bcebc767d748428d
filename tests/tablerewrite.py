"""Rewrite features.galaxy under a running test, as `desivoid features` does (drop, create anew
in another row order): same rows, different heap pages."""

from __future__ import annotations

import psycopg
from lightning.pytorch.callbacks import Callback
from psycopg import sql


def rewrite_table(dsn: str, schema: str, table: str = "galaxy") -> None:
    """Replace the table by a shuffled copy of itself, in one transaction."""
    name = sql.Identifier(schema, table)
    copy = sql.Identifier(schema, f"{table}_rewrite")
    with psycopg.connect(dsn) as conn:
        conn.execute(
            sql.SQL("CREATE TABLE {} AS SELECT * FROM {} ORDER BY random()").format(copy, name)
        )
        conn.execute(sql.SQL("DROP TABLE {}").format(name))
        conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(copy, sql.Identifier(table)))


class RewriteTableAt(Callback):
    """Rewrites the table at a given epoch and batch of training."""

    def __init__(self, dsn: str, schema: str, epoch: int, batch: int):
        self.dsn, self.schema, self.epoch, self.batch = dsn, schema, epoch, batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            rewrite_table(self.dsn, self.schema)
