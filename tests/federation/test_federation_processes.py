"""The federation as it runs: `pancommons federate` in front of real `pancommons serve` nodes on
loopback ports, each with its own catalogue, and providers that misbehave on purpose."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.federation.processes import (
    build_node,
    federation,
    free_port,
    misbehaving,
    node,
)

SHARED = {"pid": "shared/lysozyme-1", "title": "Lysozyme crystal at room temperature", "isPublic": True,
          "creationDate": "2021-03-01T00:00:00Z"}


def _datasets(title: str, count: int, prefix: str) -> list[dict]:
    return [{"pid": f"{prefix}/{n:03d}", "title": title.format(n=n), "isPublic": True,
             "creationDate": f"20{10 + n % 10}-01-01T00:00:00Z"} for n in range(count)]


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    """Three facilities. The shared record sits in A (few lysozyme records) and C (many): on its own
    statistics each node scores it differently."""
    base = tmp_path_factory.mktemp("nodes")
    homes = {
        "a": build_node(base / "a", Dataset=[SHARED, *_datasets("Alpha sample {n}", 20, "a"),
                                             {"pid": "a/hidden", "title": "Alpha embargoed", "isPublic": False,
                                              "creationDate": "2099-01-01T00:00:00Z"}]),
        "b": build_node(base / "b", Dataset=_datasets("Beta lysozyme study {n}", 10, "b"),
                        File=[{"id": 1, "name": "scan_1.nxs", "datasetId": "b/003", "size": 10},
                              {"id": 2, "name": "scan_2.nxs", "datasetId": "b/003", "size": 20}]),
        "c": build_node(base / "c", Dataset=[SHARED, *_datasets("Gamma lysozyme variant {n}", 30, "c")]),
    }
    running = {name: node(home) for name, home in homes.items()}
    try:
        for process in running.values():
            process.wait_ready()
        yield {name: process.url for name, process in running.items()}
    finally:
        for process in running.values():
            process.stop()


@pytest.fixture(scope="module")
def healthy(nodes):
    process = federation([nodes["a"], nodes["b"], nodes["c"]], 10).wait_ready()
    yield process.url
    process.stop()


TIMEOUT = 1.5


@pytest.fixture(scope="module")
def troubled(nodes):
    """A federation of two good nodes, a foreign implementation and every kind of bad provider."""
    bad = {mode: misbehaving(mode) for mode in ("hang", "error", "garbage", "shape", "drip", "foreign")}
    for process in bad.values():
        process.wait_ready()
    down = f"http://127.0.0.1:{free_port()}/api"  # nobody listens there
    urls = {"a": nodes["a"], "down": down, **{mode: process.url for mode, process in bad.items()}, "b": nodes["b"]}
    process = federation(list(urls.values()), TIMEOUT, "--cache-seconds", "0").wait_ready()
    yield process.url, urls
    process.stop()
    for each in bad.values():
        each.stop()


def _get(base: str, path: str, **arguments):
    params = {name: value if isinstance(value, str) else json.dumps(value) for name, value in arguments.items()}
    response = httpx.get(base + path, params=params, timeout=30)
    return response


def _report(response) -> dict:
    return json.loads(response.headers["X-Federation-Providers"])


def test_lists_merge_by_title_with_the_provider_named(healthy, nodes):
    response = _get(healthy, "/Datasets", filter={"limit": 1000})
    assert response.status_code == 200
    found = response.json()
    every = []
    for name in ("a", "b", "c"):
        direct = _get(nodes[name], "/Datasets", filter={"limit": 1000}).json()
        every += [(record["title"].lower(), record["pid"], name) for record in direct]
    assert [(r["title"].lower(), r["pid"]) for r in found] == [(title, pid) for title, pid, _ in sorted(every)]
    assert {r["provider"] for r in found} == {nodes["a"], nodes["b"], nodes["c"]}
    assert all(r["pid"] != "a/hidden" for r in found)  # each node's visibility rule holds through the federation
    assert _report(response) == {"answered": [nodes["a"], nodes["b"], nodes["c"]], "failed": {}, "timedOut": {}, "skipped": {}}


def test_counts_are_summed(healthy):
    response = _get(healthy, "/Datasets/count")
    assert response.json() == {"count": 21 + 10 + 31}
    assert _get(healthy, "/datasets/count", where={"title": {"ilike": "%lysozyme%"}}).json() == {"count": 1 + 10 + 31}


def test_pages_concatenate_to_the_whole_list(healthy):
    whole = [r["pid"] for r in _get(healthy, "/Datasets", filter={"limit": 1000}).json()]
    pages = []
    for skip in range(0, len(whole) + 7, 7):
        pages += [r["pid"] for r in _get(healthy, "/Datasets", filter={"skip": skip, "limit": 7}).json()]
    assert pages == whole


def test_identical_record_scores_alike_on_global_statistics(healthy, nodes):
    # On their own statistics the two nodes disagree (lysozyme is rare on A, common on C) …
    own = {name: {r["pid"]: r["score"] for r in _get(nodes[name], "/Datasets", query="lysozyme crystal").json()}
           for name in ("a", "c")}
    assert own["a"][SHARED["pid"]] != own["c"][SHARED["pid"]]
    # … through the federation both copies score alike, and every score is comparable.
    found = _get(healthy, "/Datasets", query="lysozyme crystal", filter={"limit": 1000}).json()
    copies = [r for r in found if r["pid"] == SHARED["pid"]]
    assert {r["provider"] for r in copies} == {nodes["a"], nodes["c"]}
    assert copies[0]["score"] == copies[1]["score"]
    assert all(r["scoreScope"] == "federation" and 0 < r["score"] < 1 for r in found)
    scores = [r["score"] for r in found]
    assert scores == sorted(scores, reverse=True)
    # the record holding both words ranks first
    assert found[0]["pid"] == SHARED["pid"]


def test_find_by_id_names_the_first_provider_that_has_it(healthy, nodes):
    response = _get(healthy, "/Datasets/" + SHARED["pid"])
    assert response.status_code == 200 and response.json()["provider"] == nodes["a"]
    assert _get(healthy, "/Datasets/b%2F003").json()["provider"] == nodes["b"]
    missing = _get(healthy, "/Datasets/nowhere/42")
    assert missing.status_code == 404 and "nowhere/42" in missing.json()["error"]["message"]
    files = _get(healthy, "/Datasets/b/003/files")
    assert sorted(f["name"] for f in files.json()) == ["scan_1.nxs", "scan_2.nxs"]
    assert _get(healthy, "/Datasets/b/003/files/count").json() == {"count": 2}


def _asked(base: str) -> int:
    status = httpx.get(base + "/status", timeout=10).json()
    return sum(p["answered"] + p["refused"] + p["failed"] + p["timedOut"] for p in status["providers"])


def test_bad_filters_are_refused_before_any_provider_is_asked(healthy):
    before = _asked(healthy)
    for arguments, where in (
        ({"filter": "{not json"}, "filter"),
        ({"filter": {"where": {"colour": "red"}}}, "filter.where.colour"),
        ({"filter": {"limit": 10**9}}, "filter.limit"),
        ({"filter": {"skip": 9_990, "limit": 100}}, "filter.skip"),
    ):
        response = _get(healthy, "/Datasets", **arguments)
        assert response.status_code == 400, arguments
        assert response.json()["error"]["where"].startswith(where)
        assert "X-Federation-Providers" not in response.headers
    assert _asked(healthy) == before


def test_partial_results_within_the_timeout_and_every_failure_named(troubled):
    base, urls = troubled
    started = time.monotonic()
    response = _get(base, "/Datasets", filter={"limit": 100})
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    # The hanging and dripping providers are cut at their timeout, not waited for.
    assert elapsed < TIMEOUT + 3
    report = _report(response)
    assert report["answered"] == [urls["a"], urls["foreign"], urls["b"]]
    assert set(report["timedOut"]) == {urls["hang"], urls["drip"]}
    assert "cannot connect" in report["failed"][urls["down"]]
    assert report["failed"][urls["error"]] == "HTTP 500: database on fire"
    assert report["failed"][urls["garbage"]].startswith("not JSON")
    assert report["failed"][urls["shape"]].startswith("not a PaNOSC answer")
    found = response.json()
    assert {r["provider"] for r in found} == {urls["a"], urls["b"], urls["foreign"]}
    # the other implementation's integer ids arrive as strings, its bare-number count is summed
    assert {r["pid"] for r in found if r["provider"] == urls["foreign"]} == {str(n) for n in range(1, 8)}
    assert _get(base, "/Datasets/count").json() == {"count": 21 + 10 + 7}


def test_foreign_scores_are_kept_and_flagged(troubled):
    base, urls = troubled
    response = _get(base, "/Datasets", query="lysozyme")
    assert response.status_code == 200, response.text
    found = response.json()
    scopes = {r["provider"]: r["scoreScope"] for r in found}
    assert scopes[urls["foreign"]] == "provider"
    assert scopes[urls["b"]] == "federation"


def test_a_failing_provider_cools_down_and_the_status_page_says_so(troubled):
    base, urls = troubled
    for _ in range(4):
        _get(base, "/Instruments/count")
    report = _report(_get(base, "/Instruments/count"))
    assert urls["down"] in report["skipped"] and "failures in a row" in report["skipped"][urls["down"]]
    status = httpx.get(base + "/status", timeout=10).json()
    states = {p["url"]: p for p in status["providers"]}
    assert states[urls["down"]]["state"] == "cooling-down" and states[urls["down"]]["retryInSeconds"] > 0
    assert states[urls["a"]]["state"] == "healthy" and states[urls["a"]]["latency"]["p50Ms"] > 0
    assert states[urls["hang"]]["timedOut"] >= 1 and "within" in states[urls["hang"]]["lastError"]
    assert states[urls["foreign"]]["scores"] == "provider" and states[urls["b"]]["scores"] == "federation"


def test_a_connection_closed_before_any_answer_is_retried_once(nodes):
    dropping = misbehaving("dropfirst").wait_ready()
    process = federation([nodes["a"], dropping.url], 5, "--cache-seconds", "0").wait_ready()
    try:
        response = _get(process.url, "/Datasets")
        assert _report(response)["answered"] == [nodes["a"], dropping.url]
    finally:
        process.stop()
        dropping.stop()
