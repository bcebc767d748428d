"""The run registry `ml.runs`: training registers each run; embedding and reports look runs up."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.errors import DesivoidError


@dataclass(frozen=True)
class Run:
    run_id: str
    created: datetime
    model_kind: str
    code_dim: int
    checkpoint_path: str | None
    metrics: dict
    features: dict  # name -> SQL expression, in the order the model was trained with
    normalization: dict
    config: dict
    git_commit: str | None


def new_run_id(kind: str, code_dim: int) -> str:
    """e.g. ae16-20261126-004512-3fa2: readable, sortable, unique across machines."""
    return f"{kind}{code_dim}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def register_run(db: Database, model, trainer, metrics: dict[str, float]) -> str:
    """Insert the finished run; returns its id."""
    hp = model.hparams
    callback = trainer.checkpoint_callback
    checkpoint = (callback.best_model_path or callback.last_model_path) if callback else None
    run_id = new_run_id(hp.kind, hp.code_dim)
    info = model.run_info
    with db.connect() as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (run_id, model_kind, code_dim, config, checkpoint_path, "
                "metrics, git_commit, features, normalization) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ).format(sql.Identifier(db.ns.ml, "runs")),
            (
                run_id,
                hp.kind,
                hp.code_dim,
                json.dumps(info.get("config", {})),
                checkpoint or None,
                json.dumps(metrics),
                info.get("git_commit"),
                json.dumps(list(info.get("features", {}).items())),  # a list: jsonb reorders keys
                json.dumps(model.normalization.to_dict()),
            ),
        )
    return run_id


def list_runs(db: Database) -> list[Run]:
    """All runs, newest first."""
    with db.connect() as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT run_id, created, model_kind, code_dim, checkpoint_path, metrics, features, "
                "normalization, config, git_commit FROM {} ORDER BY created DESC"
            ).format(sql.Identifier(db.ns.ml, "runs"))
        ).fetchall()
    return [Run(*row[:6], dict(row[6]), *row[7:]) for row in rows]


def get_run(db: Database, run_id: str | None) -> Run:
    """A run by id, or the newest for None/'latest'; a clear error when there is none."""
    runs = list_runs(db)
    if not runs:
        raise DesivoidError("no training runs registered; run `python train.py experiment=ae16`")
    if run_id in (None, "latest"):
        return runs[0]
    for run in runs:
        if run.run_id == run_id:
            return run
    raise DesivoidError(f"unknown run {run_id!r}; `desivoid runs` lists the {len(runs)} known")
