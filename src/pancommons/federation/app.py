"""The federation's HTTP face: the PaNOSC Search API again, answered by many providers.

Every answer carries ``X-Federation-Providers``, a JSON object naming the
providers that answered, failed (with the reason), timed out or were
skipped while cooling down, and ``Server-Timing`` with each provider's
time.  ``GET /api/status`` shows each provider's health and latency.
"""

from __future__ import annotations

import gc
import json
import time
from contextlib import asynccontextmanager
from typing import Annotated

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response

from pancommons import __version__
from pancommons.api import errors
from pancommons.api.paths import COLLECTIONS, CaseInsensitiveCollections
from pancommons.federation.cache import Entry, ResponseCache
from pancommons.federation.config import FederationConfig
from pancommons.federation.service import MAX_WINDOW, Federation, Reply
from pancommons.query.filter import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    load_json,
    parse_facet_arguments,
)

PROVIDERS_HEADER = "X-Federation-Providers"

Text = Annotated[str | None, Query(description="free-text query; scores are comparable across our nodes")]
FilterText = Annotated[str | None, Query(description="LoopBack-style JSON filter, as on a node")]
WhereText = Annotated[str | None, Query(description="JSON where clause")]
CorpusText = Annotated[str | None, Query(description="text statistics to score with, from a federation in front of this one")]


def create_federation_app(config: FederationConfig) -> FastAPI:
    started = time.time()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        federation = Federation(config.providers)
        app.state.federation = federation
        app.state.cache = ResponseCache(config.cache_seconds)
        gc.freeze()  # start-up objects live forever: keep them out of the collector's pauses
        yield
        await federation.close()

    app = FastAPI(
        title="pancommons — PaNOSC federated search",
        version=__version__,
        lifespan=lifespan,
        description=(
            "One PaNOSC Search API in front of many facilities. Each request goes to every provider at once; "
            "lists are merged (by score with a query, else by title) with global skip/limit, counts are summed. "
            f"The `{PROVIDERS_HEADER}` header of every answer names the providers that answered, failed, timed out "
            f"or were skipped; `/api/status` shows their health. A page must end within the first {MAX_WINDOW} records."
        ),
    )
    errors.install(app)
    router = APIRouter(prefix="/api")

    async def respond(request: Request, compute) -> Response:
        # The raw query string: a repeated argument means what the route takes it to mean (the last one).
        key = (request.url.path, request.url.query)

        async def computed() -> Entry:
            started = time.perf_counter()
            reply: Reply = await compute(request.app.state.federation)
            body = orjson.dumps(reply.body)
            headers = {
                PROVIDERS_HEADER: json.dumps(reply.report(), separators=(",", ":")),
                "Server-Timing": _server_timing(reply, time.perf_counter() - started),
            }
            return Entry(reply.status, body, headers, reply.complete)

        entry = await request.app.state.cache.get_or_compute(key, computed)
        return Response(entry.body, entry.status, entry.headers, media_type="application/json")

    for collection, entity in COLLECTIONS.items():
        _collection_routes(router, respond, collection, entity)

    @router.get("/status", summary="Each provider's health, latency and state", tags=["Federation"])
    async def status(request: Request):
        federation: Federation = request.app.state.federation
        return JSONResponse({
            "uptimeSeconds": round(time.time() - started, 1),
            "defaultLimit": DEFAULT_LIMIT,
            "maxLimit": MAX_LIMIT,
            "maxWindow": MAX_WINDOW,
            "cacheSeconds": config.cache_seconds,
            "providers": [
                {"url": provider.url, "name": provider.name, "timeoutSeconds": provider.timeout,
                 **federation.fanout.health[provider.url].report()}
                for provider in federation.providers
            ],
        })

    @app.get("/", include_in_schema=False)
    async def root(request: Request):
        # The reference aggregator answers its status at /; so do we.
        return await status(request)

    app.include_router(router)
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"], expose_headers=[PROVIDERS_HEADER, "Server-Timing"])
    app.add_middleware(CaseInsensitiveCollections)
    return app


def _collection_routes(router: APIRouter, respond, collection: str, entity: str) -> None:
    tags = [collection]

    @router.get(f"/{collection}", summary=f"{collection} of every provider, merged", tags=tags)
    async def listing(request: Request, filter: FilterText = None, query: Text = None, corpus: CorpusText = None):
        raw = load_json(filter, "filter")
        return await respond(request, lambda f: f.find(collection, entity, raw, query, corpus))

    @router.get(f"/{collection}/count", summary=f"{collection} counted over every provider", tags=tags)
    async def count(request: Request, where: WhereText = None, query: Text = None):
        raw = load_json(where, "where")
        return await respond(request, lambda f: f.count(collection, entity, where, query, raw))

    @router.get(f"/{collection}/corpus", summary="Text statistics summed over the providers", tags=tags)
    async def corpus(request: Request, query: Annotated[str, Query(description="free-text query")]):
        return await respond(request, lambda f: f.corpus(collection, entity, query))

    if entity == "Dataset":
        @router.get("/Datasets/facets", summary="Facet counts summed over the providers", tags=tags)
        async def facets(request: Request, where: WhereText = None, filter: FilterText = None, query: Text = None):
            parse_facet_arguments(where, filter, query)  # refused here, with the node's message, rather than by every provider
            params = {name: value for name, value in (("where", where), ("filter", filter), ("query", query)) if value is not None}
            return await respond(request, lambda f: f.facets(params))

        @router.get("/Datasets/{pid:path}/files/count", summary="Count a dataset's files", tags=tags)
        async def files_count(request: Request, pid: str, where: WhereText = None):
            raw = load_json(where, "where")
            return await respond(request, lambda f: f.files_count(pid, where, raw))

        @router.get("/Datasets/{pid:path}/files", summary="A dataset's files, from the provider that holds it", tags=tags)
        async def files(request: Request, pid: str, filter: FilterText = None):
            raw = load_json(filter, "filter")
            return await respond(request, lambda f: f.files(pid, raw, filter))

    @router.get(f"/{collection}/{{pid:path}}", summary=f"One {entity}, from the first provider that has it", tags=tags)
    async def one(request: Request, pid: str, filter: FilterText = None):
        raw = load_json(filter, "filter")
        return await respond(request, lambda f: f.get(collection, entity, pid, raw, filter))


def _server_timing(reply: Reply, seconds: float) -> str:
    """Each provider's time and the federation's whole time (its overhead is the difference)."""
    parts = [f'federation;desc="merged answer";dur={seconds * 1000:.1f}']
    for number, answer in enumerate(reply.answers):
        name = answer.provider.name.replace('"', "'")
        parts.append(f'p{number};desc="{name} {answer.outcome}";dur={answer.seconds * 1000:.1f}')
    return ", ".join(parts)
