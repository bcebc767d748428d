"""`desivoid embed`: every galaxy through a run's encoder, with the run's own normalisation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import torch
from psycopg import sql

from desivoid_ml.data.datamodule import FeatureDataModule
from desivoid_ml.data.stream import FeatureStream
from desivoid_ml.db.connection import Database
from desivoid_ml.embed import store
from desivoid_ml.errors import DesivoidError
from desivoid_ml.models.autoencoder import AutoencoderModule
from desivoid_ml.progress import NullReporter, Reporter
from desivoid_ml.runs import Run, get_run


@dataclass
class EmbedSummary:
    run_id: str
    rows: int
    dim: int
    write_s: float
    index_s: float
    hnsw_s: float = 0.0


def load_model(run: Run) -> AutoencoderModule:
    """The run's trained module (normalisation restored from the checkpoint)."""
    if not run.checkpoint_path or not Path(run.checkpoint_path).exists():
        raise DesivoidError(f"run {run.run_id}: checkpoint {run.checkpoint_path} is missing")
    model = AutoencoderModule.load_from_checkpoint(
        run.checkpoint_path, map_location="cpu", weights_only=False
    )
    model.eval()
    return model


def check_features(db: Database, run: Run, table: str = "galaxy") -> None:
    """The run's feature expressions must still evaluate on the feature table."""
    expressions = sql.SQL(", ").join(
        sql.SQL("({})").format(sql.SQL(e)) for e in run.features.values()
    )
    try:
        with db.connect() as conn:
            conn.execute(
                sql.SQL("SELECT {} FROM {} LIMIT 0").format(
                    expressions, sql.Identifier(db.ns.features, table)
                )
            )
    except psycopg.errors.UndefinedTable as exc:
        raise DesivoidError("features.galaxy does not exist; run `desivoid features`") from exc
    except psycopg.Error as exc:
        raise DesivoidError(
            f"run {run.run_id}'s feature list no longer matches features.{table} "
            f"({str(exc).splitlines()[0]}); rebuild the features with the run's config or retrain"
        ) from exc


def embed(
    db: Database,
    run_id: str | None,
    batch_size: int = 8192,
    num_workers: int = 0,
    reporter: Reporter | None = None,
) -> EmbedSummary:
    """Encode every row of features.galaxy and store the codes as the run's partition."""
    reporter = reporter or NullReporter()
    run = get_run(db, run_id)
    check_features(db, run)
    model = load_model(run)
    if list(run.features) != model.normalization.features:
        raise DesivoidError(
            f"run {run.run_id}: registry and checkpoint disagree on the feature "
            "order; re-register the run from its checkpoint"
        )
    datamodule = FeatureDataModule(
        run.features,
        dsn=db.dsn,
        namespace=db.ns.prefix,
        batch_size=batch_size,
        num_workers=num_workers,
    )
    total = _count(db)
    with reporter.task(f"embedding with {run.run_id}", total) as step:
        timings = store.write_run(
            db,
            run.run_id,
            run.code_dim,
            _codes(model, datamodule),
            on_rows=step.advance,
            reporter=reporter,
        )
    return EmbedSummary(
        run.run_id,
        int(timings["rows"]),
        run.code_dim,
        timings["write_s"],
        timings["index_s"],
        timings["hnsw_s"],
    )


def _codes(
    model: AutoencoderModule, datamodule: FeatureDataModule
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    stream = FeatureStream(datamodule.spec("all", with_keys=True), rank=0, world=1)
    with torch.no_grad():
        for batch in stream:
            codes = model.encode(batch["x"]).numpy()
            yield batch["targetid"].numpy(), batch["survey"], batch["program"], codes


def _count(db: Database) -> int:
    with db.connect() as conn:
        return conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(db.ns.features, "galaxy"))
        ).fetchone()[0]
