"""What a federation is told: its providers, and how long to wait for each.

From the command line (``--provider URL`` repeated, ``--timeout``) or a TOML
file (``--config federation.toml``)::

    timeout = 5          # seconds, for providers that name none
    cache_seconds = 5    # identical requests within this answer from cache (0: no cache)

    [[providers]]
    url = "https://data.facility-a.eu/api"
    name = "Facility A"  # optional; default host:port
    timeout = 3          # optional
    concurrency = 16     # optional: requests in flight to it at once
    page_limit = 1000    # optional: the largest limit it accepts
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pancommons.federation.providers import Provider, ProviderError

DEFAULT_TIMEOUT = 5.0
DEFAULT_CACHE_SECONDS = 5.0
_PROVIDER_KEYS = {"url", "name", "timeout", "concurrency", "page_limit"}
_TOP_KEYS = {"timeout", "cache_seconds", "providers"}


@dataclass(frozen=True, slots=True)
class FederationConfig:
    providers: list[Provider]
    cache_seconds: float = DEFAULT_CACHE_SECONDS

    @classmethod
    def from_urls(cls, urls: list[str], timeout: float = DEFAULT_TIMEOUT,
                  cache_seconds: float = DEFAULT_CACHE_SECONDS) -> FederationConfig:
        return cls._checked([Provider.from_url(url, timeout=timeout) for url in urls], cache_seconds)

    @classmethod
    def from_file(cls, path: Path, timeout: float | None = None, extra_urls: list[str] = ()) -> FederationConfig:
        """Read a TOML file; ProviderError names the file and what is wrong."""
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ProviderError(f"{path}: cannot read ({error.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ProviderError(f"{path}: not valid TOML ({error})") from None
        unknown = set(raw) - _TOP_KEYS
        if unknown:
            raise ProviderError(f"{path}: unknown setting(s) {sorted(unknown)}; expected {sorted(_TOP_KEYS)}")
        default_timeout = timeout if timeout is not None else _number(raw.get("timeout", DEFAULT_TIMEOUT), path, "timeout")
        cache_seconds = _number(raw.get("cache_seconds", DEFAULT_CACHE_SECONDS), path, "cache_seconds")
        entries = raw.get("providers", [])
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise ProviderError(f"{path}: providers must be a list of [[providers]] tables")
        providers = []
        for number, entry in enumerate(entries, 1):
            place = f"{path}: provider {number}"
            unknown = set(entry) - _PROVIDER_KEYS
            if unknown:
                raise ProviderError(f"{place}: unknown key(s) {sorted(unknown)}; expected {sorted(_PROVIDER_KEYS)}")
            if not isinstance(entry.get("url"), str):
                raise ProviderError(f"{place}: needs a url")
            try:
                providers.append(Provider.from_url(
                    entry["url"], name=entry.get("name"),
                    timeout=_number(entry.get("timeout", default_timeout), path, "timeout"),
                    concurrency=int(entry.get("concurrency", 16)), page_limit=int(entry.get("page_limit", 1000)),
                ))
            except (TypeError, ValueError) as error:
                raise ProviderError(f"{place}: {error}") from None
        providers += [Provider.from_url(url, timeout=default_timeout) for url in extra_urls]
        return cls._checked(providers, cache_seconds, where=f"{path}: ")

    @classmethod
    def _checked(cls, providers: list[Provider], cache_seconds: float, where: str = "") -> FederationConfig:
        if not providers:
            raise ProviderError(f"{where}no providers: name at least one PaNOSC API (--provider URL)")
        seen = set()
        for provider in providers:
            if provider.url in seen:
                raise ProviderError(f"{where}provider {provider.url} is named twice")
            seen.add(provider.url)
        if not 0 <= cache_seconds <= 3600:
            raise ProviderError(f"{where}cache_seconds must be between 0 and 3600")
        return cls(providers, float(cache_seconds))


def _number(value, path: Path, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProviderError(f"{path}: {name} must be a number of seconds")
    return float(value)
