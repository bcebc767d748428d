"""The HTML of `desivoid report`: tables and text around the PNG figures, from plain values."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from desivoid_ml.analysis.config import ALGORITHM_NAMES
from desivoid_ml.data.query import Fractions
from desivoid_ml.report.profiles_section import profiles_html
from desivoid_ml.runs import Run


@dataclass(frozen=True)
class PageParts:
    """What the page shows besides the run itself."""

    auc: dict[str, dict]
    auc_given_environment: list[str]  # environment columns among the run's inputs
    map_method: str
    has_loss: bool
    example: int
    neighbours: list
    sample_rows: int
    test_rows: int
    void_wall: list[dict]
    fractions: Fractions
    profile_figures: list[str] = field(default_factory=list)  # desivoid profiles' PNGs


INPUT_LABELS = {
    "embedding": "embedding",
    "logmstar": "log M*",
    "logmstar_g_r": "log M* + g-r",
    "inputs": "raw inputs (ceiling)",
}


def _auc_html(parts: PageParts) -> str:
    given, auc, fractions = parts.auc_given_environment, parts.auc, parts.fractions
    note = (
        f"<p><b>Environment is an input of this run</b> ({html.escape(', '.join(given))}): "
        "the embedding is told the environment, so a high AUC here is by construction.</p>"
        if given
        else "<p>This run was trained on galaxy properties only: no environment column is an "
        "input, so whatever the embedding knows about voids it learned from the properties.</p>"
    )
    head = (
        f"<p>Split: the run's own <b>test split</b> ({fractions.test:.0%} of galaxies by key "
        f"hash; fractions train {fractions.train:g} / val {fractions.val:g} / test "
        f"{fractions.test:g} stored with the run), {parts.test_rows:,} galaxies. Each "
        "algorithm uses the galaxies of its own input sample with log M* and g-r known. "
        "Logistic regression, 5-fold stratified cross-validation within the test split; ROC AUC "
        "of the pooled out-of-fold scores; 95 % intervals from a paired bootstrap "
        "(300 resamples).</p>"
    )
    if not auc:
        return note + head + "<p>No void-membership columns in features.galaxy.</p>"
    cols = list(INPUT_LABELS)
    table = "<table><tr><th>algorithm</th><th>galaxies (void)</th>"
    table += "".join(f"<th>{html.escape(INPUT_LABELS[c])}</th>" for c in cols)
    table += "<th>embedding - log M*</th><th>embedding's share of the inputs' AUC - 0.5</th></tr>"
    for prefix, result in auc.items():
        table += (
            f"<tr><td>{ALGORITHM_NAMES[prefix]}</td><td>{result['n']:,} ({result['n_void']:,})</td>"
        )
        for c in cols:
            table += f"<td>{_interval(result['auc'].get(c))}</td>"
        table += f"<td>{_interval(result.get('embedding_minus_logmstar'), True)}</td>"
        table += f"<td>{_interval(result.get('embedding_share_of_inputs'))}</td></tr>"
    return note + head + table + "</table>"


def _interval(entry, signed: bool = False) -> str:
    if not entry:
        return "-"
    value, low, high = entry
    fmt = "+.3f" if signed else ".3f"
    return f"{value:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


def _void_wall_html(rows: list[dict]) -> str:
    if not rows:
        return "<p>Not computed: run <code>desivoid analyze</code> (it fills ml.void_wall).</p>"
    table = (
        "<table><tr><th>algorithm</th><th>property</th><th>n void</th><th>n wall</th>"
        "<th>median void</th><th>median wall</th><th>shift [68 %]</th><th>KS p</th>"
        "<th>AD p</th><th>at fixed</th><th>matched shift [68 %]</th></tr>"
    )
    for r in rows:
        table += (
            f"<tr><td>{html.escape(r['algorithm'])}</td><td>{html.escape(r['property'])}</td>"
            f"<td>{r['n_void']:,}</td><td>{r['n_wall']:,}</td>"
            f"<td>{_text(r['median_void'])}</td><td>{_text(r['median_wall'])}</td>"
            f"<td>{_shift(r, 'shift', 'shift_lo', 'shift_hi')}</td>"
            f"<td>{_text(r['ks_p'])}</td><td>{_text(r['ad_p'])}</td>"
            f"<td>{html.escape(r['control'])}</td>"
            f"<td>{_shift(r, 'matched_shift', 'matched_lo', 'matched_hi')}</td></tr>"
        )
    figures = dict.fromkeys(r["figure"] for r in rows if r.get("figure"))
    images = "".join(f'<img src="{html.escape(f)}" alt="{html.escape(f)}">' for f in figures)
    return (
        "<p>From <code>desivoid analyze</code> (table ml.void_wall): each algorithm's own input "
        "sample; shift = void median - wall median with a 68 % bootstrap interval; the matched "
        "shift reweights the wall galaxies to the voids' joint distribution of the control "
        "variables (log M* and redshift; for log M* itself, redshift and abs_mag_r).</p>"
        + table
        + "</table>"
        + images
    )


def _shift(row: dict, key: str, low: str, high: str) -> str:
    if row.get(key) is None:
        return "-"
    return f"{row[key]:+.3f} [{row[low]:+.3f}, {row[high]:+.3f}]"


def render_page(run: Run, parts: PageParts) -> str:
    """The report's index.html (figures are PNG files beside it)."""
    neighbours = parts.neighbours
    metrics = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_text(v)}</td></tr>"
        for k, v in sorted(run.metrics.items())
        if not k.startswith("env_auc/")
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
    loss = '<img src="loss.png" alt="loss curves">' if parts.has_loss else "<p>no CSV log found</p>"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>run {run.run_id}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}}img{{max-width:100%}}
table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}</style>
</head><body><h1>Run {html.escape(run.run_id)}</h1>
<p>{html.escape(run.model_kind)} with a {run.code_dim}-d code, trained on {len(run.features)}
features ({html.escape(", ".join(run.features))});
git commit {html.escape(str(run.git_commit))}.</p>
<h2>Metrics</h2><table>{metrics}</table>
<h2>Loss</h2>{loss}
<h2>Embedding map ({parts.map_method}, all splits, {parts.sample_rows:,} galaxies)</h2>
<img src="embedding_map.png" alt="embedding map">
<h2>Void vs wall galaxies</h2>{_void_wall_html(parts.void_wall)}
<h2>Stacked void profiles</h2>{profiles_html(parts.profile_figures)}
<h2>Does the embedding carry environment?</h2>{_auc_html(parts)}
<h2>Reconstruction error per feature (test split, {parts.test_rows:,} galaxies)</h2>
<img src="reconstruction.png" alt="reconstruction error">
<h2>An example void galaxy and its nearest neighbours</h2>
<p>targetid {parts.example}</p>{table}
</body></html>"""


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
