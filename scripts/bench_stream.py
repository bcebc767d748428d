#!/usr/bin/env python
"""Feature streaming throughput: the DataModule's train loader vs binary COPY vs a naive cursor.

Builds a synthetic features.galaxy (N rows, ~28 features, some NULL) in the `benchs_` namespace,
reads it whole three ways, measures the loader's peak memory at N and N/4 in fresh processes,
and compares CPU training steps/s fed by the stream with the same fed from memory. Runs in the
`benchs_` namespace, dropped at the end (so do not run two `benchs_` scripts at once).

    .venv/bin/python scripts/bench_stream.py               # 1 M rows, a few minutes
    .venv/bin/python scripts/bench_stream.py --rows 4000000 --repeat 5 --steps 2000
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from psycopg import sql
from torch.utils.data import DataLoader

from desivoid_ml.data.datamodule import FeatureDataModule
from desivoid_ml.data.query import block_query, copy_columns
from desivoid_ml.db.connection import Database, connect, drop_namespace, open_database
from desivoid_ml.db.copy_out import copy_out
from desivoid_ml.keys import key_hash_sql
from desivoid_ml.memory import peak_rss_mb, rss_mb
from desivoid_ml.models.autoencoder import AutoencoderModule

ALL_TRAIN = {"train": 1.0, "val": 0.0, "test": 0.0}  # the train loader then reads every row


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000, help="feature table rows (N)")
    p.add_argument("--features", type=int, default=28, help="feature columns")
    p.add_argument("--batch-size", type=int, default=1024, help="loader batch size")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="num_workers to try")
    p.add_argument("--repeat", type=int, default=3, help="timed passes per method (best kept)")
    p.add_argument("--steps", type=int, default=400, help="training steps per steps/s figure")
    p.add_argument("--train-workers", type=int, default=0, help="num_workers when training")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="intra-op threads when training (2 cores are shared with PostgreSQL)")
    return p.parse_args()


def feature_columns(n: int) -> tuple[list[str], dict[str, str]]:
    """SELECT items for the table and the DataModule's name -> expression map.

    A mix like the real table: float4 and float8 columns, every third one 10 % NULL, booleans."""
    items, features = [], {}
    for i in range(n):
        name = f"c{i:02d}"
        if i % 7 == 6:
            items.append(f"(g % {i + 2} = 0) AS {name}")
            features[name] = f"{name}::int"
            continue
        value = f"sin(g * {1.3 + i * 0.71:.2f}) * {i + 1}" if i % 2 else "random() * 2 - 1"
        if i % 3 == 1:
            value = f"CASE WHEN random() < 0.1 THEN NULL ELSE {value} END"
        items.append(f"({value}){'::real' if i % 4 < 2 else ''} AS {name}")
        features[name] = name
    return items, features


def make_table(db: Database, name: str, rows: int, items: list[str]) -> None:
    """CREATE TABLE ... AS from generate_series, then VACUUM ANALYZE (hint bits, statistics)."""
    table = sql.Identifier(db.ns.features, name)
    select = ("SELECT g::bigint AS targetid, 'main'::text AS survey, 'bright'::text AS program, "
              + ", ".join(items).replace("%", "%%") + " FROM generate_series(1, %s) g")
    with db.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} AS SELECT t.*, {} AS key_hash FROM (" + select
                             + ") t").format(table, key_hash_sql("t")), (rows,))
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(table))


def datamodule(db: Database, features: dict, table: str, batch: int, workers: int
               ) -> FeatureDataModule:
    """The DataModule with every row in the train split, set up (normalisation computed)."""
    dm = FeatureDataModule(features, dsn=db.dsn, namespace=db.ns.prefix, table=table,
                           fractions=ALL_TRAIN, batch_size=batch, num_workers=workers,
                           sample="all")  # the bench table has no Redrock columns
    dm.setup("fit")
    return dm


def loader_epoch(dm: FeatureDataModule) -> int:
    """Rows yielded by one full epoch of the DataModule's train loader (set up beforehand:
    its normalisation query runs once per training, not once per epoch)."""
    return sum(len(b["x"]) for b in dm.train_dataloader())


def whole_table(db: Database, features: dict) -> sql.Composable:
    """The loader's SELECT (same COALESCE/float4 expressions) over the whole table."""
    return block_query(sql.Identifier(db.ns.features, "galaxy"), features, [sql.SQL("true")])


def copy_limit(db: Database, features: dict) -> int:
    """Binary COPY of the loader's SELECT, decoded with numpy."""
    columns = copy_columns(list(features), with_keys=False)
    with connect(db.dsn, autocommit=True) as conn:
        return sum(len(b) for b in copy_out(conn, whole_table(db, features), columns))


def naive_cursor(db: Database, features: dict) -> int:
    """Named (server-side) cursor, fetchmany(10_000) text-format tuples -> numpy array."""
    query, rows = whole_table(db, features), 0
    with connect(db.dsn) as conn, conn.cursor(name="naive") as cur:
        cur.execute(query)
        while chunk := cur.fetchmany(10_000):
            rows += len(np.asarray(chunk, dtype=np.float64))
    return rows


def cpu_s() -> float:
    """CPU seconds of this process and its reaped children (DataLoader workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(read) -> tuple[int, float, float]:
    """(rows, rows/s, client CPU s) of one read() -> rows."""
    wall, cpu = time.perf_counter(), cpu_s()
    rows = read()
    return rows, rows / (time.perf_counter() - wall), cpu_s() - cpu


def peak_rss_child(db: Database, table: str, features: dict, batch: int
                   ) -> tuple[int, float, float]:
    """In a fresh process: (rows, RSS MB after setup, peak RSS MB during one epoch, workers 0).

    The peak is reset after setup (clear_refs 5), so import-time peaks do not hide the epoch's."""
    dm = datamodule(db, features, table, batch, workers=0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = rss_mb()
    rows = sum(len(b["x"]) for b in dm.train_dataloader())
    return rows, before, peak_rss_mb()


def train_rates(db: Database, features: dict, args: argparse.Namespace) -> tuple[float, float]:
    """CPU training steps/s fed by the stream, then by the same batches held in memory."""
    torch.set_num_threads(args.torch_threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    dm = datamodule(db, features, "galaxy", args.batch_size, args.train_workers)
    in_memory = [b for _, b in zip(range(args.steps), dm.train_dataloader(), strict=False)]
    sources = {"datamodule": dm}, {"train_dataloaders": DataLoader(in_memory, batch_size=None)}
    rates = []
    for source in sources:
        L.seed_everything(0, verbose=False)
        model = AutoencoderModule(len(features), code_dim=16)
        model.attach_data(dm.normalization)
        clock = StepClock()
        trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=args.steps, max_epochs=-1,
                            logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, limit_val_batches=0,
                            num_sanity_val_steps=0, callbacks=[clock])
        trainer.fit(model, **source)
        stamps = clock.stamps[args.steps // 10:]  # skip start-up and the first buffer fill
        rates.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
    return rates[0], rates[1]


class StepClock(Callback):
    """Stamps the end of every training step."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def on_train_batch_end(self, *args) -> None:
        self.stamps.append(time.perf_counter())


def read_rates(db: Database, features: dict, args: argparse.Namespace
               ) -> tuple[float, float, float]:
    """Print the rows/s table; return (limit, best DataModule, naive) rows/s.

    Passes are interleaved (every method once, then again) so that load from other processes
    on this shared machine falls on all methods alike; the best pass of each is kept."""
    methods = [("COPY binary + numpy decode (limit)", lambda: copy_limit(db, features))]
    methods += [(f"DataModule train loader, workers={w}",
                 partial(loader_epoch, datamodule(db, features, "galaxy", args.batch_size, w)))
                for w in args.workers]
    methods.append(("named cursor, fetchmany(10k) tuples", lambda: naive_cursor(db, features)))
    copy_limit(db, features)  # warm the cache once, untimed
    best: dict[str, tuple[int, float, float]] = {}
    for _ in range(args.repeat):
        for label, read in methods:
            run = timed(read)
            best[label] = max(best.get(label, run), run, key=lambda r: r[1])
    limit = best[methods[0][0]][1]
    print(f"\n{'method':<40}{'rows':>12}{'rows/s':>12}{'x limit':>9}{'client CPU s':>14}")
    for label, (rows, rate, cpu) in best.items():
        print(f"{label:<40}{rows:>12,}{rate:>12,.0f}{rate / limit:>9.2f}{cpu:>14.2f}")
    loader = max(methods[1:-1], key=lambda m: best[m[0]][1])[0]
    print(f"best of {args.repeat} interleaved passes; datamodule_rows_per_s below: {loader}")
    return limit, best[loader][1], best[methods[-1][0]][1]


def memory(db: Database, features: dict, batch: int) -> float:
    """Print the loader's peak RSS at N/4 and N rows; return the peak at N."""
    print(f"\n{'peak RSS of one epoch, workers=0':<40}{'rows':>12}{'setup MB':>10}"
          f"{'peak MB':>9}{'epoch +MB':>10}")
    for table in ("galaxy_quarter", "galaxy"):
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            rows, before, peak = pool.submit(peak_rss_child, db, table, features, batch).result()
        print(f"{table:<40}{rows:>12,}{before:>10.0f}{peak:>9.0f}{peak - before:>10.0f}")
    return peak


def main() -> None:
    args = parse_args()
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    db = open_database(prefix="benchs_")
    try:
        items, features = feature_columns(args.features)
        started = time.perf_counter()
        make_table(db, "galaxy", args.rows, items)
        make_table(db, "galaxy_quarter", args.rows // 4, items)
        print(f"table: {args.rows:,} rows x {len(features)} features "
              f"(built in {time.perf_counter() - started:.1f} s)")
        limit, x, naive = read_rates(db, features, args)
        peak = memory(db, features, args.batch_size)
        streamed, in_memory = train_rates(db, features, args)
        print(f"\ntraining steps/s (CPU, batch {args.batch_size}, {args.steps} steps, "
              f"{args.torch_threads} torch thread(s), loader workers={args.train_workers}): "
              f"streamed {streamed:.1f}, in memory {in_memory:.1f} "
              f"(ratio {streamed / in_memory:.2f})")
        print(f"bench_stream rows={args.rows} datamodule_rows_per_s={x:.0f} "
              f"limit_rows_per_s={limit:.0f} naive_rows_per_s={naive:.0f} "
              f"ratio_limit={x / limit:.3f} ratio_naive={x / naive:.2f} peak_rss_mb={peak:.0f}")
    finally:
        drop_namespace(db)


if __name__ == "__main__":
    main()
