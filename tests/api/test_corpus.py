"""The corpus extension a federation relies on: a node's text statistics, and scoring on handed-in ones."""

from __future__ import annotations

import json

import pytest

from pancommons.ingest.panosc_import import import_panosc
from tests.api.conftest import api_client, get, write_dump


@pytest.fixture
def text_api(engine, settings, tmp_path):
    dump = write_dump(tmp_path / "dump.json", Dataset=[
        {"pid": "d/1", "title": "lysozyme crystal", "isPublic": True, "creationDate": "2020-01-01T00:00:00Z"},
        {"pid": "d/2", "title": "lysozyme lysozyme powder", "isPublic": True, "creationDate": "2020-01-01T00:00:00Z"},
        {"pid": "d/3", "title": "copper film", "isPublic": True, "creationDate": "2020-01-01T00:00:00Z"},
        {"pid": "d/4", "title": "lysozyme embargoed", "isPublic": False, "creationDate": "2099-01-01T00:00:00Z"},
    ])
    assert not import_panosc(dump, engine).problems
    with api_client(settings, None) as client:
        yield client


def test_corpus_counts_visible_records_holding_each_term(text_api):
    status, body = get(text_api, "/api/Datasets/corpus", query="Lysozyme copper nothing")
    assert status == 200
    assert body["records"] == 3  # the embargoed record is no part of anyone's statistics
    assert body["frequencies"] == {"lysozyme": 2, "copper": 1, "nothing": 0}
    assert body["averageLength"] == pytest.approx((2 + 3 + 2) / 3)


def test_scores_follow_the_statistics_handed_in(text_api):
    _, own = get(text_api, "/api/Datasets", query="lysozyme")
    # A federation of longer records: each record here is short for it, so it scores higher.
    common = {"records": 1000, "averageLength": 30.0, "frequencies": {"lysozyme": 900}}
    _, shared = get(text_api, "/api/Datasets", query="lysozyme", corpus=common)
    assert [r["pid"] for r in own] == [r["pid"] for r in shared] == ["d/2", "d/1"]
    assert all(s["score"] > o["score"] for s, o in zip(shared, own))
    assert all(0 < r["score"] < 1 for r in shared)


@pytest.mark.parametrize("corpus, message", [
    ("{oops", "corpus: not valid JSON"),
    (json.dumps({"records": 3}), "corpus: expected an object with exactly records, averageLength and frequencies"),
    (json.dumps({"records": -1, "averageLength": 1, "frequencies": {}}), "corpus: records must be a whole number"),
    (json.dumps({"records": 1, "averageLength": "long", "frequencies": {}}), "corpus: averageLength must be a number"),
    (json.dumps({"records": 1, "averageLength": 1, "frequencies": {"a": 1.5}}), "corpus: frequencies.a must be"),
])
def test_bad_statistics_are_refused_by_name(text_api, corpus, message):
    status, body = get(text_api, "/api/Datasets", query="lysozyme", corpus=corpus)
    assert status == 400 and body["error"]["message"].startswith(message)


def test_corpus_needs_a_query(text_api):
    status, body = get(text_api, "/api/Documents/corpus")
    assert status == 400 and "query" in body["error"]["message"]
