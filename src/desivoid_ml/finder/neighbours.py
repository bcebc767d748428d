"""Similar galaxies with the finder's filters: ml.similar_galaxies, then environment/redshift."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from desivoid_ml.finder.etags import data_identity
from desivoid_ml.finder.store import ALGORITHMS, KEY, NotFound, Store, clean

MAX_K = 1000
MAX_CANDIDATES = 4000  # a filtered search looks at most this far down the neighbour list
EXTRA = ("g_r", "log_ssfr", "vf_r_over_rvoid", "vf_vflag")  # shown when features.galaxy has them


@dataclass(frozen=True)
class Filters:
    """Only void / only wall galaxies of one algorithm, and a redshift range."""

    algorithm: str = "vf"
    environment: str = "all"  # all | void | wall
    z_min: float | None = None
    z_max: float | None = None

    @property
    def active(self) -> bool:
        return self.environment != "all" or self.z_min is not None or self.z_max is not None

    @property
    def sample_column(self) -> str:
        """The algorithm's void / wall sample in features.galaxy (features/samples.py)."""
        return f"{self.algorithm}_sample"

    def keep(self, row: dict) -> bool:
        """Void means `<alg>_sample` = 'void' and wall 'wall': edge, outside and out-of-volume
        galaxies (NULL) are in neither, as in `desivoid analyze`."""
        if self.environment != "all" and row.get(self.sample_column) != self.environment:
            return False
        z = row.get("z")
        if self.z_min is not None and (z is None or z < self.z_min):
            return False
        return not (self.z_max is not None and (z is None or z > self.z_max))


@dataclass
class Neighbours:
    run: str
    candidates: int
    rows: list[dict] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)


def candidates_for(k: int, filters: Filters) -> int:
    """How far down the neighbour list to look: k, or more when a filter drops rows."""
    return min(MAX_CANDIDATES, max(20 * k, 200)) if filters.active else k


def similar(
    store: Store, galaxy: dict, k: int, run: str | None, filters: Filters = Filters()
) -> Neighbours:
    """The k nearest neighbours in the run that pass the filters, nearest first."""
    runs = store.embedded_runs()
    if not runs:
        raise NotFound("no run has embeddings yet; run `desivoid embed --run latest`")
    run = run or runs[0]
    if run not in runs:
        raise NotFound(f"run {run!r} has no embeddings; runs with embeddings: {', '.join(runs)}")
    wanted = candidates_for(k, filters)
    key = (store.db.ns.ml, *(galaxy[c] for c in KEY), wanted, run, data_identity(store))
    names, rows = store.searches.get_or_search(
        key, wanted, lambda: _nearest(store, galaxy, wanted, run)
    )
    if filters.environment != "all":
        _add_samples(store, rows, filters.sample_column)
    rows = [r for r in rows if filters.keep(r)][:k]
    extra = _extra_columns(store, rows)
    columns = names[:6] + [c for c in EXTRA if c in extra.get("_present", ())] + names[6:]
    if filters.environment != "all":
        columns.append(filters.sample_column)  # what the filter read, shown and in the CSV
    for row in rows:
        row.update(extra.get(tuple(row[c] for c in KEY), {}))
    return Neighbours(run=run, candidates=wanted, rows=rows, columns=columns)


def _nearest(store: Store, galaxy: dict, wanted: int, run: str) -> tuple[list[str], list[dict]]:
    """ml.similar_galaxies: (column names, the `wanted` nearest rows)."""
    function = sql.Identifier(store.db.ns.ml, "similar_galaxies")
    with store.conn() as conn:
        try:
            cursor = conn.execute(
                sql.SQL("SELECT * FROM {}(%s, %s, %s, %s, %s)").format(function),
                (galaxy["targetid"], wanted, run, galaxy["survey"], galaxy["program"]),
            )
        except psycopg.errors.RaiseException as exc:
            raise NotFound(exc.diag.message_primary or "unknown run") from exc
        names = [d.name for d in cursor.description]
        return names, [clean(dict(zip(names, r, strict=True))) for r in cursor.fetchall()]


def _extra_columns(store: Store, rows: list[dict]) -> dict:
    """g−r, sSFR and VoidFinder r/R_void of the neighbours, keyed by (targetid, survey, program)."""
    present = [c for c in EXTRA if c in store.galaxy_columns()]
    found: dict = {"_present": present}
    if not rows or not present:
        return found
    # `targetid = ANY` walks the primary key; the full key is matched here
    query = sql.SQL(
        "SELECT g.targetid, g.survey, g.program, {} FROM {} g WHERE g.targetid = ANY(%s)"
    ).format(
        sql.SQL(", ").join(sql.SQL("g.{}").format(sql.Identifier(c)) for c in present),
        sql.Identifier(store.db.ns.features, "galaxy"),
    )
    with store.conn() as conn:
        for t, s, p, *values in conn.execute(query, ([r["targetid"] for r in rows],)).fetchall():
            found[(t, s, p)] = clean(dict(zip(present, values, strict=True)))
    return found


def _add_samples(store: Store, rows: list[dict], column: str) -> None:
    """Each candidate's `column` (e.g. vf_sample), read in one query; a missing column is an
    error that says how to make it."""
    if column not in store.galaxy_columns():
        raise NotFound(f"features.galaxy has no {column}; rebuild it with `desivoid features`")
    query = sql.SQL(
        "SELECT g.targetid, g.survey, g.program, g.{} FROM {} g WHERE g.targetid = ANY(%s)"
    ).format(sql.Identifier(column), sql.Identifier(store.db.ns.features, "galaxy"))
    with store.conn() as conn:
        found = conn.execute(query, ([r["targetid"] for r in rows],)).fetchall()
    by_key = {(t, s, p): value for t, s, p, value in found}
    for row in rows:
        row[column] = by_key.get(tuple(row[c] for c in KEY))


def environment_columns(columns: dict[str, str]) -> dict[str, list[str]]:
    """Per algorithm prefix, its environment columns present in features.galaxy."""
    return {a: [c for c in columns if c.startswith(a + "_")] for a in ALGORITHMS}
