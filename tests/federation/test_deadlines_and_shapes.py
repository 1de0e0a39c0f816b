"""Deadlines, odd answers and handed-in statistics, with providers served in process (ASGI), so each
misbehaviour is exact and cheap: a slow provider paged in many steps, one that hangs on the statistics
call, one whose score is not a number, one answering 404 to everything."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qs

import httpx
import pytest

from pancommons.federation.fanout import Fanout
from pancommons.federation.providers import Provider
from pancommons.federation.service import Federation
from pancommons.query.filter import FilterError
from tests.federation.test_pagination import _build


def provider_app(*, delay: float = 0.0, hang_on: str | None = None, score="0.5", status: int = 200, records: int = 30):
    """A tiny PaNOSC provider: ``records`` datasets sorted by title, honouring skip and limit."""
    catalogue = [{"pid": f"x/{n:02d}", "title": f"Record {n:02d}"} for n in range(records)]

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        path = scope["path"]
        arguments = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        if hang_on and path.endswith(hang_on):
            await asyncio.sleep(3600)
        await asyncio.sleep(delay)
        if path.endswith("/count"):
            body = b"30"
        elif path.endswith("/corpus"):
            body = json.dumps({"records": records, "averageLength": 2.0, "frequencies": {"record": records}}).encode()
        else:
            wanted = json.loads(arguments.get("filter", "{}"))
            skip, limit = wanted.get("skip", 0), wanted.get("limit", 100)
            page = [dict(r, score=json.loads(score)) for r in catalogue][skip : skip + limit]
            body = json.dumps(page).encode()
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body if status == 200 else b'{"error":{"message":"no"}}'})

    return app


def federation_of(apps: dict[str, object], **provider_options) -> Federation:
    client = httpx.AsyncClient(mounts={f"http://{name}": httpx.ASGITransport(app) for name, app in apps.items()})
    providers = [Provider.from_url(f"http://{name}/api", **provider_options) for name in apps]
    return Federation(providers, Fanout(providers, client))


async def _find(federation: Federation, raw: dict, text: str | None = None, corpus: str | None = None):
    try:
        started = time.monotonic()
        reply = await federation.find("Datasets", "Dataset", raw, text, corpus)
        return reply, time.monotonic() - started
    finally:
        await federation.close()


def test_one_deadline_covers_every_step_of_a_deep_page():
    # 15 steps of 2 records at 0.1 s each would take 1.5 s; the provider's time is 0.5 s in all.
    federation = federation_of({"slow": provider_app(delay=0.1)}, timeout=0.5, page_limit=2)
    reply, elapsed = asyncio.run(_find(federation, {"limit": 30}))
    assert reply.report()["timedOut"] == {"http://slow/api": "no whole answer within 0.5 s"}
    assert elapsed < 1.0  # cut at its deadline, not after every step


def test_a_provider_hanging_on_statistics_leaves_the_others_their_time():
    federation = federation_of({"good": provider_app(), "stuck": provider_app(hang_on="/corpus")}, timeout=1.0)
    reply, elapsed = asyncio.run(_find(federation, {"limit": 60}, text="record"))
    assert reply.status == 200 and reply.report()["answered"] == ["http://good/api", "http://stuck/api"]
    scopes = {(r["provider"], r["scoreScope"]) for r in reply.body}
    # the stuck one's statistics never came: its records keep its own scores, and say so
    assert scopes == {("http://good/api", "federation"), ("http://stuck/api", "provider")}
    assert elapsed < 1.5


def test_a_score_that_is_not_a_number_fails_that_provider_only():
    federation = federation_of({"good": provider_app(), "odd": provider_app(score='"high"')})
    reply, _ = asyncio.run(_find(federation, {"limit": 50}, text="record"))
    assert reply.status == 200 and len(reply.body) == 30
    assert reply.report()["failed"]["http://odd/api"].startswith("not a PaNOSC answer: item 0: score 'high'")


def test_a_provider_answering_404_to_lists_is_failing_not_healthy():
    federation = federation_of({"good": provider_app(), "wrong": provider_app(status=404)})

    async def three_times():
        try:
            for _ in range(3):
                reply = await federation.find("Datasets", "Dataset", {"limit": 5}, None)
            return reply, federation.fanout.health["http://wrong/api"]
        finally:
            await federation.close()

    reply, health = asyncio.run(three_times())
    assert reply.report()["failed"]["http://wrong/api"] == "HTTP 404: no"
    assert health.state == "cooling-down" and health.answered == 0


def test_nobody_answering_is_503_not_an_empty_list():
    federation = federation_of({"wrong": provider_app(status=500)})
    reply, _ = asyncio.run(_find(federation, {"limit": 5}))
    assert reply.status == 503 and reply.body["error"]["statusCode"] == 503


def test_a_filter_too_long_to_forward_is_refused_by_name():
    federation = federation_of({"good": provider_app()})
    titles = ["é" * 900] * 20  # a valid filter of 18,000 characters, 162,000 bytes once URL-encoded
    with pytest.raises(FilterError, match="^filter: .* bytes once URL-encoded"):
        asyncio.run(_find(federation, {"where": {"title": {"inq": titles}}}))


def test_statistics_handed_in_are_passed_to_every_node(tmp_path, empty_catalogue):
    """A federation behind another scores on the outer one's statistics, not on its own."""
    from pancommons.api.app import create_app
    from pancommons.config import Settings
    from pancommons.query.filter import parse_filter
    from pancommons.query.text import CorpusStatistics

    store = _build(tmp_path / "n", empty_catalogue, [("lysozyme film", 1, 2020), ("lysozyme", 2, 2021)])
    federation = federation_of({"node": create_app(Settings(panet_source=""), store)})
    outer = CorpusStatistics(5000, 40.0, {"lysozyme": 10, "film": 4000})
    reply, _ = asyncio.run(_find(federation, {"limit": 5}, text="lysozyme film", corpus=json.dumps(outer.to_json())))
    direct = store.find(parse_filter("Dataset", {"limit": 5}, query="lysozyme film"), corpus=outer)
    assert [(r["pid"], r["score"]) for r in reply.body] == [(r["pid"], r["score"]) for r in direct]
    store.engine.dispose()
