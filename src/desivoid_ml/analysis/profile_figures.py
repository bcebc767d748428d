"""One figure per property: its stacked void-centric profile, the algorithms side by side (one
line per mass bin, raw solid and z-matched dashed, jackknife error bars); the density profile
n(r)/n_mean likewise. Drawn from profile rows, so the CLI and the finder draw the same thing."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DENSITY = "density"


def profile_figure(prop: str, rows: list[dict], path: Path | None = None) -> bytes:
    """The PNG of one property's rows (written to `path` when given); returns its bytes."""
    algorithms = list(dict.fromkeys(r["algorithm"] for r in rows))
    fig, axes = plt.subplots(
        1,
        max(len(algorithms), 1),
        figsize=(3.4 * max(len(algorithms), 1), 3.2),
        squeeze=False,
        sharey=True,
    )
    for ax, algorithm in zip(axes[0], algorithms, strict=False):
        mine = [r for r in rows if r["algorithm"] == algorithm]
        _panel(ax, prop, mine)
        ax.set(title=algorithm, xlabel="r / R_void")
        ax.axvline(1.0, color="grey", lw=0.8, ls=":")
    axes[0][0].set_ylabel("n(r) / n_mean" if prop == DENSITY else f"median {prop}")
    if prop != DENSITY:  # what the line styles mean
        axes[0][0].plot([], [], "k-", lw=1.2, label="raw")
        axes[0][0].plot([], [], "k--", lw=1.2, label="matched on z")
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    png = buffer.getvalue()
    if path is not None:
        path.write_bytes(png)
    return png


def _panel(ax, prop: str, rows: list[dict]) -> None:
    if prop == DENSITY:
        ax.axhline(1.0, color="grey", lw=0.8)
        _line(ax, rows, "median", "median_err", "-", "n / n_mean")
        return
    masses = sorted({(r["mass_lo"], r["mass_hi"]) for r in rows})
    for i, (lo, hi) in enumerate(masses):
        mine = [r for r in rows if (r["mass_lo"], r["mass_hi"]) == (lo, hi)]
        colour = plt.cm.viridis(i / max(len(masses) - 1, 1))
        label = f"{lo:g}-{hi:g}"
        _line(ax, mine, "median", "median_err", "-", f"M* {label}", colour)
        _line(ax, mine, "median_matched", "median_matched_err", "--", None, colour)


def _line(ax, rows, value, error, style, label, colour=None) -> None:
    centre = np.array([(r["r_lo"] + r["r_hi"]) / 2 for r in rows])
    y = np.array([np.nan if r[value] is None else r[value] for r in rows], dtype=float)
    e = np.array([np.nan if r[error] is None else r[error] for r in rows], dtype=float)
    ax.errorbar(
        centre,
        y,
        yerr=np.nan_to_num(e),
        ls=style,
        marker="o",
        ms=3,
        lw=1.2,
        capsize=2,
        color=colour,
        label=label,
    )
