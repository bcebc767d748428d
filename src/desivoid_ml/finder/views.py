"""What each page and API call shows, as plain dicts (the HTML and JSON render the same data)."""

from __future__ import annotations

import psycopg

from desivoid_ml.finder import neighbours as nb
from desivoid_ml.finder.sky import galaxies_at
from desivoid_ml.finder.store import ALGORITHM_NAMES, ALGORITHMS, KEY, NotFound, Store

SEARCH_LIMIT = 200
SKY_VIEWER = "https://www.legacysurvey.org/viewer?ra={ra:.6f}&dec={dec:.6f}&layer=ls-dr10&zoom=16"
HIDDEN = {"key_hash"}


class Ambiguous(LookupError):
    """A TARGETID with several (survey, program) rows: the user must choose one."""

    def __init__(self, targetid: int, choices: list[dict]) -> None:
        keys = ", ".join(f"{c['survey']}/{c['program']}" for c in choices)
        super().__init__(
            f"targetid {targetid} has {len(choices)} rows ({keys}); choose a survey and program"
        )
        self.targetid = targetid
        self.choices = choices


def resolve(store: Store, targetid: int, survey: str | None, program: str | None) -> dict:
    """The one features.galaxy row of this galaxy, or NotFound / Ambiguous."""
    rows = store.galaxies(targetid, survey, program)
    if not rows:
        which = "/".join(x for x in (survey, program) if x)
        raise NotFound(f"no galaxy with targetid {targetid}" + (f" in {which}" if which else ""))
    if len(rows) > 1:
        raise Ambiguous(targetid, [{k: r[k] for k in KEY} for r in rows])
    return rows[0]


def search_position(store: Store, ra: float, dec: float, radius: float) -> dict:
    with store.conn() as conn:
        try:
            hits = galaxies_at(conn, store.db, ra, dec, radius, limit=SEARCH_LIMIT + 1)
        except psycopg.errors.UndefinedTable as exc:
            raise NotFound("features.galaxy does not exist; run `desivoid features`") from exc
    return {
        "ra": ra,
        "dec": dec,
        "radius_arcsec": radius,
        "count": min(len(hits), SEARCH_LIMIT),
        "truncated": len(hits) > SEARCH_LIMIT,
        "galaxies": hits[:SEARCH_LIMIT],
    }


def galaxy_near(store: Store, ra: float, dec: float, radius: float) -> tuple[dict, dict]:
    """The features.galaxy row of the galaxy nearest to (ra, dec) within radius arcsec, and its
    search hit (with the separation)."""
    found = search_position(store, ra, dec, radius)["galaxies"][:1]
    if not found:
        raise NotFound(
            f"no galaxy within {radius:g} arcsec of RA {ra:g}, Dec {dec:g}; try a larger radius"
        )
    hit = found[0]
    return resolve(store, hit["targetid"], hit["survey"], hit["program"]), hit


def galaxy_detail(store: Store, galaxy: dict) -> dict:
    """Properties, environment per algorithm (with the nearest void) and the sky-viewer link."""
    env_cols = nb.environment_columns(galaxy)
    env_names = {c for cols in env_cols.values() for c in cols}
    properties = {
        k: v for k, v in galaxy.items() if k not in env_names and k not in HIDDEN and k not in KEY
    }
    nearest = store.nearest_voids(galaxy)
    environment = []
    for algorithm in ALGORITHMS:
        if not env_cols[algorithm] and algorithm not in nearest:
            continue
        entry = {"algorithm": ALGORITHM_NAMES[algorithm], "prefix": algorithm}
        entry.update({c[len(algorithm) + 1 :]: galaxy[c] for c in env_cols[algorithm]})
        near = nearest.get(ALGORITHM_NAMES[algorithm].lower(), {})
        entry["nearest_void"] = near.get("void")
        entry["nearest_void_catalog"] = near.get("catalog")
        entry["nearest_void_distance_mpch"] = near.get("distance_mpch")
        environment.append(entry)
    ra, dec = galaxy.get("ra"), galaxy.get("dec")
    return {
        **{k: galaxy[k] for k in KEY},
        "properties": properties,
        "environment": environment,
        "sky_viewer": SKY_VIEWER.format(ra=ra, dec=dec) if ra is not None else None,
    }


def similar_result(store: Store, galaxy: dict, k: int, run: str | None, filters) -> dict:
    found = nb.similar(store, galaxy, k, run, filters)
    return {
        "query": {c: galaxy[c] for c in KEY},
        "run": found.run,
        "k": k,
        "candidates": found.candidates,
        "filters": {
            "algorithm": filters.algorithm,
            "env": filters.environment,
            "zmin": filters.z_min,
            "zmax": filters.z_max,
        },
        "columns": found.columns,
        "neighbours": [{c: r.get(c) for c in found.columns} for r in found.rows],
    }
