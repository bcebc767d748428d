"""`desivoid embed`: every galaxy through a run's encoder, with the run's own normalisation.

What is read comes from the run itself: its feature expressions (ml.runs) and the feature table
it was trained on (its stored config, `data.table`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import torch
from psycopg import sql

from desivoid_ml.data.stream import FeatureStream, StreamSpec
from desivoid_ml.db.connection import Database
from desivoid_ml.embed import insert_order, store
from desivoid_ml.errors import DesivoidError, first_line
from desivoid_ml.models.autoencoder import AutoencoderModule
from desivoid_ml.models.losses import per_row_mse
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
        raise DesivoidError(f"features.{table} does not exist; run `desivoid features`") from exc
    except psycopg.Error as exc:
        raise DesivoidError(
            f"run {run.run_id}'s feature list no longer matches features.{table} "
            f"({first_line(exc)}); rebuild the features with the run's config or retrain"
        ) from exc


def embed(
    db: Database,
    run_id: str | None,
    batch_size: int = 8192,
    reporter: Reporter | None = None,
) -> EmbedSummary:
    """Encode every row of the run's feature table and store the codes as its partition."""
    reporter = reporter or NullReporter()
    run = get_run(db, run_id)
    table = run.feature_table
    check_features(db, run, table)
    model = load_model(run)
    if list(run.features) != model.normalization.features:
        raise DesivoidError(
            f"run {run.run_id}: registry and checkpoint disagree on the feature "
            "order; re-register the run from its checkpoint"
        )
    spec = StreamSpec(
        dsn=db.dsn,
        schema=db.ns.features,
        table=table,
        features=run.features,
        split="all",
        batch_size=batch_size,
        with_keys=True,
    )
    total = _count(db, table)
    centroids = _insert_cells(model, spec, total, reporter)
    with reporter.task(f"embedding with {run.run_id}", total) as step:
        timings = store.write_run(
            db,
            run.run_id,
            run.code_dim,
            _codes(model, spec),
            on_rows=step.advance,
            reporter=reporter,
            with_recon=True,
            centroids=centroids,
        )
    return EmbedSummary(
        run.run_id,
        int(timings["rows"]),
        run.code_dim,
        timings["write_s"],
        timings["index_s"],
        timings["hnsw_s"],
    )


def _insert_cells(
    model: AutoencoderModule, spec: StreamSpec, total: int, reporter: Reporter
) -> np.ndarray | None:
    """Centroids of the insertion order's cells, fitted on one key-hash shard of the table: a
    fair sample, where the stream's first rows are one patch of sky (embed/insert_order.py)."""
    cells = insert_order.cells_for(total)
    shards = max(1, total // insert_order.sample_rows(cells))
    codes, done = [], 0
    with reporter.task(f"{cells} insertion cells from 1/{shards} of the rows", total) as step:
        for batch in _codes(model, spec, shard_of=shards):  # the scan reads every row
            codes.append(batch[3])
            seen = min(total - done, len(batch[3]) * shards)
            step.advance(seen)
            done += seen
        step.advance(total - done)
    if not codes:
        return None
    return insert_order.fit_cells(np.concatenate(codes), cells)


def _codes(
    model: AutoencoderModule, spec: StreamSpec, shard_of: int = 1
) -> Iterator[tuple[np.ndarray, ...]]:
    """(targetid, survey, program, codes, reconstruction error) per batch; with shard_of = n,
    those of the first of n key-hash shards only."""
    stream = FeatureStream(spec, rank=0, world=shard_of)
    with torch.no_grad():
        for batch in stream:
            codes, errors = encode_and_score(model, batch["x"])
            yield batch["targetid"].numpy(), batch["survey"], batch["program"], codes, errors


def encode_and_score(model: AutoencoderModule, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Codes of raw rows and each row's reconstruction error: the masked MSE, in the run's
    normalised inputs, of decoding the (mean) code, as the training loss counts it."""
    z, mask = model.normalization.apply(x)
    codes = model.encode(x)
    errors = per_row_mse(model.decode(codes), z, mask)
    return codes.numpy(), errors.numpy().astype(np.float32)


def _count(db: Database, table: str) -> int:
    with db.connect() as conn:
        return conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(db.ns.features, table))
        ).fetchone()[0]
