"""Forms that change something (sign in and out, tokens, early release) carry a token only this
site's own pages can know: an HMAC, under the node's secret key, of a random value held in a
cookie.  Another site can make a browser post a form here, but cannot read the cookie to forge the
token; a request whose ``Origin`` is another site is refused as well."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response

COOKIE = "pancommons_csrf"
FIELD = "csrf_token"


class CsrfRefused(PermissionError):
    pass


def form_token(request: Request) -> str:
    """The token this request's pages put into their forms (made, with its cookie, on first need)."""
    seed = request.cookies.get(COOKIE) or getattr(request.state, "csrf_seed", None)
    if not seed or len(seed) > 100:
        seed = request.state.csrf_seed = secrets.token_urlsafe(32)
    return _sign(request, seed)


def remember(request: Request, response: Response) -> None:
    """Send the cookie a new token was made from."""
    seed = getattr(request.state, "csrf_seed", None)
    if seed:
        settings = request.app.state.settings
        response.set_cookie(COOKIE, seed, httponly=True, secure=settings.cookie_secure, samesite="lax", path="/")


def check(request: Request, submitted: str | None) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise CsrfRefused("this form was sent from another site")
    seed = request.cookies.get(COOKIE)
    if not seed or not submitted or not hmac.compare_digest(_sign(request, seed), submitted):
        raise CsrfRefused("this form has expired or did not come from this site: reload the page and try again")


def _sign(request: Request, seed: str) -> str:
    key = request.app.state.settings.resolved_secret_key
    return hmac.new(key, b"csrf:" + seed.encode(), hashlib.sha256).hexdigest()
