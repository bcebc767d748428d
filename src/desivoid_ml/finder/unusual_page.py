"""The finder's "Unusual galaxies" page, its CSV and its JSON: the run's largest reconstruction
errors (embed/unusual.py), filtered to the void or wall galaxies of one algorithm."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from desivoid_ml.embed.unusual import MAX_K, Unusual, selection, unusual
from desivoid_ml.finder import params
from desivoid_ml.finder.params import BadParam
from desivoid_ml.finder.store import Store

DEFAULT_K = 50


def routes(store: Store, page: Callable[..., Response]) -> list[Route]:
    """`/unusual` (HTML, or CSV with format=csv) and `/api/unusual` (JSON)."""

    def find(request: Request) -> Unusual:
        q = request.query_params
        k = params.integer(q, "k", 1, MAX_K, DEFAULT_K)
        only = params.text(q, "only")
        only = None if only == "all" else only
        of = params.text(q, "of") if only is not None else None
        chosen = selection(only, of)
        with store.conn() as conn:
            return unusual(conn, store.db.ns, k, params.name(q, "run"), chosen)

    def html(request: Request) -> Response:
        q = request.query_params
        fmt = params.text(q, "format", "html")
        if fmt not in ("html", "csv"):
            raise BadParam("format must be html or csv")
        found = find(request)
        if fmt == "csv":
            return _csv(found)
        shown = {k: v for k, v in q.items() if k != "format"}
        return page(
            request,
            "unusual.html",
            u=found,
            q=q,
            csv_url=f"{request.url.path}?{urlencode(shown | {'format': 'csv'})}",
            runs=store.embedded_runs(),
        )

    def api(request: Request) -> Response:
        found = find(request)
        return JSONResponse(
            {"run": found.run, "sample": found.sample, "n": found.n, "galaxies": found.rows}
        )

    return [Route("/unusual", html), Route("/api/unusual", api)]


def _csv(found: Unusual) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(found.columns)
    for row in found.rows:
        writer.writerow(["" if row[c] is None else row[c] for c in found.columns])
    return Response(
        buffer.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="unusual_{found.run}.csv"'},
    )
