"""Embargoed records are invisible to anonymous callers through every path of the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update

from pancommons.catalogue import text_index
from pancommons.catalogue.release import release_embargoed
from pancommons.db.tables import Dataset, Document
from pancommons.ingest.panosc_import import import_panosc
from tests.api.conftest import api_client, get, write_dump

PUBLIC, SECRET, OPENED = "10.0/public", "10.0/secret", "10.0/opened"
NOW = datetime.now(UTC)


@pytest.fixture
def embargo_api(engine, settings, ontology, tmp_path):
    dump = write_dump(
        tmp_path / "dump.json",
        Instrument=[{"pid": "i/1", "name": "D22", "facility": "ILL"}],
        Dataset=[
            {"pid": PUBLIC, "title": "lysozyme crystal public", "isPublic": True, "creationDate": "2020-01-01T00:00:00Z", "instrumentId": "i/1"},
            {"pid": SECRET, "title": "lysozyme crystal secret", "isPublic": True, "creationDate": "2024-06-01T00:00:00Z", "instrumentId": "i/1"},
            {"pid": OPENED, "title": "ferritin opened", "isPublic": True, "creationDate": "2019-01-01T00:00:00Z"},
        ],
        Document=[
            {"pid": "doc/open", "isPublic": True, "type": "proposal", "title": "Open proposal"},
            {"pid": "doc/closed", "isPublic": True, "type": "proposal", "title": "Closed proposal hidden words"},
        ],
        DocumentDataset=[
            {"id": 1, "datasetId": PUBLIC, "documentId": "doc/open"},
            {"id": 2, "datasetId": SECRET, "documentId": "doc/open"},
            {"id": 3, "datasetId": PUBLIC, "documentId": "doc/closed"},
        ],
        Technique=[{"pid": "t/saxs", "name": "small angle x-ray scattering", "panetId": "http://purl.org/pan-science/PaNET/PaNET01188"}],
        DatasetTechnique=[{"id": 1, "datasetId": SECRET, "techniqueId": "t/saxs"}],
        Sample=[{"pid": "s/1", "name": "secret sample"}],
        DatasetSample=[{"id": 1, "datasetId": SECRET, "sampleId": "s/1"}],
        File=[{"id": 1, "name": "secret.nxs", "datasetId": SECRET}],
        Parameter=[{"id": 1, "name": "sample_temperature", "value": 10, "unit": "K", "datasetId": SECRET}],
    )
    assert not import_panosc(dump, engine).problems
    with engine.begin() as connection:
        connection.execute(update(Dataset).where(Dataset.pid == SECRET).values(is_public=False, embargo_until=NOW + timedelta(days=400)))
        connection.execute(update(Dataset).where(Dataset.pid == OPENED).values(is_public=False, embargo_until=NOW - timedelta(days=1)))
        connection.execute(update(Document).where(Document.pid == "doc/closed").values(is_public=False, release_date=NOW + timedelta(days=30)))
        # What changes a record's visibility refreshes the words other records borrow from it.
        text_index.rebuild(connection)
    with api_client(settings, ontology) as client:
        yield client


def test_lists_and_counts_hold_public_and_released_datasets_only(embargo_api):
    _, datasets = get(embargo_api, "/api/Datasets")
    assert sorted(d["pid"] for d in datasets) == [OPENED, PUBLIC]
    assert all(d["isPublic"] for d in datasets)  # an embargo that has ended shows as public
    assert get(embargo_api, "/api/Datasets/count") == (200, {"count": 2})
    assert get(embargo_api, "/api/Datasets/count", where={"isPublic": False}) == (200, {"count": 0})
    assert get(embargo_api, "/api/Datasets", filter={"where": {"title": {"like": "%secret%"}}}) == (200, [])


def test_single_records_and_files_of_an_embargoed_dataset_are_not_found(embargo_api):
    for path in (f"/api/Datasets/{SECRET}", f"/api/Datasets/{SECRET}/files", f"/api/Datasets/{SECRET}/files/count"):
        status, body = get(embargo_api, path)
        assert status == 404, path
        assert "secret.nxs" not in str(body)
    assert get(embargo_api, "/api/Documents/doc/closed")[0] == 404


def test_relations_never_lead_to_embargoed_records(embargo_api):
    _, documents = get(embargo_api, "/api/Documents", filter={"include": ["datasets"]})
    assert [d["pid"] for d in documents] == ["doc/open"]
    assert [d["pid"] for d in documents[0]["datasets"]] == [PUBLIC]
    _, instruments = get(embargo_api, "/api/Instruments", filter={"include": ["datasets"]})
    assert [d["pid"] for d in instruments[0]["datasets"]] == [PUBLIC]
    _, by_technique = get(embargo_api, "/api/Datasets", filter={
        "include": [{"relation": "techniques", "scope": {"where": {"name": "small angle scattering-based techniques"}}}]})
    assert by_technique == []
    _, cold = get(embargo_api, "/api/Datasets", filter={"include": [{"relation": "parameters", "scope": {
        "where": {"and": [{"name": "sample_temperature"}, {"value": {"lt": 20}}, {"unit": "K"}]}}}]})
    assert cold == []


def test_text_search_neither_finds_nor_counts_embargoed_words(embargo_api, engine, settings, ontology):
    assert get(embargo_api, "/api/Datasets", query="secret") == (200, [])
    assert get(embargo_api, "/api/Datasets/count", query="secret") == (200, {"count": 0})
    assert get(embargo_api, "/api/Documents", query="secret") == (200, [])  # the open proposal does not carry its title
    assert get(embargo_api, "/api/Documents", query="hidden") == (200, [])
    _, found = get(embargo_api, "/api/Datasets", query="lysozyme crystal")
    assert [d["pid"] for d in found] == [PUBLIC]
    score_with_embargoed_neighbour = found[0]["score"]
    # The score is computed over what the caller may see: removing the embargoed dataset changes nothing.
    with engine.begin() as connection:
        connection.execute(delete(Dataset).where(Dataset.pid == SECRET))
    with api_client(settings, ontology) as fresh:
        _, again = get(fresh, "/api/Datasets", query="lysozyme crystal")
    assert again[0]["score"] == pytest.approx(score_with_embargoed_neighbour, rel=1e-12)


def test_facets_count_only_visible_datasets(embargo_api):
    status, facets = get(embargo_api, "/api/Datasets/facets")
    assert status == 200
    assert facets["total"] == 2
    assert facets["instrument"] == [{"value": "i/1", "label": "D22", "facility": "ILL", "count": 1}]
    assert facets["technique"] == [] and facets["sampleFormula"] == []
    assert sorted(item["value"] for item in facets["year"]) == [2019, 2020]
    assert "secret" not in str(facets)


def test_an_ended_embargo_opens_the_words_it_shares(embargo_api, engine):
    """Visibility follows the date at once; release_embargoed also lets the linked proposal carry the title."""
    with engine.begin() as connection:
        connection.execute(update(Dataset).where(Dataset.pid == SECRET).values(embargo_until=NOW - timedelta(seconds=1)))
    assert SECRET in {d["pid"] for d in get(embargo_api, "/api/Datasets")[1]}
    assert get(embargo_api, "/api/Documents", query="secret")[1] == []  # not yet in the proposal's words
    assert release_embargoed(engine).datasets == 2  # this one and OPENED, whose embargo ended before
    assert [d["pid"] for d in get(embargo_api, "/api/Documents", query="secret")[1]] == ["doc/open"]
    assert release_embargoed(engine).datasets == 0  # nothing left to open


def test_instrument_text_query_folds_accents(engine, settings, ontology, tmp_path):
    dump = write_dump(tmp_path / "i.json", Instrument=[{"pid": "i/l", "name": "Lüneburg beamline", "facility": "NLS"},
                                                       {"pid": "i/o", "name": "Other", "facility": "NLS"}])
    import_panosc(dump, engine)
    with api_client(settings, ontology) as client:
        for query in ("Lüneburg", "luneburg", "LÜNEBURG"):
            _, found = get(client, "/api/Instruments", query=query)
            assert [i["pid"] for i in found] == ["i/l"] and 0 < found[0]["score"] <= 1
        assert get(client, "/api/Instruments/count", query="luneburg") == (200, {"count": 1})
