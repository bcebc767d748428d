"""The finder's picture routes: the embedding map and the survey slice of a galaxy, as PNG with
an ETag (`etags`); bad input raises BadParam / NotFound like every other route."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desivoid_ml.finder import etags, params, plots, views
from desivoid_ml.finder.picture_cache import PictureCache
from desivoid_ml.finder.store import KEY, NotFound, Store

SLICE_DEFAULT_MPCH = 10.0


def routes(store: Store) -> list[Route]:
    """`/plot/map/<targetid>.png` and `/plot/slice/<targetid>.png`, drawn once per tag while
    the server's picture cache holds them."""
    cache = PictureCache()

    def galaxy_of(request: Request) -> dict:
        q = request.query_params
        targetid = params.targetid(request.path_params.get("targetid"))
        return views.resolve(store, targetid, params.name(q, "survey"), params.name(q, "program"))

    def draw_map(request: Request) -> bytes:
        q = request.query_params
        g = galaxy_of(request)
        result = views.similar_result(
            store, g, params.k(q), params.name(q, "run"), params.filters(q)
        )
        keys = [tuple(r[c] for c in KEY) for r in result["neighbours"]]
        codes = plots.codes_of(store, result["run"], [tuple(g[c] for c in KEY), *keys])
        return plots.embedding_map(store, result["run"], codes[0], codes[1:])

    def draw_slice(request: Request) -> bytes:
        g = galaxy_of(request)
        half = params.number(request.query_params, "thickness", 0.5, 100.0, SLICE_DEFAULT_MPCH)
        if g.get("x") is None:
            raise NotFound(f"galaxy {g['targetid']} has no comoving position (z <= 0?)")
        return plots.survey_slice(store, g, half)

    def map_png(request: Request) -> Response:
        return etags.png_response(request, store, lambda: draw_map(request), cache)

    def slice_png(request: Request) -> Response:
        return etags.png_response(request, store, lambda: draw_slice(request), cache)

    return [
        Route("/plot/map/{targetid}.png", map_png),
        Route("/plot/slice/{targetid}.png", slice_png),
    ]
