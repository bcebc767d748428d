"""The HTML of `desivoid report`: tables and text around the PNG figures, from plain values."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from desivoid_ml.analysis.config import ALGORITHM_NAMES
from desivoid_ml.analysis.environment_auc import share_is_defined
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
    selection: str = "sample='good_galaxy'"  # the analysis's galaxies (configs/analysis.yaml)
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
        "algorithm uses its void and wall samples (&lt;prefix&gt;_sample) within the analysis "
        f"selection ({html.escape(parts.selection)}), with log M* and g-r known. "
        "Logistic regression, 5-fold stratified cross-validation within the test split; ROC AUC "
        "of the pooled out-of-fold scores; 95 % intervals from "
        f"{_method_words(_pooled(auc))}, paired across the inputs.</p>"
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
        table += f"<td>{_share(result)}</td></tr>"
    return note + head + table + "</table>"


def _pooled(auc: dict[str, dict]) -> dict:
    """One description of the AUC intervals of every algorithm: the method, and the replicate
    counts as a range ("61-64") where the algorithms' samples cover different regions."""
    counts = sorted({r.get("replicates") for r in auc.values() if r.get("replicates")})
    first = next(iter(auc.values()), {})
    span = "-".join(str(c) for c in dict.fromkeys([counts[0], counts[-1]])) if counts else None
    return {"interval_method": first.get("interval_method"), "replicates": span}


def _method_words(result: dict) -> str:
    """How a result's intervals were made, in words."""
    method = result.get("interval_method")
    if method is None:
        return "resampling (none computed)"
    count = result.get("replicates") or result.get("regions") or result.get("resamples")
    if method == "jackknife":
        return f"a delete-one jackknife over {count} equal-area sky regions"
    return f"a Poisson bootstrap ({count} resamples)" if count else "a Poisson bootstrap"


def _share(result: dict) -> str:
    """The embedding's share, or n/a when the raw inputs' AUC interval holds 0.5."""
    if not share_is_defined(result["auc"].get("inputs")):
        return "n/a"
    return _interval(result.get("embedding_share_of_inputs"))


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
        "<th>AD p</th><th>at fixed</th><th>matched shift [68 %]</th>"
        "<th>matched, hole surfaces excluded [68 %]</th><th>intervals</th></tr>"
    )
    for r in rows:
        table += (
            f"<tr><td>{html.escape(r['algorithm'])}</td><td>{html.escape(r['property'])}</td>"
            f"<td>{r['n_void']:,}</td><td>{r['n_wall']:,}</td>"
            f"<td>{_text(r['median_void'])}</td><td>{_text(r['median_wall'])}</td>"
            f"<td>{_shift(r, 'shift', 'shift_lo', 'shift_hi')}</td>"
            f"<td>{html.escape(_text(r['ks_p']))}</td><td>{html.escape(_text(r['ad_p']))}</td>"
            f"<td>{html.escape(r['control'])}</td>"
            f"<td>{_shift(r, 'matched_shift', 'matched_lo', 'matched_hi')}</td>"
            f"<td>{_shift(r, 'matched_shift_exclude', 'matched_exclude_lo', 'matched_exclude_hi')}"
            "</td>"
            f"<td>{html.escape(_method_short(r))}</td></tr>"
        )
    figures = dict.fromkeys(r["figure"] for r in rows if r.get("figure"))
    images = "".join(f'<img src="{html.escape(f)}" alt="{html.escape(f)}">' for f in figures)
    return (
        "<p>From <code>desivoid analyze</code> (table ml.void_wall): each algorithm's void and "
        "wall samples; shift = void median - wall median with a 68 % interval from "
        f"{_method_words({'interval_method': 'bootstrap'} | rows[0])}; the matched "
        "shift reweights the wall galaxies to the voids' joint distribution of the control "
        "variables (log M* and redshift; for log M* itself, redshift and abs_mag_r). Void and "
        "wall are each algorithm's <code>&lt;prefix&gt;_sample</code> (VoidFinder: vflag 1 vs "
        "0; V2: in-volume galaxies in or out of a void); for VoidFinder the matched shift is "
        "also given with the galaxies on hole surfaces in neither sample, so a result that hangs "
        "on their float rounding shows.</p>" + table + "</table>" + images
    )


def _method_short(row: dict) -> str:
    if row.get("interval_method") == "jackknife":
        return f"jackknife, {row.get('regions')} regions"
    return f"bootstrap, {row['resamples']}" if row.get("resamples") else "bootstrap"


def _shift(row: dict, key: str, low: str, high: str) -> str:
    if row.get(key) is None:
        return "-"
    if row.get(low) is None or row.get(high) is None:
        return f"{row[key]:+.3f}"
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
