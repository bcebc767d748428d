"""The report's "Stacked void profiles" section: the figures of `desivoid profiles` (the newest
label in ml.void_profiles), copied beside the page."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

from desivoid_ml.analysis.profile_store import read_table
from desivoid_ml.db.connection import Database
from desivoid_ml.db.introspect import relation_exists


def copy_profile_figures(db: Database, out: Path) -> list[str]:
    """File names of the profile PNGs now beside the report ([] when profiles never ran)."""
    with db.connect() as conn:
        if not relation_exists(conn, db.ns.ml, "void_profiles"):
            return []
        rows = read_table(conn, db.ns)
    names = []
    for source in dict.fromkeys(Path(r["figure"]) for r in rows if r.get("figure")):
        if source.is_file():
            target = out / source.name
            if source.resolve() != target.resolve():
                shutil.copyfile(source, target)
            names.append(source.name)
    return names


def profiles_html(figures: list[str]) -> str:
    if not figures:
        return (
            "<p>Not computed: run <code>desivoid profiles</code> (it fills ml.void_profiles).</p>"
        )
    images = "".join(f'<img src="{html.escape(f)}" alt="{html.escape(f)}">' for f in figures)
    return (
        "<p>From <code>desivoid profiles</code>: median of each property in bins of r/R_void per "
        "algorithm and stellar-mass bin (solid; dashed: matched on redshift), jackknife errors "
        "over sky regions; and the voids' density profile n(r)/n_mean.</p>" + images
    )
