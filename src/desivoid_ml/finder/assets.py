"""Routes that serve files rather than galaxies: the OpenAPI document, the icon, and the
void-vs-wall figures that ml.void_wall names (no other file on the disk is reachable)."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from desivoid_ml.finder import openapi, runs_view
from desivoid_ml.finder.store import NotFound, Store

ICON = resources.files("desivoid_ml.finder") / "static" / "favicon.png"


def routes(store: Store) -> list[Route]:
    """/api/openapi.json, /favicon.ico and /runs/figures/<name> over this store."""
    spec = openapi.document()
    icon = ICON.read_bytes()

    def openapi_json(request: Request) -> Response:
        return JSONResponse(spec)

    def favicon(request: Request) -> Response:
        return Response(icon, media_type="image/png", headers={"Cache-Control": "max-age=86400"})

    def figure(request: Request) -> Response:
        name = request.path_params["name"]
        path = runs_view.figure_file(store.void_wall(), name)
        if path is None:
            raise NotFound(f"no void-vs-wall figure {name[:80]!r}; run `desivoid analyze`")
        return FileResponse(path, media_type="image/png")

    return [
        Route("/api/openapi.json", openapi_json),
        Route("/favicon.ico", favicon),
        Route("/runs/figures/{name}", figure),
    ]
