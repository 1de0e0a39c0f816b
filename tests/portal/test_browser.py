"""The portal in a real headless Chromium (Debian's, driven by Playwright), against `pancommons serve`
over a catalogue ingested from synthetic NeXus files: search, two filters, a landing page, a download.

Screenshots are kept in ``test-artifacts/portal/`` (or ``$PANCOMMONS_TEST_ARTIFACTS``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from pancommons.db import tables as t
from tests.federation.processes import Process, free_port
from tests.synthetic_node import ingested_catalogue

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("PANCOMMONS_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")) / "portal"


def _browser_or_skip():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install '.[test]')"
    else:
        if CHROMIUM.exists():
            return sync_playwright
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("PANCOMMONS_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A node with 40 ingested files, served over HTTP by `pancommons serve`."""
    from pancommons.config import Settings

    home = tmp_path_factory.mktemp("node")
    data = home / "data"
    settings = Settings(home=home, data_roots=[data], panet_source="")
    engine = ingested_catalogue(settings, 40, 5)
    port = free_port()
    env = {"PANCOMMONS_HOME": str(home), "PANCOMMONS_DATA_ROOTS": str(data), "PANCOMMONS_PANET_SOURCE": "",
           "PANCOMMONS_CONFIG": str(home / "none.toml")}
    process = Process([sys.executable, "-m", "pancommons.cli", "serve", "--port", str(port)], port, env, "/api/Datasets/count")
    process.wait_ready()
    yield f"http://127.0.0.1:{port}", engine, data
    process.stop()
    engine.dispose()


def test_search_filter_open_and_download_in_chromium(served, tmp_path):
    sync_playwright = _browser_or_skip()
    base, engine, data = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(accept_downloads=True)
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))

        page.goto(base + "/")
        page.click("form.big button")
        page.wait_for_url("**/search**")
        everything = int(page.inner_text("p.total strong").replace(",", ""))
        page.screenshot(path=str(ARTIFACTS / "1-search.png"), full_page=True)

        # two filters from the panel: the first facility and the first year on offer
        page.check("#filters input[name=facility] >> nth=0")
        page.select_option("#filters select[name=year]", index=1)
        page.click("#filters button[type=submit]")
        page.wait_for_url("**facility=**")
        assert "year=" in page.url
        narrowed = int(page.inner_text("p.total strong").replace(",", ""))
        assert 0 < narrowed < everything
        assert page.locator("ul.chips.active li").count() == 2
        page.screenshot(path=str(ARTIFACTS / "2-filtered.png"), full_page=True)

        first = page.locator("ol.hits li.hit a.title").first
        title = first.inner_text()
        first.click()
        page.wait_for_url("**/datasets/**")
        assert page.inner_text("h1") == title
        page.screenshot(path=str(ARTIFACTS / "3-landing.png"), full_page=True)

        with page.expect_download() as waiting:
            page.locator("a.download").first.click()
        download = waiting.value
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        file_id = int(download.url.rsplit("/", 1)[1])
        browser.close()
    with engine.connect() as connection:
        stored = connection.execute(select(t.DataFile.path).where(t.DataFile.id == file_id)).scalar_one()
    assert saved.read_bytes() == (data / stored).read_bytes()
    assert problems == []
