"""The report's figures: loss curves, the embedding map, reconstruction error per feature."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from desivoid_ml.models.autoencoder import AutoencoderModule  # noqa: E402
from desivoid_ml.models.losses import per_feature_mse  # noqa: E402
from desivoid_ml.report.sample import Sample  # noqa: E402
from desivoid_ml.runs import Run  # noqa: E402


def loss_figure(run: Run, path: Path) -> bool:
    """Training and validation loss from the run's CSV log; False when it has none."""
    log = run.loss_csv
    if log is None:
        return False
    with log.open() as handle:
        rows = list(csv.DictReader(handle))
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


def map_figure(sample: Sample, path: Path) -> str:
    """A 2-D map of the codes (UMAP if installed, else PCA); returns the method's name."""
    try:
        import umap  # type: ignore

        xy, method = umap.UMAP(random_state=0).fit_transform(sample.codes), "UMAP"
    except ImportError:
        xy, method = PCA(n_components=2, random_state=0).fit_transform(sample.codes), "PCA"
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    low, high = np.percentile(xy, 0.5, axis=0), np.percentile(xy, 99.5, axis=0)
    pad = 0.05 * (high - low)
    for label, value, colour in (
        ("in neither VoidFinder sample", -1, "lightgrey"),
        ("VoidFinder wall", 0, "tab:orange"),
        ("VoidFinder void", 1, "tab:blue"),
    ):
        rows = sample.in_void == value
        axes[0].scatter(
            xy[rows, 0], xy[rows, 1], s=2, c=colour, alpha=0.4, label=label, rasterized=True
        )
    axes[0].legend(markerscale=5, loc="best")
    axes[0].set(title=f"embeddings ({method}) by VoidFinder sample (vf_sample)")
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


def reconstruction_figure(
    run: Run, model: AutoencoderModule, sample: Sample, path: Path
) -> dict[str, float]:
    """Masked MSE per feature, autoencoder vs PCA; returns the autoencoder's per feature."""
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
