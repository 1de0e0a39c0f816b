"""The viewer page of one file, on both backends: what it hands the bundle (file id, h5grove
address, the dataset's NeXus default plot), the landing page's "view" links, and refusals."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from sqlalchemy import insert, select, update

from pancommons.db import tables as t
from pancommons.ingest.pipeline import ingest
from pancommons.ingest.proposals import import_proposals
from pancommons.nexus.synth import write_corpus
from tests.api.conftest import api_client


@pytest.fixture
def portal(settings, engine, data_root):
    write_corpus(data_root, 12, seed=5)
    assert import_proposals(data_root / "proposals.json", settings, engine).failed == []
    assert ingest([str(data_root)], settings, engine, workers=1).failed == []
    with api_client(settings, None) as client:
        yield client


def _settings(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="viewer-settings">(.*?)</script>', html).group(1))


def _public_file(engine):
    with engine.connect() as connection:
        return connection.execute(
            select(t.Dataset.pid, t.Dataset.title, t.Dataset.default_plot, t.DataFile.id, t.DataFile.name)
            .join(t.DataFile, t.DataFile.id == t.Dataset.source_file_id)
            .where(t.Dataset.is_public.is_(True), t.Dataset.default_plot.is_not(None))
            .order_by(t.Dataset.pid).limit(1)
        ).one()


def test_the_landing_page_offers_a_viewer_that_opens_on_the_default_plot(portal, engine):
    row = _public_file(engine)
    landing = portal.get(f"/datasets/{row.pid}").text
    views = re.findall(r'<a class="view" href="([^"]+)">view</a>', landing)
    assert f"http://testserver/viewer/{row.id}?dataset={row.pid}" in views
    page = portal.get(views[0].removeprefix("http://testserver"))
    assert page.status_code == 200
    assert _settings(page.text) == {"url": "/h5grove", "filepath": f"{row.id}/{row.name}", "initialPath": row.default_plot}
    assert row.default_plot.startswith("/") and row.default_plot != "/"  # a real plot, not the fallback
    assert f'<code class="file">{row.name}</code>' in page.text
    assert f'href="http://testserver/datasets/{row.pid}">' in page.text
    assert 'src="http://testserver/static/viewer/viewer.js"' in page.text
    for asset in ("viewer.js", "viewer.css"):  # the bundle ships inside the package
        served = portal.get(f"/static/viewer/{asset}")
        assert served.status_code == 200 and len(served.content) > 10_000, asset
    # without ?dataset= the entry made from the file decides
    assert _settings(portal.get(f"/viewer/{row.id}").text)["initialPath"] == row.default_plot


def test_without_a_default_plot_the_viewer_opens_at_the_root(portal, engine):
    row = _public_file(engine)
    with engine.begin() as connection:
        connection.execute(update(t.Dataset).where(t.Dataset.pid == row.pid).values(default_plot=None))
    assert _settings(portal.get(f"/viewer/{row.id}").text)["initialPath"] == "/"


def test_a_file_in_two_datasets_opens_on_the_one_it_was_reached_from(portal, engine):
    row = _public_file(engine)
    with engine.begin() as connection:
        other = connection.execute(
            select(t.Dataset.id, t.Dataset.pid).where(
                t.Dataset.is_public.is_(True),
                ~select(t.DatasetFile.file_id).where(t.DatasetFile.dataset_id == t.Dataset.id,
                                                     t.DatasetFile.file_id == row.id).exists(),
            )).first()
        connection.execute(update(t.Dataset).where(t.Dataset.id == other.id).values(default_plot="/entry/other"))
        connection.execute(insert(t.DatasetFile).values(dataset_id=other.id, file_id=row.id))
    assert _settings(portal.get(f"/viewer/{row.id}", params={"dataset": other.pid}).text)["initialPath"] == "/entry/other"
    assert _settings(portal.get(f"/viewer/{row.id}").text)["initialPath"] == row.default_plot  # made from it
    # a pid that does not hold the file names nothing: the file's own entry still opens
    assert _settings(portal.get(f"/viewer/{row.id}", params={"dataset": "no/such"}).text)["initialPath"] == row.default_plot


def test_embargoed_unknown_and_outside_files_have_no_viewer(portal, engine, data_root, tmp_path):
    with engine.connect() as connection:
        hidden = connection.execute(
            select(t.DatasetFile.file_id).join(t.Dataset, t.Dataset.id == t.DatasetFile.dataset_id)
            .where(t.Dataset.is_public.is_(False))).scalar()
    secret = tmp_path / "secret.nxs"
    secret.write_text("not for you")
    (data_root / "escape.nxs").symlink_to(secret)
    row = _public_file(engine)
    with engine.begin() as connection:
        dataset_id = connection.execute(select(t.Dataset.id).where(t.Dataset.pid == row.pid)).scalar_one()
        escape = connection.execute(insert(t.DataFile).values(
            data_root=str(data_root), path="escape.nxs", name="escape.nxs", size=11, mtime_ns=0, checksum="0",
            checksum_algorithm="sha256").returning(t.DataFile.id)).scalar_one()
        connection.execute(insert(t.DatasetFile).values(dataset_id=dataset_id, file_id=escape))
    assert hidden is not None
    for file_id in (hidden, 999999, escape):
        page = portal.get(f"/viewer/{file_id}")
        assert page.status_code == 404 and "viewer-settings" not in page.text and "not for you" not in page.text
    # an embargoed file's viewer reads exactly as a missing one's
    assert portal.get(f"/viewer/{hidden}").text.replace(str(hidden), "N") == \
        portal.get("/viewer/999999").text.replace("999999", "N")


def test_the_viewer_bundle_travels_gzipped_to_a_browser_that_accepts_it(portal):
    from importlib.resources import files

    shipped = (files("pancommons.portal") / "static" / "viewer" / "viewer.js").read_bytes()
    url = "/static/viewer/viewer.js"
    with portal.stream("GET", url, headers={"Accept-Encoding": "gzip, deflate"}) as zipped:
        travelled = b"".join(zipped.iter_raw())
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["vary"] == "Accept-Encoding"
    assert int(zipped.headers["content-length"]) == len(travelled) < len(shipped) * 0.4
    assert gzip.decompress(travelled) == shipped
    plain = portal.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == shipped
    assert plain.headers["vary"] == "Accept-Encoding"
    # two encodings, two tags: a resumed download or a cache can never mix their bytes
    assert zipped.headers["etag"] != plain.headers["etag"]
    for refusing in ("gzip;q=0, identity", "*, gzip;q=0", "br"):
        refused = portal.get(url, headers={"Accept-Encoding": refusing})
        assert "content-encoding" not in refused.headers and refused.headers["etag"] == plain.headers["etag"], refusing
    assert portal.get(url, headers={"Accept-Encoding": "br;q=1, *;q=0.5"}).headers["content-encoding"] == "gzip"
    # a browser revalidating either copy gets 304 and no body
    for copy, encoding in ((zipped, "gzip"), (plain, "identity")):
        again = portal.get(url, headers={"Accept-Encoding": encoding, "If-None-Match": copy.headers["etag"]})
        assert again.status_code == 304 and again.content == b"", encoding
        assert again.headers["etag"] == copy.headers["etag"] and again.headers["vary"] == "Accept-Encoding"
    # a range is of the plain file, as its Content-Range says
    part = portal.get(url, headers={"Accept-Encoding": "gzip", "Range": "bytes=1000-1999"})
    assert part.status_code == 206 and "content-encoding" not in part.headers and part.content == shipped[1000:2000]
    head = portal.head(url, headers={"Accept-Encoding": "gzip"})
    assert head.headers["content-length"] == zipped.headers["content-length"] and head.content == b""
    # small files and images go as they are
    icon = portal.get("/static/favicon.svg", headers={"Accept-Encoding": "gzip"})
    assert icon.status_code == 200 and ("content-encoding" in icon.headers) == (len(icon.content) >= 1024)
