"""HTTP caching of the finder's pictures: an ETag keyed on the request (path and query) and on
the identity of the data drawn (the tables' and embedding sets' versions), so a browser that
asks again gets 304 and nothing is read or drawn; a rebuilt table or a new run changes it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from psycopg import sql
from starlette.requests import Request
from starlette.responses import Response

from desivoid_ml.finder.picture_cache import PictureCache
from desivoid_ml.finder.store import Store

RENDERER = "raster-1"  # part of every tag: a new drawing code makes old pictures stale
CACHE_CONTROL = "private, max-age=60, must-revalidate"  # then revalidate with If-None-Match
TABLES = ("galaxy", "voids")

IDENTITY_SQL = """
SELECT coalesce(string_agg(c.relname || ':' || c.oid || ':' || c.relfilenode || ':'
       || coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0), ',' ORDER BY c.relname), '')
FROM pg_class c LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.relnamespace = %s::regnamespace AND c.relname = ANY(%s)
"""


def data_identity(store: Store) -> str:
    """features.galaxy and features.voids (oid, file, rows written) and every embedding set
    (run, partition, rows, created); read at most every CATALOG_TTL_S."""
    return store._cached(("identity",), lambda conn: _identity(conn, store))


def _identity(conn, store: Store) -> str:
    tables = conn.execute(IDENTITY_SQL, (store.db.ns.features, list(TABLES))).fetchone()[0]
    sets = conn.execute(
        sql.SQL(
            "SELECT coalesce(string_agg(run_id || ':' || partition || ':' || rows || ':' "
            "|| created, ',' ORDER BY run_id), '') FROM {}"
        ).format(sql.Identifier(store.db.ns.ml, "embedding_sets"))
    ).fetchone()[0]
    return f"{tables}|{sets}"


def etag(request: Request, identity: str) -> str:
    query = sorted(request.query_params.multi_items())
    text = f"{RENDERER}|{request.url.path}|{query}|{identity}"
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def png_response(
    request: Request, store: Store, draw: Callable[[], bytes], cache: PictureCache
) -> Response:
    """304 when the client already holds this picture of this data, else the server's copy
    (`X-Cache: hit`) or draw() as PNG (`X-Cache: miss`)."""
    tag = etag(request, data_identity(store))
    headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL}
    if tag in _tags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    picture, drawn = cache.get_or_draw(tag, draw)
    headers["X-Cache"] = "miss" if drawn else "hit"
    return Response(picture, media_type="image/png", headers=headers)


def _tags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}
