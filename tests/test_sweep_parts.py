"""The sweeper's parts in-process: the search-space grammar, samplers and pruners by name, and
the study storage on the real embedded server (password-free URL, schema created once)."""

from __future__ import annotations

import os

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from desivoid_ml.errors import DesivoidError
from desivoid_ml.sweep_samplers import check_names, make_pruner, make_sampler
from desivoid_ml.sweep_space import parse
from desivoid_ml.sweeps import open_storage, storage_url, study_lock

PASSWORD = "s3cret-Pw9"


def test_the_hydra_grammar_becomes_optuna_distributions() -> None:
    space = parse(
        {
            "model.optimizer.lr": "tag(log, interval(0.0003, 0.01))",
            "model.hidden": "choice([64, 32], [128, 64])",
            "model.dropout": "interval(0.0, 0.5)",
            "data.batch_size": "range(512, 2049, 512)",
            "model.code_dim": "tag(int, interval(4, 16))",
            "seed": "7",
        },
        ["model.dropout=choice(0.0, 0.1)", "trainer.max_epochs=2"],
    )
    d = {key: p.distribution for key, p in space.params.items()}
    assert d["model.optimizer.lr"] == FloatDistribution(0.0003, 0.01, log=True)
    assert d["model.dropout"] == CategoricalDistribution([0.0, 0.1])  # the command line wins
    assert d["data.batch_size"] == IntDistribution(512, 2048, step=512)  # stop excluded
    assert d["model.code_dim"] == IntDistribution(4, 16)
    assert d["model.hidden"] == CategoricalDistribution(["[64,32]", "[128,64]"])
    assert space.fixed == ["seed=7", "trainer.max_epochs=2"]
    sampled = {"model.hidden": "[128,64]", "model.dropout": 0.1, "model.optimizer.lr": 0.001}
    overrides = space.overrides(sampled)
    assert overrides[2:] == [
        "model.hidden=[128,64]",
        "model.dropout=0.1",
        "model.optimizer.lr=0.001",
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"model.dropout": "choice(0.1,"}, "cannot parse 'model.dropout=choice(0.1,'"),
        ({"model.dropout": "interval(0.5, 0.1)"}, "bad search space"),
        ({"data.batch_size": "range(5, 1)"}, "range for data.batch_size is empty"),
    ],
)
def test_a_search_space_that_does_not_parse_is_one_line(params, message) -> None:
    with pytest.raises(DesivoidError, match="^" + message.replace("(", r"\(")):
        parse(params, [])


def test_the_grid_needs_choices_or_ranges() -> None:
    space = parse({"a": "choice(1, 2)", "b": "range(0, 3)"}, [])
    assert space.grid() == {"a": [1, 2], "b": [0, 1, 2]}
    with pytest.raises(DesivoidError, match="grid sampler needs choice"):
        parse({"c": "interval(0, 1)"}, []).grid()


def test_a_dsn_override_hands_its_password_to_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    space = parse({"x": "choice(1, 2)"}, [f"db.dsn='postgresql://u:{PASSWORD}@h:5432/d'"])
    (line,) = space.fixed
    assert PASSWORD not in line and line.startswith("db.dsn='") and "host=h" in line
    assert os.environ["PGPASSWORD"] == PASSWORD


def test_samplers_and_pruners_by_name() -> None:
    assert isinstance(make_sampler({"name": "tpe", "seed": 1}), optuna.samplers.TPESampler)
    assert isinstance(make_sampler({"name": "nsgaii", "seed": 1}), optuna.samplers.NSGAIISampler)
    grid = make_sampler({"name": "grid"}, lambda: {"a": [1, 2]})
    assert isinstance(grid, optuna.samplers.GridSampler)
    halving = make_pruner({"name": "successive_halving", "reduction_factor": 3})
    assert isinstance(halving, optuna.pruners.SuccessiveHalvingPruner)
    assert isinstance(make_pruner({"name": "median"}), optuna.pruners.MedianPruner)
    with pytest.raises(DesivoidError, match="^unknown sampler 'cmaes2'.*tpe, random, grid"):
        check_names({"name": "cmaes2"}, None)
    with pytest.raises(DesivoidError, match="^unknown pruner 'hyperband2'"):
        check_names(None, {"name": "hyperband2"})
    with pytest.raises(DesivoidError, match="^sampler random: .*n_startup_trials"):
        make_sampler({"name": "random", "n_startup_trials": 3})


def test_the_storage_url_never_holds_the_password(db) -> None:
    url = storage_url(f"{db.dsn}&password={PASSWORD}", db.ns.prefix)
    assert PASSWORD not in url and url.startswith("postgresql+psycopg://postgres@/postgres?")
    keyword = storage_url(f"host=db.example port=6543 user=u password={PASSWORD} dbname=x", "p_")
    assert keyword == "postgresql+psycopg://u@db.example:6543/x?options=-csearch_path%3Dp_optuna"


def test_the_storage_schema_is_created_once_and_studies_are_shared(db) -> None:
    url = storage_url(f"{db.dsn}&password={PASSWORD}", db.ns.prefix)
    first, second = open_storage(url), open_storage(url)  # the second finds the tables there
    study = optuna.create_study(storage=first, study_name="shared")
    with study_lock(first, "shared"):
        study.tell(study.ask(), 1.5)
    again = optuna.load_study(study_name="shared", storage=second)
    assert [t.value for t in again.trials] == [1.5]
    with db.connect() as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename = 'trials'",
            (db.ns.optuna,),
        ).fetchone()[0]
    assert tables == 1


def test_an_unreachable_storage_is_one_line_without_the_password() -> None:
    with pytest.raises(DesivoidError) as caught:
        open_storage(f"postgresql://u:{PASSWORD}@127.0.0.1:9/x?connect_timeout=2")
    message = str(caught.value)
    assert message.startswith("cannot reach the study storage postgresql+psycopg://u@127.0.0.1:9/x")
    assert PASSWORD not in message and "\n" not in message


def test_sweeps_lists_studies_and_shows_their_trials(db) -> None:
    from optuna.trial import TrialState

    from desivoid_ml.sweep_studies import list_studies, study_trials

    assert list_studies(db) == []  # no storage yet: nothing, and nothing created
    storage = open_storage(storage_url(db.dsn, db.ns.prefix))
    study = optuna.create_study(storage=storage, study_name="s")
    space = {"x": FloatDistribution(0, 1), "h": CategoricalDistribution(["[64,32]", "[8,4]"])}
    for value in (2.0, 1.0):
        trial = study.ask(space)
        trial.set_user_attr("run_id", f"ae16-{value}")
        study.tell(trial, value)
    study.tell(study.ask(space), state=TrialState.PRUNED)
    study.tell(study.ask(space), state=TrialState.FAIL)
    (row,) = list_studies(db)
    assert (row.name, row.complete, row.pruned, row.failed, row.running) == ("s", 2, 1, 1, 0)
    assert row.best_values == [1.0] and row.best_run == "ae16-1.0"
    assert set(row.best_params) == {"x", "h"} and row.started is not None
    header, rows = study_trials(db, "s")
    assert header == ["trial", "state", "value", "h", "x", "run", "started", "seconds"]
    assert [(r[0], r[1], r[2], r[5]) for r in rows] == [
        (0, "COMPLETE", 2.0, "ae16-2.0"), (1, "COMPLETE", 1.0, "ae16-1.0"),
        (2, "PRUNED", None, None), (3, "FAIL", None, None),
    ]  # fmt: skip
    with pytest.raises(DesivoidError, match="^no study 'nope'; studies: s$"):
        study_trials(db, "nope")
