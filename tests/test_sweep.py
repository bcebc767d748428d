"""Optuna sweeps through Hydra with the study in PostgreSQL: shared by processes, robust to a
crashing trial, loud about a wrong metric."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from featuretable import make_feature_table
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]


def _sweep(db, tmp_path: Path, *overrides: str) -> subprocess.Popen:
    args = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        f"db.dsn='{db.dsn}'",
        f"db.namespace={db.ns.prefix}",
        "~data.features",
        "+data.features={a:a,b:b,c:c}",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "callbacks.early_stopping=null",
        f"paths.log_dir={tmp_path}",
        "data.block_pages=16",
        *overrides,
    ]
    return subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _trials(db, study: str) -> list[tuple[int, str]]:
    with db.connect() as conn:
        return conn.execute(
            sql.SQL(
                "SELECT t.number, t.state FROM {}.trials t JOIN {}.studies s USING (study_id) "
                "WHERE s.study_name = %s ORDER BY t.trial_id"
            ).format(
                sql.Identifier(f"{db.ns.prefix}optuna"), sql.Identifier(f"{db.ns.prefix}optuna")
            ),
            (study,),
        ).fetchall()


def test_two_processes_share_one_study(db, tmp_path) -> None:
    make_feature_table(db, rows=4000)
    runs = [
        _sweep(db, tmp_path / f"p{i}", "hparams_search=optuna", "hydra.sweeper.n_trials=2")
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    trials = _trials(db, "desivoid_train")
    assert len(trials) == 4 and {state for _, state in trials} == {"COMPLETE"}
    assert sorted(n for n, _ in trials) == [0, 1, 2, 3]


def test_a_crashing_trial_is_recorded_failed_and_the_sweep_goes_on(db, tmp_path) -> None:
    make_feature_table(db, rows=4000)
    run = _sweep(
        db,
        tmp_path,
        "hparams_search=failing",
        f"hydra.searchpath=[file://{ROOT / 'tests' / 'configs'}]",
    )
    output = run.communicate(timeout=300)[0]
    assert run.returncode == 0, output[-3000:]
    states = sorted(state for _, state in _trials(db, "failing_train"))
    assert states == ["COMPLETE", "FAIL"]


def test_wrong_metric_name_stops_the_sweep(db, tmp_path) -> None:
    make_feature_table(db, rows=4000)
    run = _sweep(
        db,
        tmp_path,
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=2",
        "optimized_metric=val/typo",
    )
    output = run.communicate(timeout=300)[0]
    assert run.returncode != 0
    assert "val/typo" in output and "never logged" in output
