"""The `desivoid` Typer app, its `db` sub-app, and the few helpers every command module shares.

Command functions only parse options, call their room (imported inside the function, so that
`desivoid --help` stays fast) and print the result."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from desivoid_ml.errors import DesivoidError

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


def check_format(fmt: str) -> None:
    from desivoid_ml.export.printing import OUTPUT_FORMATS

    if fmt not in OUTPUT_FORMATS:
        raise DesivoidError(f"unknown --format {fmt!r}; choose one of {', '.join(OUTPUT_FORMATS)}")


def print_summary(table: Table) -> None:
    """A summary table at its natural width, also when the output is piped (no wrapped names)."""
    from desivoid_ml.export.printing import print_table

    print_table(table)
