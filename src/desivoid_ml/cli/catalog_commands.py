"""From files to tables: `desivoid synth`, `download`, `ingest`, `validate`, `features`,
`environment`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from desivoid_ml.cli.app import app, out
from desivoid_ml.cli.printing import print_table
from desivoid_ml.errors import DesivoidError


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
    progress: bool = typer.Option(True, help="Show progress (plain lines when piped)."),
) -> None:
    """Fetch the public DR1 FastSpecFit and DESIVAST files (resumable, sha256-checked)."""
    from contextlib import nullcontext

    from desivoid_ml import download as dl
    from desivoid_ml.progress import NullReporter, RichReporter

    files = dl.select(only)
    base = dl.resolve_base_url(base_url)
    if dry_run:
        typer.echo("\n".join(dl.describe(files, base)))
        return
    try:
        with RichReporter() if progress else nullcontext(NullReporter()) as reporter:
            paths = dl.download_all(dest, files, base, sha256_file, reporter, retries)
    except KeyboardInterrupt:
        raise DesivoidError("interrupted: run the same command again to resume") from None
    out.print(f"{len(paths)} files ready in {dest}")


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
    print_table(table)


@app.command()
def validate() -> None:
    """Check the loaded tables: counts vs FITS, keys, bounds, missing rates, plausibility, and
    what the feature config's ranges and sample cuts remove."""
    from desivoid_ml.db import open_database
    from desivoid_ml.features.config import load_config
    from desivoid_ml.features.sample_checks import sample_checks
    from desivoid_ml.ingest.validate import run_checks

    db = open_database()
    report = run_checks(db)
    if report and report[0].name != "tables loaded":  # something is ingested
        report += sample_checks(db, load_config())
    table = Table(title="validation")
    for name in ("stage", "check", "result", "detail"):
        table.add_column(name)
    for check in report:
        style = "green" if check.passed else "bold red"
        table.add_row(str(check.stage), check.name, f"[{style}]{check.status}[/]", check.detail)
    print_table(table)
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
    for name in ("algorithm", "in void", "void sample", "wall sample"):
        table.add_column(name, justify="left" if name == "algorithm" else "right")
    for name, fraction in summary.in_void_fraction.items():
        counts = summary.samples.get(name, {})
        table.add_row(name, f"{fraction:.1%}", *(f"{counts.get(k, 0):,}" for k in ("void", "wall")))
    print_table(table)
    out.print(
        f"catalogs: {', '.join(summary.catalogs)}; excluded (z <= 0 or NaN): "
        f"{summary.excluded:,}; compute {summary.compute_s:.1f} s, load {summary.load_s:.1f} s"
    )
    out.print("seconds by phase: " + ", ".join(f"{k} {v:.1f}" for k, v in summary.phases.items()))
    out.print(
        f"VoidFinder boundary galaxies (on a hole surface within voidfinder."
        f"boundary_tolerance_mpch): {summary.on_boundary:,}, of which in void under "
        f"boundary_policy={summary.boundary_policy}: {summary.on_boundary_in_void:,}"
    )
    for catalog, source in summary.masks.items():
        out.print(f"{catalog} survey mask: {source}")


ENVIRONMENT_KEYS = ("voidfinder.", "v2.", "void_catalogs.omegam")  # what `environment` uses


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
        help="Feature-config override of voidfinder.*, v2.* or void_catalogs.omegam "
        "(configs/features.yaml), repeatable, e.g. --set voidfinder.boundary_policy=toolkit",
    ),
) -> None:
    """Classify any galaxy table against void catalogs (no database needed)."""
    import numpy as np

    from desivoid_ml.features.config import environment_options, load_config
    from desivoid_ml.features.environment_file import run

    ignored = [s for s in settings or [] if not s.lstrip("+~").startswith(ENVIRONMENT_KEYS)]
    if ignored:
        raise DesivoidError(
            f"--set {ignored[0]}: `desivoid environment` reads only "
            f"{', '.join(k + '*' if k.endswith('.') else k for k in ENVIRONMENT_KEYS)}"
        )
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
    for name in ("catalog", "in void", "fraction", "void sample", "wall sample"):
        summary.add_column(name)
    for column in [c for c in table.colnames if c.endswith("_in_void")]:
        count = int(table[column].sum())
        sample = np.asarray(table[column.replace("_in_void", "_sample")])
        summary.add_row(
            column.removesuffix("_in_void"),
            f"{count:,}",
            f"{count / len(table):.1%}",
            *(f"{int((sample == label).sum()):,}" for label in ("void", "wall")),
        )
    print_table(summary)
    if excluded:
        Console(stderr=True).print(f"{excluded:,} rows excluded (z <= 0 or non-finite ra/dec/z)")
