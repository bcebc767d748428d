"""The finder's API contract: its OpenAPI document, fuzzed with Schemathesis against a live server
on a database with data (and the real ml.void_wall of `desivoid analyze`); one rule per input
in the web app, the API and the CLI; no request holding two pool connections."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from psycopg import sql
from test_finder_fixture import analyse, build_finder_database, running_finder

from desivoid_ml.finder import store as store_module

FUZZ_EXAMPLES = 40  # per operation: the whole fuzz stays well under a minute on 2 cores


@pytest.fixture(scope="module")
def live(module_db, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("contract")
    duplicate = build_finder_database(module_db, tmp)
    analyse(module_db, tmp / "analysis")
    with running_finder(module_db) as url:
        yield module_db, url, duplicate


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def a_galaxy(db) -> tuple[int, float, float]:
    with db.connect() as conn:
        return conn.execute(
            sql.SQL(
                "SELECT targetid, ra, dec FROM {} WHERE vf_in_void AND program = 'bright' "
                "ORDER BY key_hash OFFSET 3 LIMIT 1"
            ).format(sql.Identifier(db.ns.features, "galaxy"))
        ).fetchone()


def cli(monkeypatch, capsys, db, *args: str) -> tuple[int, str, str]:
    """`desivoid <args>` through its real entry point: (exit status, stdout, stderr)."""
    from desivoid_ml.cli import main

    monkeypatch.setenv("DESIVOID_NAMESPACE", db.ns.prefix)
    monkeypatch.setattr("sys.argv", ["desivoid", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_api_runs_answers_with_the_real_void_wall_table(live) -> None:
    _, url, _ = live
    status, _, body = get(f"{url}/api/runs")
    assert status == 200, body[:300]
    answer = json.loads(body)
    rows = answer["void_wall"]
    assert {r["algorithm"] for r in rows} == {"VoidFinder", "VIDE"}
    assert all(r["analysed_at"].startswith("20") for r in rows)  # ISO 8601 text
    assert answer["runs"][0]["created"][:4].isdigit()


def test_openapi_document_names_every_route(live) -> None:
    _, url, _ = live
    status, kind, body = get(f"{url}/api/openapi.json")
    assert status == 200 and kind.startswith("application/json")
    paths = set(json.loads(body)["paths"])
    from starlette.routing import Route

    from desivoid_ml.finder.app import create_app

    app = create_app(store_module.Store(live[0], pool=None))  # routes only; never queried
    routes = {r.path for r in app.routes if isinstance(r, Route)}
    assert routes == paths


def test_schemathesis_finds_no_5xx_and_no_answer_off_the_schema(live) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    _, url, _ = live
    started = time.monotonic()
    schema = schemathesis.openapi.from_url(f"{url}/api/openapi.json")
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    tried, calls = [], [0]
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def fuzz(case) -> None:
            case.call_and_validate(base_url=url, checks=checks, timeout=60)
            calls[0] += 1

        fuzz()
        tried.append(operation.label)
    print(f"{calls[0]} fuzzed calls on {len(tried)} operations", time.monotonic() - started)
    every = {f"GET {p}" for p in schema.raw_schema["paths"]} - {"GET /api/openapi.json"}
    assert sorted(tried) == sorted(every)  # the document itself was fetched by from_url
    assert calls[0] >= 5 * len(tried)

    class Linked(schema.as_state_machine()):  # search -> galaxy -> similar / slice / page
        def validate_response(self, response, case, **kwargs) -> None:
            case.validate_response(response, checks=checks)

    Linked.run(settings=settings(max_examples=15, stateful_step_count=4, deadline=None))


BAD_POSITIONS = [(400.0, 10.0), (-10.0, 10.0), (360.0, 0.0), (10.0, 95.0), (10.0, -90.5)]


@pytest.mark.parametrize("ra,dec", BAD_POSITIONS)
def test_a_position_outside_the_sky_is_refused_everywhere(
    live, monkeypatch, capsys, ra, dec
) -> None:
    db, url, _ = live
    for path in (f"/api/search?ra={ra}&dec={dec}", f"/api/similar?ra={ra}&dec={dec}"):
        status, _, body = get(url + path)
        assert status == 400 and "must be in" in json.loads(body)["error"], (path, body)
    status, _, page = get(f"{url}/?ra={ra}&dec={dec}&radius=5")
    text = page.decode()
    assert status == 400 and 'id="form-error"' in text
    assert text.index('id="form-error"') < text.index('id="by-position"')  # above the form
    assert f'value="{ra}"' in text and f'value="{dec}"' in text and 'value="5"' in text
    code, out, err = cli(monkeypatch, capsys, db, "similar", "--ra", str(ra), "--dec", str(dec))
    assert code == 2 and err.startswith("error:") and "must be in" in err and not out


def test_edges_of_the_sky_are_accepted(live) -> None:
    _, url, _ = live
    for ra, dec in ((0.0, -90.0), (359.9999, 90.0)):
        status, _, body = get(f"{url}/api/search?ra={ra}&dec={dec}&radius=1")
        assert status == 200 and json.loads(body)["ra"] == ra  # never wrapped


def test_similar_by_position_is_one_answer_in_api_and_cli(live, monkeypatch, capsys) -> None:
    db, url, _ = live
    targetid, ra, dec = a_galaxy(db)
    status, _, body = get(f"{url}/api/similar?ra={ra}&dec={dec}&radius=3&k=6")
    assert status == 200, body[:300]
    api = json.loads(body)
    assert api["query"]["targetid"] == targetid and len(api["neighbours"]) == 6
    code, out, _ = cli(
        monkeypatch, capsys, db, "similar", "--ra", str(ra), "--dec", str(dec), "--radius", "3",
        "-k", "6", "--format", "json",
    )  # fmt: skip
    assert code == 0 and json.loads(out) == api
    both = get(f"{url}/api/similar?targetid={targetid}&ra={ra}&dec={dec}")
    assert both[0] == 400


def test_k_has_one_cap_in_api_and_cli(live, monkeypatch, capsys) -> None:
    db, url, _ = live
    targetid, _, _ = a_galaxy(db)
    assert get(f"{url}/api/similar?targetid={targetid}&k=1000")[0] == 200
    assert get(f"{url}/api/similar?targetid={targetid}&k=1001")[0] == 400
    code, out, err = cli(monkeypatch, capsys, db, "similar", str(targetid), "-k", "100000")
    assert code == 2 and err.startswith("error:") and "1000" in err and not out


def test_unknown_targetid_in_the_cli_is_one_error_line(live, monkeypatch, capsys) -> None:
    db, _, _ = live
    code, out, err = cli(monkeypatch, capsys, db, "similar", "123")
    assert code == 2 and err.startswith("error:") and "123" in err and not out.strip()


def test_a_wide_sky_search_is_cut_inside_the_function(live) -> None:
    db, _, _ = live
    function = sql.Identifier(db.ns.features, "galaxy_at")
    _, ra, dec = a_galaxy(db)
    with db.connect() as conn:
        every = conn.execute(
            sql.SQL("SELECT targetid FROM {}(%s, %s, 36000)").format(function), (ra, dec)
        ).fetchall()
        first = conn.execute(
            sql.SQL("SELECT targetid FROM {}(%s, %s, 36000, p_limit => 7)").format(function),
            (ra, dec),
        ).fetchall()
    assert len(every) > 7 and first == every[:7]


def test_plots_under_more_clients_than_the_pool_has(live, monkeypatch) -> None:
    """The deadlock of issue 17: slice and map requests each took a second pool connection
    once the 5 s catalog cache had expired. Pool of 2, cache always expired, 10 clients."""
    db, _, _ = live
    targetid, _, _ = a_galaxy(db)
    monkeypatch.setattr(store_module, "CATALOG_TTL_S", 0.0)
    paths = [f"/plot/slice/{targetid}.png", f"/plot/map/{targetid}.png?k=5"] * 5
    with running_finder(db, pool_size=2) as url:
        answers: list[int] = []
        threads = [
            threading.Thread(target=lambda p=p: answers.append(get(url + p)[0])) for p in paths
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert answers == [200] * len(paths)


def test_a_second_connection_while_holding_one_is_refused(live) -> None:
    db, _, _ = live
    from desivoid_ml.finder.server import open_store

    store = open_store(db, pool_size=2)
    try:
        with store.conn(), pytest.raises(store_module.NestedConnection), store.conn():
            pass
        with store.conn() as conn:  # released: usable again
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        store.pool.close()


def test_only_the_figures_void_wall_names_are_served(live) -> None:
    db, url, _ = live
    status, kind, body = get(f"{url}/runs/figures/void_wall_g_r.png")
    assert status == 200 and kind == "image/png" and body[:4] == b"\x89PNG"
    for name in ("void_wall_u_r.png", "passwd", "..%2F..%2Fpyproject.toml", "style.css"):
        assert get(f"{url}/runs/figures/{name}")[0] == 404, name
    with db.connect() as conn:
        assert conn.execute(
            sql.SQL("SELECT count(DISTINCT figure) FROM {}").format(
                sql.Identifier(db.ns.ml, "void_wall")
            )
        ).fetchone() == (2,)
