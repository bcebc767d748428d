"""`desivoid report --run ID`: an HTML page of PNG figures about a trained run and its embeddings.

Figures: training/validation loss with the PCA baseline; a 2-D map of the embeddings coloured by
void membership and by sSFR; reconstruction error per feature (autoencoder vs PCA) on the run's
own test split; an example void galaxy and its nearest neighbours; the void-vs-wall table of
`desivoid analyze` (ml.void_wall) with its figures. And "does the embedding see the
environment?": ROC AUC of void membership per algorithm from the embedding, log M*, log M* +
g-r and the run's raw inputs, cross-validated within the run's own test split (the fractions
stored with the run), with bootstrap intervals; merged into ml.runs.metrics.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from desivoid_ml.analysis.checks import selection as selection_words
from desivoid_ml.analysis.config import load_config
from desivoid_ml.analysis.sample import selection_sql
from desivoid_ml.analysis.store import read_table
from desivoid_ml.db.connection import Database
from desivoid_ml.embed.inference import load_model
from desivoid_ml.embed.similarity import example_void_key, similar
from desivoid_ml.report.environment import (
    auc_metrics,
    environment_auc,
    environment_is_input,
    merge_metrics,
)
from desivoid_ml.report.figures import loss_figure, map_figure, reconstruction_figure
from desivoid_ml.report.html import PageParts, render_page
from desivoid_ml.report.profiles_section import copy_profile_figures
from desivoid_ml.report.sample import load_sample
from desivoid_ml.runs import Run, get_run

TEST_ROWS = 100_000  # at most this many test-split galaxies are scored


def _example(db: Database, run: Run) -> tuple[int, list]:
    """A void galaxy and its 10 nearest neighbours in the embedding."""
    targetid, survey, program = example_void_key(db)
    return targetid, similar(db, targetid, 10, run.run_id, survey, program)


def write_report(db: Database, run_id: str | None, out_root: Path = Path("reports")) -> Path:
    """Write reports/<run>/index.html and its PNGs; returns the HTML path."""
    run = get_run(db, run_id)
    out = out_root / run.run_id
    out.mkdir(parents=True, exist_ok=True)
    analysis = load_config()
    selection = selection_sql(analysis)
    sample = load_sample(db, run, selection=selection)
    test = load_sample(db, run, "test", TEST_ROWS, selection)
    has_loss = loss_figure(run, out / "loss.png")
    method = map_figure(sample, out / "embedding_map.png")
    model = load_model(run)  # once: the figures and the AUCs share it
    errors = reconstruction_figure(run, model, test, out / "reconstruction.png")
    auc = environment_auc(model, test, analysis)
    merge_metrics(db, run, auc_metrics(auc))
    void_wall = _void_wall(db, run, out)
    example, neighbours = _example(db, run)
    (out / "summary.json").write_text(
        json.dumps(
            {
                "run": run.run_id,
                "metrics": run.metrics,
                "split_fractions": vars(run.fractions),
                "environment_auc": auc,
                "environment_inputs": environment_is_input(run),
                "reconstruction_mse_test": errors,
                "reconstruction_mse": errors,
                "sample_rows": len(sample.codes),
                "test_rows": len(test.codes),
                "void_wall_rows": len(void_wall),
            },
            indent=2,
            default=str,
        )
    )
    page = render_page(
        run,
        PageParts(
            auc=auc,
            auc_given_environment=environment_is_input(run),
            map_method=method,
            has_loss=has_loss,
            example=example,
            neighbours=neighbours,
            sample_rows=len(sample.codes),
            test_rows=len(test.codes),
            void_wall=void_wall,
            fractions=run.fractions,
            selection=selection_words(analysis),
            profile_figures=copy_profile_figures(db, out),
        ),
    )
    (out / "index.html").write_text(page)
    return out / "index.html"


def _void_wall(db: Database, run: Run, out: Path) -> list[dict]:
    """ml.void_wall rows, their figures copied beside the page (figure -> its file name)."""
    rows = read_table(db)
    for row in rows:
        source = Path(row.get("figure") or "")
        if source.is_file():
            target = out / source.name
            if source.resolve() != target.resolve():
                shutil.copyfile(source, target)
            row["figure"] = source.name
        else:
            row["figure"] = None
    return rows
