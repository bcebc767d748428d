"""The `desivoid` command. Its subcommands live by theme: `db_commands`, `catalog_commands`
(synth, download, ingest, validate, features, environment), `run_commands` (runs, embed,
similar, report), `science_commands` (analyze, serve, export) and `void_commands` (agreement,
profiles); `app` holds the Typer app.
`main` turns a user error, or a database lost mid-command, into one line and exit status 2."""

from __future__ import annotations

import sys

from rich.console import Console

from desivoid_ml.cli import (  # noqa: F401
    catalog_commands,
    db_commands,
    run_commands,
    science_commands,
    sweep_commands,
    void_commands,
)
from desivoid_ml.cli.app import app
from desivoid_ml.errors import DesivoidError, first_line

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: user errors, and a database lost mid-command, become one line on stderr and
    exit status 2."""
    import psycopg

    try:
        app()
    except DesivoidError as exc:
        _fail(str(exc))
    except psycopg.OperationalError as exc:
        command = " ".join(["desivoid", *sys.argv[1:2]])
        reason = first_line(exc)
        _fail(
            f"lost the database connection during `{command}`: {reason}; its open transaction "
            f"was rolled back: check the server (`desivoid db status`) and run `{command}` again"
        )


def _fail(message: str) -> None:
    from desivoid_ml.secrets import redact_text

    console = Console(stderr=True)
    console.print(f"[bold red]error:[/] {redact_text(message)}", highlight=False, soft_wrap=True)
    sys.exit(2)
