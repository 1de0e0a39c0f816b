"""The portal's account pages: signing in (the facility's OpenID provider, or a local account) and
out, "my proposals", "my data", personal API tokens, and early release of a proposal's data.

Every form that changes something carries a CSRF token (portal/csrf.py).  The session cookie is
HttpOnly, SameSite=Lax and — unless the node is configured for plain HTTP — Secure; the cookie
that holds a login's state between here and the provider is signed, and lives ten minutes.
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from pancommons.accounts import sessions, tokens
from pancommons.accounts import store as accounts
from pancommons.accounts.oidc import InvalidToken, PendingLogin, ProviderUnavailable
from pancommons.accounts.store import AccountError
from pancommons.api.auth import Authentication, CallerDep, authentication
from pancommons.catalogue import embargo, mine
from pancommons.catalogue.policy import Caller
from pancommons.portal import csrf
from pancommons.portal.routes import CatalogueDep, _page

log = logging.getLogger("pancommons.portal")
router = APIRouter(include_in_schema=False)
AuthDep = Annotated[Authentication, Depends(authentication)]
LOGIN_COOKIE = "pancommons_login"
LOGIN_SECONDS = 600
CsrfField = Annotated[str | None, Form(alias=csrf.FIELD)]


def _safe_next(target: str | None, default: str = "/me/proposals") -> str:
    """Only a path on this site: never another host, however the address is spelled."""
    # Browsers drop tabs and newlines from addresses ("/\t/evil" becomes "//evil"): no control
    # character, no space, no backslash at all.
    if not target or not target.startswith("/") or target.startswith("//") or any(c <= " " or c == "\\" for c in target):
        return default
    return target


def _refused(request: Request, status: int, heading: str, message: str):
    return _page(request, "error.html", status, code=status, heading=heading, message=message)


def _checked_form(request: Request, token: str | None) -> Response | None:
    if "authorization" in request.headers:
        # A token (perhaps short-lived, perhaps a script's) must not mint long-lived tokens or release
        # data: the forms that change something are for a person signed in to the portal.
        return _refused(request, 403, "Sign in to the portal", "This form is for a signed-in browser, not for API tokens.")
    try:
        csrf.check(request, token)
    except csrf.CsrfRefused as refused:
        return _refused(request, 403, "Form refused", str(refused))
    return None


def _signed_in(request: Request, auth: Authentication, account_id: int, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    old = request.cookies.get(sessions.COOKIE)
    sessions.end(auth.engine, old)  # a new session id at every sign-in: no session fixation
    value = sessions.start(auth.engine, account_id, auth.settings.session_hours)
    response.set_cookie(sessions.COOKIE, value, max_age=int(auth.settings.session_hours * 3600), httponly=True,
                        secure=auth.settings.cookie_secure, samesite="lax", path="/")
    return response


def _must_sign_in(request: Request, who: Caller) -> Response | None:
    if who.signed_in:
        return None
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


# --- signing in and out ------------------------------------------------------------------------

@router.get("/login", name="login")
def login_page(request: Request, auth: AuthDep, next: str | None = None):
    return _page(request, "login.html", provider=auth.provider, next=_safe_next(next), error=None,
                 local=accounts.has_local_accounts(auth.reader))


@router.post("/login", name="login_local")
def login_local(request: Request, auth: AuthDep, token: CsrfField = None,
                username: Annotated[str, Form(max_length=255)] = "", password: Annotated[str, Form(max_length=1024)] = "",
                next: Annotated[str | None, Form()] = None):
    refused = _checked_form(request, token)
    if refused:
        return refused
    account_id = accounts.authenticate_local(auth.engine, username, password) if username and password else None
    if account_id is None:
        return _page(request, "login.html", 401, provider=auth.provider, next=_safe_next(next), local=True,
                     error="Unknown username or wrong password.")
    return _signed_in(request, auth, account_id, _safe_next(next))


@router.get("/login/oidc", name="login_oidc")
def login_oidc(request: Request, auth: AuthDep, next: str | None = None):
    if auth.provider is None:
        return _refused(request, 404, "Not found", "This node signs in with local accounts only.")
    try:
        url, pending = auth.provider.begin(str(request.url_for("oidc_callback")), _safe_next(next))
    except ProviderUnavailable as reason:
        log.warning("login not started: %s", reason)
        return _refused(request, 503, "Sign-in unavailable",
                        f"{auth.provider.name} cannot be reached just now; try again in a moment.")
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(LOGIN_COOKIE, _login_state(auth).dumps(pending.__dict__), max_age=LOGIN_SECONDS,
                        httponly=True, secure=auth.settings.cookie_secure, samesite="lax", path="/auth")
    return response


@router.get("/auth/callback", name="oidc_callback")
def oidc_callback(request: Request, auth: AuthDep, code: str | None = None, state: str | None = None,
                  error: str | None = None, error_description: str | None = None):
    if auth.provider is None:
        return _refused(request, 404, "Not found", "This node signs in with local accounts only.")
    try:
        pending = PendingLogin(**_login_state(auth).loads(request.cookies.get(LOGIN_COOKIE, ""), max_age=LOGIN_SECONDS))
    except (BadSignature, TypeError):
        return _refused(request, 400, "Sign-in expired", "This sign-in took too long or did not start here: please sign in again.")
    if state != pending.state:
        return _refused(request, 400, "Sign-in refused", "The answer from the identity provider does not belong to this sign-in.")
    if error or not code:
        return _refused(request, 401, "Sign-in refused", f"{auth.provider.name} did not sign you in: "
                        f"{(error_description or error or 'no authorization code')[:200]}")
    try:
        signed = auth.provider.finish(str(request.url_for("oidc_callback")), pending, code)
    except ProviderUnavailable as reason:
        log.warning("login not finished: %s", reason)
        return _refused(request, 503, "Sign-in unavailable", f"{auth.provider.name} cannot be reached just now.")
    except InvalidToken as reason:
        log.warning("login refused: %s", reason)
        return _refused(request, 401, "Sign-in refused", f"The identity provider's answer is not valid: {reason}.")
    try:
        account_id = accounts.sign_in_from_provider(auth.engine, auth.provider.issuer, signed.subject, signed.identity,
                                                 signed.preferred_username)
    except AccountError as reason:  # e.g. the provider sent an ORCID that is not one
        return _refused(request, 400, "Sign-in refused", str(reason))
    if account_id is None:
        return _refused(request, 403, "Account deactivated", "This account has been deactivated; ask the facility.")
    response = _signed_in(request, auth, account_id, pending.next)
    response.delete_cookie(LOGIN_COOKIE, path="/auth")
    return response


@router.post("/logout", name="logout")
def logout(request: Request, auth: AuthDep, token: CsrfField = None):
    refused = _checked_form(request, token)
    if refused:
        return refused
    sessions.end(auth.engine, request.cookies.get(sessions.COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/", secure=auth.settings.cookie_secure, httponly=True, samesite="lax")
    return response


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."  # not str.capitalize: it lower-cases the pid inside


def _login_state(auth: Authentication) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(auth.settings.resolved_secret_key, salt="pancommons-login")


# --- my part of the catalogue -------------------------------------------------------------------

@router.get("/me", name="me")
def me(request: Request, who: CallerDep):
    return _must_sign_in(request, who) or RedirectResponse("/me/proposals", status_code=303)


@router.get("/me/proposals", name="my_proposals")
def my_proposals(request: Request, store: CatalogueDep, who: CallerDep):
    return _must_sign_in(request, who) or _page(request, "my_proposals.html", proposals=mine.my_proposals(store, who))


@router.get("/me/data", name="my_data")
def my_data(request: Request, store: CatalogueDep, who: CallerDep, page: str = "1"):
    redirect = _must_sign_in(request, who)
    if redirect:
        return redirect
    number = min(max(int(page), 1), 10_000) if page.isascii() and page.isdigit() else 1
    datasets, total = mine.my_data(store, who, number)
    return _page(request, "my_data.html", datasets=datasets, total=total, page=number, page_size=mine.PAGE)


# --- personal API tokens -------------------------------------------------------------------------

@router.get("/me/tokens", name="my_tokens")
def my_tokens(request: Request, auth: AuthDep, who: CallerDep):
    redirect = _must_sign_in(request, who)
    if redirect:
        return redirect
    return _tokens_page(request, auth, who)


def _tokens_page(request: Request, auth: Authentication, who: Caller, status: int = 200, new: str | None = None,
                 error: str | None = None):
    headers = {"Cache-Control": "no-store"}  # a page showing a token once is never kept by a cache
    return _page(request, "my_tokens.html", status, headers=headers, tokens=tokens.of_account(auth.reader, who.account_id),
                 new_token=new, error=error, default_days=auth.settings.api_token_days, max_days=tokens.MAX_DAYS)


@router.post("/me/tokens", name="create_token")
def create_token(request: Request, auth: AuthDep, who: CallerDep, token: CsrfField = None,
                 name: Annotated[str, Form(max_length=200)] = "", days: Annotated[str, Form(max_length=10)] = ""):
    refused = _checked_form(request, token) or _must_sign_in(request, who)
    if refused:
        return refused
    try:
        lifetime = int(days) if days.strip() else auth.settings.api_token_days
        secret, _ = tokens.create(auth.engine, who.account_id, name, lifetime, actor=who.name)
    except ValueError as problem:  # AccountError, or days that are not a number
        message = str(problem) if isinstance(problem, AccountError) else f"token lifetime: {days!r} is not a number of days"
        return _tokens_page(request, auth, who, 400, error=message)
    return _tokens_page(request, auth, who, new=secret)


@router.post("/me/tokens/{token_id}/revoke", name="revoke_token")
def revoke_token(request: Request, token_id: int, auth: AuthDep, who: CallerDep, token: CsrfField = None):
    refused = _checked_form(request, token) or _must_sign_in(request, who)
    if refused:
        return refused
    if not 0 < token_id < 2**62:
        return _tokens_page(request, auth, who, 404, error=f"there is no active token {token_id} of yours")
    try:
        tokens.revoke(auth.engine, who.account_id, token_id, actor=who.name)
    except AccountError as problem:
        return _tokens_page(request, auth, who, 404, error=str(problem))
    return RedirectResponse("/me/tokens", status_code=303)


# --- early release -------------------------------------------------------------------------------

@router.post("/release/proposals/{pid:path}", name="release_proposal")
def release_proposal(request: Request, pid: str, auth: AuthDep, who: CallerDep, token: CsrfField = None):
    return _release(request, auth, who, token, proposal=pid)


@router.post("/release/datasets/{pid:path}", name="release_dataset")
def release_dataset(request: Request, pid: str, auth: AuthDep, who: CallerDep, token: CsrfField = None):
    return _release(request, auth, who, token, dataset=pid)


def _release(request: Request, auth: Authentication, who: Caller, token: str | None, **target) -> Response:
    refused = _checked_form(request, token) or _must_sign_in(request, who)
    if refused:
        return refused
    try:
        embargo.release_now(auth.engine, who, **target)
    except embargo.UnknownRecord as problem:
        return _refused(request, 404, "Not found", _sentence(str(problem)))
    except embargo.NotAllowed as problem:
        return _refused(request, 403, "Not allowed", _sentence(str(problem)))
    page = "proposal_page" if "proposal" in target else "dataset_page"
    return RedirectResponse(str(request.url_for(page, pid=next(iter(target.values())))), status_code=303)
