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
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from psycopg import sql  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from desivoid_ml.analysis.config import ALGORITHM_NAMES  # noqa: E402
from desivoid_ml.analysis.environment_auc import compare_inputs  # noqa: E402
from desivoid_ml.analysis.store import read_table  # noqa: E402
from desivoid_ml.data.query import Fractions, split_predicate  # noqa: E402
from desivoid_ml.db.connection import Database  # noqa: E402
from desivoid_ml.db.copy_read import read_copy  # noqa: E402
from desivoid_ml.db.introspect import table_columns  # noqa: E402
from desivoid_ml.embed.inference import load_model  # noqa: E402
from desivoid_ml.embed.report_html import PageParts, render_page  # noqa: E402
from desivoid_ml.embed.similarity import example_void_galaxy, similar  # noqa: E402
from desivoid_ml.embed.store import embedded_run  # noqa: E402
from desivoid_ml.keys import SAMPLE_BUCKETS, sample_bucket_sql  # noqa: E402
from desivoid_ml.models.losses import per_feature_mse  # noqa: E402
from desivoid_ml.runs import Run, get_run  # noqa: E402

SAMPLE_ROWS = 40_000  # galaxies on the embedding map (all splits)
TEST_ROWS = 100_000  # at most this many test-split galaxies are scored
ENVIRONMENT_MARKERS = ("in_void", "r_over_rvoid", "density", "vflag", "void_id")


@dataclass
class Sample:
    """Embeddings of a hash-selected sample of galaxies with what the figures need."""

    split: str
    codes: np.ndarray
    labels: dict[str, np.ndarray]  # per algorithm prefix: 1 void, 0 wall, -1 not in its sample
    log_ssfr: np.ndarray
    logmstar: np.ndarray
    g_r: np.ndarray
    features: np.ndarray

    @property
    def in_void(self) -> np.ndarray:
        """VoidFinder label (-1 where unknown), for the map."""
        return self.labels.get("vf", np.full(len(self.codes), -1))


def run_fractions(run: Run) -> Fractions:
    """The split fractions stored with the run (the defaults for runs that stored none)."""
    stored = ((run.config or {}).get("data") or {}).get("fractions")
    return Fractions(**stored) if stored else Fractions()


def load_sample(db: Database, run: Run, split: str = "all", rows: int = SAMPLE_ROWS) -> Sample:
    """At most about `rows` embedded galaxies of one split of the run (stable across calls)."""
    fractions = run_fractions(run)
    with db.connect() as conn:
        run_id, partition, dim = embedded_run(conn, db, run.run_id)
        total = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(db.ns.ml, partition))
        ).fetchone()[0]
        share = 1.0 if split == "all" else max(getattr(fractions, split), 1e-9)
        whole = SAMPLE_BUCKETS
        keep = max(1, min(whole, int(np.ceil(whole * rows / max(total * share, 1)))))
        present = table_columns(conn, db.ns.features, "galaxy")
        exprs = [f"COALESCE(({e})::float4, 'NaN')" for e in run.features.values()]
        prefixes = [p for p in ALGORITHM_NAMES if {f"{p}_in_void", f"{p}_in_input"} <= set(present)]
        labels = [
            sql.SQL(f"CASE WHEN {p}_in_input THEN COALESCE({p}_in_void::int, -1) ELSE -1 END")
            for p in prefixes
        ]
        query = sql.SQL(
            "SELECT e.embedding::vector({d}), {cols}{labels}{feats} "
            "FROM {part} e JOIN {galaxy} f USING (targetid, survey, program) "
            "WHERE {sample} < {keep} AND {split}"
        ).format(
            d=sql.Literal(dim),
            cols=sql.SQL(", ").join(
                _float_or_nan(c, present) for c in ("log_ssfr", "logmstar", "g_r")
            ),
            labels=sql.SQL("").join(sql.SQL(", ") + label for label in labels),
            feats=sql.SQL("").join(sql.SQL(", ") + sql.SQL(e) for e in exprs),
            part=sql.Identifier(db.ns.ml, partition),
            galaxy=sql.Identifier(db.ns.features, "galaxy"),
            keep=sql.Literal(keep),
            sample=sample_bucket_sql("f"),
            split=split_predicate(split, fractions),
        )
        fields = [("code", f"vector({dim})"), ("log_ssfr", "real"), ("logmstar", "real")]
        fields += [("g_r", "real")] + [(f"l_{p}", "integer") for p in prefixes]
        fields += [(f"f{i}", "real") for i in range(len(exprs))]
        data = read_copy(conn, query, fields)
    features = np.stack([data[f"f{i}"] for i in range(len(exprs))], axis=1)
    return Sample(
        split,
        data["code"],
        {p: data[f"l_{p}"] for p in prefixes},
        data["log_ssfr"],
        data["logmstar"],
        data["g_r"],
        features,
    )


def _float_or_nan(column: str, present: dict) -> sql.Composable:
    if column in present:
        return sql.SQL("COALESCE({}::float4, 'NaN')").format(sql.Identifier(column))
    return sql.SQL("'NaN'::float4")


def environment_inputs(run: Run, sample: Sample) -> dict[str, np.ndarray]:
    """The inputs compared: the embedding, log M*, log M* + g-r, and the model's own inputs
    (standardised, 0 where missing, plus the missing-value mask)."""
    z, mask = load_model(run).normalization.apply(torch.from_numpy(sample.features))
    return {
        "embedding": sample.codes.astype(np.float64),
        "logmstar": sample.logmstar[:, None].astype(np.float64),
        "logmstar_g_r": np.stack([sample.logmstar, sample.g_r], axis=1).astype(np.float64),
        "inputs": torch.cat([z, mask], dim=1).numpy().astype(np.float64),
    }


def environment_auc(run: Run, sample: Sample) -> dict[str, dict]:
    """Per algorithm: AUCs with 95 % intervals, on galaxies of its sample with M* and g-r."""
    inputs = environment_inputs(run, sample)
    known = np.isfinite(sample.logmstar) & np.isfinite(sample.g_r)
    results = {}
    for prefix, labels in sample.labels.items():
        rows = known & (labels >= 0)
        y = labels[rows].astype(int)
        results[prefix] = compare_inputs({k: x[rows] for k, x in inputs.items()}, y)
    return results


def environment_is_input(run: Run) -> list[str]:
    """Input features of the run that are environment columns (then the AUC is by construction)."""
    return [
        name
        for name, expr in run.features.items()
        if any(marker in f"{name} {expr}" for marker in ENVIRONMENT_MARKERS)
    ]


def auc_metrics(auc: dict[str, dict]) -> dict[str, float]:
    """Flat `env_auc/<alg>/<input>[_lo|_hi]` metrics for ml.runs.metrics."""
    flat: dict[str, float] = {}
    for prefix, result in auc.items():
        entries = dict(result.get("auc", {}))
        for extra in ("embedding_minus_logmstar", "embedding_share_of_inputs"):
            if extra in result:
                entries[extra] = result[extra]
        for name, (value, low, high) in entries.items():
            key = f"env_auc/{prefix}/{name}"
            flat.update({key: value, f"{key}_lo": low, f"{key}_hi": high})
    return flat


def merge_metrics(db: Database, run: Run, metrics: dict[str, float]) -> None:
    """Add these keys to the run's metrics jsonb (others kept)."""
    clean = {k: (v if np.isfinite(v) else None) for k, v in metrics.items()}
    with db.connect() as conn:
        conn.execute(
            sql.SQL("UPDATE {} SET metrics = metrics || %s::jsonb WHERE run_id = %s").format(
                sql.Identifier(db.ns.ml, "runs")
            ),
            (json.dumps(clean), run.run_id),
        )


def _loss_figure(run: Run, path: Path) -> bool:
    if not run.checkpoint_path:
        return False
    found = sorted(Path(run.checkpoint_path).parent.parent.glob("csv/version_*/metrics.csv"))
    if not found:
        return False
    import csv

    rows = list(csv.DictReader(found[-1].open()))
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for key, style in (("train/loss", "-"), ("val/recon_mse", "o-"), ("val/pca_recon_mse", "s--")):
        points = [(int(r["step"]), float(r[key])) for r in rows if r.get(key)]
        if points:
            ax.plot(*zip(*points, strict=True), style, label=key, ms=3)
    ax.set(
        xlabel="step",
        ylabel="masked MSE (standardised units)",
        yscale="log",
        title="training and validation loss vs the PCA baseline",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _map_figure(sample: Sample, path: Path) -> str:
    try:
        import umap  # type: ignore

        xy, method = umap.UMAP(random_state=0).fit_transform(sample.codes), "UMAP"
    except ImportError:
        xy, method = PCA(n_components=2, random_state=0).fit_transform(sample.codes), "PCA"
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    low, high = np.percentile(xy, 0.5, axis=0), np.percentile(xy, 99.5, axis=0)
    pad = 0.05 * (high - low)
    for label, value, colour in (
        ("unknown", -1, "lightgrey"),
        ("not in a void", 0, "tab:orange"),
        ("in a VoidFinder void", 1, "tab:blue"),
    ):
        rows = sample.in_void == value
        axes[0].scatter(
            xy[rows, 0], xy[rows, 1], s=2, c=colour, alpha=0.4, label=label, rasterized=True
        )
    axes[0].legend(markerscale=5, loc="best")
    axes[0].set(title=f"embeddings ({method}) by VoidFinder membership")
    finite = np.isfinite(sample.log_ssfr)
    points = axes[1].scatter(
        xy[finite, 0],
        xy[finite, 1],
        s=2,
        c=sample.log_ssfr[finite],
        cmap="coolwarm_r",
        alpha=0.6,
        rasterized=True,
        vmin=np.percentile(sample.log_ssfr[finite], 2) if finite.any() else None,
        vmax=np.percentile(sample.log_ssfr[finite], 98) if finite.any() else None,
    )
    for ax in axes:  # the central 99% of points; a few extreme galaxies would squash the rest
        ax.set(
            xlim=(low[0] - pad[0], high[0] + pad[0]),
            ylim=(low[1] - pad[1], high[1] + pad[1]),
            xlabel=f"{method} 1",
            ylabel=f"{method} 2",
        )
    fig.colorbar(points, ax=axes[1], label="log sSFR [1/yr]")
    axes[1].set(title=f"embeddings ({method}) coloured by sSFR")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return method


def _reconstruction_figure(run: Run, sample: Sample, path: Path) -> dict[str, float]:
    model = load_model(run)
    with torch.no_grad():
        x = torch.from_numpy(sample.features)
        z, mask = model.normalization.apply(x)
        code = model.encode(x)
        ae = model.decode(code).numpy()
        basis = model.pca_basis
        pca = (z @ basis @ basis.T).numpy() if basis.shape[1] else np.full_like(ae, np.nan)
    names = list(run.features)
    ae_err = per_feature_mse(ae, z.numpy(), mask.numpy())
    pca_err = per_feature_mse(pca, z.numpy(), mask.numpy())
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(names)), 4))
    positions = np.arange(len(names))
    ax.bar(positions - 0.2, ae_err, width=0.4, label=f"autoencoder ({run.code_dim}-d)")
    ax.bar(positions + 0.2, pca_err, width=0.4, label=f"PCA ({basis.shape[1]} components)")
    ax.set_xticks(positions, names, rotation=60, ha="right")
    ax.set(
        ylabel="masked MSE (standardised)",
        title=f"reconstruction error per feature ({sample.split} split)",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return dict(zip(names, map(float, ae_err), strict=True))


def _example(db: Database, run: Run) -> tuple[int, list]:
    """A void galaxy and its 10 nearest neighbours in the embedding."""
    targetid = example_void_galaxy(db)
    return targetid, similar(db, targetid, 10, run.run_id)


def write_report(db: Database, run_id: str | None, out_root: Path = Path("reports")) -> Path:
    """Write reports/<run>/index.html and its PNGs; returns the HTML path."""
    run = get_run(db, run_id)
    out = out_root / run.run_id
    out.mkdir(parents=True, exist_ok=True)
    sample = load_sample(db, run)
    test = load_sample(db, run, "test", TEST_ROWS)
    has_loss = _loss_figure(run, out / "loss.png")
    method = _map_figure(sample, out / "embedding_map.png")
    errors = _reconstruction_figure(run, test, out / "reconstruction.png")
    auc = environment_auc(run, test)
    merge_metrics(db, run, auc_metrics(auc))
    void_wall = _void_wall(db, run, out)
    example, neighbours = _example(db, run)
    (out / "summary.json").write_text(
        json.dumps(
            {
                "run": run.run_id,
                "metrics": run.metrics,
                "split_fractions": vars(run_fractions(run)),
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
            fractions=run_fractions(run),
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
