"""Who a request comes from: a personal API token or the provider's JWT in ``Authorization:
Bearer …`` (scripts, notebooks, other services), or the portal's session cookie (browsers, and
the viewer's requests from them); nobody, otherwise.

A bad bearer token is answered 401 with the reason, never treated as anonymous: a script with an
expired token should learn it, not quietly get the public view.  What the caller may then see is
decided in catalogue/policy.py, not here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from pancommons.accounts import sessions, store, tokens
from pancommons.accounts.oidc import InvalidToken, OpenIdProvider, ProviderUnavailable
from pancommons.accounts.secrets import API_TOKEN_PREFIX
from pancommons.catalogue.policy import ANONYMOUS, Caller
from pancommons.config import Settings

log = logging.getLogger("pancommons.auth")


@dataclass
class Authentication:
    """What the application knows how to recognise callers with (``app.state.auth``)."""

    engine: Engine  # a writer: sessions, tokens' last use, accounts made on first sign-in
    reader: Engine  # the catalogue's: recognising a caller on every request never waits for a writer
    settings: Settings
    provider: OpenIdProvider | None

    @classmethod
    def of(cls, engine: Engine, reader: Engine, settings: Settings) -> Authentication:
        provider = OpenIdProvider(settings) if settings.oidc_issuer and settings.oidc_client_id else None
        return cls(engine, reader, settings, provider)


def authentication(request: Request) -> Authentication:
    return request.app.state.auth


# Declared so the OpenAPI document tells clients how to authenticate; the header is read below.
BEARER = HTTPBearer(auto_error=False, description="a personal API token (pct_…) or the OpenID provider's access token")


async def caller(request: Request, _declared: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None) -> Caller:
    """The caller of this request, as a dependency.

    A request with neither a token nor a session cookie is anonymous without asking the
    database, on the event loop: most requests are, and the viewer sends many."""
    known = getattr(request.state, "caller", None)
    if known is not None:
        return known
    if request.headers.get("authorization") is None and request.cookies.get(sessions.COOKIE) is None:
        request.state.caller = ANONYMOUS
        return ANONYMOUS
    return await run_in_threadpool(recognise, request)


def recognise(request: Request) -> Caller:
    """The caller of this request (resolved once per request, whoever asks)."""
    known = getattr(request.state, "caller", None)
    if known is not None:
        return known
    auth = authentication(request)
    header = request.headers.get("authorization")
    if header is not None:
        found = _bearer(auth, header)
    else:
        account_id = sessions.account_of(auth.reader, request.cookies.get(sessions.COOKIE))
        found = (store.caller_for(auth.reader, account_id) if account_id is not None else None) or ANONYMOUS
    request.state.caller = found
    return found


def _bearer(auth: Authentication, header: str) -> Caller:
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        raise _unauthorized("use `Authorization: Bearer <token>` (a personal API token or the provider's access token)")
    if credentials.startswith(API_TOKEN_PREFIX):
        account_id = tokens.account_of(auth.reader, credentials, writer=auth.engine)
        if account_id is None:
            raise _unauthorized("the API token is unknown, expired or revoked")
    else:
        if auth.provider is None:
            raise _unauthorized("this node accepts personal API tokens only (no OpenID provider is configured)")
        try:
            claims = auth.provider.access_claims(credentials)
        except InvalidToken as reason:
            raise _unauthorized(f"the access token is not valid here: {reason}") from None
        except ProviderUnavailable as reason:
            log.warning("bearer token not checked: %s", reason)
            raise HTTPException(503, "the identity provider cannot be reached to check the token; try again") from None
        account_id = store.account_for_subject(auth.reader, auth.provider.issuer, claims["sub"])
        if account_id is None:  # first seen through the API: the account is made from what the token says
            try:
                account_id = store.sign_in_from_provider(auth.engine, auth.provider.issuer, claims["sub"],
                                                         auth.provider.identity(claims), claims.get("preferred_username"))
            except store.AccountError as reason:  # e.g. an ORCID claim that is no ORCID
                raise _unauthorized(f"the access token's identity is not usable here: {reason}") from None
        if account_id is None:
            raise _unauthorized("this account is deactivated")
    found = store.caller_for(auth.reader, account_id)
    if found is None:
        raise _unauthorized("this account is deactivated")
    return found


def _unauthorized(message: str) -> HTTPException:
    quoted = message.replace("\\", "").replace('"', "'")
    return HTTPException(401, message, headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{quoted}"'})


CallerDep = Annotated[Caller, Depends(caller)]
