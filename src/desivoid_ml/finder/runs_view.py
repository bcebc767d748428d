"""What the Runs page shows: each run's metrics grouped into small tables (validation, test,
environment AUCs), and ml.void_wall with its intervals folded in and its figures as links."""

from __future__ import annotations

from pathlib import Path

from desivoid_ml.algorithms import ALGORITHM_NAMES

HIDDEN_VOID_WALL = {"id", "label", "figure", "analysed_at"}
INTERVALS = {
    "shift": ("shift_lo", "shift_hi"),
    "matched_shift": ("matched_lo", "matched_hi"),
    "matched_shift_exclude": ("matched_exclude_lo", "matched_exclude_hi"),  # VoidFinder only
}
MATCHING_DETAIL = {"n_void_matched", "n_wall_matched", "median_wall_matched"}
FIGURE_ROUTE = "/runs/figures/"


def metric_groups(metrics: dict | None) -> dict:
    """{'val': [(name, value)], 'test': [...], 'auc': {'columns': [...], 'rows': [...]},
    'count': n}: the metrics a reader compares, the rest left to the full list."""
    metrics = metrics or {}
    val = [(k[4:], v) for k, v in sorted(metrics.items()) if k.startswith("val/")]
    test = [(k[5:], v) for k, v in sorted(metrics.items()) if k.startswith("test/")]
    return {"val": val, "test": test, "auc": _auc_table(metrics), "count": len(metrics)}


def _auc_table(metrics: dict) -> dict:
    """env_auc/<alg>/<input>[_lo|_hi] as rows per algorithm, one column per input."""
    cells: dict[str, dict[str, tuple]] = {}
    for key, value in metrics.items():
        parts = key.split("/")
        if len(parts) != 3 or parts[0] != "env_auc" or parts[2].endswith(("_lo", "_hi")):
            continue
        prefix, name = parts[1], parts[2]
        low, high = metrics.get(f"{key}_lo"), metrics.get(f"{key}_hi")
        cells.setdefault(prefix, {})[name] = (value, low, high)
    columns = sorted({name for row in cells.values() for name in row}, key=_input_order)
    rows = [
        (ALGORITHM_NAMES.get(prefix, prefix), [row.get(c) for c in columns])
        for prefix, row in sorted(cells.items(), key=lambda item: _algorithm_order(item[0]))
    ]
    return {"columns": columns, "rows": rows}


def _input_order(name: str) -> tuple[int, str]:
    first = ("embedding", "inputs", "logmstar")
    return (first.index(name) if name in first else len(first), name)


def _algorithm_order(prefix: str) -> int:
    order = list(ALGORITHM_NAMES)
    return order.index(prefix) if prefix in order else len(order)


def void_wall_view(void_wall: tuple[list[str], list[tuple]] | None) -> dict | None:
    """Columns and rows to show (intervals folded into their value), when it was analysed,
    and the figures [(name, path)] in the order of the rows."""
    if void_wall is None:
        return None
    names, rows = void_wall
    folded = {c for pair in INTERVALS.values() for c in pair}
    shown = [c for c in names if c not in HIDDEN_VOID_WALL | folded | MATCHING_DETAIL]
    records = [dict(zip(names, row, strict=True)) for row in rows]
    cells = [
        [(r[c], *(r.get(x) for x in INTERVALS.get(c, ()) if x in names)) for c in shown]
        for r in records
    ]
    analysed = sorted({r["analysed_at"] for r in records if r.get("analysed_at")})
    return {
        "columns": shown,
        "rows": cells,
        "analysed_at": analysed[-1] if analysed else None,
        "figures": figures(void_wall),
    }


def figures(void_wall: tuple[list[str], list[tuple]] | None) -> list[tuple[str, Path]]:
    """(file name, path) of each distinct figure of ml.void_wall, in the order of the rows."""
    if void_wall is None or "figure" not in void_wall[0]:
        return []
    i = void_wall[0].index("figure")
    seen: dict[str, Path] = {}
    for row in void_wall[1]:
        if row[i]:
            path = Path(row[i])
            seen.setdefault(path.name, path)
    return list(seen.items())


def figure_file(void_wall: tuple[list[str], list[tuple]] | None, name: str) -> Path | None:
    """The PNG ml.void_wall names `name`, if it is one and exists; nothing else is served."""
    path = dict(figures(void_wall)).get(name)
    if path is None or path.suffix.lower() != ".png" or not path.is_file():
        return None
    return path
