"""The `desivoid` command: one small function per subcommand (db, synth, download, ingest,
validate, features, environment, runs, embed, similar, analyze, report, serve, export).

It is long because the command surface is wide, not because it holds logic: each function parses
options, calls its room (imported lazily, so `--help` stays fast) and prints the result."""

from __future__ import annotations

import sys
from pathlib import Path

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


@db_app.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL (or check DESIVOID_DSN answers) and apply migrations."""
    from desivoid_ml.db import open_database
    from desivoid_ml.secrets import redact_text

    db = open_database()
    out.print(f"database ready: {redact_text(db.dsn)}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL (never touches a DESIVOID_DSN server)."""
    from desivoid_ml.db import embedded

    out.print("stopped" if embedded.stop() else "embedded database was not running")


@db_app.command("status")
def db_status() -> None:
    """Say which server is in use and whether it answers."""
    import os

    from desivoid_ml.db import embedded
    from desivoid_ml.db.connection import DSN_ENV, connect
    from desivoid_ml.secrets import redact_text

    dsn = os.environ.get(DSN_ENV)
    if dsn:
        with connect(dsn) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        out.print(f"{DSN_ENV} server {redact_text(dsn)}: up, PostgreSQL {version}")
        return
    state = embedded.status()
    if not state.running:
        out.print(f"embedded database in {state.pgdata}: stopped")
        raise typer.Exit(1)
    out.print(f"embedded database in {state.pgdata}: running (pid {state.pid}), {state.uri}")


@db_app.command("reset")
def db_reset(yes: bool = typer.Option(False, "--yes", help="Really drop every table.")) -> None:
    """Drop all desivoid schemas (raw, features, ml, meta) and recreate them empty."""
    from desivoid_ml.db import open_database
    from desivoid_ml.db.connection import drop_namespace

    if not yes:
        out.print("this drops every loaded catalog, feature, run and embedding; add --yes")
        raise typer.Exit(1)
    drop_namespace(open_database(migrate=False))
    open_database()
    out.print("database reset: empty schemas, migrations applied")


@db_app.command("url")
def db_url() -> None:
    """Print the DSN, e.g. psql "$(desivoid db url)"; starts the embedded server if needed."""
    from desivoid_ml.db.connection import resolve_dsn

    print(resolve_dsn())


@app.command()
def synth(
    out_dir: Path = typer.Option(..., "--out", help="Folder to write the FITS files into."),
    galaxies: int = typer.Option(20_000, help="Number of galaxies."),
    seed: int = typer.Option(42, help="Random seed; the same seed writes byte-identical files."),
) -> None:
    """Write synthetic DR1-like FastSpecFit and DESIVAST catalogs with the real file layout."""
    from desivoid_ml.progress import RichReporter
    from desivoid_ml.synth import write_catalogs

    with RichReporter() as reporter, reporter.task("synthesising galaxies", galaxies) as step:
        summary = write_catalogs(out_dir, galaxies, seed, progress=step.advance)
    out.print(
        f"wrote {len(summary.files)} files to {out_dir}: {summary.galaxy_rows:,} galaxies, "
        f"{summary.bytes_written / 1e6:,.1f} MB in {summary.seconds:.1f} s "
        f"({summary.rows_per_s:,.0f} rows/s, {summary.mb_per_s:,.0f} MB/s)"
    )


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(
        ..., help="FITS files or folders of them, then config overrides (chunk_rows=5000)."
    ),
    config: Path | None = typer.Option(None, help="Ingest config YAML (configs/ingest.yaml)."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Files loaded at once (server cores)."),
) -> None:
    """Load FITS catalogs by binary COPY; files already loaded (same sha256) are skipped."""
    from desivoid_ml.db import open_database
    from desivoid_ml.ingest.config import load_options
    from desivoid_ml.ingest.runner import ingest as run_ingest
    from desivoid_ml.progress import RichReporter

    overrides = [str(p) for p in paths if "=" in str(p) and not p.exists()]
    paths = [p for p in paths if str(p) not in overrides]
    options = load_options(config, overrides)
    if not paths:
        raise DesivoidError("no FITS file or folder given; name what to load before key=value")
    db = open_database()
    with RichReporter() as reporter:
        results = run_ingest(db, paths, options, reporter, jobs=jobs)
    table = Table(title="ingest summary")
    table.add_column("file", overflow="fold")
    for name in ("kind", "status", "rows", "s", "rows/s"):
        table.add_column(name, justify="left" if name in ("kind", "status") else "right")
    for r in results:
        table.add_row(
            r.path.name,
            r.kind,
            r.status,
            f"{sum(r.rows.values()):,}",
            f"{r.seconds:.2f}",
            f"{r.rows_per_s:,.0f}",
        )
    loaded = [r for r in results if r.status == "loaded"]
    rows = sum(sum(r.rows.values()) for r in loaded)
    seconds = sum(r.seconds for r in loaded)
    table.add_section()
    table.add_row(
        f"{len(loaded)} loaded, {len(results) - len(loaded)} skipped",
        "",
        "",
        f"{rows:,}",
        f"{seconds:.2f}",
        f"{rows / seconds:,.0f}" if seconds else "-",
    )
    _print_table(table)


@app.command()
def validate() -> None:
    """Check the loaded tables: counts vs FITS, keys, bounds, missing rates, plausibility."""
    from desivoid_ml.db import open_database
    from desivoid_ml.ingest.validate import run_checks

    report = run_checks(open_database())
    table = Table(title="validation")
    for name in ("stage", "check", "result", "detail"):
        table.add_column(name)
    for check in report:
        style = "green" if check.passed else "bold red"
        table.add_row(str(check.stage), check.name, f"[{style}]{check.status}[/]", check.detail)
    _print_table(table)
    failed = [c for c in report if not c.passed]
    out.print(f"{len(report) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def features(
    overrides: list[str] | None = typer.Argument(None, help="Config overrides, e.g. density.k=10"),
) -> None:
    """Build features.galaxy: void environment per algorithm, local density, galaxy properties."""
    from desivoid_ml.db import open_database
    from desivoid_ml.features.build import build
    from desivoid_ml.features.config import load_config
    from desivoid_ml.progress import RichReporter

    cfg = load_config(overrides or [])
    with RichReporter() as reporter:
        summary = build(open_database(), cfg, reporter)
    table = Table(title=f"features.galaxy: {summary.rows:,} galaxies")
    table.add_column("algorithm")
    table.add_column("in void", justify="right")
    for name, fraction in summary.in_void_fraction.items():
        table.add_row(name, f"{fraction:.1%}")
    _print_table(table)
    out.print(
        f"catalogs: {', '.join(summary.catalogs)}; excluded (z <= 0 or NaN): "
        f"{summary.excluded:,}; compute {summary.compute_s:.1f} s, load {summary.load_s:.1f} s"
    )
    out.print(
        f"VoidFinder boundary galaxies (on a hole surface within voidfinder."
        f"boundary_tolerance_mpch): {summary.on_boundary:,}, of which in void under "
        f"boundary_policy={summary.boundary_policy}: {summary.on_boundary_in_void:,}"
    )
    for catalog, source in summary.masks.items():
        out.print(f"{catalog} survey mask: {source}")


@app.command()
def environment(
    galaxies: Path = typer.Argument(..., help="FITS table of galaxies (ra, dec, redshift)."),
    catalogs: list[Path] = typer.Argument(..., help="DESIVAST/VAST void catalog files."),
    out: Path = typer.Option(..., "--out", help="FITS file to write, one row per input row."),
    ra: str | None = typer.Option(None, help="RA column (default: ra)."),
    dec: str | None = typer.Option(None, help="Dec column (default: dec)."),
    z: str | None = typer.Option(None, help="Redshift column (default: z or redshift)."),
    id_column: str | None = typer.Option(None, "--id", help="TARGETID column for V2 matching."),
    omegam: float | None = typer.Option(None, help="Ωm for catalogs whose header lacks OMEGAM."),
    settings: list[str] | None = typer.Option(
        None,
        "--set",
        help="Feature-config override (configs/features.yaml), repeatable, e.g. "
        "--set voidfinder.boundary_policy=toolkit",
    ),
) -> None:
    """Classify any galaxy table against void catalogs (no database needed)."""
    from desivoid_ml.features.config import environment_options, load_config
    from desivoid_ml.features.environment_file import run

    cfg = load_config(settings or [])
    if omegam is None and cfg.void_catalogs.omegam is not None:
        omegam = float(cfg.void_catalogs.omegam)
    table, excluded = run(
        galaxies,
        catalogs,
        out,
        omegam,
        environment_options(cfg),
        ra=ra,
        dec=dec,
        z=z,
        id_column=id_column,
    )
    summary = Table(title=f"environment of {len(table):,} galaxies -> {out}")
    for name in ("catalog", "in void", "fraction"):
        summary.add_column(name)
    for column in [c for c in table.colnames if c.endswith("_in_void")]:
        count = int(table[column].sum())
        summary.add_row(column.removesuffix("_in_void"), f"{count:,}", f"{count / len(table):.1%}")
    _print_table(summary)
    if excluded:
        Console(stderr=True).print(f"{excluded:,} rows excluded (z <= 0 or non-finite ra/dec/z)")


@app.command()
def runs(
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
) -> None:
    """List training runs (newest first) and whether they have embeddings."""
    from desivoid_ml.db import open_database
    from desivoid_ml.export.printing import print_rows
    from desivoid_ml.runs import list_runs

    _check_format(fmt)
    header = ("run", "created", "model", "code", "val/recon_mse_best", "val/pca_recon_mse")
    rows = [
        (
            run.run_id,
            f"{run.created:%Y-%m-%d %H:%M}" if fmt == "table" else run.created.isoformat(),
            run.model_kind,
            run.code_dim,
            run.metrics.get("val/recon_mse_best"),
            run.metrics.get("val/pca_recon_mse"),
        )
        for run in list_runs(open_database())
    ]
    print_rows(header, rows, fmt, title="training runs")


def _check_format(fmt: str) -> None:
    from desivoid_ml.export.printing import OUTPUT_FORMATS

    if fmt not in OUTPUT_FORMATS:
        raise DesivoidError(f"unknown --format {fmt!r}; choose one of {', '.join(OUTPUT_FORMATS)}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


@app.command()
def embed(
    run: str = typer.Option("latest", help="Run id (see `desivoid runs`) or latest."),
    batch_size: int = typer.Option(8192, help="Rows per inference batch."),
) -> None:
    """Encode every galaxy with a run's encoder into ml.embeddings (pgvector, HNSW index)."""
    from desivoid_ml.db import open_database
    from desivoid_ml.embed.inference import embed as run_embed
    from desivoid_ml.progress import RichReporter

    with RichReporter() as reporter:
        summary = run_embed(open_database(), run, batch_size, reporter=reporter)
    out.print(
        f"run {summary.run_id}: {summary.rows:,} embeddings of dimension {summary.dim}; "
        f"write {summary.write_s:.1f} s ({summary.rows / max(summary.write_s, 1e-9):,.0f} "
        f"rows/s), HNSW index {summary.index_s:.1f} s (HNSW build {summary.hnsw_s:.1f} s, "
        "then key and ANALYZE)"
    )


@app.command()
def similar(
    targetid: int | None = typer.Argument(
        None, help="DESI TARGETID; default: an example void galaxy (or use --ra/--dec)."
    ),
    k: int = typer.Option(10, "-k", help="Number of neighbours."),
    run: str | None = typer.Option(None, help="Run id; default: the newest embedded run."),
    ra: float | None = typer.Option(None, "--ra", help="Right ascension [deg] (with --dec)."),
    dec: float | None = typer.Option(None, "--dec", help="Declination [deg] (with --ra)."),
    radius: float = typer.Option(2.0, "--radius", help="Search radius around --ra/--dec [arcsec]."),
    survey: str | None = typer.Option(None, help="Survey, when a TARGETID has several rows."),
    program: str | None = typer.Option(None, help="Program, when a TARGETID has several rows."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
) -> None:
    """The k galaxies whose embeddings are nearest to this one's (ml.similar_galaxies)."""
    from desivoid_ml.db import open_database
    from desivoid_ml.embed.similarity import example_void_galaxy, require_embeddings
    from desivoid_ml.embed.similarity import similar as query
    from desivoid_ml.export.printing import print_rows

    _check_format(fmt)
    note = Console(stderr=True)
    db = open_database()
    if (ra is None) != (dec is None):
        raise DesivoidError("give both --ra and --dec (degrees)")
    if ra is not None and targetid is not None:
        raise DesivoidError("give a TARGETID or --ra/--dec, not both")
    require_embeddings(db, run)
    if ra is not None:
        targetid, survey, program = _galaxy_at(db, ra, dec, radius, note)
    elif targetid is None:
        targetid = example_void_galaxy(db)
        note.print(f"example: targetid {targetid}, a galaxy inside a VoidFinder void")
    header, *rows = query(db, targetid, k, run, survey, program)
    if not rows:
        note.print(f"no galaxy with targetid {targetid} has an embedding in run {run or 'latest'}")
        raise typer.Exit(1)
    title = f"galaxies most similar to {targetid} (run {run or 'latest'})"
    if fmt == "table":  # compact: survey/program together, the algorithms whose void holds it
        named = [dict(zip(header, row, strict=True)) for row in rows]
        header = ("targetid", "survey/program", "distance", "z", "log M*", "in a void of")
        rows = [
            (
                r["targetid"],
                f"{r['survey']}/{r['program']}",
                r["distance"],
                r["z"],
                r["logmstar"],
                " ".join(a for a in ("vf", "vide", "zobov", "revolver") if r.get(f"{a}_in_void"))
                or "-",
            )
            for r in named
        ]
    print_rows(header, rows, fmt, title=title)


def _galaxy_at(db, ra: float, dec: float, radius: float, note: Console) -> tuple[int, str, str]:
    """The galaxy nearest to (ra, dec) within radius arcsec, or a clear error."""
    from desivoid_ml.finder.sky import check_position, ensure_sky_index, galaxies_at

    check_position(ra, dec, radius)
    ensure_sky_index(db)
    with db.connect() as conn:
        hits = galaxies_at(conn, db, ra, dec, radius, limit=1)
    if not hits:
        raise DesivoidError(
            f"no galaxy within {radius:g} arcsec of RA {ra:g}, Dec {dec:g}; try a larger --radius"
        )
    hit = hits[0]
    note.print(
        f"nearest galaxy: targetid {hit['targetid']} {hit['survey']}/{hit['program']}, "
        f"{hit['separation_arcsec']:.3f} arcsec away"
    )
    return hit["targetid"], hit["survey"], hit["program"]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


@app.command()
def report(
    run: str = typer.Option("latest", help="Run id or latest."),
    out_dir: Path = typer.Option(Path("reports"), "--out", help="Reports folder."),
) -> None:
    """Write reports/<run>/index.html: loss, embedding map, reconstruction, neighbours, AUC."""
    from desivoid_ml.db import open_database
    from desivoid_ml.report.page import write_report

    path = write_report(open_database(), run, out_dir)
    out.print(f"report written to {path}")


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
    """Void vs wall galaxies per algorithm (VoidFinder, VIDE, ZOBOV, REVOLVER; NGC + SGC).

    On each algorithm's own input sample (<alg>_in_input and `sample`, default is_galaxy):
    void and wall medians of each property, the void - wall shift with a 68 % bootstrap
    interval, KS and Anderson-Darling p-values, and the shift at fixed stellar mass and
    redshift (wall reweighted to the voids' mix in quantile cells; log M* itself at fixed
    redshift and abs_mag_r). Writes void_wall.csv, void_wall.json and one PNG per property
    to reports/<run or 'analysis'>/, and replaces the table ml.void_wall.

    Columns: n_void / n_wall: galaxies with the property known; median_void / median_wall;
    shift, shift_lo, shift_hi: median_void - median_wall and its 16th and 84th bootstrap
    percentiles; ks_p, ad_p:
    two-sample p-values (AD clipped to [0.001, 0.25] by scipy); control: the variables held
    fixed; n_void_matched / n_wall_matched: galaxies in control cells holding both;
    median_wall_matched: the reweighted wall median; matched_shift, matched_lo, matched_hi:
    the shift at fixed controls and its 16th and 84th bootstrap percentiles; figure: its PNG.
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
    from desivoid_ml.export.printing import print_table

    print_table(void_wall_table(result.rows, f"void - wall, {result.galaxies:,} galaxies"))
    out.print(f"written: {result.csv}, {result.json}, {len(result.figures)} figures; ml.void_wall")


def void_wall_table(rows: list[dict], title: str) -> Table:
    """The analysis rows as a terminal table."""
    table = Table(title=title)
    for name in ("algorithm", "property", "n void", "n wall", "median void", "median wall"):
        table.add_column(name, justify="left" if name in ("algorithm", "property") else "right")
    for name in ("shift [68 %]", "KS p", "AD p", "at fixed", "matched shift [68 %]"):
        table.add_column(name, justify="right")
    for r in rows:
        table.add_row(
            r["algorithm"],
            r["property"],
            f"{r['n_void']:,}",
            f"{r['n_wall']:,}",
            f"{r['median_void']:.3f}",
            f"{r['median_wall']:.3f}",
            f"{r['shift']:+.3f} [{r['shift_lo']:+.3f}, {r['shift_hi']:+.3f}]",
            f"{r['ks_p']:.2g}",
            f"{r['ad_p']:.2g}",
            r["control"],
            f"{r['matched_shift']:+.3f} [{r['matched_lo']:+.3f}, {r['matched_hi']:+.3f}]",
        )
    return table


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
        None, "--in-void/--wall", help="Only void (or wall) galaxies of --algorithm (default vf)."
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


@app.command()
def download(
    dest: Path = typer.Option(Path("data/dr1"), help="Folder for the DR1 files."),
    only: str | None = typer.Option(None, help="One dataset only: fastspec or desivast."),
    dry_run: bool = typer.Option(False, help="List URLs and sizes; download nothing."),
    base_url: str | None = typer.Option(
        None, help="Mirror of the DR1 VAC tree (default $DESIVOID_DR1_URL, else data.desi.lbl.gov)."
    ),
    sha256_file: str | None = typer.Option(
        None, help="sha256sum-format list (path or URL) overriding the published checksums."
    ),
    retries: int = typer.Option(3, help="Automatic resumes per file after a dropped connection."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Fetch the public DR1 FastSpecFit and DESIVAST files (resumable, sha256-checked)."""
    from desivoid_ml import download as dl

    files = dl.select(only)
    base = dl.resolve_base_url(base_url)
    if dry_run:
        typer.echo("\n".join(dl.describe(files, base)))
        return
    try:
        paths = dl.download_all(dest, files, base, sha256_file, progress, retries)
    except KeyboardInterrupt:
        raise DesivoidError("interrupted: run the same command again to resume") from None
    out.print(f"{len(paths)} files ready in {dest}")


def _print_table(table: Table) -> None:
    """A summary table at its natural width, also when the output is piped (no wrapped names)."""
    from desivoid_ml.export.printing import print_table

    print_table(table)


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
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _fail(
            f"lost the database connection during `{command}`: {reason}; its open transaction "
            f"was rolled back: check the server (`desivoid db status`) and run `{command}` again"
        )


def _fail(message: str) -> None:
    from desivoid_ml.secrets import redact_text

    console = Console(stderr=True)
    console.print(f"[bold red]error:[/] {redact_text(message)}", highlight=False, soft_wrap=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
