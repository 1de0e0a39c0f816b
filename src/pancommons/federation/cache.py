"""A short-lived cache of whole federated responses, with one computation per key in flight.

A portal asks the same page and the same counts many times in a few
seconds; twenty identical requests arriving together fan out once.  A
response some provider did not answer is kept only briefly, so a provider
that recovers is seen soon.  Memory is bounded by bytes, oldest out first.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MAX_BYTES = 32 * 1024 * 1024  # cached answers in all: bodies, headers and keys
MAX_ENTRY = 2 * 1024 * 1024  # a larger answer is not kept


@dataclass(frozen=True, slots=True)
class Entry:
    status: int
    body: bytes
    headers: dict[str, str]
    complete: bool  # every provider that was asked answered


def _size(key: tuple, entry: Entry) -> int:
    """Bytes an entry holds, near enough: its body, headers and key, and a little for the objects."""
    return (len(entry.body) + sum(len(name) + len(value) for name, value in entry.headers.items())
            + sum(len(str(part)) for part in key) + 400)


class ResponseCache:
    def __init__(self, seconds: float, partial_seconds: float | None = None):
        self.seconds = seconds
        self.partial_seconds = seconds / 5 if partial_seconds is None else partial_seconds
        self._entries: OrderedDict[tuple, tuple[float, Entry, int]] = OrderedDict()  # key → (expires, entry, bytes)
        self._bytes = 0
        self._in_flight: dict[tuple, asyncio.Future] = {}

    async def get_or_compute(self, key: tuple, compute: Callable[[], Awaitable[Entry]]) -> Entry:
        if self.seconds <= 0:
            return await compute()
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None:
            if hit[0] > now:
                return hit[1]
            self._drop(key)
        waiting = self._in_flight.get(key)
        if waiting is not None:
            return await asyncio.shield(waiting)
        future = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            entry = await compute()
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            self._in_flight.pop(key, None)
        future.set_result(entry)
        self._keep(key, entry)
        return entry

    def _keep(self, key: tuple, entry: Entry) -> None:
        now = time.monotonic()
        while self._entries:  # expired answers leave from the oldest end, whether asked again or not
            oldest = next(iter(self._entries))
            if self._entries[oldest][0] > now:
                break
            self._drop(oldest)
        size = _size(key, entry)
        if entry.status >= 500 or size > MAX_ENTRY:
            return
        lifetime = self.seconds if entry.complete else self.partial_seconds
        if lifetime <= 0:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (now + lifetime, entry, size)
        self._bytes += size
        while self._bytes > MAX_BYTES and self._entries:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple) -> None:
        _, _, size = self._entries.pop(key)
        self._bytes -= size
