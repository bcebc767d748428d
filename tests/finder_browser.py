"""(Helpers, no tests.) Headless Debian chromium through Selenium for the finder's page tests:
the browser fixture, navigation, and a screenshot that also checks what a person would see
(no horizontal scrolling at 1,400 px, nothing in the console at error level)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WIDTH = 1400  # the window the pages must fit without a horizontal scrollbar


@pytest.fixture
def browser(tmp_path):
    """Headless Debian chromium; missing chromium is a failure, not a skip."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail("chromium/chromedriver missing: apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--window-size={WIDTH},1000",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver, downloads
    finally:
        driver.quit()


def navigate(driver, element) -> None:
    """Click a link or submit button and wait until the next page has replaced this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    wait = WebDriverWait(driver, 60)
    wait.until(expected_conditions.staleness_of(old))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def console_errors(driver, allowed: tuple[str, ...] = ()) -> list[str]:
    """Console messages at error level since the last call, less those containing `allowed`."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and not any(a in entry["message"] for a in allowed)
    ]


def shot(driver, name: str, tmp: Path, allowed: tuple[str, ...] = ()) -> Path:
    """Wait for the server-rendered images, check the page fits WIDTH and logged no error, then
    take a full-page screenshot (into docs/screenshots when DESIVOID_UPDATE_SCREENSHOTS=1)."""
    folder = SCREENSHOTS if os.environ.get("DESIVOID_UPDATE_SCREENSHOTS") == "1" else tmp
    driver.set_window_size(WIDTH, 1000)
    for _ in range(400):
        if driver.execute_script(
            "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
        ):
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"{name}: an image did not load")
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name}: {overflow} px wider than a {WIDTH} px window"
    assert console_errors(driver, allowed) == [], name
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(WIDTH, min(max(height + 140, 600), 4000))
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path
