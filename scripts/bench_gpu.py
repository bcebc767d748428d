#!/usr/bin/env python
"""One streamed training epoch on CPU vs GPU: epoch seconds and rows/s for N rows (default 1 M).

Builds a synthetic features table in the `benchg_` namespace (dropped at the end), trains the
ae16 model for one epoch with `trainer=cpu` and with `trainer=gpu` (16-mixed) on the same stream,
and prints a last line `bench_gpu rows= cpu_epoch_s= gpu_epoch_s= cpu_rows_s= gpu_rows_s= ratio=`.
Run through scripts/gpu_check.sh on a machine with a CUDA build of torch.
"""

from __future__ import annotations

import argparse
import time

import lightning as L
import torch
from bench_stream import ALL_TRAIN, feature_columns, make_table

from desivoid_ml.data.datamodule import FeatureDataModule
from desivoid_ml.db.connection import drop_namespace, open_database
from desivoid_ml.models.autoencoder import AutoencoderModule


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000, help="feature table rows")
    p.add_argument("--features", type=int, default=28, help="feature columns")
    p.add_argument("--batch-size", type=int, default=4096, help="rows per batch")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers")
    return p.parse_args()


def epoch_seconds(dm: FeatureDataModule, accelerator: str, precision: str) -> float:
    """Wall time of one training epoch (no validation) from the stream."""
    model = AutoencoderModule(n_features=dm.n_features, code_dim=16)
    model.attach_data(dm.normalization, dm.pca_basis)
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=1,
        precision=precision,
        max_epochs=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    started = time.perf_counter()
    trainer.fit(model, train_dataloaders=dm.train_dataloader())
    return time.perf_counter() - started


def main() -> None:
    args = parse_args()
    db = open_database("benchg_")
    try:
        items, features = feature_columns(args.features)
        make_table(db, "galaxy", args.rows, items)
        dm = FeatureDataModule(
            features,
            dsn=db.dsn,
            namespace=db.ns.prefix,
            fractions=ALL_TRAIN,
            sample="all",  # the bench table has no Redrock columns: every row
            batch_size=args.batch_size,
            num_workers=args.workers,
            pca_components=16,
        )
        dm.setup("fit")
        cpu = epoch_seconds(dm, "cpu", "32-true")
        print(
            f"cpu: one epoch of {args.rows:,} rows in {cpu:.1f} s ({args.rows / cpu:,.0f} rows/s)"
        )
        if not torch.cuda.is_available():
            print("no CUDA device: GPU figures not measured")
            gpu = float("nan")
        else:
            gpu = epoch_seconds(dm, "gpu", "16-mixed")
            name = torch.cuda.get_device_name(0)
            print(f"gpu ({name}): {gpu:.1f} s ({args.rows / gpu:,.0f} rows/s)")
        print(
            f"bench_gpu rows={args.rows} cpu_epoch_s={cpu:.2f} gpu_epoch_s={gpu:.2f} "
            f"cpu_rows_s={args.rows / cpu:.0f} gpu_rows_s={args.rows / gpu:.0f} "
            f"ratio={cpu / gpu:.2f}"
        )
    finally:
        drop_namespace(db)


if __name__ == "__main__":
    main()
