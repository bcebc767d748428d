"""Questions about the voids themselves: `desivoid agreement` (where the void finders agree) and
`desivoid profiles` (stacked void-centric profiles)."""

from __future__ import annotations

import typer

from desivoid_ml.cli.app import app
from desivoid_ml.cli.printing import check_format, print_rows


@app.command()
def agreement(
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
) -> None:
    """Pairwise agreement of the void finders' void / wall samples: fraction agreeing, Cohen's
    kappa and the Jaccard index of the void samples, on the galaxies in the input of every
    algorithm of their cap (features.galaxy in_all_inputs) that both put in a sample."""
    from desivoid_ml.analysis.agreement import COLUMNS
    from desivoid_ml.analysis.agreement import agreement as pairwise
    from desivoid_ml.db import open_database

    check_format(fmt)
    db = open_database()
    with db.connect() as conn:
        rows = pairwise(conn, db.ns)
    header = list(COLUMNS)
    print_rows(header, [[r[c] for c in header] for r in rows], fmt, title="void finder agreement")
