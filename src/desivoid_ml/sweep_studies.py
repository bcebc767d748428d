"""Reading the sweeps back: studies with their trial counts and best trial, one study's trials,
and the `ml.runs` id each trial registered (`desivoid sweeps`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from desivoid_ml.db.connection import Database, Namespace, connect
from desivoid_ml.errors import DesivoidError


@dataclass(frozen=True)
class StudyRow:
    name: str
    directions: list[str]
    complete: int
    pruned: int
    failed: int
    running: int
    best_values: list[float] | None
    best_params: dict[str, Any] | None
    best_run: str | None
    started: datetime | None


def has_storage(db: Database) -> bool:
    """Whether any sweep has created the study storage of this namespace yet."""
    with db.connect() as conn:
        found = conn.execute("SELECT to_regclass(%s)", (f"{db.ns.optuna}.studies",)).fetchone()
    return found[0] is not None


def _storage(db: Database):
    from desivoid_ml.sweeps import open_storage, storage_url

    return open_storage(storage_url(db.dsn, db.ns.prefix))


def list_studies(db: Database) -> list[StudyRow]:
    """Every study of the namespace, oldest first."""
    if not has_storage(db):
        return []
    import optuna

    storage = _storage(db)
    return [
        _study_row(optuna.load_study(study_name=s.study_name, storage=storage))
        for s in storage.get_all_studies()
    ]


def _study_row(study) -> StudyRow:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    count = {state: sum(t.state == state for t in trials) for state in TrialState}
    best = _best(study)
    starts = [t.datetime_start for t in trials if t.datetime_start]
    return StudyRow(
        name=study.study_name,
        directions=[d.name.lower() for d in study.directions],
        complete=count[TrialState.COMPLETE],
        pruned=count[TrialState.PRUNED],
        failed=count[TrialState.FAIL],
        running=count[TrialState.RUNNING],
        best_values=list(best.values) if best else None,
        best_params=dict(best.params) if best else None,
        best_run=best.user_attrs.get("run_id") if best else None,
        started=min(starts, default=None),
    )


def _best(study):
    """The best trial; with several objectives the first trial of the Pareto front."""
    if len(study.directions) > 1:
        front = study.best_trials
        return min(front, key=lambda t: t.number) if front else None
    try:
        return study.best_trial
    except ValueError:  # no trial completed yet
        return None


def study_trials(db: Database, name: str) -> tuple[list[str], list[tuple]]:
    """Header and rows of one study's trials: number, state, values, params, run, times."""
    import optuna

    if not has_storage(db):
        raise DesivoidError("no sweep has run in this database yet")
    storage = _storage(db)
    names = [s.study_name for s in storage.get_all_studies()]
    if name not in names:
        raise DesivoidError(f"no study {name!r}; studies: {', '.join(names) or 'none'}")
    study = optuna.load_study(study_name=name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    keys = sorted({k for t in trials for k in t.params})
    n_values = len(study.directions)
    value_names = ["value"] if n_values == 1 else [f"value_{i}" for i in range(n_values)]
    header = ["trial", "state", *value_names, *keys, "run", "started", "seconds"]
    rows = []
    for t in trials:
        values = list(t.values) if t.values else [None] * n_values
        seconds = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else None
        )
        rows.append(
            (
                t.number,
                t.state.name,
                *values,
                *(_cell(t.params.get(k)) for k in keys),
                t.user_attrs.get("run_id"),
                t.datetime_start,
                seconds,
            )
        )
    return header, rows


def _cell(value: Any) -> Any:
    return value if value is None or isinstance(value, int | float) else str(value)


def run_of_output_dir(dsn: str | None, namespace: str, output_dir: str) -> str | None:
    """The ml.runs id of the run whose job wrote into `output_dir` (a sweep trial's folder)."""
    from desivoid_ml.db.connection import resolve_dsn

    ns = Namespace(namespace or "")
    with connect(dsn or resolve_dsn()) as conn:
        row = conn.execute(
            sql.SQL(
                "SELECT run_id FROM {} WHERE config->'paths'->>'output_dir' = %s "
                "ORDER BY created DESC LIMIT 1"
            ).format(sql.Identifier(ns.ml, "runs")),
            (output_dir,),
        ).fetchone()
    return row[0] if row else None
