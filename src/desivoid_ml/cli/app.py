"""The `desivoid` Typer app, its `db` sub-app and the shared console (printing: `cli/printing.py`).

Command functions only parse options, call their room (imported inside the function, so that
`desivoid --help` stays fast) and print the result."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    help="DESI DR1 galaxies and DESIVAST voids: FITS -> PostgreSQL -> embeddings.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="The database: embedded (data/pg/) unless DESIVOID_DSN is set.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
out = Console()
