"""The run registry `ml.runs`: training registers each run; embedding and reports look runs up."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from psycopg import sql

from desivoid_ml.data.query import Fractions
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
    config: dict  # the resolved training config, passwords masked
    git_commit: str | None

    @property
    def feature_table(self) -> str:
        """The features.<table> it was trained on (`data.table`; galaxy if none stored)."""
        return self._stored("data", "table") or "galaxy"

    @property
    def fractions(self) -> Fractions:
        """Its split fractions (`data.fractions`; the defaults if none stored)."""
        stored = self._stored("data", "fractions")
        return Fractions(**stored) if stored else Fractions()

    @property
    def loss_csv(self) -> Path | None:
        """The newest metrics.csv its CSV logger wrote (`logger.csv`), if any."""
        save_dir, name = (
            self._stored("logger", "csv", "save_dir"),
            self._stored("logger", "csv", "name"),
        )
        if not save_dir:
            return None
        found = Path(save_dir, name or "").glob("version_*/metrics.csv")
        return max(found, key=_version_number, default=None)

    def _stored(self, *keys: str):
        node = self.config or {}
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node


def _version_number(path: Path) -> int:
    """N of a Lightning logger's version_N folder (version_10 comes after version_9)."""
    return int(path.parent.name.removeprefix("version_") or 0)


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
    insert_run(
        db,
        run_id,
        hp.kind,
        hp.code_dim,
        features=info.get("features", {}),
        normalization=model.normalization.to_dict(),
        config=info.get("config", {}),
        checkpoint_path=checkpoint or None,
        metrics=metrics,
        git_commit=info.get("git_commit"),
    )
    return run_id


def insert_run(
    db: Database,
    run_id: str,
    kind: str,
    code_dim: int,
    features: dict[str, str],
    normalization: dict,
    config: dict | None = None,
    checkpoint_path: str | None = None,
    metrics: dict | None = None,
    git_commit: str | None = None,
) -> None:
    """One ml.runs row (benchmarks use it directly for runs made without training)."""
    with db.connect() as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (run_id, model_kind, code_dim, config, checkpoint_path, "
                "metrics, git_commit, features, normalization) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ).format(sql.Identifier(db.ns.ml, "runs")),
            (
                run_id,
                kind,
                code_dim,
                json.dumps(config or {}),
                checkpoint_path,
                json.dumps(metrics or {}),
                git_commit,
                json.dumps(list(features.items())),  # a list: jsonb would reorder the keys
                json.dumps(normalization),
            ),
        )


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
