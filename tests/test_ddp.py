"""`trainer=ddp` on 2 CPU processes (gloo): the ranks see disjoint shards covering the split
(its training-sample rows)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from featuretable import make_feature_table
from psycopg import sql

from desivoid_ml.data.query import Fractions, split_predicate
from desivoid_ml.features.galaxy_samples import sample_condition

ROOT = Path(__file__).resolve().parents[1]


def test_ddp_two_cpu_ranks_see_disjoint_complete_shards(db, tmp_path) -> None:
    make_feature_table(db, rows=6000)
    keys_dir = tmp_path / "keys"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests"))
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            f"db.dsn='{db.dsn}'",
            f"db.namespace={db.ns.prefix}",
            "~data.features",
            "+data.features={a:a,b:b,c:c}",
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            "trainer.max_epochs=1",
            "trainer.enable_progress_bar=false",
            "data.num_workers=2",
            "data.batch_size=256",
            "data.block_pages=8",
            "callbacks.early_stopping=null",
            f"paths.log_dir={tmp_path}",
            "+callbacks.record_keys._target_=keyrecorder.KeyRecorder",
            f"+callbacks.record_keys.out_dir={keys_dir}",
            "test=false",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ranks = [np.load(keys_dir / f"rank{r}_epoch0.npy") for r in range(2)]
    assert all(len(k) > 1000 for k in ranks)
    assert not set(ranks[0].tolist()) & set(ranks[1].tolist())
    seen = np.concatenate(ranks)
    assert len(seen) == len(set(seen.tolist()))
    with db.connect() as conn:
        expected = {
            r[0]
            for r in conn.execute(
                sql.SQL("SELECT key_hash FROM {} WHERE {} AND {}").format(
                    sql.Identifier(db.ns.features, "galaxy"),
                    split_predicate("train", Fractions()),
                    sql.SQL(sample_condition("good_galaxy")),  # the default training sample
                )
            )
        }
    assert set(seen.tolist()) == expected
