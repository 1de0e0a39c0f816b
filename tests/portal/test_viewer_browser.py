"""The H5Web viewer in Debian's headless Chromium, against `pancommons serve`: from a dataset's
landing page, "view" opens the file on its NeXus default plot and the plot is drawn; the beamline's
bitshuffle/LZ4-compressed Eiger image from ../shared is drawn too.

"Drawn" is read off the pixels: H5Web puts its heatmap in a WebGL canvas, so a screenshot of the
canvas must be mostly colormap colour (viridis is nowhere grey), not the empty white/grey of axes
and grid alone.  Screenshots are kept in ``test-artifacts/portal/``."""

from __future__ import annotations

import base64
import shutil
import sys

import pytest
from sqlalchemy import select, update

from pancommons.db import tables as t
from pancommons.db.engine import make_engine
from pancommons.db.migrate import upgrade
from pancommons.ingest.pipeline import ingest
from pancommons.ingest.proposals import import_proposals
from pancommons.nexus.synth import write_corpus
from tests.conftest import SHARED_NEXUS
from tests.federation.processes import Process, free_port
from tests.portal.test_browser import ARTIFACTS, CHROMIUM, _browser_or_skip

BEAMLINE_FILE = "S2p5min_00070_00001.h5"
DRAW_TIMEOUT_MS = 60_000  # the first frame of a 3262 × 3108 image on a busy 2-core machine

# Share of a screenshot's pixels that are clearly coloured (max − min channel > 40): viridis
# everywhere, white and greys of an empty plot nowhere.
_COLOURED_SHARE = """async (png) => {
  const image = new Image();
  image.src = 'data:image/png;base64,' + png;
  await image.decode();
  const canvas = new OffscreenCanvas(image.width, image.height);
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, image.width, image.height).data;
  let coloured = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const r = pixels[i], g = pixels[i + 1], b = pixels[i + 2];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured += 1;
  }
  return coloured / (pixels.length / 4);
}"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A node with a few synthetic NeXus files and, when ../shared is there, a copy of the beamline file."""
    from pancommons.config import Settings

    home = tmp_path_factory.mktemp("viewer-node")
    data = home / "data"
    write_corpus(data, 8, seed=5)
    beamline = SHARED_NEXUS / BEAMLINE_FILE
    if beamline.is_file():
        shutil.copyfile(beamline, data / BEAMLINE_FILE)  # a copy: a link out of the data root is refused
    settings = Settings(home=home, data_roots=[data], panet_source="")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    import_proposals(data / "proposals.json", settings, engine)
    assert ingest([str(data)], settings, engine, workers=1).failed == []
    with engine.begin() as connection:  # the beamline file comes with no proposal to open it: open it here
        connection.execute(update(t.Dataset).where(t.Dataset.source_file_id.in_(
            select(t.DataFile.id).where(t.DataFile.name == BEAMLINE_FILE))).values(is_public=True))
    port = free_port()
    env = {"PANCOMMONS_HOME": str(home), "PANCOMMONS_DATA_ROOTS": str(data), "PANCOMMONS_PANET_SOURCE": "",
           "PANCOMMONS_CONFIG": str(home / "none.toml")}
    process = Process([sys.executable, "-m", "pancommons.cli", "serve", "--port", str(port)], port, env, "/api/Datasets/count")
    process.wait_ready()
    yield f"http://127.0.0.1:{port}", engine
    process.stop()
    engine.dispose()


def _dataset_of(engine, file_name: str | None = None):
    """(pid, default plot, file id, file name) of a public dataset made from an HDF5 file with a default plot."""
    query = (
        select(t.Dataset.pid, t.Dataset.default_plot, t.DataFile.id, t.DataFile.name)
        .join(t.DataFile, t.DataFile.id == t.Dataset.source_file_id)
        .where(t.Dataset.is_public.is_(True), t.Dataset.default_plot.is_not(None))
        .order_by(t.Dataset.pid).limit(1)
    )
    query = query.where(t.DataFile.name == file_name) if file_name else query.where(t.DataFile.name != BEAMLINE_FILE)
    with engine.connect() as connection:
        row = connection.execute(query).first()
    assert row is not None, f"no public dataset with a default plot made from {file_name or 'a synthetic file'}"
    return row


def _view_from_landing_page(base: str, pid: str, default_plot: str, file_id: int, file_name: str, shot: str) -> list[str]:
    """Open the landing page, click the file's "view", wait for the default plot to be drawn; the problems seen."""
    sync_playwright = _browser_or_skip()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("response", lambda response: problems.append(f"{response.status} {response.url}")
                    if response.status >= 400 else None)

            page.goto(f"{base}/datasets/{pid}")
            page.locator(f'a.view[href*="/viewer/{file_id}?"]').click()
            page.wait_for_url(f"**/viewer/{file_id}?**")

            canvas = page.locator("#viewer canvas").first
            canvas.wait_for(state="visible", timeout=DRAW_TIMEOUT_MS)
            # opened on the default plot: H5Web selects it in the tree and shows it in the breadcrumbs
            selected = page.locator("#viewer [role=treeitem][aria-selected=true]")
            assert selected.get_attribute("data-path") == default_plot
            assert page.inner_text("#viewer h1").split() == default_plot.strip("/").split("/")
            # the tree's root is the file, by its name (not by the catalogue id the requests use)
            assert page.inner_text('#viewer [role=treeitem][data-path="/"]').strip() == file_name
            share = 0.0
            for _ in range(DRAW_TIMEOUT_MS // 500):  # the frame arrives after the canvas: poll
                share = page.evaluate(_COLOURED_SHARE, base64.b64encode(canvas.screenshot()).decode())
                if share > 0.5:
                    break
                page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / shot))
            assert share > 0.5, f"the plot's canvas is not drawn: {share:.0%} of it coloured (screenshot {shot})"
        finally:
            browser.close()
    return problems


def test_view_from_the_landing_page_draws_the_default_plot(served):
    base, engine = served
    pid, default_plot, file_id, file_name = _dataset_of(engine)
    assert _view_from_landing_page(base, pid, default_plot, file_id, file_name, "viewer-default-plot.png") == []


def test_the_beamlines_bitshuffle_lz4_image_is_drawn(served):
    base, engine = served
    if not (SHARED_NEXUS / BEAMLINE_FILE).is_file():
        pytest.skip(f"shared sample file {SHARED_NEXUS / BEAMLINE_FILE} is absent (a fresh clone without ../shared)")
    pid, default_plot, file_id, file_name = _dataset_of(engine, BEAMLINE_FILE)
    assert _view_from_landing_page(base, pid, default_plot, file_id, file_name, "viewer-bitshuffle-lz4.png") == []
