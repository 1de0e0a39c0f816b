"""What can go wrong talking to a commons, as exceptions a notebook user can act on.

Every error carries the server's own message: a bad filter says which part is
wrong, a refused token says why, a federation that could not reach a facility
says which one and what happened.
"""

from __future__ import annotations

import json

import httpx


class CommonsError(Exception):
    """Anything the client could not do; ``status`` is the HTTP status where there was one."""

    def __init__(self, message: str, status: int | None = None, url: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url


class NotFound(CommonsError, LookupError):
    """No such record or file here, or not open to the caller (embargoed data is not shown to others)."""


class NotAllowed(CommonsError, PermissionError):
    """The server refused the caller: a token that is unknown, expired or revoked, or no token where one is needed."""


class BadFilter(CommonsError, ValueError):
    """The server refused the query; the message names the offending part of the filter."""


class ProviderUnavailable(CommonsError, ConnectionError):
    """The commons, or a facility behind the federation, did not answer.

    ``providers`` is the federation's account of who answered and who did not (its
    ``X-Federation-Providers`` header), when there was one."""

    def __init__(self, message: str, status: int | None = None, url: str | None = None, providers: dict | None = None):
        super().__init__(message, status, url)
        self.providers = providers or {}


class DownloadInterrupted(ProviderUnavailable):
    """The connection broke during a download; what arrived is kept, and the next call resumes from it."""


class ChecksumMismatch(CommonsError):
    """The bytes received are not the file the commons catalogued; nothing was written in place of the target."""


class LocalCopyDiffers(CommonsError, FileExistsError):
    """A different file is already at the download's target; it is left alone (pass ``overwrite=True`` to replace it)."""


class UnverifiedDownload(UserWarning):
    """A file arrived whose checksum the commons did not send (a catalogue without checksums): only its size was checked."""


class PartialAnswer(UserWarning):
    """The federation answered without some facilities; the results hold only the others'."""


TOKEN_HINT = "pass token=... to Commons (create a personal API token on the portal at /me/tokens)"


def server_message(response: httpx.Response) -> str:
    """The server's own explanation: LoopBack's ``{"error": {"message"}}``, h5grove's ``{"message"}``,
    FastAPI's ``{"detail"}``, or the start of whatever else it sent."""
    try:
        body = json.loads(response.content)
    except ValueError:
        text = response.text.strip()
        return text[:300] if text and not text.startswith("<") else response.reason_phrase
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        for key in ("message", "detail"):
            if body.get(key):
                return str(body[key])
    return str(body)[:300]


def providers_of(response: httpx.Response) -> dict:
    """The federation's ``X-Federation-Providers`` header, or {} from a single node."""
    header = response.headers.get("x-federation-providers")
    if not header:
        return {}
    try:
        found = json.loads(header)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def missing_providers(providers: dict) -> dict[str, str]:
    """Provider → reason, for every provider that did not answer."""
    missing: dict[str, str] = {}
    for state in ("failed", "timedOut", "skipped"):
        entries = providers.get(state) or {}
        if isinstance(entries, dict):
            missing.update({str(url): str(reason) for url, reason in entries.items()})
    return missing


def error_for(response: httpx.Response, signed_in: bool) -> CommonsError:
    """The exception a refused request raises."""
    status, url = response.status_code, str(response.request.url)
    message = server_message(response)
    providers = providers_of(response)
    missing = missing_providers(providers)
    if status in (400, 422):
        return BadFilter(message, status, url)
    if status in (401, 403):
        if signed_in:
            return NotAllowed(f"the token was refused: {message}", status, url)
        return NotAllowed(f"{message}; {TOKEN_HINT}", status, url)
    if status == 404:
        if missing:  # the record may be at a facility that did not answer
            return ProviderUnavailable(f"{message} ({described(missing)})", status, url, providers)
        if not signed_in:
            message += f" — if it is under embargo, {TOKEN_HINT}"
        return NotFound(message, status, url)
    if status >= 500 or status == 429:
        why = f" ({described(missing)})" if missing else ""
        return ProviderUnavailable(f"HTTP {status} from {url}: {message}{why}", status, url, providers)
    return CommonsError(f"HTTP {status} from {url}: {message}", status, url)


def described(missing: dict[str, str]) -> str:
    """``missing_providers`` as one line: each provider and why it did not answer."""
    return "; ".join(f"{url}: {reason}" for url, reason in missing.items())
