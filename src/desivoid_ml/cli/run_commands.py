"""Trained runs and their embeddings: `desivoid runs`, `embed`, `similar`, `report`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from desivoid_ml.cli.app import app, out
from desivoid_ml.cli.printing import check_format, print_rows
from desivoid_ml.errors import DesivoidError


@app.command()
def runs(
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
) -> None:
    """List training runs (newest first) and whether they have embeddings."""
    from desivoid_ml.db import open_database
    from desivoid_ml.runs import list_runs

    check_format(fmt)
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
        f"rows/s), indexing {summary.index_s:.1f} s (rows ordered by cell, key, ANALYZE, then "
        f"the similarity index build {summary.hnsw_s:.1f} s)"
    )


@app.command()
def similar(
    targetid: int | None = typer.Argument(
        None, help="DESI TARGETID; default: an example void galaxy (or use --ra/--dec)."
    ),
    k: int = typer.Option(10, "-k", help="Number of neighbours (1-1000, as the finder's API)."),
    run: str | None = typer.Option(None, help="Run id; default: the newest embedded run."),
    ra: float | None = typer.Option(
        None, "--ra", help="Right ascension [deg, 0-360) (with --dec)."
    ),
    dec: float | None = typer.Option(None, "--dec", help="Declination [deg, -90-90] (with --ra)."),
    radius: float = typer.Option(2.0, "--radius", help="Search radius around --ra/--dec [arcsec]."),
    survey: str | None = typer.Option(None, help="Survey, when a TARGETID has several rows."),
    program: str | None = typer.Option(None, help="Program, when a TARGETID has several rows."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json (the API's object)."),
    unusual: bool = typer.Option(
        False, "--unusual", help="Instead: the k galaxies the run reconstructs worst."
    ),
    only: str | None = typer.Option(None, "--only", help="With --unusual: void or wall."),
    of: str | None = typer.Option(
        None, "--of", help="With --only: VoidFinder (default), VIDE, ZOBOV, REVOLVER, consensus."
    ),
) -> None:
    """The k galaxies whose embeddings are nearest to this one's (ml.similar_galaxies), with the
    same code and input rules as the finder's /api/similar; with --unusual, the k most unusual
    galaxies of the run (largest reconstruction error)."""
    from desivoid_ml.algorithms import ALGORITHM_NAMES
    from desivoid_ml.db import open_database
    from desivoid_ml.embed.similarity import example_void_key, require_embeddings, search_note
    from desivoid_ml.finder.neighbours import MAX_K
    from desivoid_ml.finder.sky import check_position

    check_format(fmt)
    if not 1 <= k <= MAX_K:
        raise DesivoidError(f"-k must be between 1 and {MAX_K}, got {k}")
    if unusual or only is not None or of is not None:
        _check_unusual_only(unusual, targetid, ra, dec)
        _print_unusual(k, run, only, of, fmt)
        return
    if (ra is None) != (dec is None):
        raise DesivoidError("give both --ra and --dec (degrees)")
    if ra is not None and targetid is not None:
        raise DesivoidError("give a TARGETID or --ra/--dec, not both")
    if ra is not None:
        check_position(ra, dec, radius)
    note = Console(stderr=True)
    db = open_database()
    require_embeddings(db, run)
    if ra is None and targetid is None:
        targetid, survey, program = example_void_key(db)
        note.print(
            f"example: targetid {targetid} {survey}/{program}, a galaxy inside a VoidFinder void"
        )
    result = _similar_result(db, targetid, (ra, dec, radius), k, run, (survey, program), note)
    note.print(search_note(db, result["run"]))
    if fmt == "json":
        print(json.dumps(result, default=str, indent=1))
        return
    header, named = result["columns"], result["neighbours"]
    rows = [tuple(r[c] for c in header) for r in named]
    if fmt == "table":  # compact: survey/program together, the algorithms whose void holds it
        header = ("targetid", "survey/program", "distance", "z", "log M*", "in a void of")
        rows = [
            (
                r["targetid"],
                f"{r['survey']}/{r['program']}",
                r["distance"],
                r["z"],
                r["logmstar"],
                " ".join(a for a in ALGORITHM_NAMES if r.get(f"{a}_in_void")) or "-",
            )
            for r in named
        ]
    title = f"galaxies most similar to {result['query']['targetid']} (run {result['run']})"
    print_rows(header, rows, fmt, title=title)


def _check_unusual_only(unusual: bool, targetid, ra, dec) -> None:
    if not unusual:
        raise DesivoidError("--only and --of go with --unusual")
    if targetid is not None or ra is not None or dec is not None:
        raise DesivoidError("--unusual lists a run's galaxies: give no TARGETID or --ra/--dec")


def _print_unusual(k: int, run: str | None, only: str | None, of: str | None, fmt: str) -> None:
    """`desivoid similar --unusual`: the run's largest reconstruction errors, as a list."""
    from desivoid_ml.db import open_database
    from desivoid_ml.embed.unusual import selection, unusual

    chosen = selection(only, of)
    db = open_database()
    with db.connect() as conn:
        found = unusual(conn, db.ns, k, run, chosen)
    title = f"most unusual {found.sample} (run {found.run}, {found.n:,} galaxies)"
    columns = [c for c in found.columns if fmt != "table" or c != "sky_viewer"]
    rows = [[r[c] for c in columns] for r in found.rows]
    print_rows(columns, rows, fmt, title=title)


def _similar_result(db, targetid, position, k, run, key, note: Console) -> dict:
    """The finder's /api/similar object for a TARGETID or the galaxy nearest to a position."""
    from desivoid_ml.finder import views
    from desivoid_ml.finder.neighbours import Filters
    from desivoid_ml.finder.sky import ensure_sky_index
    from desivoid_ml.finder.store import NotFound, Store, read_only_pool

    if targetid is None:
        ensure_sky_index(db)
    store = Store(db, read_only_pool(db, size=1))
    try:
        if targetid is None:
            galaxy, hit = views.galaxy_near(store, *position)
            note.print(
                f"nearest galaxy: targetid {hit['targetid']} {hit['survey']}/{hit['program']}, "
                f"{hit['separation_arcsec']:.3f} arcsec away"
            )
        else:
            galaxy = views.resolve(store, targetid, *key)
        result = views.similar_result(store, galaxy, k, None if run == "latest" else run, Filters())
    except NotFound as exc:
        raise DesivoidError(str(exc).replace("larger radius", "larger --radius")) from exc
    except views.Ambiguous as exc:
        rows = ", ".join(f"{c['survey']}/{c['program']}" for c in exc.choices)
        raise DesivoidError(
            f"targetid {exc.targetid} has {len(exc.choices)} rows ({rows}); "
            "choose one with --survey and --program"
        ) from exc
    finally:
        store.pool.close()
    if not result["neighbours"]:
        raise DesivoidError(
            f"galaxy {galaxy['targetid']} has no embedding in run {result['run']}; "
            f"run `desivoid embed --run {result['run']}`"
        )
    return result


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
