"""The Void Galaxy Finder web app (Starlette): HTML pages and the JSON API over one Store.

Every handler is a plain function run in Starlette's thread pool with a pooled read-only
connection; bad input raises BadParam / NotFound / Ambiguous, which become 400 / 404 / 409."""

from __future__ import annotations

import csv
import io
import logging
from datetime import date, datetime
from importlib import resources
from urllib.parse import urlencode

import psycopg
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from desivoid_ml.errors import DesivoidError
from desivoid_ml.finder import (
    admission,
    assets,
    params,
    plot_routes,
    profiles_page,
    runs_view,
    unusual_page,
    views,
)
from desivoid_ml.finder.params import BadParam
from desivoid_ml.finder.store import ALGORITHM_NAMES, ALGORITHMS, KEY, NotFound, Store

log = logging.getLogger("desivoid.finder")
HERE = resources.files("desivoid_ml.finder")
DEFAULT_POOL = 8  # serve's pool size (finder/server.py)


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(["html"]),
    )
    env.filters["num"] = _num
    env.globals.update(algorithms=ALGORITHMS, algorithm_names=ALGORITHM_NAMES, urlencode=urlencode)
    return env


def _num(value) -> str:
    """Floats to 4 significant digits; identifiers and text untouched; None as '–'."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def create_app(store: Store) -> Starlette:
    """The app bound to one Store (tests build it over a test namespace)."""
    templates = _templates()

    def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        context.setdefault("q", request.query_params)
        body = templates.get_template(name).render(request=request, **context)
        return HTMLResponse(body, status_code=status)

    def key_params(request: Request) -> tuple[str | None, str | None]:
        return params.name(request.query_params, "survey"), params.name(
            request.query_params, "program"
        )

    def galaxy_of(request: Request) -> dict:
        targetid = params.targetid(request.path_params.get("targetid"))
        survey, program = key_params(request)
        return views.resolve(store, targetid, survey, program)

    def search(request: Request) -> Response:
        q = request.query_params
        try:
            return search_answer(request, q)
        except (BadParam, DesivoidError, NotFound, views.Ambiguous) as exc:
            status, choices = _form_status(exc), getattr(exc, "choices", [])
            choices = [c | {"url": _galaxy_url(c)} for c in choices]
            error = str(exc.args[0]) if isinstance(exc, NotFound) and exc.args else str(exc)
            return page(request, "search.html", status, q=q, error=error, choices=choices)

    def search_answer(request: Request, q) -> Response:
        context: dict = {"q": q, "result": None}
        if params.text(q, "targetid"):
            targetid = params.targetid(q.get("targetid"))
            survey, program = key_params(request)
            galaxy = views.resolve(store, targetid, survey, program)
            return RedirectResponse(_galaxy_url(galaxy), status_code=303)
        if params.text(q, "ra") or params.text(q, "dec"):
            ra, dec, radius = params.sky(q)
            context["result"] = views.search_position(store, ra, dec, radius)
        elif any(name in q for name in ("targetid", "ra", "dec")):
            raise BadParam("enter a TARGETID, or an RA and a Dec (ICRS degrees)")
        return page(request, "search.html", **context)

    def galaxy(request: Request) -> Response:
        detail = views.galaxy_detail(store, galaxy_of(request))
        return page(request, "galaxy.html", g=detail, key=_key_query(detail))

    def similar(request: Request) -> Response:
        q = request.query_params
        g = galaxy_of(request)
        form = {name: q.get(name, "") for name in ("k", "run", "env", "algorithm", "zmin", "zmax")}
        shown = {"g": _key(g), "key": _key_query(g), "runs": store.embedded_runs()}
        try:
            k, run, filters = params.k(q), params.name(q, "run"), params.filters(q)
            if params.text(q, "format") not in (None, "html", "csv"):
                raise BadParam("format must be html or csv")
            result = views.similar_result(store, g, k, run, filters)
        except (BadParam, NotFound) as exc:
            if params.text(q, "format") == "csv":
                raise
            error = str(exc.args[0]) if exc.args else str(exc)
            status = _form_status(exc)
            return page(request, "similar.html", status, r=None, form=form, error=error, **shown)
        if params.text(q, "format") == "csv":
            return _csv_response(result)
        form = {"k": k, "run": result["run"]} | {
            name: "" if value is None else value for name, value in result["filters"].items()
        }
        return page(
            request,
            "similar.html",
            r=result,
            form=form,
            csv_url=f"{request.url.path}?{urlencode(dict(q.items()) | {'format': 'csv'})}",
            map_url=f"/plot/map/{g['targetid']}.png?{urlencode(dict(q.items()) | _key(g))}",
            **shown,
        )

    def runs(request: Request) -> Response:
        shown = [r | {"groups": runs_view.metric_groups(r.get("metrics"))} for r in store.runs()]
        return page(
            request,
            "runs.html",
            runs=shown,
            void_wall=runs_view.void_wall_view(store.void_wall()),
            figure_route=runs_view.FIGURE_ROUTE,
        )

    def api_search(request: Request) -> Response:
        q = request.query_params
        if params.text(q, "targetid"):
            rows = store.galaxies(params.targetid(q.get("targetid")), *key_params(request))
            return JSONResponse({"count": len(rows), "galaxies": [_key(r) for r in rows]})
        return JSONResponse(views.search_position(store, *params.sky(q)))

    def api_galaxy(request: Request) -> Response:
        return JSONResponse(views.galaxy_detail(store, galaxy_of(request)))

    def api_similar(request: Request) -> Response:
        q = request.query_params
        if params.text(q, "ra") is None and params.text(q, "dec") is None:
            g = views.resolve(store, params.targetid(q.get("targetid")), *key_params(request))
        elif params.text(q, "targetid") is not None:
            raise BadParam("give a targetid or ra/dec, not both")
        else:
            g, _ = views.galaxy_near(store, *params.sky(q))
        result = views.similar_result(
            store, g, params.k(q), params.name(q, "run"), params.filters(q)
        )
        return JSONResponse(result)

    def api_runs(request: Request) -> Response:
        vw = store.void_wall()
        return JSONResponse(
            {
                "runs": [jsonable(r) for r in store.runs()],
                "void_wall": None
                if vw is None
                else [jsonable(dict(zip(vw[0], row, strict=True))) for row in vw[1]],
            },
            headers={"Cache-Control": "no-store"},
        )

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def error(request: Request, status: int, message: str, **extra) -> Response:
        if is_api(request):
            return JSONResponse({"error": message, **extra}, status_code=status)
        return page(
            request, "error.html", status=status, status_code=status, message=message, **extra
        )

    async def on_bad(request: Request, exc: Exception) -> Response:
        return error(request, 400, str(exc))

    async def on_missing(request: Request, exc: Exception) -> Response:
        return error(request, 404, str(exc.args[0]) if exc.args else "not found")

    async def on_ambiguous(request: Request, exc: views.Ambiguous) -> Response:
        choices = [c | {"url": _galaxy_url(c)} for c in exc.choices]
        return error(request, 409, str(exc), choices=choices)

    async def on_http(request: Request, exc: HTTPException) -> Response:
        return error(request, exc.status_code, exc.detail or "error")

    async def on_database(request: Request, exc: psycopg.Error) -> Response:
        log.warning("database error on %s: %s", request.url.path, exc)
        first = (str(exc).splitlines() or ["database error"])[0]
        return error(request, 503 if isinstance(exc, psycopg.OperationalError) else 400, first)

    async def on_other(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s", request.url.path)
        return error(request, 500, "internal error; see the server log")

    routes = [
        Route("/", search),
        Route("/galaxy/{targetid}", galaxy),
        Route("/similar/{targetid}", similar),
        Route("/runs", runs),
        *plot_routes.routes(store),
        Route("/api/search", api_search),
        Route("/api/galaxy/{targetid}", api_galaxy),
        Route("/api/similar", api_similar),
        Route("/api/runs", api_runs),
        *unusual_page.routes(store, page),
        *profiles_page.routes(store, page),
        *assets.routes(store),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    handlers = {
        BadParam: on_bad,
        DesivoidError: on_bad,
        NotFound: on_missing,
        views.Ambiguous: on_ambiguous,
        HTTPException: on_http,
        psycopg.Error: on_database,
        Exception: on_other,
    }
    threads = admission.worker_threads(store.pool.max_size if store.pool else DEFAULT_POOL)
    return Starlette(
        routes=routes, exception_handlers=handlers, lifespan=admission.limited_threads(threads)
    )


def jsonable(row: dict) -> dict:
    """Timestamps (ml.runs.created, ml.void_wall.analysed_at, ...) as ISO 8601 text."""
    return {k: v.isoformat() if isinstance(v, datetime | date) else v for k, v in row.items()}


def _form_status(exc: Exception) -> int:
    if isinstance(exc, NotFound):
        return 404
    return 409 if isinstance(exc, views.Ambiguous) else 400


def _key(row: dict) -> dict:
    return {c: row[c] for c in KEY}


def _key_query(row: dict) -> str:
    return urlencode({"survey": row["survey"], "program": row["program"]})


def _galaxy_url(row: dict) -> str:
    return f"/galaxy/{row['targetid']}?{_key_query(row)}"


def _csv_response(result: dict) -> Response:
    """Exactly the rows and columns the Similar page shows, as CSV."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(result["columns"])
    for row in result["neighbours"]:
        writer.writerow(
            [
                "" if row[c] is None else repr(row[c]) if isinstance(row[c], float) else row[c]
                for c in result["columns"]
            ]
        )
    q = result["query"]
    name = f"similar_{q['targetid']}_{q['survey']}_{q['program']}_{result['run']}.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
