"""One HTTP connection to a commons: a node or a federation, with or without a token.

The token goes only to the commons it was made for: a federation's records
name the facility node that holds each dataset, and the client reads files
from that node, but it never sends one node's token to another.
"""

from __future__ import annotations

import json
import warnings
from typing import Any
from urllib.parse import urlsplit

import httpx

from pancommons import __version__
from pancommons.client.errors import (
    CommonsError,
    PartialAnswer,
    ProviderUnavailable,
    described,
    error_for,
    missing_providers,
    providers_of,
)


def api_base(url: str) -> str:
    """``https://data.facility.eu`` or ``https://data.facility.eu/api`` → the API base, ending in /api."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not the http(s) address of a commons")
    path = parts.path.rstrip("/")
    for suffix in ("/Datasets", "/datasets"):  # the address printed as "Search API: …/api/Datasets"
        path = path.removesuffix(suffix)
    if not path.endswith("/api"):
        path += "/api"
    return f"{parts.scheme}://{parts.netloc}{path}"


def node_root(api: str) -> str:
    """The node's root (where /files and /h5grove are) for its API base."""
    return api.removesuffix("/api")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


class Connection:
    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0, strict: bool = False):
        self.api = api_base(url)
        self.root = node_root(self.api)
        self.token = token or None
        self.strict = strict
        self.http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"User-Agent": f"pancommons-client/{__version__}"},
            follow_redirects=True,
        )

    def close(self) -> None:
        self.http.close()

    def authorization(self, url: str) -> dict[str, str]:
        """The token's header, for a request to the commons it belongs to and no other."""
        if self.token and _origin(url) == _origin(self.api):
            return {"Authorization": f"Bearer {self.token}"}
        return {}

    def signed_in(self, url: str) -> bool:
        return bool(self.authorization(url))

    def request(self, method: str, url: str, params: dict | None = None, headers: dict | None = None) -> httpx.Response:
        """A whole answer, or the exception its status calls for."""
        try:
            response = self.http.request(method, url, params=params, headers={**self.authorization(url), **(headers or {})})
        except httpx.TransportError as error:
            raise ProviderUnavailable(f"cannot reach {url.split('?')[0]}: {error or type(error).__name__}", url=url) from None
        except httpx.HTTPError as error:  # too many redirects, an answer that does not decode …
            raise CommonsError(f"{url.split('?')[0]} could not be read: {error or type(error).__name__}", url=url) from None
        self.check(response)
        return response

    def check(self, response: httpx.Response) -> None:
        url = str(response.request.url)
        if response.status_code >= 400:
            if response.is_stream_consumed is False:
                response.read()
            raise error_for(response, self.signed_in(url))
        providers = providers_of(response)
        missing = missing_providers(providers)
        if missing:
            message = f"the federation answered without some facilities: {described(missing)}"
            if self.strict:
                raise ProviderUnavailable(message, response.status_code, url, providers)
            warnings.warn(message, PartialAnswer, stacklevel=4)

    def get(self, path: str, api: str | None = None, **arguments: Any) -> Any:
        """GET ``{api}/{path}`` (this commons' API unless another node's is named) with
        JSON-encoded arguments (filter, where), parsed."""
        params = {key: json.dumps(value) if isinstance(value, (dict, list)) else value
                  for key, value in arguments.items() if value is not None}
        response = self.request("GET", f"{api or self.api}/{path.lstrip('/')}", params)
        try:
            return response.json()
        except ValueError:
            raise ProviderUnavailable(f"{response.request.url} answered something that is not JSON", response.status_code,
                                      str(response.request.url)) from None
