"""The raw.galaxies columns that the default feature properties read, and padding up to the
width of an ingested DR1 table, for `bench_features.py --properties default`: the property
expressions and the join then work on rows as wide as the real ones (~1 KB)."""

from __future__ import annotations

import re

import numpy as np

from desivoid_ml.db.copy_format import CopyColumn

RAW_WIDTH = 215  # columns of raw.galaxies after an ingest of DR1 FastSpecFit files (README)
SQL_WORDS = {"log", "and", "or", "not", "between", "true", "false", "null", "is", "in"}
TEXT = {"spectype": ["GALAXY"] * 18 + ["STAR", "QSO"]}
INTEGER = {"zwarn"}


def referenced_columns(properties) -> list[str]:
    """Column names the properties' `value` and `valid` expressions mention, in order."""
    names: list[str] = []
    for spec in properties.values():
        for text in (str(spec.get("value") or ""), str(spec.get("valid") or "")):
            text = re.sub(r"'[^']*'", "", text)  # no words from string literals
            for word in re.findall(r"[a-z_][a-z0-9_]*", text.lower()):
                if word not in SQL_WORDS and word not in names:
                    names.append(word)
    return names


def extra_columns(properties, present: list[str]) -> list[CopyColumn]:
    """The referenced columns not in `present`, then real padding columns up to RAW_WIDTH."""
    columns = []
    for name in referenced_columns(properties):
        if name in present:
            continue
        kind = "text" if name in TEXT else "bigint" if name in INTEGER else "real"
        columns.append(CopyColumn(name, kind, text_width=8) if kind == "text"
                       else CopyColumn(name, kind))
    pad = max(RAW_WIDTH - len(present) - len(columns), 0)
    return columns + [CopyColumn(f"pad_{i:03d}", "real") for i in range(pad)]


def chunk_values(columns: list[CopyColumn], n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Plausible values for n rows: IVARs 1 (3 % 0: unmeasured), magnitudes around -20, positive
    fluxes and ratios, mostly GALAXY with ZWARN 0; the padding shares one random column."""
    ivar = np.where(rng.random(n) < 0.03, 0.0, 1.0).astype(np.float32)
    positive = rng.lognormal(0.0, 1.0, n).astype(np.float32)
    magnitude = rng.normal(-20.5, 1.2, n).astype(np.float32)
    out = []
    for column in columns:
        name = column.name
        if name in TEXT:
            out.append(np.array(TEXT[name], dtype="S8")[rng.integers(0, len(TEXT[name]), n)])
        elif name in INTEGER:
            out.append(np.where(rng.random(n) < 0.05, 4, 0).astype(np.int64))
        elif "ivar" in name:
            out.append(ivar)
        elif name.startswith(("absmag", "kcorr")):
            out.append(magnitude)
        else:
            out.append(positive)
    return out
