"""Every page of the finder in headless chromium, as a person reads it: a screenshot of each,
none wider than a 1,400 px window, nothing at error level in the console, form errors shown
above the form with what was typed still in it, the Runs page after `desivoid analyze`."""

from __future__ import annotations

import urllib.request

import finder_browser
import pytest
from finder_browser import navigate, shot
from psycopg import sql
from test_finder_fixture import DUPLICATE_PROGRAM, analyse, build_finder_database, running_finder

browser = finder_browser.browser  # the fixture
STATUS_LINE = "the server responded with a status of"  # chromium's line for a 4xx document


@pytest.fixture(scope="module")
def site(module_db, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pages")
    duplicate = build_finder_database(module_db, tmp)
    analyse(module_db, tmp / "analysis")
    add_report_metrics(module_db)
    with running_finder(module_db) as url:
        yield module_db, url, duplicate


def add_report_metrics(db) -> None:
    """The ~60 environment-AUC metrics `desivoid report` adds to a run, in its own format (the
    report itself stops on this database's deliberately ambiguous example galaxy)."""
    from desivoid_ml.report.environment import auc_metrics, merge_metrics
    from desivoid_ml.runs import get_run

    auc = {
        prefix: {
            "auc": {name: (0.6 + 0.05 * i, 0.55 + 0.05 * i, 0.65 + 0.05 * i) for i, name in
                    enumerate(("embedding", "inputs", "logmstar"))},
            "embedding_minus_logmstar": (-0.1, -0.15, -0.05),
            "embedding_share_of_inputs": (0.5, 0.31, 0.71),
        }
        for prefix in ("vf", "vide", "zobov", "revolver")
    }  # fmt: skip
    merge_metrics(db, get_run(db, "latest"), auc_metrics(auc) | {"test/recon_mse": 0.0012})


def a_galaxy(db) -> tuple[int, float, float]:
    with db.connect() as conn:
        return conn.execute(
            sql.SQL(
                "SELECT targetid, ra, dec FROM {} WHERE vf_in_void AND program = 'bright' "
                "ORDER BY key_hash OFFSET 7 LIMIT 1"
            ).format(sql.Identifier(db.ns.features, "galaxy"))
        ).fetchone()


def test_search_pages_and_their_form_errors(site, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    db, url, _ = site
    driver, _ = browser
    targetid, ra, dec = a_galaxy(db)
    driver.get(url + "/")
    shot(driver, "search-form", tmp_path)
    assert driver.execute_script("return document.querySelector('link[rel=icon]').href")
    navigate(driver, driver.find_element(By.ID, "search-position"))  # nothing typed
    error = driver.find_element(By.ID, "form-error")
    assert "enter a TARGETID, or an RA and a Dec" in error.text
    shot(driver, "search-empty", tmp_path, allowed=(STATUS_LINE,))

    driver.find_element(By.ID, "ra").send_keys("400")
    driver.find_element(By.ID, "dec").send_keys(f"{dec:.5f}")
    navigate(driver, driver.find_element(By.ID, "search-position"))
    assert "ra must be in [0, 360)" in driver.find_element(By.ID, "form-error").text
    assert driver.find_element(By.ID, "ra").get_attribute("value") == "400"  # kept
    assert driver.find_element(By.ID, "dec").get_attribute("value") == f"{dec:.5f}"
    above = driver.execute_script(
        "return document.getElementById('form-error').getBoundingClientRect().bottom <= "
        "document.getElementById('by-position').getBoundingClientRect().top"
    )
    assert above
    shot(driver, "search-error", tmp_path, allowed=(STATUS_LINE,))

    driver.get(f"{url}/?ra={ra}&dec={dec}&radius=3600")
    assert driver.find_elements(By.CSS_SELECTOR, "#search-results a.galaxy-link")
    shot(driver, "search", tmp_path)


def test_galaxy_and_similar_pages(site, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    db, url, _ = site
    driver, _ = browser
    targetid, _, _ = a_galaxy(db)
    driver.get(f"{url}/galaxy/{targetid}")
    shot(driver, "galaxy", tmp_path)
    navigate(driver, driver.find_element(By.ID, "similar-link"))
    assert len(driver.find_elements(By.CSS_SELECTOR, "#neighbours tr")) == 11
    shot(driver, "similar", tmp_path)

    k = driver.find_element(By.ID, "k")
    k.clear()
    k.send_keys("5000")
    navigate(driver, driver.find_element(By.ID, "apply"))
    assert "k must be between 1 and 1000" in driver.find_element(By.ID, "form-error").text
    assert driver.find_element(By.ID, "k").get_attribute("value") == "5000"
    assert not driver.find_elements(By.ID, "neighbours")
    shot(driver, "similar-error", tmp_path, allowed=(STATUS_LINE,))


def test_runs_page_groups_metrics_and_links_the_figures(site, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    _, url, _ = site
    driver, _ = browser
    driver.get(url + "/runs")
    run = driver.find_element(By.CSS_SELECTOR, "section.run")
    assert "recon_mse_best" in run.find_element(By.CSS_SELECTOR, "table.metrics").text
    assert "recon_mse" in run.find_element(By.CSS_SELECTOR, "table[id^=test-]").text
    auc = run.find_element(By.CSS_SELECTOR, "table.auc").text
    assert "REVOLVER" in auc and "0.6 [0.55, 0.65]" in auc  # value and interval in one cell
    assert not run.find_element(By.CSS_SELECTOR, "ul.all-metrics").is_displayed()  # folded
    table = driver.find_element(By.ID, "void-wall").text
    assert "VoidFinder" in table and "VIDE" in table and "[" in table  # intervals folded in
    links = driver.find_elements(By.CSS_SELECTOR, "#figures a")
    assert {a.get_attribute("href").rsplit("/", 1)[1] for a in links} == {
        "void_wall_g_r.png",
        "void_wall_logmstar.png",
    }
    shot(driver, "runs", tmp_path)
    with urllib.request.urlopen(links[0].get_attribute("href"), timeout=30) as response:
        assert response.read(8) == b"\x89PNG\r\n\x1a\n"


def test_error_pages_offer_the_search_again(site, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    _, url, duplicate = site
    driver, _ = browser
    driver.get(f"{url}/galaxy/123456789")
    assert "no galaxy with targetid 123456789" in driver.find_element(By.ID, "error").text
    assert driver.find_element(By.ID, "by-position").is_displayed()
    shot(driver, "not-found", tmp_path, allowed=(STATUS_LINE,))
    driver.get(f"{url}/galaxy/{duplicate}")
    choices = driver.find_elements(By.CSS_SELECTOR, "#choices a")
    assert {c.text.split()[1] for c in choices} == {"main/bright", f"main/{DUPLICATE_PROGRAM}"}
    shot(driver, "ambiguous", tmp_path, allowed=(STATUS_LINE,))
    navigate(driver, choices[0])
    assert str(duplicate) in driver.find_element(By.TAG_NAME, "h1").text
