"""`desivoid sweeps`: the Optuna studies of `python train.py -m hparams_search=...`, and
`desivoid sweeps show NAME`: one study's trials."""

from __future__ import annotations

import json

import typer

from desivoid_ml.cli.app import app
from desivoid_ml.cli.printing import check_format, print_rows

sweeps_app = typer.Typer(
    help="Optuna studies (schema <namespace>optuna): list them, or `show NAME` for its trials.",
    invoke_without_command=True,
)
app.add_typer(sweeps_app, name="sweeps")

FORMAT_HELP = "table, csv or json."


@sweeps_app.callback()
def sweeps(
    ctx: typer.Context,
    fmt: str = typer.Option("table", "--format", help=FORMAT_HELP),
) -> None:
    """List studies: trials complete/pruned/failed, best value, best params and run, started."""
    if ctx.invoked_subcommand:
        return
    from desivoid_ml.db import open_database
    from desivoid_ml.sweep_studies import list_studies

    check_format(fmt)
    header = (
        "study", "direction", "complete", "pruned", "failed", "running",
        "best value", "best params", "best run", "started",
    )  # fmt: skip
    rows = [
        (
            s.name,
            ",".join(s.directions),
            s.complete,
            s.pruned,
            s.failed,
            s.running,
            _values(s.best_values, fmt),
            json.dumps(s.best_params) if s.best_params is not None else None,
            s.best_run,
            _when(s.started, fmt),
        )
        for s in list_studies(open_database())
    ]
    print_rows(header, rows, fmt, title="sweeps")


@sweeps_app.command()
def show(
    name: str = typer.Argument(..., help="Study name (see `desivoid sweeps`)."),
    fmt: str = typer.Option("table", "--format", help=FORMAT_HELP),
) -> None:
    """One study's trials: number, state, value(s), parameters, run id, start and seconds."""
    from desivoid_ml.db import open_database
    from desivoid_ml.sweep_studies import study_trials

    check_format(fmt)
    header, rows = study_trials(open_database(), name)
    when = header.index("started")
    rows = [(*r[:when], _when(r[when], fmt), *r[when + 1 :]) for r in rows]
    print_rows(header, rows, fmt, title=f"study {name}")


def _values(values: list[float] | None, fmt: str):
    if values is None:
        return None
    if len(values) == 1:
        return values[0]
    return " ".join(f"{v:.4g}" for v in values) if fmt == "table" else json.dumps(values)


def _when(moment, fmt: str):
    if moment is None:
        return None
    return f"{moment:%Y-%m-%d %H:%M}" if fmt == "table" else moment.isoformat()
