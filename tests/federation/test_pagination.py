"""Global pagination, as a property: for random catalogues spread over three nodes and random page
sizes, the federation's pages put end to end are exactly the merged full list — no gap, no repeat.

The nodes are real APIs over real SQLite catalogues, reached in process (httpx's ASGI transport),
so hypothesis can give every example its own data."""

from __future__ import annotations

import asyncio
import shutil

import httpx
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pancommons.api.app import create_app
from pancommons.catalogue.search import Catalogue
from pancommons.config import Settings
from pancommons.db.engine import make_engine
from pancommons.federation.fanout import Fanout
from pancommons.federation.providers import Provider
from pancommons.federation.service import Federation
from pancommons.ingest.panosc_import import import_panosc
from pancommons.query.text import CorpusStatistics
from tests.api.conftest import write_dump

NODES = 3
WORDS = ["Lysozyme", "lysozyme", "copper", "Zeolite", "zeolite", "film", "ÉCLAIR", "éclair", "a", "B"]


title = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
record = st.tuples(title, st.integers(0, 40), st.integers(2015, 2024))  # title, pid number, year
spread = st.lists(st.lists(record, max_size=14, unique_by=lambda r: r[1]), min_size=NODES, max_size=NODES)
asked = st.fixed_dictionaries({
    "limit": st.integers(1, 12),
    "order": st.sampled_from([None, "title ASC", "creationDate DESC", "pid DESC"]),
    "query": st.sampled_from([None, "lysozyme", "zeolite film", "éclair copper"]),
})


def _build(directory, template, datasets) -> Catalogue:
    directory.mkdir(parents=True)
    shutil.copy(template, directory / "catalogue.db")
    url = f"sqlite:///{directory / 'catalogue.db'}"
    records = [{"pid": f"10.5/{number:02d}", "title": text, "isPublic": True, "creationDate": f"{year}-06-01T00:00:00Z"}
               for text, number, year in datasets]
    writer = make_engine(url)
    assert not import_panosc(write_dump(directory / "dump.json", Dataset=records), writer).problems
    writer.dispose()
    return Catalogue(make_engine(url, reader=True))


def _reference(catalogues, ask) -> list[tuple]:
    """The merged full list, computed apart from the federation: every node's whole list (scored on
    the summed statistics when there is a query), sorted by the documented merge order."""
    corpus = None
    if ask["query"]:
        corpus = CorpusStatistics.combined(store.corpus("Dataset", ask["query"]) for store in catalogues)
    from pancommons.query.filter import parse_filter

    raw = {"limit": 1000, **({"order": ask["order"]} if ask["order"] else {})}
    rows = []
    for rank, store in enumerate(catalogues):
        for item in store.find(parse_filter("Dataset", raw, query=ask["query"]), corpus=corpus):
            field, descending = (ask["order"] or "title ASC").split()
            value = item[field]
            if field == "title":
                value = value.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))
            rows.append((-item["score"] if ask["query"] else 0, value, descending == "DESC", item["pid"], rank))

    def key(row):
        score, value, descending, pid, rank = row
        return (score, _Reverse(value) if descending else value, pid, rank)

    return [(pid, rank) for *_, pid, rank in sorted(rows, key=key)]


class _Reverse:
    def __init__(self, value):
        self.value = value

    def __lt__(self, other):
        return other.value < self.value

    def __eq__(self, other):
        return self.value == other.value


async def _pages(catalogues, ask, total: int) -> list[tuple]:
    apps = [create_app(Settings(panet_source=""), store) for store in catalogues]
    client = httpx.AsyncClient(mounts={f"http://node{n}": httpx.ASGITransport(app) for n, app in enumerate(apps)})
    providers = [Provider.from_url(f"http://node{n}/api", page_limit=5) for n in range(NODES)]  # deep pages in steps
    federation = Federation(providers, Fanout(providers, client))
    rank = {provider.url: number for number, provider in enumerate(providers)}
    got = []
    try:
        for skip in range(0, total + ask["limit"], ask["limit"]):
            raw = {"skip": skip, "limit": ask["limit"], **({"order": ask["order"]} if ask["order"] else {})}
            reply = await federation.find("Datasets", "Dataset", raw, ask["query"])
            assert reply.complete and len(reply.body) <= ask["limit"]
            got += [(item["pid"], rank[item["provider"]]) for item in reply.body]
    finally:
        await federation.close()
    return got


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=spread, ask=asked)
# Nodes fold ASCII case only when ordering (SQL lower()): "ÉCLAIR" sorts before "éclair" whatever the pids.
@example(data=[[("ÉCLAIR", 1, 2020)], [("éclair", 0, 2020)], []], ask={"limit": 1, "order": None, "query": None})
def test_pages_end_to_end_are_the_merged_list(data, ask, empty_catalogue, tmp_path_factory):
    base = tmp_path_factory.mktemp("nodes")
    catalogues = [_build(base / f"node{n}", empty_catalogue, datasets) for n, datasets in enumerate(data)]
    try:
        expected = _reference(catalogues, ask)
        assert asyncio.run(_pages(catalogues, ask, len(expected))) == expected
    finally:
        for store in catalogues:
            store.engine.dispose()


def test_a_page_shows_the_federation_scores_not_the_node_scores(empty_catalogue, tmp_path):
    """Sanity of the property's reference: with a query, the federation's order is that of the summed
    statistics, which differs from a node's own when the corpora differ."""
    catalogues = [
        _build(tmp_path / "n0", empty_catalogue, [("lysozyme film", 1, 2020), ("copper", 2, 2020)]),
        _build(tmp_path / "n1", empty_catalogue, [("lysozyme film", 1, 2020)] + [(f"lysozyme {w}", n, 2020)
                                                                                for n, w in enumerate(WORDS[2:6], 2)]),
    ]
    from pancommons.query.filter import parse_filter

    query = parse_filter("Dataset", {}, query="lysozyme film")
    own = [next(item["score"] for item in store.find(query) if item["pid"] == "10.5/01") for store in catalogues]
    corpus = CorpusStatistics.combined(store.corpus("Dataset", "lysozyme film") for store in catalogues)
    shared = [next(item["score"] for item in store.find(query, corpus=corpus) if item["pid"] == "10.5/01")
              for store in catalogues]
    assert own[0] != own[1] and shared[0] == shared[1]
