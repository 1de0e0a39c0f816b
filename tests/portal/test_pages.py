"""The portal's pages over a catalogue ingested from synthetic NeXus files, on both backends:
search and its filters, landing pages (JSON-LD, Signposting, citation), downloads, bad input."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from sqlalchemy import insert, or_, select, update

from pancommons.db import tables as t
from pancommons.ingest.pipeline import ingest
from pancommons.ingest.proposals import import_proposals
from pancommons.nexus.synth import write_corpus
from tests.api.conftest import api_client


@pytest.fixture
def portal(settings, engine, data_root):
    write_corpus(data_root, 40, seed=5)
    assert import_proposals(data_root / "proposals.json", settings, engine).failed == []
    report = ingest([str(data_root)], settings, engine, workers=1)
    assert report.failed == []
    with api_client(settings, None) as client:
        yield client


def _links(html: str, prefix: str) -> list[str]:
    return re.findall(rf'href="http://testserver({prefix}[^"#?]+)"', html)


def _jsonld(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.DOTALL).group(1))


def _public_count(client, **where) -> int:
    return client.get("/api/Datasets/count", params={"where": json.dumps(where)} if where else {}).json()["count"]


def test_home_and_search_show_what_anyone_may_see(portal):
    total = _public_count(portal)
    assert 0 < total
    assert f"{total:,} public datasets" in portal.get("/").text
    page = portal.get("/search")
    assert page.status_code == 200 and f"<strong>{total:,}</strong> datasets" in page.text
    shown = _links(page.text, "/datasets/")
    api = portal.get("/api/Datasets", params={"filter": json.dumps({"limit": 20})}).json()
    assert [link.removeprefix("/datasets/") for link in shown] == [record["pid"] for record in api]


def test_two_filters_narrow_like_the_same_api_filter(portal):
    facility = portal.get("/api/Datasets", params={"filter": '{"limit": 1}'}).json()[0]["facility"]
    page = portal.get("/search", params={"facility": facility, "wavelength_min": "0.5", "wavelength_max": "2",
                                         "wavelength_unit": "angstrom"})
    assert page.status_code == 200
    expected = portal.get("/api/Datasets/facets", params={"filter": json.dumps({
        "where": {"facility": {"inq": [facility]}},
        "include": [{"relation": "parameters", "scope": {"where": {"and": [
            {"name": "incident_wavelength"}, {"value": {"between": [0.5, 2]}}, {"unit": "angstrom"}]}}}],
    })}).json()["total"]
    assert f"<strong>{expected:,}</strong> datasets" in page.text
    assert 0 < expected < _public_count(portal)
    assert f"Facility: {facility} ✕" in page.text and "Wavelength: 0.5–2 Å ✕" in page.text
    # the other facilities stay on offer (counted under the other filters), so a second one can be added
    offered = set(re.findall(r'name="facility" value="([^"]+)"', page.text))
    others = portal.get("/api/Datasets/facets", params={"filter": json.dumps({
        "include": [{"relation": "parameters", "scope": {"where": {"and": [
            {"name": "incident_wavelength"}, {"value": {"between": [0.5, 2]}}, {"unit": "angstrom"}]}}}],
    })}).json()["facility"]
    assert offered == {item["value"] for item in others} and len(offered) > 1


def test_text_search_shows_relevance_and_pages_line_up(portal):
    word = portal.get("/api/Datasets", params={"filter": '{"limit": 1}'}).json()[0]["title"].split()[0]
    first = portal.get("/search", params={"q": word})
    assert first.status_code == 200 and '<meter class="score"' in first.text
    everything = portal.get("/api/Datasets", params={"query": word, "filter": '{"limit": 1000}'}).json()
    second = portal.get("/search", params={"q": word, "page": "2"}) if len(everything) > 20 else None
    listed = _links(first.text, "/datasets/") + (_links(second.text, "/datasets/") if second else [])
    assert [link.removeprefix("/datasets/") for link in listed] == [r["pid"] for r in everything][:40]


@pytest.mark.parametrize("arguments, field", [
    ({"wavelength_unit": "furlong"}, "wavelength_unit"),
    ({"temperature_min": "cold"}, "temperature_min"),
    ({"year": "last"}, "year"),
    ({"year": "²"}, "year"),
    ({"page": "٣"}, "page"),
    ({"page": "0"}, "page"),
    ({"sort": "random"}, "sort"),
    ({"kind": "samples"}, "kind"),
])
def test_bad_form_input_is_named_on_the_page(portal, arguments, field):
    page = portal.get("/search", params=arguments)
    assert page.status_code == 400
    assert re.search(rf'<p class="error" role="alert">{field}: ', page.text)


def test_landing_page_describes_the_dataset_for_people_and_machines(portal, engine):
    pid = portal.get("/api/Datasets", params={"filter": '{"limit": 1, "where": {"kind": "raw"}}'}).json()[0]["pid"]
    page = portal.get(f"/datasets/{pid}")
    assert page.status_code == 200
    described = _jsonld(page.text)
    assert described["@type"] == "Dataset" and described["identifier"] == pid
    for name in ("name", "description", "creator", "license", "distribution", "measurementTechnique",
                 "variableMeasured", "includedInDataCatalog", "url"):
        assert described.get(name), name
    assert described["license"] == "https://spdx.org/licenses/CC-BY-4.0"
    assert all(c["@type"] == "Person" and c["name"] for c in described["creator"])
    assert all(term["url"].startswith("http://purl.org/pan-science/PaNET/") for term in described["measurementTechnique"])
    download = described["distribution"][0]["contentUrl"]
    links = {(m.group(2), m.group(1)) for m in re.finditer(r'<([^>]+)>; rel="([^"]+)"', page.headers["link"])}
    landing = f"http://testserver/datasets/{pid}"
    assert ("cite-as", landing) in links and ("license", "https://spdx.org/licenses/CC-BY-4.0") in links
    assert ("describedby", f"http://testserver/api/Datasets/{quote(pid, safe='')}") in links
    assert ("item", download) in links and ("type", "https://schema.org/Dataset") in links
    assert {url for rel, url in links if rel == "author"} == {c["@id"] for c in described["creator"] if "@id" in c} != set()
    assert "@misc{" in page.text and "How to cite" in page.text
    with engine.connect() as connection:
        emails = connection.execute(select(t.Person.email).where(t.Person.email.is_not(None))).scalars().all()
    assert emails and not any(email in page.text for email in emails)
    # the same page by the pid URL-encoded
    assert portal.get(f"/datasets/{quote(pid, safe='')}").status_code == 200


def test_raw_and_processed_datasets_link_each_other(portal, engine):
    raw = t.Dataset.__table__.alias("raw")
    with engine.begin() as connection:
        found = connection.execute(
            select(t.Dataset.id, t.Dataset.pid, raw.c.id, raw.c.pid)
            .join(t.DatasetDerivation, t.DatasetDerivation.dataset_id == t.Dataset.id)
            .join(raw, raw.c.id == t.DatasetDerivation.source_dataset_id)
        ).first()
        assert found is not None, "the synthetic corpus has processed datasets"
        processed_id, processed, raw_id, raw_pid = found
        connection.execute(update(t.Dataset).where(t.Dataset.id.in_([processed_id, raw_id])).values(is_public=True))
    assert f'made from <a href="http://testserver/datasets/{raw_pid}">' in portal.get(f"/datasets/{processed}").text
    assert f'processed into <a href="http://testserver/datasets/{processed}">' in portal.get(f"/datasets/{raw_pid}").text
    with engine.begin() as connection:  # a related dataset under embargo is not even named
        connection.execute(update(t.Dataset).where(t.Dataset.id == raw_id).values(is_public=False, embargo_until=None))
    assert raw_pid not in portal.get(f"/datasets/{processed}").text


def test_downloads_give_the_files_bytes_with_range_and_etag(portal, engine, data_root):
    pid = portal.get("/api/Datasets", params={"filter": '{"limit": 1}'}).json()[0]["pid"]
    download = _jsonld(portal.get(f"/datasets/{pid}").text)["distribution"][0]
    path = download["contentUrl"].removeprefix("http://testserver")
    with engine.connect() as connection:
        stored = connection.execute(select(t.DataFile.path).where(t.DataFile.id == int(path.rsplit("/", 1)[1]))).scalar_one()
    content = (data_root / stored).read_bytes()
    whole = portal.get(path)
    assert whole.status_code == 200 and whole.content == content and whole.headers["etag"]
    part = portal.get(path, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == content[100:200]
    etag, modified = whole.headers["etag"], whole.headers["last-modified"]
    for headers in ({"If-None-Match": etag}, {"If-None-Match": f'"other", W/{etag}'}, {"If-None-Match": "*"},
                    {"If-Modified-Since": modified}):
        assert portal.get(path, headers=headers).status_code == 304, headers
    for headers in ({"If-None-Match": '"other"'}, {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
                    {"If-Modified-Since": "yesterday"}, {"If-None-Match": '"other"', "If-Modified-Since": modified}):
        assert portal.get(path, headers=headers).status_code == 200, headers
    head = portal.head(path)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(content) and head.content == b""


def test_embargoed_and_unknown_datasets_are_not_found(portal, engine):
    with engine.connect() as connection:
        hidden = connection.execute(select(t.Dataset.pid, t.Dataset.id).where(  # still under embargo today
            t.Dataset.is_public.is_(False),
            or_(t.Dataset.embargo_until.is_(None), t.Dataset.embargo_until > datetime.now(UTC)))).first()
        hidden_file = connection.execute(select(t.DatasetFile.file_id).where(t.DatasetFile.dataset_id == hidden.id)).scalar()
    assert hidden is not None
    for path in (f"/datasets/{hidden.pid}", "/datasets/no/such/thing", f"/files/{hidden_file}", "/files/999999",
                 "/files/99999999999999999999",
                 f"/download/datasets/{hidden.pid}"):
        page = portal.get(path)
        assert page.status_code == 404 and "not open to you" in page.text, path
    # an embargoed dataset's page reads exactly as one that does not exist: nothing to learn from it
    for prefix in ("/datasets/", "/download/datasets/"):
        hidden_page = portal.get(prefix + hidden.pid).text.replace(hidden.pid, "PID")
        assert hidden_page == portal.get(prefix + "no/such/thing").text.replace("no/such/thing", "PID")
    assert portal.get(f"/files/{hidden_file}").text.replace(str(hidden_file), "N") == \
        portal.get("/files/999999").text.replace("999999", "N")
    assert portal.get("/proposals/nothing-here").status_code == 404


def test_files_outside_the_data_root_are_refused(portal, engine, data_root, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for you")
    (data_root / "escape.nxs").symlink_to(secret)
    with engine.begin() as connection:
        dataset_id = connection.execute(select(t.Dataset.id).where(t.Dataset.is_public.is_(True))).scalar()
        ids = []
        for path in ("escape.nxs", "../secret.txt", str(secret)):
            ids.append(connection.execute(insert(t.DataFile).values(
                data_root=str(data_root), path=path, name="x.nxs", size=11, mtime_ns=0, checksum="0",
                checksum_algorithm="sha256").returning(t.DataFile.id)).scalar_one())
        for file_id in ids:
            connection.execute(insert(t.DatasetFile).values(dataset_id=dataset_id, file_id=file_id))
    for file_id in ids:
        page = portal.get(f"/files/{file_id}")
        assert page.status_code == 404 and "not for you" not in page.text
    with engine.connect() as connection:
        pid = connection.execute(select(t.Dataset.pid).where(t.Dataset.id == dataset_id)).scalar_one()
    archive = portal.get(f"/download/datasets/{pid}")  # nor smuggled into a dataset's ZIP
    assert archive.status_code == 409 and "not for you" not in archive.text


def test_a_proposal_page_lists_its_open_datasets(portal, engine):
    with engine.connect() as connection:
        pid = connection.execute(
            select(t.Document.pid).join(t.DocumentDataset, t.DocumentDataset.document_id == t.Document.id)
            .join(t.Dataset, t.Dataset.id == t.DocumentDataset.dataset_id)
            .where(t.Document.is_public.is_(True), t.Dataset.is_public.is_(True))
        ).first()[0]
    page = portal.get(f"/proposals/{pid}")
    assert page.status_code == 200
    listed = {link.removeprefix("/datasets/") for link in _links(page.text, "/datasets/")}
    api = portal.get("/api/Datasets", params={"filter": json.dumps({
        "include": [{"relation": "documents", "scope": {"where": {"pid": pid}}}], "limit": 1000})}).json()
    assert listed == {record["pid"] for record in api} != set()
    with engine.begin() as connection:  # the proposal's page follows the policy too
        connection.execute(update(t.Document).where(t.Document.pid == pid).values(is_public=False, release_date=None))
    assert portal.get(f"/proposals/{pid}").status_code == 404


def test_a_whole_dataset_downloads_as_a_zip_with_its_checksums(portal, engine, data_root):
    import hashlib
    import io
    import zipfile

    with engine.connect() as connection:
        dataset_id, pid = connection.execute(
            select(t.Dataset.id, t.Dataset.pid).where(t.Dataset.is_public.is_(True)).order_by(t.Dataset.pid)).first()
        paths = connection.execute(select(t.DataFile.path).join(t.DatasetFile, t.DatasetFile.file_id == t.DataFile.id)
                                   .where(t.DatasetFile.dataset_id == dataset_id)).scalars().all()
    page = portal.get(f"/datasets/{pid}")
    archive_url = re.search(r'<a class="download-all" href="http://testserver([^"]+)"', page.text).group(1)
    response = portal.get(archive_url)
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == sorted([*paths, "MANIFEST.txt"])
    for line in archive.read("MANIFEST.txt").decode().splitlines():
        checksum, name = line.split("  ", 1)
        algorithm, digest = checksum.split(":")
        assert hashlib.new(algorithm, archive.read(name)).hexdigest() == digest
        assert archive.read(name) == (data_root / name).read_bytes()


def test_a_data_root_configured_through_a_symbolic_link_serves_its_files(settings, engine, data_root, tmp_path):
    write_corpus(data_root, 12, seed=5)
    link = tmp_path / "storage"
    link.symlink_to(data_root, target_is_directory=True)  # as a facility mounts its storage
    linked = settings.model_copy(update={"data_roots": [link]})
    assert ingest([str(link)], linked, engine, workers=1).failed == []
    with engine.connect() as connection:
        file_id, path = connection.execute(
            select(t.DataFile.id, t.DataFile.path).join(t.DatasetFile, t.DatasetFile.file_id == t.DataFile.id)
            .join(t.Dataset, t.Dataset.id == t.DatasetFile.dataset_id).where(t.Dataset.is_public.is_(True))
        ).first()
    with api_client(linked, None) as client:
        answer = client.get(f"/files/{file_id}")
        assert answer.status_code == 200 and answer.content == (data_root / path).read_bytes()
        assert client.get("/h5grove/meta", params={"file": str(file_id), "path": "/"}).status_code == 200
