"""The finder's "Void profiles" page: the stacked profiles of `desivoid profiles`
(ml.void_profiles) as a table per property with its figure (algorithms side by side), and as
JSON. Figures are drawn from the table on request, so they always match it."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from desivoid_ml.analysis.profile_figures import profile_figure
from desivoid_ml.analysis.profile_store import read_table
from desivoid_ml.db.introspect import relation_exists
from desivoid_ml.finder import params
from desivoid_ml.finder.store import NotFound, Store


def routes(store: Store, page: Callable[..., Response]) -> list[Route]:
    """`/profiles`, `/plot/profile/{property}.png` and `/api/profiles`."""

    def rows(request: Request) -> list[dict]:
        label = params.name(request.query_params, "label")
        with store.conn() as conn:
            if not relation_exists(conn, store.db.ns.ml, "void_profiles"):
                return []
            found = read_table(conn, store.db.ns, label)
        if label is not None and not found:
            raise NotFound(f"no profiles labelled {label!r}; run `desivoid profiles`")
        return found

    def html(request: Request) -> Response:
        found = rows(request)
        by_property: dict[str, list[dict]] = {}
        for row in found:
            by_property.setdefault(row["property"], []).append(row)
        label = found[0]["label"] if found else None
        return page(request, "profiles.html", by_property=by_property, label=label)

    def png(request: Request) -> Response:
        prop = request.path_params["property"]
        mine = [r for r in rows(request) if r["property"] == prop]
        if not mine:
            raise NotFound(f"no profile of {prop!r}; run `desivoid profiles --property {prop}`")
        return Response(profile_figure(prop, mine), media_type="image/png")

    def api(request: Request) -> Response:
        return JSONResponse({"profiles": rows(request)})

    return [
        Route("/profiles", html),
        Route("/plot/profile/{property}.png", png),
        Route("/api/profiles", api),
    ]
