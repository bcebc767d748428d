"""The CLI's terminal output: rows as a table that never truncates an identifier, or CSV, or JSON;
summary tables at their natural width. Only rich and the standard library, so importing it keeps
`desivoid --help` fast."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.table import Table

from desivoid_ml.errors import DesivoidError

OUTPUT_FORMATS = ("table", "csv", "json")


def check_format(fmt: str) -> None:
    """Refuse an unknown --format before any work is done."""
    if fmt not in OUTPUT_FORMATS:
        raise DesivoidError(f"unknown --format {fmt!r}; choose one of {', '.join(OUTPUT_FORMATS)}")


def print_rows(
    header: Sequence[str],
    rows: Sequence[Sequence],
    fmt: str = "table",
    title: str | None = None,
    stream: TextIO | None = None,
) -> None:
    """Print rows in one of OUTPUT_FORMATS; floats keep full precision in CSV and JSON."""
    stream = stream or sys.stdout
    if fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
    elif fmt == "json":
        records = [dict(zip(header, row, strict=True)) for row in rows]
        stream.write(json.dumps(records, default=str, indent=1) + "\n")
    else:
        _table(header, rows, title, stream)


def _table(header, rows, title: str | None, stream: TextIO) -> None:
    """A rich table as wide as its content needs, whatever the terminal (or pipe) width."""
    table = Table(title=title)
    for name in header:
        table.add_column(
            name,
            no_wrap=True,
            overflow="ignore",
            justify="left" if _is_text(name, rows, header) else "right",
        )
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    print_table(table, stream)


def print_table(table: Table, stream: TextIO | None = None) -> None:
    """A rich (summary) table at its natural width, also when the terminal is narrow or output is
    piped (no wrapped names)."""
    for column in table.columns:
        column.no_wrap, column.overflow = True, "ignore"
    natural = Console(width=100_000).measure(table).maximum
    console = Console(file=stream or sys.stdout)
    console.width = max(console.width, natural)
    console.print(table, soft_wrap=False, crop=False)


def _is_text(name: str, rows, header) -> bool:
    i = list(header).index(name)
    return any(isinstance(r[i], str) for r in rows)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
