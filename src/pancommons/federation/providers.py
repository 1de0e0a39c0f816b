"""The providers a federation asks, and what it remembers of each: health, latency, circuit breaker.

A provider is any PaNOSC Search API, named by its base URL (ending in
``/api``).  A provider that fails ``FAILURES_TO_OPEN`` times in a row is
skipped for a cool-down, then let through for one probe request: if that
answers, the provider is healthy again; if not, the cool-down doubles (up to
``MAX_COOL_DOWN``).  Skipped providers are still reported in every answer.
"""

from __future__ import annotations

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
        if not 0 < timeout <= 600:
            raise ProviderError(f"provider {url!r}: timeout must be between 0 and 600 seconds")
        if not 1 <= concurrency <= 1024:
            raise ProviderError(f"provider {url!r}: concurrency must be between 1 and 1024")
        if not 1 <= page_limit <= 100_000:
            raise ProviderError(f"provider {url!r}: page_limit must be between 1 and 100000")
        if name is not None and (not name.strip() or not name.isprintable() or len(name) > 100):
            raise ProviderError(f"provider {url!r}: a name is 1-100 printable characters (it goes into headers)")
        return cls(base, name or parts.netloc, float(timeout), concurrency, page_limit)


@dataclass(slots=True)
class Health:
    """What the federation has seen of one provider; single-threaded (the event loop)."""

    consecutive_failures: int = 0
    open_until: float = 0.0  # monotonic; the breaker is open before it
    cool_down: float = COOL_DOWN
    probing: bool = False
    answered: int = 0
    failed: int = 0
    timed_out: int = 0
    skipped: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_answer_at: datetime | None = None
    latencies: deque = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    scores_comparable: bool | None = None  # does it serve /corpus? None: not asked yet

    def admit(self) -> str | None:
        """None when a request may go; else why it is skipped."""
        now = time.monotonic()
        if self.consecutive_failures < FAILURES_TO_OPEN:
            return None
        if now < self.open_until:
            return f"skipped: {self.consecutive_failures} failures in a row, retried in {self.open_until - now:.0f} s"
        if self.probing:
            return "skipped: a probe request is under way"
        self.probing = True  # this request is the probe
        return None

    def succeeded(self, seconds: float) -> None:
        self.answered += 1
        self.latencies.append(seconds)
        self.last_answer_at = datetime.now(UTC)
        self.consecutive_failures = 0
        self.cool_down = COOL_DOWN
        self.probing = False

    def failed_with(self, reason: str, timed_out: bool) -> None:
        if timed_out:
            self.timed_out += 1
        else:
            self.failed += 1
        self.last_error = reason
        self.last_error_at = datetime.now(UTC)
        self.consecutive_failures += 1
        if self.consecutive_failures >= FAILURES_TO_OPEN:
            if self.probing:  # the probe failed too: wait longer next time
                self.cool_down = min(self.cool_down * 2, MAX_COOL_DOWN)
            self.open_until = time.monotonic() + self.cool_down
        self.probing = False

    @property
    def state(self) -> str:
        if self.consecutive_failures >= FAILURES_TO_OPEN:
            return "cooling-down" if time.monotonic() < self.open_until else "probing"
        if self.consecutive_failures:
            return "failing"
        return "healthy" if self.answered else "unknown"

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
