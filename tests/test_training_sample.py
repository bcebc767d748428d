"""The training sample (`data.sample`): the splits, the normalisation and the PCA basis come
from it, every galaxy is still predicted (embedded); a bad name or an empty sample is one line,
exit status 2, and nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from featuretable import FEATURES, make_feature_table
from psycopg import sql
from trainconfig import train_config

from desivoid_ml.data.datamodule import FeatureDataModule
from desivoid_ml.errors import DesivoidError
from desivoid_ml.training import train

ROOT = Path(__file__).resolve().parents[1]
# The rows good_galaxy drops from featuretable's table, said directly in SQL
NOT_GOOD = "spectype <> 'GALAXY' OR zwarn <> 0 OR deltachi2 <= 40 OR z NOT BETWEEN 0.01 AND 0.6"


@pytest.fixture(scope="module")
def sample_db(module_db):
    make_feature_table(module_db, rows=6000)
    return module_db


def _keys(db, where: str) -> set[int]:
    with db.connect() as conn:
        rows = conn.execute(
            sql.SQL("SELECT key_hash FROM {} WHERE {}").format(
                sql.Identifier(db.ns.features, "galaxy"), sql.SQL(where)
            )
        ).fetchall()
    return {r[0] for r in rows}


def _streamed(loader) -> list[int]:
    return [int(k) for batch in loader for k in batch["key_hash"]]


def _module(db, sample: str = "good_galaxy", **kwargs) -> FeatureDataModule:
    dm = FeatureDataModule(
        FEATURES, dsn=db.dsn, namespace=db.ns.prefix, batch_size=512, sample=sample, **kwargs
    )
    dm.setup("fit")
    return dm


def test_splits_hold_the_sample_and_prediction_every_galaxy(sample_db) -> None:
    dm = _module(sample_db)
    split_keys = [
        _streamed(loader())
        for loader in (dm.train_dataloader, dm.val_dataloader, dm.test_dataloader)
    ]
    flat = [k for keys in split_keys for k in keys]
    dropped = _keys(sample_db, NOT_GOOD)
    assert 600 < len(dropped) < 1500  # STAR, ZWARN, DELTACHI2 rows
    assert len(flat) == len(set(flat)) == 6000 - len(dropped)
    assert not set(flat) & dropped
    predicted = _streamed(dm.predict_dataloader())
    assert sorted(predicted) == sorted(_keys(sample_db, "true"))  # every galaxy, once
    assert len(dm.train_dataloader()) == -(-len(split_keys[0]) // 512)  # counted batches


def test_normalisation_and_pca_come_from_the_sample(sample_db) -> None:
    good = _module(sample_db, pca_components=2)
    every = _module(sample_db, sample="all", pca_components=2)
    with sample_db.connect() as conn:
        train = good.spec("train")  # the split's rows, read back the way training reads them
        expected = conn.execute(
            sql.SQL("SELECT avg(a), avg(b) FROM {} WHERE NOT ({}) AND key_hash = ANY(%s)").format(
                sql.Identifier(sample_db.ns.features, "galaxy"), sql.SQL(NOT_GOOD)
            ),
            (_streamed(good.train_dataloader()),),
        ).fetchone()
    assert train.sample != "true"
    assert good.normalization.mean[:2] == pytest.approx(list(expected), rel=1e-9)
    assert good.normalization.mean[0] != pytest.approx(every.normalization.mean[0], rel=1e-6)
    assert not np.allclose(np.abs(good.pca_basis), np.abs(every.pca_basis), atol=1e-9)


def test_an_empty_sample_is_one_line_and_writes_nothing(db, tmp_path) -> None:
    make_feature_table(db, rows=2000)
    with db.connect() as conn:
        conn.execute(
            sql.SQL("UPDATE {} SET spectype = 'STAR'").format(
                sql.Identifier(db.ns.features, "galaxy")
            )
        )
    with pytest.raises(DesivoidError, match="data.sample='good_galaxy' selects no galaxy") as err:
        train(train_config(db, tmp_path))
    assert "\n" not in str(err.value)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    with db.connect() as conn:
        runs = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(db.ns.ml, "runs"))
        ).fetchone()[0]
    assert runs == 0


def test_an_unknown_sample_name_exits_2_with_one_line(sample_db, tmp_path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            f"db.dsn='{sample_db.dsn}'",
            f"db.namespace={sample_db.ns.prefix}",
            "data.sample=nope",
            f"paths.output_dir={tmp_path}/out",
            f"paths.log_dir={tmp_path}/logs",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2, run.stderr[-2000:]
    assert len(lines) == 1 and "sample 'nope' is not defined" in lines[0], lines
    assert not list(tmp_path.rglob("*.ckpt"))
