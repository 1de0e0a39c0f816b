"""The federation's parts on their own: circuit breaker, response cache, configuration, merge order."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from pancommons.cli import app
from pancommons.federation import providers as breaker
from pancommons.federation.cache import Entry, ResponseCache
from pancommons.federation.config import FederationConfig
from pancommons.federation.merge import forwarded_filter, merged_page, summed_facets
from pancommons.federation.providers import Health, Provider, ProviderError
from pancommons.query.filter import parse_filter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(breaker.time, "monotonic", fake)
    return fake


def test_breaker_opens_after_repeated_failures_then_probes_once(clock):
    health = Health()
    for _ in range(breaker.FAILURES_TO_OPEN):
        assert health.admit() == (None, False)
        health.failed_with("HTTP 500", timed_out=False, probe=False)
    assert health.state == "cooling-down"
    assert "failures in a row" in health.admit()[0]
    clock.now += breaker.COOL_DOWN + 1
    assert health.state == "probe-due"
    assert health.admit() == (None, True)  # the probe
    assert health.state == "probing"
    assert health.admit() == ("skipped: a probe request is under way", False)
    health.failed_with("HTTP 500", timed_out=False, probe=True)  # the probe failed: a longer cool-down
    clock.now += breaker.COOL_DOWN + 1
    assert health.admit()[0] is not None
    clock.now += breaker.COOL_DOWN
    assert health.admit() == (None, True)
    health.succeeded(0.01, probe=True)
    assert health.state == "healthy" and health.admit() == (None, False) and health.cool_down == breaker.COOL_DOWN


def test_a_probe_given_up_does_not_block_the_provider_for_ever(clock):
    health = Health()
    for _ in range(breaker.FAILURES_TO_OPEN):
        health.failed_with("refused", timed_out=False, probe=False)
    clock.now += breaker.COOL_DOWN + 1
    _, probe = health.admit()
    health.abandoned(probe)  # the request was cancelled: no outcome
    assert health.admit() == (None, True)


def test_an_old_request_failing_is_not_taken_for_the_probe(clock):
    health = Health()
    for _ in range(breaker.FAILURES_TO_OPEN):
        health.failed_with("refused", timed_out=False, probe=False)
    clock.now += breaker.COOL_DOWN + 1
    assert health.admit() == (None, True)
    health.failed_with("refused", timed_out=False, probe=False)  # sent before the cool-down, answered now
    assert health.state == "cooling-down" and health.cool_down == breaker.COOL_DOWN and health.probing


def test_one_success_between_failures_keeps_the_provider_in(clock):
    health = Health()
    for _ in range(5):
        health.failed_with("timeout", timed_out=True, probe=False)
        health.succeeded(0.02, probe=False)
    assert health.admit() == (None, False) and health.timed_out == 5 and health.state == "healthy"


def _entry(body: bytes = b"[]", complete: bool = True, status: int = 200) -> Entry:
    return Entry(status, body, {}, complete)


def test_identical_requests_in_flight_fan_out_once():
    cache = ResponseCache(5)
    calls = 0

    async def compute():
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return _entry()

    async def main():
        return await asyncio.gather(*(cache.get_or_compute(("k",), compute) for _ in range(20)))

    results = asyncio.run(main())
    assert calls == 1 and len(results) == 20


def test_cache_keeps_partial_answers_briefly_and_errors_not_at_all(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("pancommons.federation.cache.time.monotonic", clock)
    cache = ResponseCache(5)
    calls = []

    def computing(entry):
        async def compute():
            calls.append(entry)
            return entry
        return compute

    async def ask(key, entry):
        return await cache.get_or_compute(key, computing(entry))

    asyncio.run(ask("partial", _entry(complete=False)))
    asyncio.run(ask("whole", _entry()))
    asyncio.run(ask("error", _entry(status=503)))
    clock.now += 2  # past the partial lifetime (1 s), within the whole one
    asyncio.run(ask("partial", _entry(complete=False)))
    asyncio.run(ask("whole", _entry()))
    asyncio.run(ask("error", _entry(status=503)))
    assert len(calls) == 5  # partial twice, whole once, error twice


def test_cache_is_bounded_in_bytes_keys_and_headers_included(monkeypatch):
    monkeypatch.setattr("pancommons.federation.cache.MAX_BYTES", 20_000)
    cache = ResponseCache(60)

    async def fill():
        for number in range(30):
            async def compute():
                return Entry(200, b"x" * 100, {"X-Federation-Providers": "y" * 500}, True)
            await cache.get_or_compute(("/api/Datasets", "filter=" + "z" * 1000 + str(number)), compute)

    asyncio.run(fill())
    held = sum(100 + len("X-Federation-Providers") + 500 + len("/api/Datasets") + 1008 for _ in cache._entries)
    assert cache._bytes <= 20_000 and held <= 20_000 and 5 < len(cache._entries) < 30


def test_expired_answers_leave_even_when_never_asked_again(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("pancommons.federation.cache.time.monotonic", clock)
    cache = ResponseCache(5)

    async def ask(number):
        async def compute():
            return _entry()
        await cache.get_or_compute((number,), compute)

    for number in range(1000):
        asyncio.run(ask(number))
        clock.now += 0.1  # ten requests a second, each different
    assert len(cache._entries) <= 51


def test_config_file_and_its_errors(tmp_path):
    good = tmp_path / "federation.toml"
    good.write_text('timeout = 2\n[[providers]]\nurl = "https://a.example/api/"\nname = "A"\n'
                    '[[providers]]\nurl = "http://b.example:8000/api"\ntimeout = 9\n')
    config = FederationConfig.from_file(good)
    assert [(p.url, p.name, p.timeout) for p in config.providers] == [
        ("https://a.example/api", "A", 2.0), ("http://b.example:8000/api", "b.example:8000", 9.0)]
    for text, message in (
        ("[[providers]]\nurl = 'ftp://x/api'\n", "expected an http(s) URL"),
        ("[[providers]]\nurl = 'http://x/api'\n[[providers]]\nurl = 'http://x/api/'\n", "named twice"),
        ("[[providers]]\nname = 'no url'\n", "provider 1: needs a url"),
        ("[[providers]]\nurl = 'http://x/api'\ncolour = 1\n", "unknown key(s) ['colour']"),
        ("providers = [\n", "not valid TOML"),
        ("timeout = 'soon'\n[[providers]]\nurl = 'http://x/api'\n", "timeout must be a number"),
        ("", "no providers"),
    ):
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(ProviderError, match=str(bad)) as raised:
            FederationConfig.from_file(bad)
        assert message in str(raised.value)
    with pytest.raises(ProviderError, match="timeout must be between"):
        Provider.from_url("http://x/api", timeout=0)
    with pytest.raises(ProviderError, match="printable"):
        Provider.from_url("http://x/api", name="A\r\nSet-Cookie: x")


def test_fields_the_merge_needs_are_asked_for_and_removed_again():
    query = parse_filter("Document", {"fields": ["pid"], "order": "startDate DESC", "skip": 5, "limit": 2})
    forwarded, added = forwarded_filter({"fields": ["pid"], "order": "startDate DESC", "skip": 5, "limit": 2}, query)
    assert "skip" not in forwarded and "limit" not in forwarded  # the federation pages itself
    assert "startDate" in forwarded["fields"] and added == {"startDate"}


def test_cli_names_the_problem(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["federate"])
    assert result.exit_code == 1 and "no providers" in result.output
    result = runner.invoke(app, ["federate", "--provider", "localhost:8000"])
    assert result.exit_code == 1 and "'localhost:8000': expected an http(s) URL" in result.output
    result = runner.invoke(app, ["federate", "--config", str(tmp_path / "missing.toml")])
    assert result.exit_code == 1 and "missing.toml: cannot read" in result.output


def test_merge_breaks_ties_by_pid_then_provider_order():
    query = parse_filter("Dataset", {"limit": 10})
    rank = {"http://a/api": 0, "http://b/api": 1}
    pages = [  # each provider's list in its own order, as providers answer
        [{"pid": "2", "title": "Same", "provider": "http://b/api"}, {"pid": "9", "title": None, "provider": "http://b/api"}],
        [{"pid": "1", "title": "same", "provider": "http://a/api"}, {"pid": "2", "title": "same", "provider": "http://a/api"}],
    ]
    merged = merged_page(query, pages, rank)
    assert [(r["pid"], r["provider"][7]) for r in merged] == [("1", "a"), ("2", "a"), ("2", "b"), ("9", "b")]


def test_pages_line_up_even_when_a_provider_sorts_its_own_way():
    """A k-way merge gives the first n records from the first n of each list: windows of any size agree."""
    rank = {"ours": 0, "theirs": 1}
    ours = [{"pid": str(n), "title": f"t{n:02d}", "provider": "ours"} for n in range(0, 40, 2)]
    theirs = [{"pid": str(n), "title": f"t{n:02d}", "provider": "theirs"} for n in (31, 1, 17, 5, 3, 39, 11, 7)]
    whole = merged_page(parse_filter("Dataset", {"limit": 1000}), [ours, theirs], rank)
    for size in (1, 3, 7):
        pages = []
        for skip in range(0, len(whole), size):
            query = parse_filter("Dataset", {"skip": skip, "limit": size})
            window = skip + size
            pages += merged_page(query, [ours[:window], theirs[:window]], rank)
        assert pages == whole
    assert [r["pid"] for r in whole if r["provider"] == "theirs"] == [r["pid"] for r in theirs]


def test_facets_are_summed_value_by_value():
    one = {"total": 3, "facility": [{"value": "ESRF", "count": 3}], "instrument": [], "technique": [],
           "year": [{"value": 2020, "count": 3}], "sampleFormula": []}
    two = {"total": 5, "facility": [{"value": "ESRF", "count": 1}, {"value": "ILL", "count": 4}], "instrument": [],
           "technique": [{"value": "t", "label": "SAXS", "count": 5}], "year": [{"value": 2021, "count": 5}],
           "sampleFormula": []}
    summed = summed_facets([one, two])
    assert summed["total"] == 8
    assert summed["facility"] == [{"value": "ESRF", "count": 4}, {"value": "ILL", "count": 4}]
    assert [y["value"] for y in summed["year"]] == [2021, 2020]
