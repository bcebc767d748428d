"""The finder's OpenAPI 3 document (served at /api/openapi.json): every route, the ranges the
app enforces (params.py, sky.check_position), the answers' shapes and the errors.

The ranges come from the same constants the checks use, so the document cannot drift from them;
tests/test_finder_contract.py fuzzes the live app against it with Schemathesis."""

from __future__ import annotations

from desivoid_ml.algorithms import ALGORITHM_PREFIX
from desivoid_ml.embed.unusual import CONSENSUS
from desivoid_ml.finder.neighbours import MAX_K
from desivoid_ml.finder.params import BIGINT_MAX, NAME
from desivoid_ml.finder.sky import MAX_RADIUS_ARCSEC
from desivoid_ml.finder.store import ALGORITHMS

INT64 = {"type": "integer", "format": "int64", "minimum": 0, "maximum": BIGINT_MAX}
NAME_SCHEMA = {"type": "string", "pattern": f"^{NAME.pattern}$"}
NUMBER = {"type": "number", "nullable": True}
KEY_PROPERTIES = {"targetid": INT64, "survey": {"type": "string"}, "program": {"type": "string"}}


def _object(properties: dict, required: list[str] | None = None) -> dict:
    return {"type": "object", "properties": properties, "required": required or list(properties)}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


TARGETID_PATH = {
    "name": "targetid",
    "in": "path",
    "required": True,
    "schema": INT64,
    "description": "DESI TARGETID",
}
KEY_QUERY = [
    _query("survey", NAME_SCHEMA, "survey (needed when the TARGETID has several rows)"),
    _query("program", NAME_SCHEMA, "program (needed when the TARGETID has several rows)"),
]
POSITION_QUERY = [
    _query(
        "ra",
        {"type": "number", "minimum": 0, "maximum": 360, "exclusiveMaximum": True},
        "right ascension, ICRS degrees",
    ),
    _query("dec", {"type": "number", "minimum": -90, "maximum": 90}, "declination, degrees"),
    _query(
        "radius",
        {"type": "number", "minimum": 0, "maximum": MAX_RADIUS_ARCSEC, "default": 2},
        "search radius [arcsec]",
    ),
]
SIMILAR_QUERY = [
    _query("k", {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10}, "neighbours"),
    _query("run", NAME_SCHEMA, "run id with embeddings (default: the newest)"),
    _query("env", {"type": "string", "enum": ["all", "void", "wall"]}, "keep only these"),
    _query("algorithm", {"type": "string", "enum": list(ALGORITHMS)}, "whose voids `env` means"),
    _query("zmin", {"type": "number", "minimum": -1, "maximum": 20}, "lowest redshift"),
    _query("zmax", {"type": "number", "minimum": -1, "maximum": 20}, "highest redshift"),
]
UNUSUAL_QUERY = [
    _query("k", {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 50}, "galaxies"),
    _query("run", NAME_SCHEMA, "run id with embeddings (default: the newest)"),
    _query("only", {"type": "string", "enum": ["all", "void", "wall"]}, "rank in this sample"),
    _query(
        "of",
        {"type": "string", "enum": [*ALGORITHM_PREFIX, *ALGORITHM_PREFIX.values(), CONSENSUS]},
        "whose sample `only` means (with only=void or wall)",
    ),
]
LABEL_QUERY = [_query("label", NAME_SCHEMA, "profiles label (default: the newest)")]

SCHEMAS = {
    "Error": {
        "type": "object",
        "properties": {
            "error": {"type": "string", "minLength": 1},
            "choices": {"type": "array", "items": _ref("Key")},
        },
        "required": ["error"],
    },
    "Key": _object(KEY_PROPERTIES),
    "SearchHit": _object(
        KEY_PROPERTIES
        | {"ra": {"type": "number"}, "dec": {"type": "number"}}
        | {"separation_arcsec": {"type": "number", "minimum": 0}}
    ),
    "PositionSearch": _object(
        {
            "ra": {"type": "number"},
            "dec": {"type": "number"},
            "radius_arcsec": {"type": "number"},
            "count": {"type": "integer", "minimum": 0},
            "truncated": {"type": "boolean"},
            "galaxies": {"type": "array", "items": _ref("SearchHit")},
        }
    ),
    "TargetidSearch": _object(
        {
            "count": {"type": "integer", "minimum": 0},
            "galaxies": {"type": "array", "items": _ref("Key")},
        }
    ),
    "Galaxy": _object(
        KEY_PROPERTIES
        | {
            "properties": {"type": "object"},
            "environment": {
                "type": "array",
                "items": _object(
                    {"algorithm": {"type": "string"}, "prefix": {"type": "string"}}
                    | {"nearest_void_distance_mpch": NUMBER}
                ),
            },
            "sky_viewer": {"type": "string", "nullable": True},
        }
    ),
    "Similar": _object(
        {
            "query": _ref("Key"),
            "run": {"type": "string"},
            "k": {"type": "integer", "minimum": 1, "maximum": MAX_K},
            "candidates": {"type": "integer", "minimum": 1},
            "filters": _object(
                {
                    "algorithm": {"type": "string", "enum": list(ALGORITHMS)},
                    "env": {"type": "string", "enum": ["all", "void", "wall"]},
                    "zmin": NUMBER,
                    "zmax": NUMBER,
                }
            ),
            "columns": {"type": "array", "items": {"type": "string"}},
            "neighbours": {
                "type": "array",
                "maxItems": MAX_K,
                "items": _object(KEY_PROPERTIES | {"distance": {"type": "number", "minimum": 0}}),
            },
        }
    ),
    "Runs": _object(
        {
            "runs": {
                "type": "array",
                "items": _object(
                    {
                        "run_id": {"type": "string"},
                        "created": {"type": "string", "format": "date-time"},
                        "metrics": {"type": "object", "nullable": True},
                    }
                ),
            },
            "void_wall": {"type": "array", "items": {"type": "object"}, "nullable": True},
        }
    ),
    "Unusual": _object(
        {
            "run": {"type": "string"},
            "sample": {"type": "string"},
            "n": {"type": "integer", "minimum": 0},
            "galaxies": {
                "type": "array",
                "maxItems": MAX_K,
                "items": _object(
                    KEY_PROPERTIES
                    | {"rank": {"type": "integer", "minimum": 1}, "recon_mse": NUMBER}
                    | {"percentile": NUMBER}
                ),
            },
        }
    ),
    "Profiles": _object(
        {
            "profiles": {
                "type": "array",
                "items": _object(
                    {
                        "label": {"type": "string"},
                        "algorithm": {"type": "string"},
                        "property": {"type": "string"},
                        "n": {"type": "integer", "minimum": 0},
                        "median": NUMBER,
                    }
                ),
            }
        }
    ),
}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int, media: str = "application/json") -> dict:
    what = {400: "bad parameter", 404: "unknown galaxy, run or file", 409: "ambiguous TARGETID"}
    schema = _ref("Error") if media == "application/json" else {"type": "string"}
    return {
        str(s): {"description": what[s], "content": {media: {"schema": schema}}} for s in statuses
    }


def _binary(media: str, description: str) -> dict:
    return {
        "description": description,
        "content": {media: {"schema": {"type": "string", "format": "binary"}}},
    }


NOT_MODIFIED = {"description": "the picture the client holds (If-None-Match had its ETag)"}


def _get(summary: str, parameters: list, responses: dict, op: str, links=None) -> dict:
    if links:
        for status, link in links.items():
            responses[status]["links"] = link
    return {
        "get": {
            "operationId": op,
            "summary": summary,
            "parameters": parameters,
            "responses": responses,
        }
    }


def _link(op: str, prefix: str = "") -> dict:
    """A link that feeds the galaxy key found in a response into `op`."""
    return {
        "operationId": op,
        "parameters": {
            name: f"$response.body#/{prefix}{name}" for name in ("targetid", "survey", "program")
        },
    }


def _api_paths() -> dict:
    return {
        "/api/search": _get(
            "galaxies within radius of (ra, dec), nearest first (200 at most); or by targetid",
            [*POSITION_QUERY, _query("targetid", INT64, "instead of ra/dec"), *KEY_QUERY],
            {
                "200": _json(
                    {"anyOf": [_ref("PositionSearch"), _ref("TargetidSearch")]}, "matches"
                ),
                **_errors(400, 404),
            },
            "search",
            {"200": {"GalaxyOfFirstHit": _link("galaxy", "galaxies/0/")}},
        ),
        "/api/galaxy/{targetid}": _get(
            "every property of the galaxy and its environment per void algorithm",
            [TARGETID_PATH, *KEY_QUERY],
            {"200": _json(_ref("Galaxy"), "the galaxy"), **_errors(400, 404, 409)},
            "galaxy",
            {
                "200": {
                    "SimilarToThis": _link("similar"),
                    "SliceAroundThis": _link("plot_slice"),
                    "SimilarPage": _link("page_similar"),
                }
            },
        ),
        "/api/similar": _get(
            "the k galaxies nearest in a run's embedding (give a targetid or ra/dec)",
            [_query("targetid", INT64, "DESI TARGETID"), *KEY_QUERY, *POSITION_QUERY]
            + SIMILAR_QUERY,
            {"200": _json(_ref("Similar"), "neighbours, nearest first"), **_errors(400, 404, 409)},
            "similar",
        ),
        "/api/runs": _get(
            "training runs with their metrics; ml.void_wall when `desivoid analyze` has run",
            [],
            {"200": _json(_ref("Runs"), "runs and void-vs-wall rows")},
            "runs",
        ),
        "/api/unusual": _get(
            "the run's galaxies with the largest reconstruction error, in a sample",
            UNUSUAL_QUERY,
            {"200": _json(_ref("Unusual"), "most unusual first"), **_errors(400, 404)},
            "unusual",
        ),
        "/api/profiles": _get(
            "the stacked void profiles of `desivoid profiles` (ml.void_profiles)",
            LABEL_QUERY,
            {"200": _json(_ref("Profiles"), "profile rows"), **_errors(400, 404)},
            "profiles",
        ),
        "/api/openapi.json": _get(
            "this document", [], {"200": _json({"type": "object"}, "OpenAPI 3")}, "openapi"
        ),
    }


def _page_paths() -> dict:
    html = {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}
    page_errors = _errors(400, 404, 409, media="text/html")
    thickness = _query(
        "thickness", {"type": "number", "minimum": 0.5, "maximum": 100}, "half-thickness [Mpc/h]"
    )
    png = _binary("image/png", "PNG")
    html_or_csv = {
        "description": "HTML page, or CSV with format=csv",
        "content": html["content"] | _binary("text/csv", "CSV")["content"],
    }
    fmt = _query("format", {"type": "string", "enum": ["html", "csv"]}, "csv: the table as CSV")
    return {
        "/": _get(
            "the search form, and its results",
            [_query("targetid", {"type": "string"}, "TARGETID"), *POSITION_QUERY, *KEY_QUERY],
            {"200": html, "303": {"description": "to the galaxy's page"}, **page_errors},
            "page_search",
        ),
        "/galaxy/{targetid}": _get(
            "the galaxy's page",
            [TARGETID_PATH, *KEY_QUERY],
            {"200": html, **page_errors},
            "page_galaxy",
        ),
        "/similar/{targetid}": _get(
            "the Similar page (or its table as CSV)",
            [TARGETID_PATH, *KEY_QUERY, *SIMILAR_QUERY, fmt],
            {"200": html_or_csv, **page_errors},
            "page_similar",
        ),
        "/runs": _get("runs, metrics and void vs wall", [], {"200": html}, "page_runs"),
        "/unusual": _get(
            "the Unusual galaxies page (or its table as CSV)",
            [*UNUSUAL_QUERY, fmt],
            {"200": html_or_csv, **page_errors},
            "page_unusual",
        ),
        "/profiles": _get(
            "the Void profiles page", LABEL_QUERY, {"200": html, **page_errors}, "page_profiles"
        ),
        "/plot/profile/{property}.png": _get(
            "a stacked-profile figure, drawn from ml.void_profiles",
            [
                {"name": "property", "in": "path", "required": True, "schema": NAME_SCHEMA},
                *LABEL_QUERY,
            ],
            {"200": png, **page_errors},
            "plot_profile",
        ),
        "/plot/map/{targetid}.png": _get(
            "embedding map",
            [TARGETID_PATH, *KEY_QUERY, *SIMILAR_QUERY],
            {"200": png, "304": NOT_MODIFIED, **page_errors},
            "plot_map",
        ),
        "/plot/slice/{targetid}.png": _get(
            "slice through the survey",
            [TARGETID_PATH, *KEY_QUERY, thickness],
            {"200": png, "304": NOT_MODIFIED, **page_errors},
            "plot_slice",
        ),
        "/runs/figures/{name}": _get(
            "a void-vs-wall figure of ml.void_wall",
            [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            {"200": png, **_errors(404, media="text/html")},
            "void_wall_figure",
        ),
        "/favicon.ico": _get("the icon", [], {"200": _binary("image/png", "icon")}, "favicon"),
    }


def document() -> dict:
    """The OpenAPI 3.0 document of the finder."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Void Galaxy Finder",
            "version": "1",
            "description": "Read-only DESI DR1 galaxies, DESIVAST voids and embeddings. "
            "TARGETIDs are 64-bit integers: use a 64-bit-safe JSON parser in JavaScript.",
        },
        "paths": _api_paths() | _page_paths(),
        "components": {"schemas": SCHEMAS},
    }
