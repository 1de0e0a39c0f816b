"""Asking providers: one pooled async HTTP client, a deadline per provider, every outcome named.

A provider's answer counts only when it arrives whole within the
provider's timeout (a slow drip of bytes does not keep a request alive),
is at most ``MAX_BODY`` bytes, is JSON, and has the shape the endpoint
promises (``shape`` checks it).  Anything else is a failure with a reason
the response header and the status page show.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from pancommons.federation.providers import Health, Provider

MAX_BODY = 64 * 1024 * 1024  # bytes of one provider answer
LARGE_BODY = 1024 * 1024  # answers from this size on are parsed in a thread

ANSWERED, NOT_FOUND, FAILED, TIMED_OUT, SKIPPED = "answered", "not-found", "failed", "timed-out", "skipped"


class ShapeError(ValueError):
    """A provider answered JSON that is not what the endpoint returns."""


@dataclass(slots=True)
class Answer:
    provider: Provider
    outcome: str  # ANSWERED, NOT_FOUND, FAILED, TIMED_OUT or SKIPPED
    value: Any = None
    reason: str = ""
    seconds: float = 0.0
    status: int | None = None  # the provider's HTTP status, when it sent one

    @property
    def ok(self) -> bool:
        return self.outcome == ANSWERED


class Fanout:
    """The federation's HTTP side: one connection pool, one semaphore and one health record per provider."""

    def __init__(self, providers: list[Provider], client: httpx.AsyncClient | None = None):
        self.providers = providers
        self.health = {provider.url: Health() for provider in providers}
        self._gates = {provider.url: asyncio.Semaphore(provider.concurrency) for provider in providers}
        pool = sum(provider.concurrency for provider in providers)
        # Timeouts are ours (a deadline over the whole answer), so httpx's own are off.
        self.client = client or httpx.AsyncClient(
            timeout=None,
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
            headers={"Accept": "application/json", "User-Agent": "pancommons-federation"},
            trust_env=False,  # providers are named exactly; a proxy from the environment is not asked for
        )

    async def close(self) -> None:
        await self.client.aclose()

    def deadline(self, provider: Provider) -> float:
        """When a provider's answer to the request starting now is due (one per provider per request:
        every step of a deep page and the statistics call before a text query share it)."""
        return time.monotonic() + provider.timeout

    async def call(
        self, provider: Provider, path: str, params: dict[str, str], shape: Callable[[Any], Any], *,
        missing_ok: bool = False, deadline: float | None = None, max_bytes: int = MAX_BODY,
    ) -> Answer:
        """GET ``provider.url + path`` before ``deadline``; ``missing_ok``: a 404 is an answer (NOT_FOUND)."""
        health = self.health[provider.url]
        skipped, probe = health.admit()
        if skipped:
            health.skipped += 1
            return Answer(provider, SKIPPED, reason=skipped)
        answer = None
        try:
            answer = await self._fetch(provider, path, params, shape, missing_ok,
                                       deadline if deadline is not None else self.deadline(provider), max_bytes)
        finally:
            if answer is None:  # cancelled: no outcome to learn from
                health.abandoned(probe)
            elif answer.outcome in (ANSWERED, NOT_FOUND):
                health.succeeded(answer.seconds, probe)
            elif answer.status == 400:
                health.refused_one(answer.reason, probe)  # it refused this request, but it is up and answering
            else:
                health.failed_with(answer.reason, answer.outcome == TIMED_OUT, probe)
        return answer

    async def _fetch(self, provider, path, params, shape, missing_ok, deadline: float, max_bytes: int) -> Answer:
        started = time.perf_counter()
        status = None
        if deadline <= time.monotonic():
            return Answer(provider, TIMED_OUT, reason=f"no whole answer within {provider.timeout:g} s")
        try:
            async with asyncio.timeout(deadline - time.monotonic()):
                for attempt in (1, 2):
                    try:
                        # waiting for a slot in the provider's gate counts against the deadline
                        async with self._gates[provider.url], \
                                self.client.stream("GET", provider.url + path, params=params) as response:
                            status = response.status_code
                            body = bytearray()
                            async for chunk in response.aiter_bytes():
                                body += chunk
                                if len(body) > max_bytes:
                                    return _failed(provider, f"answer larger than {max_bytes / 2**20:.0f} MiB", started, status)
                        break
                    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                        # A kept-alive connection the provider closed just as it was reused, before any
                        # answer: a GET is safe to send once more, on a fresh connection.
                        if status is not None or attempt == 2:
                            raise
        except TimeoutError:
            return Answer(provider, TIMED_OUT, reason=f"no whole answer within {provider.timeout:g} s",
                          seconds=time.perf_counter() - started, status=status)
        except httpx.ConnectError as error:
            return _failed(provider, f"cannot connect: {_first_line(error) or 'refused'}", started)
        except Exception as error:  # noqa: BLE001 - whatever breaks one provider's answer must not break the others
            return _failed(provider, f"{type(error).__name__}: {_first_line(error) or 'transport error'}", started, status)
        seconds = time.perf_counter() - started
        if status == 404 and missing_ok:
            return Answer(provider, NOT_FOUND, seconds=seconds, status=status)
        if status != 200:
            return _failed(provider, f"HTTP {status}{_error_message(body)}", started, status)
        try:
            # A large answer is parsed off the event loop: the other providers' deadlines keep running.
            raw = orjson.loads(body) if len(body) < LARGE_BODY else await asyncio.to_thread(orjson.loads, bytes(body))
            value = shape(raw)
        except (ValueError, TypeError, RecursionError) as error:  # orjson's JSONDecodeError and ShapeError are ValueErrors
            kind = "not JSON" if isinstance(error, orjson.JSONDecodeError) else "not a PaNOSC answer"
            return _failed(provider, f"{kind}: {str(error)[:200]}", started, status)
        return Answer(provider, ANSWERED, value, seconds=seconds, status=status)

    async def everywhere(self, path: str, params: dict[str, str], shape, **options) -> list[Answer]:
        """The same request to every provider at once; answers in provider order."""
        return list(await asyncio.gather(*(self.call(p, path, params, shape, **options) for p in self.providers)))


def _failed(provider: Provider, reason: str, started: float, status: int | None = None) -> Answer:
    return Answer(provider, FAILED, reason=reason, seconds=time.perf_counter() - started, status=status)


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0][:200] if str(error) else ""


def _error_message(body: bytes) -> str:
    """The message of a LoopBack-shaped error body, when there is one."""
    try:
        message = orjson.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return ""
    return f": {str(message)[:200]}"
