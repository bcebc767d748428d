"""Optuna sweeps through the project's own Hydra sweeper, with the study in PostgreSQL: shared
by processes and re-runs, robust to a crashing trial, loud about a wrong metric, pruning
hopeless trials, refusing bad input before any trial is recorded, and never printing a
password."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from featuretable import make_feature_table
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
TEST_CONFIGS = f"hydra.searchpath=[file://{ROOT / 'tests' / 'configs'}]"
PASSWORD = "s3cret-Pw9"  # the embedded server trusts its socket: a password is accepted, unused
MAX_EPOCHS = 3


def _sweep(db, tmp_path: Path, *overrides: str, dsn: str | None = None) -> subprocess.Popen:
    args = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        f"db.dsn='{dsn or db.dsn}'",
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


def _finish(run: subprocess.Popen) -> str:
    return run.communicate(timeout=300)[0]


def _trials(db, study: str) -> list[tuple[int, str]]:
    """(number, state) of the study's trials, read straight from Optuna's tables."""
    schema = sql.Identifier(db.ns.optuna)
    with db.connect() as conn:
        if (
            conn.execute("SELECT to_regclass(%s)", (f"{db.ns.optuna}.trials",)).fetchone()[0]
            is None
        ):
            return []
        return conn.execute(
            sql.SQL(
                "SELECT t.number, t.state::text FROM {}.trials t JOIN {}.studies s "
                "USING (study_id) WHERE s.study_name = %s ORDER BY t.number"
            ).format(schema, schema),
            (study,),
        ).fetchall()


def _password_free(db, tmp_path: Path, outputs: list[str]) -> None:
    """No console line, file written, or Optuna table holds the password."""
    assert not [o for o in outputs if PASSWORD in o]
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and PASSWORD in p.read_text("latin1")]
    with db.connect() as conn:
        dump = conn.execute(
            sql.SQL(
                "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM {}.studies) t UNION ALL "
                "SELECT string_agg(a::text, ' ') FROM {}.trial_user_attributes a"
            ).format(sql.Identifier(db.ns.optuna), sql.Identifier(db.ns.optuna))
        ).fetchall()
    assert PASSWORD not in str(dump)


def test_two_processes_share_one_study_and_sweeps_lists_it(db, tmp_path, monkeypatch) -> None:
    make_feature_table(db, rows=4000)
    dsn = f"{db.dsn}&password={PASSWORD}"
    runs = [
        _sweep(db, tmp_path / f"p{i}", "hparams_search=optuna", "hydra.sweeper.n_trials=3", dsn=dsn)
        for i in range(2)
    ]
    outputs = [_finish(p) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    trials = _trials(db, "desivoid_train")
    assert [n for n, _ in trials] == [0, 1, 2]  # n_trials in all, no number twice
    assert {state for _, state in trials} == {"COMPLETE"}
    _password_free(db, tmp_path, outputs)

    from typer.testing import CliRunner

    from desivoid_ml.cli import app

    monkeypatch.setenv("DESIVOID_DSN", db.dsn)
    monkeypatch.setenv("DESIVOID_NAMESPACE", db.ns.prefix)
    listed = CliRunner().invoke(app, ["sweeps", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    (study,) = json.loads(listed.output)
    assert (study["study"], study["complete"], study["pruned"], study["failed"]) == (
        "desivoid_train", 3, 0, 0,
    )  # fmt: skip
    with db.connect() as conn:
        runs_by_id = dict(
            conn.execute(
                sql.SQL("SELECT run_id, metrics->>'val/recon_mse_best' FROM {}").format(
                    sql.Identifier(db.ns.ml, "runs")
                )
            ).fetchall()
        )
    assert float(runs_by_id[study["best run"]]) == pytest.approx(study["best value"])
    assert set(json.loads(study["best params"])) == {
        "model.optimizer.lr", "model.hidden", "model.dropout", "data.batch_size",
    }  # fmt: skip
    shown = CliRunner().invoke(app, ["sweeps", "show", "desivoid_train", "--format", "csv"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith("trial,state,value,") and len(lines) == 4
    assert min(float(line.split(",")[2]) for line in lines[1:]) == study["best value"]
    results = [yaml.safe_load(p.read_text()) for p in tmp_path.rglob("optimization_results.yaml")]
    assert len(results) == 2  # one per process: the later one saw every trial
    assert min(r["best_value"] for r in results) == study["best value"]


def test_a_crashing_trial_is_recorded_failed_and_the_sweep_goes_on(db, tmp_path) -> None:
    make_feature_table(db, rows=4000)
    output = _finish(run := _sweep(db, tmp_path, "hparams_search=failing", TEST_CONFIGS))
    assert run.returncode == 0, output[-3000:]
    assert sorted(state for _, state in _trials(db, "failing_train")) == ["COMPLETE", "FAIL"]


def test_wrong_metric_name_stops_the_sweep(db, tmp_path) -> None:
    make_feature_table(db, rows=4000)
    run = _sweep(
        db,
        tmp_path,
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=2",
        "optimized_metric=val/typo",
    )
    output = _finish(run)
    assert run.returncode == 2
    assert "error: optimized_metric 'val/typo' was never logged" in output
    assert _trials(db, "desivoid_train") == [(0, "FAIL")]  # stopped: no second trial, none RUNNING


def test_a_hopeless_trial_is_pruned_and_a_rerun_resumes_the_study(db, tmp_path) -> None:
    """Trial 0 keeps the model's PCA start (lr 1e-9: error ~1e-14) for every epoch; the re-run
    adds trial 1, which moves away from it (lr 0.01: error ~1e-3): worse than trial 0 at its
    first epoch, it stops there as PRUNED."""
    make_feature_table(db, rows=4000)
    common = ("hparams_search=pruning", TEST_CONFIGS, f"trainer.max_epochs={MAX_EPOCHS}")
    first = _sweep(db, tmp_path / "a", *common, "model.optimizer.lr=interval(1e-9, 1e-9)")
    output = _finish(first)
    assert first.returncode == 0, output[-3000:]
    second = _sweep(
        db,
        tmp_path / "b",
        *common,
        "model.optimizer.lr=interval(0.01, 0.01)",
        "hydra.sweeper.n_trials=2",
    )
    output = _finish(second)
    assert second.returncode == 0, output[-3000:]
    assert _trials(db, "pruning_train") == [(0, "COMPLETE"), (1, "PRUNED")]
    with db.connect() as conn:
        steps = dict(
            conn.execute(
                sql.SQL(
                    "SELECT t.number, count(*) FROM {}.trial_intermediate_values v "
                    "JOIN {}.trials t USING (trial_id) GROUP BY t.number"
                ).format(sql.Identifier(db.ns.optuna), sql.Identifier(db.ns.optuna))
            ).fetchall()
        )
    assert steps == {0: MAX_EPOCHS, 1: 1}  # reported every epoch; the pruned one stopped early


@pytest.mark.slow
def test_two_objectives_with_nsga2_record_both_values(db, tmp_path) -> None:
    make_feature_table(db, rows=4000)
    overrides = ("hparams_search=optuna_nsga2", "experiment=vae16", "hydra.sweeper.n_trials=2")
    output = _finish(run := _sweep(db, tmp_path, *overrides, "register_run=false"))
    assert run.returncode == 0, output[-3000:]
    schema = sql.Identifier(db.ns.optuna)
    with db.connect() as conn:
        values = conn.execute(
            sql.SQL(
                "SELECT t.number, array_agg(v.objective ORDER BY v.objective) FROM {}.trials t "
                "JOIN {}.trial_values v USING (trial_id) GROUP BY t.number ORDER BY 1"
            ).format(schema, schema)
        ).fetchall()
    assert values == [(0, [0, 1]), (1, [0, 1])]
    assert _trials(db, "desivoid_train_pareto") == [(0, "COMPLETE"), (1, "COMPLETE")]


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        pytest.param(  # the names are checked in-process too (test_sweep_parts)
            ["hydra.sweeper.sampler.name=bogus"], "unknown sampler 'bogus'", marks=pytest.mark.slow
        ),
        pytest.param(
            ["hydra.sweeper.pruner.name=bogus"], "unknown pruner 'bogus'", marks=pytest.mark.slow
        ),
        pytest.param(
            ["+hydra.sweeper.params.seed='interval(1,'"],
            "cannot parse 'seed=interval(1,'",
            marks=pytest.mark.slow,  # the message is tested in-process (test_sweep_parts)
        ),
        pytest.param(
            ["+hydra.sweeper.params.dropuot='choice(0.1,0.2)'"],
            "the search space does not compose",
            marks=pytest.mark.slow,
        ),
        (
            [f"hydra.sweeper.storage='postgresql+psycopg://u:{PASSWORD}@127.0.0.1:9/x'"],
            "cannot reach the study storage postgresql+psycopg://u@127.0.0.1:9/x",
        ),
    ],
    ids=["sampler", "pruner", "search-space", "unknown-key", "storage"],
)
def test_bad_input_is_one_line_and_records_nothing(db, tmp_path, overrides, named) -> None:
    run = _sweep(db, tmp_path, "hparams_search=optuna", *overrides)
    output = _finish(run)
    assert run.returncode == 2, output[-3000:]
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and named in errors[0], output[-3000:]
    assert PASSWORD not in output
    assert _trials(db, "desivoid_train") == []
    assert not list(tmp_path.rglob("checkpoints"))
