"""`desivoid report --run ID`: an HTML page of PNG figures about a trained run and its embeddings.

Figures: training/validation loss with the PCA baseline; a 2-D map of the embeddings coloured by
void membership and by sSFR; reconstruction error per feature (autoencoder vs PCA); an example void
galaxy and its nearest neighbours. Plus the answer to "does the embedding carry environment?":
ROC AUC of a logistic regression predicting void membership from the embedding vs from stellar
mass alone, fitted on train-split galaxies and scored on test-split ones.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from psycopg import sql  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from desivoid_ml.data.query import Fractions  # noqa: E402
from desivoid_ml.db.connection import Database  # noqa: E402
from desivoid_ml.db.copy_read import read_copy  # noqa: E402
from desivoid_ml.db.introspect import table_columns  # noqa: E402
from desivoid_ml.embed.inference import load_model  # noqa: E402
from desivoid_ml.embed.runs import Run, get_run  # noqa: E402
from desivoid_ml.embed.similarity import example_void_galaxy, similar  # noqa: E402
from desivoid_ml.embed.store import embedded_run  # noqa: E402
from desivoid_ml.models.losses import per_feature_mse  # noqa: E402

SAMPLE_ROWS = 40_000
ENVIRONMENT_COLUMN = "vf_in_void"


@dataclass
class Sample:
    """Embeddings of a sample of galaxies with the properties the figures need."""

    codes: np.ndarray
    in_void: np.ndarray  # 1, 0, or -1 when unknown
    log_ssfr: np.ndarray
    logmstar: np.ndarray
    split_train: np.ndarray
    features: np.ndarray


def load_sample(db: Database, run: Run, rows: int = SAMPLE_ROWS) -> Sample:
    """A hash-selected sample (stable across calls) of embedded galaxies."""
    with db.connect() as conn:
        run_id, partition, dim = embedded_run(conn, db, run.run_id)
        total = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(db.ns.ml, partition))
        ).fetchone()[0]
        keep = max(1, min(1024, int(np.ceil(1024 * rows / max(total, 1)))))
        present = table_columns(conn, db.ns.features, "galaxy")
        low, high = Fractions().bucket_range("train")
        exprs = [f"COALESCE(({e})::float4, 'NaN')" for e in run.features.values()]
        query = sql.SQL(
            "SELECT e.embedding::vector({d}), {env}, {ssfr}, {mass}, "
            "((f.key_hash & 1023) >= {low} AND (f.key_hash & 1023) < {high}), {feats} "
            "FROM {part} e JOIN {galaxy} f USING (targetid, survey, program) "
            "WHERE ((f.key_hash >> 20) & 1023) < {keep}"
        ).format(
            d=sql.Literal(dim),
            low=sql.Literal(low),
            high=sql.Literal(high),
            env=sql.SQL(
                f"COALESCE({ENVIRONMENT_COLUMN}::int, -1)"
                if ENVIRONMENT_COLUMN in present
                else "-1"
            ),
            ssfr=sql.SQL(
                "COALESCE(log_ssfr::float4, 'NaN')" if "log_ssfr" in present else "'NaN'::float4"
            ),
            mass=sql.SQL(
                "COALESCE(logmstar::float4, 'NaN')" if "logmstar" in present else "'NaN'::float4"
            ),
            feats=sql.SQL(", ").join(sql.SQL(e) for e in exprs),
            part=sql.Identifier(db.ns.ml, partition),
            galaxy=sql.Identifier(db.ns.features, "galaxy"),
            keep=sql.Literal(keep),
        )
        fields = [
            ("code", f"vector({dim})"),
            ("in_void", "integer"),
            ("log_ssfr", "real"),
            ("logmstar", "real"),
            ("train", "boolean"),
        ]
        fields += [(f"f{i}", "real") for i in range(len(exprs))]
        data = read_copy(conn, query, fields)
    features = np.stack([data[f"f{i}"] for i in range(len(exprs))], axis=1)
    return Sample(
        data["code"],
        data["in_void"],
        data["log_ssfr"],
        data["logmstar"],
        data["train"].astype(bool),
        features,
    )


def environment_auc(sample: Sample) -> dict[str, float]:
    """ROC AUC for void membership on test-split galaxies: embedding vs log stellar mass."""
    known = (sample.in_void >= 0) & np.isfinite(sample.logmstar)
    train, test = known & sample.split_train, known & ~sample.split_train
    y_train, y_test = sample.in_void[train], sample.in_void[test]
    if len(np.unique(y_train)) < 2 or len(np.unique(y_test)) < 2:
        return {
            "auc_embedding": float("nan"),
            "auc_logmstar": float("nan"),
            "n_test": int(test.sum()),
        }
    scores = {}
    for name, x in (("auc_embedding", sample.codes), ("auc_logmstar", sample.logmstar[:, None])):
        model = LogisticRegression(max_iter=2000).fit(x[train], y_train)
        scores[name] = float(roc_auc_score(y_test, model.predict_proba(x[test])[:, 1]))
    scores["n_test"] = int(test.sum())
    return scores


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
    ax.set(ylabel="masked MSE (standardised)", title="reconstruction error per feature")
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
    has_loss = _loss_figure(run, out / "loss.png")
    method = _map_figure(sample, out / "embedding_map.png")
    errors = _reconstruction_figure(run, sample, out / "reconstruction.png")
    auc = environment_auc(sample)
    example, neighbours = _example(db, run)
    (out / "summary.json").write_text(
        json.dumps(
            {
                "run": run.run_id,
                "metrics": run.metrics,
                "environment_auc": auc,
                "reconstruction_mse": errors,
                "sample_rows": len(sample.codes),
            },
            indent=2,
        )
    )
    page = _html(run, auc, method, has_loss, example, neighbours, len(sample.codes))
    (out / "index.html").write_text(page)
    return out / "index.html"


def _html(run: Run, auc: dict, method: str, has_loss: bool, example, neighbours, n: int) -> str:
    metrics = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v:.5g}</td></tr>"
        for k, v in sorted(run.metrics.items())
    )
    table = ""
    if neighbours:
        header, *rows = neighbours
        table = "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
        table += (
            "".join(
                "<tr>" + "".join(f"<td>{html.escape(_text(v))}</td>" for v in row) + "</tr>"
                for row in rows
            )
            + "</table>"
        )
    loss = '<img src="loss.png" alt="loss curves">' if has_loss else "<p>no CSV log found</p>"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>run {run.run_id}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}img{{max-width:100%}}
table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}</style>
</head><body><h1>Run {html.escape(run.run_id)}</h1>
<p>{html.escape(run.model_kind)} with a {run.code_dim}-d code, trained on {len(run.features)}
features; git commit {html.escape(str(run.git_commit))}. Figures use {n:,} embedded galaxies.</p>
<h2>Metrics</h2><table>{metrics}</table>
<h2>Loss</h2>{loss}
<h2>Embedding map ({method})</h2><img src="embedding_map.png" alt="embedding map">
<h2>Does the embedding carry environment?</h2>
<p>Logistic regression predicting VoidFinder void membership on {auc.get("n_test", 0):,} held-out
(test-split) galaxies: ROC AUC <b>{auc["auc_embedding"]:.3f}</b> from the embedding vs
<b>{auc["auc_logmstar"]:.3f}</b> from log stellar mass alone.</p>
<h2>Reconstruction error per feature</h2><img src="reconstruction.png" alt="reconstruction error">
<h2>An example void galaxy and its nearest neighbours</h2>
<p>targetid {example}</p>{table}
</body></html>"""


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
