"""The Void Galaxy Finder over HTTP: API answers equal SQL, bad input is a 4xx, read-only.

Long (~430 lines) because it shares one module-scoped database and server between the API, the
bad-input table, the read-only checks and the real-browser test; each test stays short."""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.error
import urllib.request

import finder_browser
import numpy as np
import psycopg
import pytest
from finder_browser import navigate, shot
from psycopg import sql
from test_finder_fixture import DUPLICATE_PROGRAM, build_finder_database, running_finder

from desivoid_ml.finder import plots
from desivoid_ml.finder import store as store_module
from desivoid_ml.finder.server import open_store


@pytest.fixture(scope="module")
def finder(module_db, tmp_path_factory):
    duplicate = build_finder_database(module_db, tmp_path_factory.mktemp("finder"))
    with running_finder(module_db) as url:
        yield module_db, url, duplicate


def get(url: str) -> tuple[int, str, str]:
    """(status, content type, body) without raising on 4xx/5xx."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def get_json(url: str) -> dict:
    status, _, body = get(url)
    assert status == 200, body
    return json.loads(body)


# A galaxy the void/wall filters can work around: the embedding keeps redshift close, so a galaxy
# outside the V2 redshift range has no V2 sample galaxy among its neighbours.
IN_VIDE_VOLUME = "vide_sample = 'wall'"


def one_galaxy(db, where: str = "vf_in_void") -> tuple[int, float, float]:
    with db.connect() as conn:
        return conn.execute(
            sql.SQL(
                "SELECT targetid, ra, dec FROM {} WHERE {} AND program = 'bright' "
                "ORDER BY key_hash OFFSET 5 LIMIT 1"
            ).format(sql.Identifier(db.ns.features, "galaxy"), sql.SQL(where))
        ).fetchone()


def test_search_by_position_finds_the_galaxy_first(finder) -> None:
    db, url, _ = finder
    targetid, ra, dec = one_galaxy(db)
    found = get_json(f"{url}/api/search?ra={ra + 0.0001}&dec={dec}&radius=30")
    assert found["galaxies"][0]["targetid"] == targetid
    assert 0 < found["galaxies"][0]["separation_arcsec"] < 30
    seps = [g["separation_arcsec"] for g in found["galaxies"]]
    assert seps == sorted(seps)


def test_galaxy_api_gives_properties_and_environment(finder) -> None:
    db, url, _ = finder
    targetid, ra, _ = one_galaxy(db)
    detail = get_json(f"{url}/api/galaxy/{targetid}")
    assert detail["targetid"] == targetid and detail["properties"]["ra"] == ra
    by_algorithm = {e["prefix"]: e for e in detail["environment"]}
    assert set(by_algorithm) == {"vf", "vide", "zobov", "revolver"}
    assert by_algorithm["vf"]["in_void"] is True and by_algorithm["vf"]["void_id"] is not None
    assert by_algorithm["vf"]["nearest_void_distance_mpch"] >= 0
    assert "legacysurvey.org/viewer?ra=" in detail["sky_viewer"]


def test_similar_api_equals_sql(finder) -> None:
    db, url, _ = finder
    targetid, _, _ = one_galaxy(db)
    got = get_json(f"{url}/api/similar?targetid={targetid}&k=7")
    with db.connect() as conn:
        expected = conn.execute(
            sql.SQL("SELECT targetid, distance FROM {}(%s, 7)").format(
                sql.Identifier(db.ns.ml, "similar_galaxies")
            ),
            (targetid,),
        ).fetchall()
    assert [(n["targetid"], n["distance"]) for n in got["neighbours"]] == expected
    assert {"g_r", "vf_in_void", "z"} <= set(got["columns"])


def test_a_rebuilt_table_is_searched_again(finder, monkeypatch) -> None:
    """The search cache answers a galaxy's second similarity search; once features.galaxy is
    rewritten, the neighbours' properties are read again, never the old ones."""
    db, url, _ = finder
    monkeypatch.setattr(store_module, "CATALOG_TTL_S", 0.0)  # see the rewrite at once
    targetid, _, _ = one_galaxy(db)
    api = f"{url}/api/similar?targetid={targetid}&k=5"
    before = get_json(api)["neighbours"][1]
    galaxy = sql.Identifier(db.ns.features, "galaxy")

    def rewrite(change: float) -> None:
        with db.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("UPDATE {} SET logmstar = logmstar + %s WHERE targetid = %s").format(
                    galaxy
                ),
                (change, before["targetid"]),
            )
            conn.execute(sql.SQL("VACUUM FULL {}").format(galaxy))
            conn.execute(
                sql.SQL("VACUUM {}").format(galaxy)
            )  # the visibility map, as serve left it

    rewrite(1.0)
    try:
        after = get_json(api)["neighbours"][1]
    finally:
        rewrite(-1.0)
    assert after["targetid"] == before["targetid"]
    assert after["logmstar"] == pytest.approx(before["logmstar"] + 1.0)


def test_similar_filters_keep_only_matching_galaxies(finder) -> None:
    db, url, _ = finder
    targetid, _, _ = one_galaxy(db, IN_VIDE_VOLUME)  # its neighbours are too, mostly
    walls = get_json(f"{url}/api/similar?targetid={targetid}&k=15&env=wall&algorithm=vide")
    assert len(walls["neighbours"]) == 15
    assert "vide_sample" in walls["columns"]
    assert all(n["vide_sample"] == "wall" for n in walls["neighbours"])  # not edge or outside
    zs = get_json(f"{url}/api/similar?targetid={targetid}&k=10&zmin=0.05&zmax=0.1")
    assert zs["neighbours"] and all(0.05 <= n["z"] <= 0.1 for n in zs["neighbours"])


def test_ambiguous_targetid_lists_the_choices(finder) -> None:
    _, url, duplicate = finder
    status, kind, body = get(f"{url}/api/galaxy/{duplicate}")
    assert status == 409 and kind.startswith("application/json")
    choices = {(c["survey"], c["program"]) for c in json.loads(body)["choices"]}
    assert choices == {("main", "bright"), ("main", DUPLICATE_PROGRAM)}
    status, _, page = get(f"{url}/galaxy/{duplicate}")
    assert status == 409 and f"program={DUPLICATE_PROGRAM}" in page
    ok = get_json(f"{url}/api/galaxy/{duplicate}?survey=main&program={DUPLICATE_PROGRAM}")
    assert ok["program"] == DUPLICATE_PROGRAM
    assert get_json(f"{url}/api/similar?targetid={duplicate}&survey=main&program=bright&k=3")


BAD = [
    "/api/search?ra=abc&dec=10",
    "/api/search?ra=10&dec=91",
    "/api/search?ra=10&dec=-90.5",
    "/api/search?ra=nan&dec=0",
    "/api/search?ra=inf&dec=0",
    "/api/search?ra=10",
    "/api/search?ra=10&dec=5&radius=-1",
    "/api/search?ra=10&dec=5&radius=1e9",
    "/api/search?targetid=12x",
    "/api/search?targetid=-5",
    "/api/search?targetid=99999999999999999999999",
    "/api/galaxy/notanumber",
    "/api/galaxy/1%27%3B%20DROP%20TABLE%20x%3B--",
    "/api/galaxy/123456789",
    "/api/similar",
    "/api/similar?targetid={t}&k=0",
    "/api/similar?targetid={t}&k=1001",
    "/api/similar?targetid={t}&k=-3",
    "/api/similar?targetid={t}&k=ten",
    "/api/similar?targetid={t}&run=no-such-run",
    "/api/similar?targetid={t}&run=x%27%20OR%201%3D1--",
    "/api/similar?targetid={t}&survey=main%27--",
    "/api/similar?targetid={t}&algorithm=pg_sleep",
    "/api/similar?targetid={t}&env=maybe",
    "/api/similar?targetid={t}&zmin=0.3&zmax=0.1",
    "/api/similar?targetid={t}&zmin=%3B",
    "/api/nothing-here",
    "/?ra=abc&dec=1",
    "/?ra=1&dec=100",
    "/?targetid=1;DROP",
    "/?targetid=123456789",
    "/galaxy/abc",
    "/galaxy/123456789",
    "/similar/{t}?k=0",
    "/similar/{t}?k=5000",
    "/similar/{t}?run=nope",
    "/similar/{t}?format=xlsx",
    "/plot/slice/{t}.png?thickness=-1",
    "/plot/map/{t}.png?k=0",
    "/plot/slice/abc.png",
]


@pytest.mark.parametrize("path", BAD)
def test_bad_input_is_a_4xx_with_a_message(finder, path) -> None:
    db, url, _ = finder
    targetid, _, _ = one_galaxy(db)
    status, kind, body = get(url + path.format(t=targetid))
    assert 400 <= status < 500, (status, body[:300])
    assert "Traceback" not in body and "psycopg" not in body
    message = json.loads(body)["error"] if kind.startswith("application/json") else body
    assert len(message) > 5
    assert get(f"{url}/api/galaxy/{targetid}")[0] == 200  # still serving


def test_pages_render(finder) -> None:
    db, url, _ = finder
    targetid, ra, dec = one_galaxy(db)
    for path in (
        "/",
        f"/?ra={ra}&dec={dec}",
        f"/galaxy/{targetid}",
        f"/similar/{targetid}",
        f"/similar/{targetid}?env=void&zmin=0.01",
        "/runs",
        "/static/style.css",
    ):
        status, _, body = get(url + path)
        assert status == 200, (path, body[:300])
    for path in (f"/plot/slice/{targetid}.png", f"/plot/map/{targetid}.png?k=5"):
        with urllib.request.urlopen(url + path, timeout=60) as response:
            assert response.read(8) == b"\x89PNG\r\n\x1a\n"
    status, _, body = get(f"{url}/?ra=1&dec=-89.9&radius=1")
    assert status == 200 and "No galaxy lies within" in body


def fetch(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """(status, headers, body); a 304 is an answer, not an error."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_pictures_carry_an_etag_of_request_and_data(finder, monkeypatch) -> None:
    db, url, _ = finder
    monkeypatch.setattr(store_module, "CATALOG_TTL_S", 0.0)  # see the rebuilt table at once
    targetid, _, _ = one_galaxy(db)
    slice_url = f"{url}/plot/slice/{targetid}.png"
    status, headers, body = fetch(slice_url)
    tag = headers["etag"]
    assert status == 200 and body[:4] == b"\x89PNG" and "max-age" in headers["cache-control"]
    again = fetch(slice_url, {"If-None-Match": tag})
    assert again[0] == 304 and again[2] == b"" and again[1]["etag"] == tag
    thicker = fetch(slice_url + "?thickness=20", {"If-None-Match": tag})
    assert thicker[0] == 200 and thicker[1]["etag"] != tag
    map_tag = fetch(f"{url}/plot/map/{targetid}.png?k=5")[1]["etag"]
    assert map_tag != tag
    assert fetch(f"{url}/plot/map/{targetid}.png?k=5", {"If-None-Match": map_tag})[0] == 304
    with db.connect(autocommit=True) as conn:  # a rebuilt table: same rows, another file
        conn.execute(sql.SQL("VACUUM FULL {}").format(sql.Identifier(db.ns.features, "voids")))
    rebuilt = fetch(slice_url, {"If-None-Match": tag})
    assert rebuilt[0] == 200 and rebuilt[1]["etag"] != tag
    assert fetch(f"{url}/plot/slice/abc.png", {"If-None-Match": tag})[0] == 400


def test_the_server_keeps_a_picture_until_its_data_changes(finder, monkeypatch) -> None:
    """No If-None-Match: the second request is the server's copy; changed voids or a run
    embedded again (new identity) are drawn again, never the stale picture."""
    db, url, _ = finder
    monkeypatch.setattr(store_module, "CATALOG_TTL_S", 0.0)  # see the change at once
    targetid, _, _ = one_galaxy(db)
    slice_url = f"{url}/plot/slice/{targetid}.png?thickness=30"
    first, second = fetch(slice_url), fetch(slice_url)
    assert first[1]["x-cache"] == "miss" and second[1]["x-cache"] == "hit"
    assert second[2] == first[2] and second[1]["etag"] == first[1]["etag"]
    voids = sql.Identifier(db.ns.features, "voids")

    def rewrite(factor: float) -> None:  # new rows in a new file, as a rebuild leaves them
        with db.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("UPDATE {} SET radius = radius * %s").format(voids), (factor,))
            conn.execute(sql.SQL("VACUUM FULL {}").format(voids))
            # the UPDATE's statistics (part of the data's identity) reach the server now, not
            # up to a second later, between two requests that expect the same identity
            conn.execute("SELECT pg_stat_force_next_flush()")

    rewrite(2.0)
    try:
        bigger = fetch(slice_url)
    finally:
        rewrite(0.5)
    assert bigger[1]["x-cache"] == "miss" and bigger[2] != first[2]
    map_url = f"{url}/plot/map/{targetid}.png?k=5"
    assert [fetch(map_url)[1]["x-cache"] for _ in range(2)] == ["miss", "hit"]
    with db.connect(autocommit=True) as conn:  # what `desivoid embed` does to a run again
        conn.execute(
            sql.SQL("UPDATE {} SET created = now()").format(
                sql.Identifier(db.ns.ml, "embedding_sets")
            )
        )
    assert fetch(map_url)[1]["x-cache"] == "miss"


def test_the_slab_is_read_from_the_index_alone_and_equals_sql(finder) -> None:
    """The packed slab decodes to the rows plain SQL returns, and `serve` left a covering zc
    index and a vacuumed table, so the read never visits the heap."""
    db, _, _ = finder
    galaxy = sql.Identifier(db.ns.features, "galaxy")
    with db.connect(autocommit=True) as conn:
        x0, y0, z0 = conn.execute(
            sql.SQL("SELECT x, y, zc FROM {} WHERE x IS NOT NULL ORDER BY key_hash LIMIT 1").format(
                galaxy
            )
        ).fetchone()
        xy, void = plots.slab_points(conn, db.ns.features, (x0, y0, z0), 200.0, 40.0, True)
        expected = conn.execute(
            sql.SQL(
                "SELECT x, y, vf_sample IS NOT DISTINCT FROM 'void' FROM {} WHERE abs(zc - %s) "
                "< 40 AND abs(x - %s) <= 200 AND abs(y - %s) <= 200 ORDER BY x"
            ).format(galaxy),
            (z0, x0, y0),
        ).fetchall()
        plan = conn.execute(
            sql.SQL("EXPLAIN ") + plots.slab_sql(db.ns.features, True),
            (z0 - 40, z0 + 40, x0 - 200, x0 + 200, y0 - 200, y0 + 200),
        ).fetchall()
    order = np.argsort(xy[:, 0])
    assert len(expected) > 10 and void.any() and not void.all()
    assert np.allclose(xy[order], [r[:2] for r in expected], rtol=1e-6)
    assert void[order].tolist() == [r[2] for r in expected]
    assert any(f"Index Only Scan using {plots.SLAB_INDEX}" in r[0] for r in plan), plan


def test_similar_csv_is_what_the_page_shows(finder) -> None:
    db, url, _ = finder
    targetid, _, _ = one_galaxy(db, IN_VIDE_VOLUME)
    query = f"/similar/{targetid}?k=6&env=wall&algorithm=vide"
    _, _, page = get(url + query)
    _, kind, text = get(url + query + "&format=csv")
    assert kind.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 6 and all(r["vide_sample"] == "wall" for r in rows)
    assert all(f">{r['targetid']}</a>" in page for r in rows)


def test_runs_page_shows_void_wall_when_analysed(finder) -> None:
    db, url, _ = finder
    assert "run <code>desivoid analyze</code> first" in get(f"{url}/runs")[2]
    table = sql.Identifier(db.ns.ml, "void_wall")
    with db.connect() as conn:
        conn.execute(
            sql.SQL("CREATE TABLE {} (property text, delta double precision)").format(table)
        )
        conn.execute(sql.SQL("INSERT INTO {} VALUES ('logmstar', -0.31)").format(table))
    try:
        body = get(f"{url}/runs")[2]
        assert "logmstar" in body and "-0.31" in body
        assert get_json(f"{url}/api/runs")["void_wall"] == [
            {"property": "logmstar", "delta": -0.31}
        ]
    finally:
        with db.connect() as conn:
            conn.execute(sql.SQL("DROP TABLE {}").format(table))


def test_the_app_connection_cannot_write(finder) -> None:
    db, _, _ = finder
    store = open_store(db, pool_size=1)
    galaxy = sql.Identifier(db.ns.features, "galaxy")
    try:
        with store.conn() as conn:
            assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
            for statement in (
                sql.SQL("DELETE FROM {}").format(galaxy),
                sql.SQL("CREATE TABLE {} (a int)").format(sql.Identifier(db.ns.ml, "x")),
                sql.SQL("UPDATE {} SET z = 0").format(galaxy),
            ):
                with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                    conn.execute(statement)
    finally:
        store.pool.close()
    with db.connect() as conn:
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(galaxy)).fetchone()[0] > 0


browser = finder_browser.browser  # the fixture


def test_a_person_finds_a_galaxy_and_downloads_its_neighbours(finder, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    db, url, _ = finder
    driver, downloads = browser
    targetid, ra, dec = one_galaxy(db, IN_VIDE_VOLUME)
    driver.get(url + "/")
    driver.find_element(By.ID, "ra").send_keys(f"{ra:.6f}")
    driver.find_element(By.ID, "dec").send_keys(f"{dec:.6f}")
    radius = driver.find_element(By.ID, "radius")
    radius.clear()
    radius.send_keys("3600")
    navigate(driver, driver.find_element(By.ID, "search-position"))
    links = driver.find_elements(By.CSS_SELECTOR, "#search-results a.galaxy-link")
    assert links and links[0].text == str(targetid)  # the full TARGETID, never truncated
    shot(driver, "search", tmp_path)

    navigate(driver, links[0])
    assert str(targetid) in driver.find_element(By.TAG_NAME, "h1").text
    environment = driver.find_element(By.ID, "environment").text
    assert "VoidFinder" in environment and "VIDE" in environment
    assert driver.execute_script("return document.getElementById('slice').naturalWidth") > 0
    shot(driver, "galaxy", tmp_path)

    navigate(driver, driver.find_element(By.ID, "similar-link"))
    assert len(driver.find_elements(By.CSS_SELECTOR, "#neighbours tr")) == 11  # header + 10
    k = driver.find_element(By.ID, "k")
    k.clear()
    k.send_keys("8")
    Select(driver.find_element(By.ID, "env")).select_by_value("wall")
    Select(driver.find_element(By.ID, "algorithm")).select_by_value("vide")
    navigate(driver, driver.find_element(By.ID, "apply"))
    summary = driver.find_element(By.ID, "summary")
    run, candidates = summary.get_attribute("data-run"), summary.get_attribute("data-candidates")
    rows = driver.find_elements(By.CSS_SELECTOR, "#neighbours tr")[1:]
    assert len(rows) == 8
    assert driver.execute_script("return document.getElementById('map').naturalWidth") > 0
    shot(driver, "similar", tmp_path)

    driver.find_element(By.ID, "csv").click()
    for _ in range(200):
        done = [p for p in downloads.glob("*.csv")]
        if done:
            break
        time.sleep(0.05)
    assert done, "the CSV download did not arrive"
    shown = list(csv.DictReader(io.StringIO(done[0].read_text())))
    with db.connect() as conn:
        expected = conn.execute(
            sql.SQL(
                "SELECT s.targetid, s.distance FROM {}(%s, %s, %s, 'main', 'bright') s "
                "JOIN {} g USING (targetid, survey, program) WHERE g.vide_sample = 'wall' LIMIT 8"
            ).format(
                sql.Identifier(db.ns.ml, "similar_galaxies"),
                sql.Identifier(db.ns.features, "galaxy"),
            ),
            (targetid, int(candidates), run),
        ).fetchall()
    assert [(int(r["targetid"]), float(r["distance"])) for r in shown] == expected
    assert [r.find_element(By.TAG_NAME, "a").text for r in rows] == [str(t) for t, _ in expected]

    navigate(driver, driver.find_element(By.LINK_TEXT, "Runs"))
    assert run in driver.find_element(By.ID, f"run-{run}").text
    shot(driver, "runs", tmp_path)


def _cli(db, *args: str):
    from typer.testing import CliRunner

    from desivoid_ml.cli import app

    env = {"DESIVOID_NAMESPACE": db.ns.prefix, "COLUMNS": "40"}  # a narrow terminal
    return CliRunner().invoke(app, list(args), env=env)


def test_cli_similar_by_position_equals_sql(finder) -> None:
    db, _, _ = finder
    targetid, ra, dec = one_galaxy(db)
    result = _cli(db, "similar", "--ra", str(ra), "--dec", str(dec), "-k", "5", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    with db.connect() as conn:
        expected = conn.execute(
            sql.SQL("SELECT targetid, distance FROM {}(%s, %s, 5)").format(
                sql.Identifier(db.ns.ml, "similar_to_position")
            ),
            (ra, dec),
        ).fetchall()
    assert [(int(r["targetid"]), float(r["distance"])) for r in rows] == expected
    assert targetid not in [t for t, _ in expected]


def test_cli_table_never_truncates_a_targetid(finder) -> None:
    db, _, _ = finder
    targetid, _, _ = one_galaxy(db)
    result = _cli(db, "similar", str(targetid), "-k", "4")
    assert result.exit_code == 0, result.output
    with db.connect() as conn:
        expected = conn.execute(
            sql.SQL("SELECT targetid FROM {}(%s, 4)").format(
                sql.Identifier(db.ns.ml, "similar_galaxies")
            ),
            (targetid,),
        ).fetchall()
    assert all(str(t) in result.stdout for (t,) in expected)
    assert "…" not in result.stdout
    runs = json.loads(_cli(db, "runs", "--format", "json").stdout)
    assert runs[0]["run"].startswith("ae16-")


def test_cli_ambiguous_targetid_names_the_choices(finder) -> None:
    from desivoid_ml.errors import DesivoidError

    db, _, duplicate = finder
    result = _cli(db, "similar", str(duplicate))
    assert isinstance(result.exception, DesivoidError)
    message = str(result.exception)
    assert "main/bright" in message and f"main/{DUPLICATE_PROGRAM}" in message
    assert "--survey" in message
    ok = _cli(db, "similar", str(duplicate), "--survey", "main", "--program", "dark", "-k", "3")
    assert ok.exit_code == 0, ok.output
    far = _cli(db, "similar", "--ra", "0.5", "--dec", "-89.99")
    assert "try a larger --radius" in str(far.exception)


def test_the_report_example_is_a_whole_key(finder) -> None:
    """The example void galaxy's TARGETID has two rows here: the report asks for its neighbours
    by the whole key (it raised 'targetid ... has 2 rows' when it passed the TARGETID alone)."""
    from desivoid_ml.report.page import _example
    from desivoid_ml.runs import get_run

    db, _, duplicate = finder
    targetid, neighbours = _example(db, get_run(db, "latest"))
    assert targetid == duplicate
    assert len(neighbours) == 11  # the header, then 10 neighbours
