"""Results for people: `desivoid analyze`, `serve` (the Void Galaxy Finder), `export`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from desivoid_ml.cli.app import app, out
from desivoid_ml.cli.printing import print_table


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def analyze(
    overrides: list[str] | None = typer.Argument(
        None, help="Config overrides (configs/analysis.yaml), e.g. 'properties=\\[g_r,logmstar]'."
    ),
    run: str | None = typer.Option(
        None, help="Write into reports/<run>/ (its report shows the table); 'latest' works."
    ),
    out_dir: Path = typer.Option(Path("reports"), "--out", help="Reports folder."),
) -> None:
    """Void vs wall galaxies per algorithm (VoidFinder, VIDE, ZOBOV, REVOLVER; NGC + SGC) and
    on their consensus sample (consensus_sample: where they all agree).

    Void and wall are each algorithm's <prefix>_sample ('void' / 'wall'; VoidFinder: vflag 1
    vs 0, V2: in-volume galaxies in or out of a void), within `sample` (a named sample of
    configs/features.yaml, default good_galaxy) and `where` (an optional SQL condition).
    Per property: void and wall medians, the void - wall shift, KS and Anderson-Darling
    p-values, and the shift at fixed stellar mass and redshift (wall reweighted to the voids'
    mix in quantile cells; log M* itself at fixed redshift and abs_mag_r); for VoidFinder also
    that matched shift with the hole-surface galaxies in neither sample (policy `exclude`),
    side by side. 68 % intervals from a delete-one jackknife over equal-area sky regions
    (intervals.regions, default 64), or intervals.method=bootstrap. An algorithm with no void
    or no wall sample is one line and no row. Writes void_wall.csv, void_wall.json and one PNG
    per property to reports/<run or 'analysis'>/, and replaces the table ml.void_wall.

    Columns: n_void / n_wall: galaxies with the property known; median_void / median_wall;
    shift, shift_lo, shift_hi: median_void - median_wall and its 68 % interval; ks_p, ad_p:
    two-sample p-values as text (at scipy's table limits a bound, "< 0.001"); control: the
    variables held fixed; n_void_matched / n_wall_matched: galaxies in control cells holding
    both; median_wall_matched: the reweighted wall median; matched_shift, matched_lo,
    matched_hi: the shift at fixed controls and its interval; n_void_exclude, n_wall_exclude,
    matched_shift_exclude, matched_exclude_lo, matched_exclude_hi: the same without hole-surface
    galaxies (VoidFinder; empty for V2); interval_method, regions, resamples: how the intervals
    were made; figure: its PNG.
    """
    from desivoid_ml.analysis.config import load_config
    from desivoid_ml.analysis.run import analyze as run_analysis
    from desivoid_ml.db import open_database

    cfg = load_config(overrides or [])
    db = open_database()
    label = "analysis"
    if run is not None:
        from desivoid_ml.runs import get_run

        label = get_run(db, run).run_id
    result = run_analysis(db, cfg, out_dir / label, label, log=lambda m: out.print(m))
    method = result.rows[0]["interval_method"]
    title = f"void - wall, {result.galaxies:,} galaxies; 68 % intervals: {method}"
    print_table(void_wall_table(result.rows, title))
    out.print(f"written: {result.csv}, {result.json}, {len(result.figures)} figures; ml.void_wall")


def void_wall_table(rows: list[dict], title: str) -> Table:
    """The analysis rows as a terminal table."""
    table = Table(title=title)
    for name in ("algorithm", "property", "n void", "n wall", "median void", "median wall"):
        table.add_column(name, justify="left" if name in ("algorithm", "property") else "right")
    for name in ("shift [68 %]", "KS p", "AD p", "at fixed", "matched shift [68 %]"):
        table.add_column(name, justify="right")
    table.add_column("matched, surfaces excluded", justify="right")
    for r in rows:
        table.add_row(
            r["algorithm"],
            r["property"],
            f"{r['n_void']:,}",
            f"{r['n_wall']:,}",
            f"{r['median_void']:.3f}",
            f"{r['median_wall']:.3f}",
            f"{r['shift']:+.3f} [{r['shift_lo']:+.3f}, {r['shift_hi']:+.3f}]",
            r["ks_p"],
            r["ad_p"],
            r["control"],
            _interval(r, "matched_shift", "matched_lo", "matched_hi"),
            _interval(r, "matched_shift_exclude", "matched_exclude_lo", "matched_exclude_hi"),
        )
    return table


def _interval(row: dict, key: str, low: str, high: str) -> str:
    if row.get(key) is None:
        return "-"
    return f"{row[key]:+.3f} [{row[low]:+.3f}, {row[high]:+.3f}]"


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8050, help="Port to listen on."),
) -> None:
    """The Void Galaxy Finder: a local, read-only web page over the database."""
    from desivoid_ml.db import open_database
    from desivoid_ml.finder.server import serve as run_server

    run_server(open_database(), host, port, announce=out.print)


@app.command()
def export(
    kind: str = typer.Argument(..., help="features, embeddings or analysis."),
    out_path: Path = typer.Option(..., "--out", help="Output file."),
    fmt: str = typer.Option("parquet", "--format", help="parquet, fits or csv."),
    run: str | None = typer.Option(None, help="Run id for embeddings; default: the newest."),
    algorithm: str | None = typer.Option(
        None, help="vf, vide, zobov or revolver (with --in-void/--wall)."
    ),
    in_void: bool | None = typer.Option(
        None,
        "--in-void/--wall",
        help="Only the void (or wall) sample, <alg>_sample, of --algorithm (default vf).",
    ),
) -> None:
    """Write features, embeddings or void-vs-wall results to Parquet, FITS or CSV (streamed)."""
    from desivoid_ml.db import open_database
    from desivoid_ml.export.run import export as run_export
    from desivoid_ml.progress import RichReporter

    with RichReporter() as reporter:
        summary = run_export(
            open_database(), kind, fmt, out_path, run, algorithm, in_void, reporter=reporter
        )
    out.print(
        f"{summary.rows:,} rows x {summary.columns} columns of {summary.description} -> "
        f"{summary.path} ({summary.seconds:.1f} s)"
    )
