"""The providers a federation asks, and what it remembers of each: health, latency, circuit breaker.

A provider is any PaNOSC Search API, named by its base URL (ending in
``/api``).  A provider that fails ``FAILURES_TO_OPEN`` times in a row is
skipped for a cool-down, then let through for one probe request: if that
answers, the provider is healthy again; if not, the cool-down doubles (up to
``MAX_COOL_DOWN``).  Skipped providers are still reported in every answer.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

FAILURES_TO_OPEN = 3
COOL_DOWN = 30.0  # seconds
MAX_COOL_DOWN = 300.0
LATENCY_WINDOW = 200  # recent answers kept for the status page's percentiles


_HEADER_SAFE = re.compile(r'[ !#-+\--:<-\[\]-~]{1,100}')  # printable ASCII less " , ; \\


class ProviderError(ValueError):
    """A provider that cannot be used as configured."""


@dataclass(frozen=True, slots=True)
class Provider:
    url: str  # API base, no trailing slash: https://facility.example/api
    name: str  # short label in reports; default the URL's host:port
    timeout: float = 5.0  # seconds for a whole answer, body included
    concurrency: int = 16  # requests in flight to this provider at once
    page_limit: int = 1000  # the largest `limit` this provider accepts; deep pages are read in such steps

    @classmethod
    def from_url(cls, url: str, *, name: str | None = None, timeout: float = 5.0,
                 concurrency: int = 16, page_limit: int = 1000) -> Provider:
        base = url.strip().rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ProviderError(f"provider {url!r}: expected an http(s) URL of a PaNOSC API, e.g. https://host/api")
        if parts.query or parts.fragment:
            raise ProviderError(f"provider {url!r}: the API base takes no query or fragment")
        if parts.username is not None or parts.password is not None:
            # The URL is shown in every answer's header, in records and on the status page.
            raise ProviderError(f"provider {parts.hostname}: no user or password in the URL (they would be published)")
        if not 0 < timeout <= 600:
            raise ProviderError(f"provider {url!r}: timeout must be between 0 and 600 seconds")
        if not 1 <= concurrency <= 1024:
            raise ProviderError(f"provider {url!r}: concurrency must be between 1 and 1024")
        if not 1 <= page_limit <= 100_000:
            raise ProviderError(f"provider {url!r}: page_limit must be between 1 and 100000")
        if name is not None and not _HEADER_SAFE.fullmatch(name):
            raise ProviderError(f"provider {url!r}: a name is 1-100 printable ASCII characters without \" , ; \\ "
                                "(it goes into the Server-Timing header)")
        default = parts.netloc.encode("idna").decode("ascii") if not parts.netloc.isascii() else parts.netloc
        return cls(base, name or default, float(timeout), concurrency, page_limit)


@dataclass(slots=True)
class Health:
    """What the federation has seen of one provider; single-threaded (the event loop)."""

    consecutive_failures: int = 0
    open_until: float = 0.0  # monotonic; the breaker is open before it
    cool_down: float = COOL_DOWN
    probing: bool = False  # the one request let through after a cool-down is under way
    answered: int = 0
    refused: int = 0  # 400s: the provider is up but would not take a request
    failed: int = 0
    timed_out: int = 0
    skipped: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_answer_at: datetime | None = None
    latencies: deque = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    scores_comparable: bool | None = None  # does it serve /corpus? None: not asked yet

    def admit(self) -> tuple[str | None, bool]:
        """(why the request is skipped, or None; whether it is the probe after a cool-down)."""
        now = time.monotonic()
        if self.consecutive_failures < FAILURES_TO_OPEN:
            return None, False
        if now < self.open_until:
            return f"skipped: {self.consecutive_failures} failures in a row, retried in {self.open_until - now:.0f} s", False
        if self.probing:
            return "skipped: a probe request is under way", False
        self.probing = True
        return None, True

    def succeeded(self, seconds: float, probe: bool) -> None:
        self.answered += 1
        self.latencies.append(seconds)
        self.last_answer_at = datetime.now(UTC)
        self._up(probe)

    def refused_one(self, reason: str, probe: bool) -> None:
        """A 400: this request was refused, the provider itself is up."""
        self.refused += 1
        self.last_error = reason
        self.last_error_at = datetime.now(UTC)
        self._up(probe)

    def _up(self, probe: bool) -> None:
        self.consecutive_failures = 0
        self.cool_down = COOL_DOWN
        if probe:
            self.probing = False

    def failed_with(self, reason: str, timed_out: bool, probe: bool) -> None:
        if timed_out:
            self.timed_out += 1
        else:
            self.failed += 1
        self.last_error = reason
        self.last_error_at = datetime.now(UTC)
        self.consecutive_failures += 1
        if probe:  # the probe failed too: wait longer next time
            self.cool_down = min(self.cool_down * 2, MAX_COOL_DOWN)
        if self.consecutive_failures >= FAILURES_TO_OPEN and (probe or time.monotonic() >= self.open_until):
            self.open_until = time.monotonic() + self.cool_down
        if probe:
            self.probing = False

    def abandoned(self, probe: bool) -> None:
        """A request given up before any outcome (the caller went away): a probe must not stay out for ever."""
        if probe:
            self.probing = False

    @property
    def state(self) -> str:
        if self.consecutive_failures >= FAILURES_TO_OPEN:
            if time.monotonic() < self.open_until:
                return "cooling-down"
            return "probing" if self.probing else "probe-due"
        if self.consecutive_failures:
            return "failing"
        return "healthy" if self.answered or self.refused else "unknown"

    def report(self) -> dict:
        recent = sorted(self.latencies)
        latency = None
        if recent:
            latency = {
                "p50Ms": round(statistics.median(recent) * 1000, 1),
                "p95Ms": round(recent[min(len(recent) - 1, int(0.95 * len(recent)))] * 1000, 1),
                "lastMs": round(self.latencies[-1] * 1000, 1),
            }
        return {
            "state": self.state,
            "answered": self.answered,
            "refused": self.refused,
            "failed": self.failed,
            "timedOut": self.timed_out,
            "skipped": self.skipped,
            "consecutiveFailures": self.consecutive_failures,
            "retryInSeconds": round(max(0.0, self.open_until - time.monotonic()), 1) if self.state == "cooling-down" else None,
            "lastError": self.last_error,
            "lastErrorAt": _iso(self.last_error_at),
            "lastAnswerAt": _iso(self.last_answer_at),
            "latency": latency,
            "scores": {True: "federation", False: "provider", None: "unknown"}[self.scores_comparable],
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
