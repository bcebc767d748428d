"""Per property: void and wall distributions (and the wall matched to the voids), per algorithm."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from desivoid_ml.analysis.stats import Distributions  # noqa: E402

HIST_BINS = 40


def property_figure(prop: str, panels: dict[str, tuple[Distributions, str]], path: Path) -> None:
    """One panel per algorithm: normalised histograms of void, wall and matched wall."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.2), squeeze=False)
    for ax, (algorithm, (dist, control)) in zip(axes[0], panels.items(), strict=True):
        both = np.concatenate([dist.void, dist.wall])
        if len(both) == 0:
            ax.set(title=f"{algorithm}: no data")
            continue
        edges = np.linspace(*np.percentile(both, [0.5, 99.5]), HIST_BINS + 1)
        ax.hist(dist.wall, edges, density=True, histtype="step", color="tab:orange", label="wall")
        if len(dist.wall_matched):
            ax.hist(
                dist.wall_matched,
                edges,
                weights=dist.wall_weights,
                density=True,
                histtype="step",
                ls="--",
                color="tab:red",
                label=f"wall at fixed {control}",
            )
        ax.hist(
            dist.void, edges, density=True, histtype="step", color="tab:blue", lw=1.6, label="void"
        )
        ax.set(
            title=f"{algorithm} ({len(dist.void):,} void / {len(dist.wall):,} wall)", xlabel=prop
        )
        ax.title.set_fontsize(9)
    axes[0][0].set_ylabel("density")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
