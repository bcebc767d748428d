"""Questions about the voids themselves: `desivoid agreement` (where the void finders agree) and
`desivoid profiles` (stacked void-centric profiles)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from desivoid_ml.cli.app import app
from desivoid_ml.cli.printing import check_format, print_rows
from desivoid_ml.errors import DesivoidError


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


@app.command()
def profiles(
    prop: list[str] | None = typer.Option(
        None, "--property", help="Property to stack (repeatable); default g_r and log_ssfr."
    ),
    algorithm: list[str] | None = typer.Option(
        None,
        "--algorithm",
        help="VoidFinder, VIDE, ZOBOV, REVOLVER or V2 (repeatable); default all.",
    ),
    r_edges: str = typer.Option("0,0.25,0.5,0.75,1,1.25,1.5,2", help="r/R_void bin edges."),
    mass_edges: str = typer.Option("9,10,10.5,11,12", help="log M* bin edges."),
    z_cells: int = typer.Option(5, help="Redshift quantile cells of the z matching."),
    regions: int = typer.Option(64, help="Sky regions of the jackknife."),
    run: str | None = typer.Option(None, help="Write into reports/<run>/; 'latest' works."),
    out_dir: Path = typer.Option(Path("reports"), "--out", help="Reports folder."),
    fmt: str = typer.Option("table", "--format", help="Also print the rows: table, csv or json."),
) -> None:
    """Stacked void-centric profiles per algorithm: the median (16/84 %) of each property in bins
    of r/R_void at fixed stellar mass, raw and matched on redshift, with jackknife sigmas over sky
    regions, and the voids' density profile n(r)/n_mean. Galaxies of each algorithm's sample
    (<alg>_sample void or wall) only. Writes void_profiles.csv/.json and one PNG per property
    (algorithms side by side) to reports/<run or 'analysis'>/ and replaces the label's rows of
    ml.void_profiles."""
    from desivoid_ml.analysis.profile_figures import profile_figure
    from desivoid_ml.analysis.profile_store import COLUMNS, write_files, write_table
    from desivoid_ml.analysis.profiles import DENSITY, ProfileRequest
    from desivoid_ml.analysis.profiles import profiles as stack
    from desivoid_ml.db import open_database
    from desivoid_ml.embed.unusual import selection

    check_format(fmt)
    request = ProfileRequest(
        properties=tuple(prop) if prop else ProfileRequest.properties,
        algorithms=tuple(selection("void", a).of for a in algorithm) if algorithm else None,
        r_edges=_edges(r_edges, "--r-edges"),
        mass_edges=_edges(mass_edges, "--mass-edges"),
        z_cells=z_cells,
        regions=regions,
    )
    db = open_database()
    label = _label(db, run)
    with db.connect() as conn:
        found = stack(conn, db.ns, request)
    note = Console(stderr=True)
    for line in found.empty:
        note.print(f"empty bin, left without a median: {line}")
    out = out_dir / label
    out.mkdir(parents=True, exist_ok=True)
    for name in [*request.properties, DENSITY]:
        figure = out / f"profile_{name}.png"
        mine = [r for r in found.rows if r["property"] == name]
        if mine:
            profile_figure(name, mine, figure)
        for r in mine:
            r.update(label=label, figure=str(figure))
    write_files(found.rows, out)
    write_table(db, label, found.rows)
    header = [c for c in COLUMNS if c not in ("label", "figure")]
    print_rows(header, [[r[c] for c in header] for r in found.rows], fmt, title="void profiles")
    note.print(f"written: {out}/void_profiles.csv, .json, profile_*.png; ml.void_profiles")


def _edges(text: str, option: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise DesivoidError(f"{option} must be numbers separated by commas, got {text!r}") from None


def _label(db, run: str | None) -> str:
    if run is None:
        return "analysis"
    from desivoid_ml.runs import get_run

    return get_run(db, run).run_id
