"""Signing in and calling the API through a real OpenID provider (panva's oidc-provider on loopback,
tests/auth/oidc_provider.py), over a catalogue of synthetic NeXus files with an embargoed proposal
whose principal investigator is the provider's account ``alice``:

- the portal's login in process (code flow with PKCE, our callback, the session cookie's flags,
  replays, a wrong state, an open redirect through ``next``);
- API calls with the provider's own access tokens (the member's view; the account made on first use);
- token attacks, each refused with 401 and ``WWW-Authenticate: Bearer error="invalid_token"``;
- key rotation at the provider, seen without restarting the node;
- the whole login in headless Chromium against `pancommons serve` (screenshots in
  ``test-artifacts/auth/``, or ``$PANCOMMONS_TEST_ARTIFACTS/auth``).

One provider, one catalogue and one in-process application per module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import Engine, select, update

from pancommons.accounts import oidc, store, tokens
from pancommons.accounts.store import Identity
from pancommons.api.app import create_app
from pancommons.catalogue.search import Catalogue
from pancommons.config import Settings
from pancommons.db import tables as t
from pancommons.db.account_tables import Account, ApiToken
from pancommons.db.engine import make_engine
from pancommons.ingest.shared_rows import normalise_orcid
from tests.auth.oidc_provider import (
    API_RESOURCE,
    DEFAULT_ACCOUNTS,
    DEFAULT_CLIENTS,
    PUBLIC_CLIENT_ID,
    PUBLIC_REDIRECT_URI,
    WEB_CLIENT_ID,
    WEB_REDIRECT_URI,
    OpenIdProvider,
    browser_login,
    new_signing_key,
    public_jwk,
    running_provider,
    sign,
)
from tests.federation.processes import ROOT, Process, free_port
from tests.portal.test_browser import CHROMIUM, _browser_or_skip
from tests.synthetic_node import ingested_catalogue

ARTIFACTS = Path(os.environ.get("PANCOMMONS_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "auth"

PORTAL_CLIENT_ID = "pancommons-portal"
PORTAL_CLIENT_SECRET = "pancommons-portal-secret"
PROVIDER_NAME = "Test Umbrella"
IN_PROCESS = "https://testserver"  # the in-process portal's origin (https: its cookies are Secure)
# Claims the provider copies into API access tokens (as Keycloak's or eduTEAMS's mappers do), so an
# account made from an access token alone is recognised on its proposals.
ACCESS_TOKEN_CLAIMS = ["name", "preferred_username", "email", "email_verified", "orcid", "facility_user_id"]


# --------------------------------------------------------------------------- the catalogue


@dataclass
class Node:
    home: Path
    data: Path
    engine: Engine  # a writer, for the tests' own checks
    secret_key: str
    serve_port: int  # chosen now: the provider's portal client names it in its redirect URI
    proposal_number: str
    proposal_pid: str
    embargoed: list[str]  # the proposal's datasets under embargo (pids)
    member_embargoed: list[str]  # all embargoed datasets of the proposals naming its PI (this one and others)
    pi_orcid: str
    pi_facility_user_id: str

    def settings(self, provider: OpenIdProvider, **changes) -> Settings:
        values = {
            "home": self.home, "data_roots": [self.data], "panet_source": "", "facility_timezone": "UTC",
            "embargo_years": 10, "secret_key": self.secret_key, "oidc_issuer": provider.issuer,
            "oidc_client_id": PORTAL_CLIENT_ID, "oidc_client_secret": PORTAL_CLIENT_SECRET,
            "oidc_audience": API_RESOURCE, "oidc_provider_name": PROVIDER_NAME,
        }
        return Settings(**{**values, **changes})

    def environment(self, provider: OpenIdProvider) -> dict[str, str]:
        """The same node's settings for `pancommons serve` (cookie_secure left at its default)."""
        return {
            "PANCOMMONS_HOME": str(self.home), "PANCOMMONS_DATA_ROOTS": str(self.data),
            "PANCOMMONS_PANET_SOURCE": "", "PANCOMMONS_CONFIG": str(self.home / "none.toml"),
            "PANCOMMONS_EMBARGO_YEARS": "10", "PANCOMMONS_SECRET_KEY": self.secret_key,
            "PANCOMMONS_OIDC_ISSUER": provider.issuer, "PANCOMMONS_OIDC_CLIENT_ID": PORTAL_CLIENT_ID,
            "PANCOMMONS_OIDC_CLIENT_SECRET": PORTAL_CLIENT_SECRET, "PANCOMMONS_OIDC_AUDIENCE": API_RESOURCE,
            "PANCOMMONS_OIDC_PROVIDER_NAME": PROVIDER_NAME,
        }


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Iterator[Node]:
    """40 synthetic NeXus files with their proposals, ingested; the embargoed proposal with the most
    embargoed datasets whose principal investigator has an ORCID and a facility user id."""
    home = tmp_path_factory.mktemp("oidc-node")
    data = home / "data"
    with pytest.MonkeyPatch.context() as patch:  # module fixtures run before the per-test isolation
        for name in list(os.environ):
            if name.startswith("PANCOMMONS_") and not name.startswith("PANCOMMONS_TEST_"):
                patch.delenv(name)
        patch.setenv("PANCOMMONS_CONFIG", str(home / "none.toml"))
        # A ten-year embargo: the corpus's recent proposals stay embargoed for years to come.
        settings = Settings(home=home, data_roots=[data], panet_source="", facility_timezone="UTC", embargo_years=10)
        engine = ingested_catalogue(settings, 40, 5)

    now = datetime.now(UTC)
    with engine.connect() as connection:
        rows = connection.execute(
            select(t.Dataset.pid, t.Dataset.proposal_number)
            .where(t.Dataset.is_public.is_(False), t.Dataset.embargo_until > now, t.Dataset.proposal_number.is_not(None))
            .order_by(t.Dataset.pid)
        ).all()
        documents = dict(connection.execute(select(t.Document.proposal_number, t.Document.pid)).all())
    embargoed: dict[str, list[str]] = {}
    for pid, number in rows:
        embargoed.setdefault(number, []).append(pid)
    proposals = json.loads((data / "proposals.json").read_text())["proposals"]
    leaders = {}
    for proposal in proposals:
        pi = next(m for m in proposal["members"] if m["role"] == "principal_investigator")
        if pi.get("orcid") and pi.get("facility_user_id"):
            leaders[proposal["proposal_number"]] = pi
    candidates = sorted((n for n in embargoed if n in leaders and n in documents), key=lambda n: (-len(embargoed[n]), n))
    assert candidates, "the synthetic corpus has no embargoed proposal with a principal investigator's ORCID"
    chosen = candidates[0]
    pi = leaders[chosen]
    # The same person may be on other proposals too (by ORCID or facility user id): they see those as well.
    theirs = {p["proposal_number"] for p in proposals
              if any(normalise_orcid(m.get("orcid")) == normalise_orcid(pi["orcid"])
                     or m.get("facility_user_id") == pi["facility_user_id"]
                     for m in p["members"])}
    member_embargoed = sorted(pid for number in theirs for pid in embargoed.get(number, []))
    yield Node(home, data, engine, secrets.token_urlsafe(32), free_port(), chosen, documents[chosen],
               embargoed[chosen], member_embargoed, pi["orcid"], pi["facility_user_id"])
    engine.dispose()


# --------------------------------------------------------------------------- the provider and the app


@pytest.fixture(scope="module")
def provider(node) -> Iterator[OpenIdProvider]:
    """The provider, with the portal's client (confidential, web, our two callback addresses) and
    accounts: ``alice`` (the PI, by ORCID), ``carol`` (the PI again, by facility user id only),
    ``bob`` (nobody's member) and ``mallory`` (whose ORCID is not one)."""
    portal = {
        "client_id": PORTAL_CLIENT_ID, "client_secret": PORTAL_CLIENT_SECRET, "application_type": "web",
        "redirect_uris": [f"{IN_PROCESS}/auth/callback", f"http://127.0.0.1:{node.serve_port}/auth/callback"],
        "grant_types": ["authorization_code"], "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }
    accounts = {
        "alice": {**DEFAULT_ACCOUNTS["alice"], "orcid": f"https://orcid.org/{node.pi_orcid}"},
        "carol": {"name": "Carol Chen", "email": "carol@pancommons.test", "email_verified": False,
                  "facility_user_id": node.pi_facility_user_id},
        "bob": DEFAULT_ACCOUNTS["bob"],
        "mallory": {"name": "Mallory", "orcid": "0000-0002-1825-0098"},  # wrong check digit
    }
    with running_provider(clients=[*DEFAULT_CLIENTS, portal], accounts=accounts,
                          access_token_claims=ACCESS_TOKEN_CLAIMS) as started:
        yield started


@pytest.fixture(scope="module")
def app(node, provider):
    settings = node.settings(provider)
    reader = make_engine(settings.resolved_database_url, reader=True)
    application = create_app(settings, Catalogue(reader, None))
    try:
        yield application
    finally:
        reader.dispose()
        application.state.auth.engine.dispose()


def browser(app) -> TestClient:
    """A fresh in-process "browser" on https://testserver (empty cookie jar); a server error comes
    back as the 500 a client would see, not as an exception."""
    return TestClient(app, base_url=IN_PROCESS, raise_server_exceptions=False, follow_redirects=False)


# --------------------------------------------------------------------------- helpers


def set_cookies(response: httpx.Response) -> dict[str, dict]:
    """The response's Set-Cookie headers: {name: {"value": ..., attribute (lower case): value or True}}."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        cookie: dict = {"value": value.strip('"')}
        for attribute in attributes:
            key, has_value, setting = attribute.partition("=")
            cookie[key.strip().lower()] = setting.strip() if has_value else True
        found[name] = cookie
    return found


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode({**query(url), **changes})))


def start_login(client: TestClient, provider: OpenIdProvider, username: str, next_page: str | None = None):
    """Our /login/oidc, then the provider as ``username``: (our answer, the callback URL to follow)."""
    started = client.get("/login/oidc", params={"next": next_page} if next_page is not None else None)
    assert started.status_code == 302, started.text
    assert started.headers["location"].startswith(provider.metadata["authorization_endpoint"] + "?")
    callback = provider.authorize(started.headers["location"], username)
    assert callback.startswith(f"{IN_PROCESS}/auth/callback?"), callback
    return started, callback


def sign_in(client: TestClient, provider: OpenIdProvider, username: str, next_page: str | None = None) -> httpx.Response:
    _, callback = start_login(client, provider, username, next_page)
    return client.get(callback)


def count(client: TestClient, **headers) -> int:
    answer = client.get("/api/Datasets/count", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["count"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: bytes | dict) -> str:
    if isinstance(data, dict):
        data = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(provider: OpenIdProvider, sub: str = "alice", **changes) -> dict:
    """Claims of an access token the provider could have issued for our API."""
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": API_RESOURCE, "sub": sub, "iat": now, "exp": now + 600,
              "client_id": PUBLIC_CLIENT_ID, "scope": "api"}
    account = provider.accounts.get(sub, {})
    claims.update({name: account[name] for name in ACCESS_TOKEN_CLAIMS if name in account})
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def api_tokens(provider: OpenIdProvider, username: str) -> dict:
    """A script's login at the provider (the public CLI client) asking for our API."""
    return provider.scripted_login(PUBLIC_CLIENT_ID, PUBLIC_REDIRECT_URI, username,
                                   extra_params={"resource": API_RESOURCE})


def assert_refused(answer: httpx.Response) -> str:
    """401, a Bearer challenge saying invalid_token, a JSON error body; the message."""
    assert answer.status_code == 401, f"{answer.status_code}: {answer.text[:500]}"
    challenge = answer.headers.get("www-authenticate", "")
    assert challenge.startswith('Bearer error="invalid_token"'), challenge
    body = answer.json()
    assert body["error"]["statusCode"] == 401
    assert body["error"]["message"]
    return body["error"]["message"]


# --------------------------------------------------------------------------- 1. the portal's login


def test_login_through_the_provider_sets_a_safe_session_and_shows_the_embargoed_proposal(app, node, provider):
    anonymous = browser(app)
    public = count(anonymous)
    for pid in node.embargoed:
        assert anonymous.get(f"/api/Datasets/{pid}").status_code == 404

    client = browser(app)
    started, callback = start_login(client, provider, "alice", "/me/proposals")
    login_cookie = set_cookies(started)["pancommons_login"]
    assert login_cookie["path"] == "/auth" and login_cookie["httponly"] is True and login_cookie["secure"] is True
    assert login_cookie["samesite"].lower() == "lax" and int(login_cookie["max-age"]) <= 600
    request = query(started.headers["location"])
    assert request["client_id"] == PORTAL_CLIENT_ID and request["redirect_uri"] == f"{IN_PROCESS}/auth/callback"
    assert request["code_challenge_method"] == "S256" and request["nonce"] and request["state"]
    assert query(callback)["state"] == request["state"] and query(callback)["iss"] == provider.issuer

    done = client.get(callback)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/me/proposals"
    cookies = set_cookies(done)
    session = cookies["pancommons_session"]
    assert session["value"] and session["path"] == "/"
    assert session["httponly"] is True and session["secure"] is True and session["samesite"].lower() == "lax"
    assert 0 < int(session["max-age"]) <= 12 * 3600
    gone = cookies["pancommons_login"]  # the login's state is cleared on the way out
    assert gone["path"] == "/auth" and (gone.get("max-age") == "0" or "1970" in str(gone.get("expires", "")))
    assert "pancommons_login" not in client.cookies

    mine = client.get("/me/proposals")
    assert mine.status_code == 200
    assert node.proposal_pid in mine.text and "principal investigator" in mine.text
    assert f"{len(node.embargoed)} under embargo" in mine.text
    assert count(client) == public + len(node.member_embargoed)
    for pid in node.embargoed:
        shown = client.get(f"/api/Datasets/{pid}")
        assert shown.status_code == 200 and shown.json()["pid"] == pid
    page = client.get(f"/datasets/{node.embargoed[0]}")
    assert page.status_code == 200 and "Embargoed" in page.text and "Sign out (alice)" in page.text

    with node.engine.connect() as connection:
        account = connection.execute(select(Account).where(Account.subject == "alice")).mappings().one()
    assert account["issuer"] == provider.issuer and account["orcid"] == node.pi_orcid
    assert account["email"] == "alice@pancommons.test" and account["email_verified"] is True


def test_a_replayed_callback_does_not_sign_in_again(app, provider):
    client = browser(app)
    started, callback = start_login(client, provider, "bob")
    login_value = set_cookies(started)["pancommons_login"]["value"]
    assert client.get(callback).status_code == 303

    # The same address again in the same browser: its login state is gone.
    again = client.get(callback)
    assert again.status_code == 400 and "Sign-in expired" in again.text
    assert "pancommons_session" not in set_cookies(again)

    # An attacker who captured both the callback address and the (signed, still fresh) login cookie:
    # the provider has spent the code.
    thief = browser(app)
    replayed = thief.get(callback, headers={"Cookie": f"pancommons_login={login_value}"})
    assert replayed.status_code == 401 and "Sign-in refused" in replayed.text
    assert "pancommons_session" not in set_cookies(replayed)
    assert "pancommons_session" not in thief.cookies
    assert thief.get("/me/proposals").status_code == 303  # still to sign in


def test_a_callback_with_a_wrong_state_is_refused(app, provider):
    client = browser(app)
    _, callback = start_login(client, provider, "alice")
    forged = client.get(with_query(callback, state=secrets.token_urlsafe(24)))
    assert forged.status_code == 400 and "does not belong to this sign-in" in forged.text
    assert "pancommons_session" not in set_cookies(forged) and "pancommons_session" not in client.cookies
    missing = client.get(with_query(callback, state=""))
    assert missing.status_code == 400 and "pancommons_session" not in set_cookies(missing)
    # An answer with no login cookie at all (the login did not start in this browser).
    stranger = browser(app).get(callback)
    assert stranger.status_code == 400 and "pancommons_session" not in set_cookies(stranger)


@pytest.mark.parametrize("target", ["//evil.example", "//evil.example/me/proposals", "https://evil.example/",
                                    "/\\evil.example", "\\\\evil.example", "/%0d%0aSet-Cookie:x=1", "javascript:alert(1)"])
def test_next_never_leaves_the_site(app, provider, target):
    client = browser(app)
    done = sign_in(client, provider, "bob", target)
    assert done.status_code == 303
    location = done.headers["location"]
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc and location.startswith("/") and not location.startswith(("//", "/\\"))
    assert "\r" not in location and "\n" not in location
    assert "pancommons_session" in set_cookies(done)


def test_next_on_the_site_is_kept(app, node, provider):
    client = browser(app)
    done = sign_in(client, provider, "alice", f"/datasets/{node.embargoed[0]}")
    assert done.status_code == 303 and done.headers["location"] == f"/datasets/{node.embargoed[0]}"


# --------------------------------------------------------------------------- 2. the API with the provider's tokens


def test_the_providers_access_token_gives_the_members_view(app, node, provider):
    anonymous = browser(app)
    public = count(anonymous)
    issued = api_tokens(provider, "alice")
    assert jwt.get_unverified_header(issued["access_token"])["typ"] == "at+jwt"
    assert jwt.decode(issued["access_token"], options={"verify_signature": False})["aud"] == API_RESOURCE

    client = browser(app)
    headers = bearer(issued["access_token"])
    for pid in node.embargoed:
        shown = client.get(f"/api/Datasets/{pid}", headers=headers)
        assert shown.status_code == 200, shown.text
        assert shown.json()["pid"] == pid
    assert count(client, **headers) == public + len(node.member_embargoed)
    assert "set-cookie" not in client.get("/api/Datasets/count", headers=headers).headers  # no session for the API

    # A non-member's token: the public view, not a refusal.
    other = bearer(api_tokens(provider, "bob")["access_token"])
    assert count(client, **other) == public
    assert client.get(f"/api/Datasets/{node.embargoed[0]}", headers=other).status_code == 404


def test_an_account_is_made_on_first_use_of_an_access_token(app, node, provider):
    with node.engine.connect() as connection:
        assert connection.execute(select(Account.id).where(Account.subject == "carol")).first() is None
    token = api_tokens(provider, "carol")["access_token"]
    answer = browser(app).get(f"/api/Datasets/{node.embargoed[0]}", headers=bearer(token))
    assert answer.status_code == 200, answer.text  # a member by facility user id, from the token's claims
    with node.engine.connect() as connection:
        made = connection.execute(select(Account).where(Account.subject == "carol")).mappings().one()
    assert made["issuer"] == provider.issuer and made["facility_user_id"] == node.pi_facility_user_id
    assert made["display_name"] == "Carol Chen" and made["email_verified"] is False and made["orcid"] is None
    # Used again: the same account.
    assert browser(app).get("/api/Datasets/count", headers=bearer(token)).status_code == 200
    with node.engine.connect() as connection:
        assert len(connection.execute(select(Account.id).where(Account.subject == "carol")).all()) == 1


def test_an_access_token_with_an_orcid_that_is_not_one_is_refused_not_a_server_error(app, provider):
    """The provider vouches for mallory but says her ORCID is 0000-0002-1825-0098 (a wrong check
    digit).  The portal's login refuses that with a page (400); the API must answer a client error too."""
    token = api_tokens(provider, "mallory")["access_token"]
    answer = browser(app).get("/api/Datasets/count", headers=bearer(token))
    assert answer.status_code != 500, "an ORCID the node cannot read in a valid access token crashes the API (500)"
    assert answer.status_code in (400, 401, 403) and answer.json()["error"]["message"]


def test_the_same_orcid_at_the_portal_login_is_a_clean_refusal(app, provider):
    done = sign_in(browser(app), provider, "mallory")
    assert done.status_code == 400 and "not a valid ORCID" in done.text
    assert "pancommons_session" not in set_cookies(done)


# --------------------------------------------------------------------------- 3. token attacks


def _hs256(claims: dict, secret: bytes, kid: str) -> str:
    head = b64({"alg": "HS256", "typ": "JWT", "kid": kid})
    body = b64(claims)
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def _public_pem(jwk: dict) -> bytes:
    key = RSAAlgorithm.from_jwk(json.dumps(public_jwk(jwk)))
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _personal_token(node: Node, username: str, *, revoked: bool = False, expired: bool = False) -> str:
    with node.engine.connect() as connection:
        account_id = connection.execute(select(Account.id).where(Account.username == username)).scalar()
    if account_id is None:
        account_id = store.create_local(node.engine, username, None, Identity(display_name=username))
    secret, view = tokens.create(node.engine, account_id, f"notebook {secrets.token_hex(3)}", 30, actor=username)
    if revoked:
        tokens.revoke(node.engine, account_id, view.id, actor=username)
    if expired:
        with node.engine.begin() as connection:
            connection.execute(update(ApiToken).where(ApiToken.id == view.id)
                               .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    return secret


def _attack(name: str, provider: OpenIdProvider, node: Node) -> str:
    key = provider.keys[0]
    kid = key["kid"]
    now = int(time.time())
    good = claims_for(provider)
    if name == "alg none":
        return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(good)}."
    if name == "alg none with the provider's kid":
        return f"{b64({'alg': 'none', 'kid': kid})}.{b64(good)}."
    if name == "alg None, capitalised":
        return f"{b64({'alg': 'None', 'kid': kid})}.{b64(good)}."
    if name == "HS256 keyed with the provider's public key (PEM)":
        return _hs256(good, _public_pem(key), kid)
    if name == "HS256 keyed with the provider's public JWK":
        return _hs256(good, json.dumps(public_jwk(key)).encode(), kid)
    if name == "another key, same kid":
        return sign(good, new_signing_key(kid=kid))
    if name == "another key, its own kid":
        return sign(good, new_signing_key())
    if name == "another key, no kid":
        stranger = new_signing_key()
        return jwt.encode(good, RSAAlgorithm.from_jwk(json.dumps(stranger)), algorithm="RS256")
    if name == "expired":
        return sign(claims_for(provider, iat=now - 7200, exp=now - 3600), key)
    if name == "not yet valid":
        return sign(claims_for(provider, nbf=now + 3600), key)
    if name == "no expiry":
        return sign(claims_for(provider, exp=None), key)
    if name == "wrong audience":
        return sign(claims_for(provider, aud="https://other-service.example/api"), key)
    if name == "wrong issuer":
        return sign(claims_for(provider, iss="https://evil.example"), key)
    if name == "issuer with a trailing slash":
        return sign(claims_for(provider, iss=provider.issuer + "/"), key)
    if name == "ID token as access token":
        issued = provider.scripted_login(PORTAL_CLIENT_ID, f"{IN_PROCESS}/auth/callback", "alice")
        return issued["id_token"]
    if name == "ID token of another client":
        issued = provider.scripted_login(WEB_CLIENT_ID, WEB_REDIRECT_URI, "alice")
        return issued["id_token"]
    if name == "real access token, payload changed":
        real = api_tokens(provider, "bob")["access_token"]
        head, body, signature = real.split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return f"{head}.{b64({**claims, 'sub': 'alice'})}.{signature}"
    if name == "real access token, signature stripped":
        head, body, _ = api_tokens(provider, "alice")["access_token"].split(".")
        return f"{head}.{body}."
    if name == "alg is a JSON array":
        return f"{b64({'alg': ['RS256'], 'kid': kid})}.{b64(good)}.{b64(b'x' * 256)}"
    if name == "garbage":
        return "this-is-not-a-token"
    if name == "garbage with dots":
        return "a.b.c"
    if name == "revoked personal API token":
        return _personal_token(node, "token-owner", revoked=True)
    if name == "expired personal API token":
        return _personal_token(node, "token-owner", expired=True)
    if name == "unknown personal API token":
        return "pct_" + secrets.token_urlsafe(32)
    raise AssertionError(name)


ATTACKS = [
    "alg none", "alg none with the provider's kid", "alg None, capitalised",
    "HS256 keyed with the provider's public key (PEM)", "HS256 keyed with the provider's public JWK",
    "another key, same kid", "another key, its own kid", "another key, no kid",
    "expired", "not yet valid", "no expiry", "wrong audience", "wrong issuer", "issuer with a trailing slash",
    "ID token as access token", "ID token of another client",
    "real access token, payload changed", "real access token, signature stripped", "alg is a JSON array",
    "garbage", "garbage with dots",
    "revoked personal API token", "expired personal API token", "unknown personal API token",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_token_attacks_are_refused_with_401(app, node, provider, attack):
    token = _attack(attack, provider, node)
    client = browser(app)
    for path in ("/api/Datasets/count", f"/api/Datasets/{node.embargoed[0]}", "/api/Datasets"):
        answer = client.get(path, headers=bearer(token))
        assert answer.status_code != 500, f"{attack}: server error on {path}: {answer.text[:300]}"
        assert answer.status_code != 200, f"{attack}: answered 200 on {path} (silently anonymous?)"
        assert_refused(answer)


def test_a_valid_crafted_token_is_the_control(app, node, provider):
    """The attacks above differ from this one in one thing each: it is accepted."""
    token = sign(claims_for(provider), provider.keys[0])
    answer = browser(app).get(f"/api/Datasets/{node.embargoed[0]}", headers=bearer(token))
    assert answer.status_code == 200, answer.text


def test_a_personal_api_token_works_until_it_is_revoked(app, node):
    with node.engine.connect() as connection:
        account_id = connection.execute(select(Account.id).where(Account.subject == "alice")).scalar()
    if account_id is None:
        account_id = store.sign_in_from_provider(node.engine, "unused", "alice-local", Identity(orcid=node.pi_orcid),
                                                 "alice-local")
    secret, view = tokens.create(node.engine, account_id, "revocation check", 30, actor="test")
    client = browser(app)
    assert client.get(f"/api/Datasets/{node.embargoed[0]}", headers=bearer(secret)).status_code == 200
    tokens.revoke(node.engine, account_id, view.id, actor="test")
    assert "revoked" in assert_refused(client.get(f"/api/Datasets/{node.embargoed[0]}", headers=bearer(secret)))


def test_an_id_token_is_not_an_access_token_even_for_our_own_audience(node, provider):
    """With no oidc_audience the API audience is our client id — the ID tokens' audience: then the
    ID token is told from an access token by its nonce."""
    ours = oidc.OpenIdProvider(node.settings(provider, oidc_audience=None))
    issued = provider.scripted_login(PORTAL_CLIENT_ID, f"{IN_PROCESS}/auth/callback", "alice")
    with pytest.raises(oidc.InvalidToken, match="ID token"):
        ours.access_claims(issued["id_token"])


def test_an_id_token_without_a_nonce_is_not_an_access_token_either(node, provider):
    """The nonce is optional in the code flow: anyone may start a login with our (public) client id
    and no nonce.  The ID token that comes back has our client id as audience — the default API
    audience — and no nonce; it must not pass for an API access token (it has no ``at+jwt`` type)."""
    ours = oidc.OpenIdProvider(node.settings(provider, oidc_audience=None))
    issued = provider.scripted_login(PORTAL_CLIENT_ID, f"{IN_PROCESS}/auth/callback", "alice",
                                     extra_params={"nonce": None})
    assert "nonce" not in jwt.decode(issued["id_token"], options={"verify_signature": False})
    assert jwt.get_unverified_header(issued["id_token"]).get("typ") != "at+jwt"
    with pytest.raises(oidc.InvalidToken):
        ours.access_claims(issued["id_token"])


@pytest.mark.parametrize("header", ["Basic YWxpY2U6YW55", "Bearer", "Bearer ", "token abc", "Bearer a b"])
def test_malformed_authorization_headers_are_refused(app, header):
    answer = browser(app).get("/api/Datasets/count", headers={"Authorization": header})
    assert_refused(answer)


# --------------------------------------------------------------------------- 4. key rotation


def test_key_rotation_is_followed_without_restarting_the_node(app, node, provider, monkeypatch):
    monkeypatch.setattr(oidc, "KEYS_REFRESH", 0.0)
    client = browser(app)
    embargoed = f"/api/Datasets/{node.embargoed[0]}"
    old = provider.keys[0]
    old_token = sign(claims_for(provider), old)
    assert client.get(embargoed, headers=bearer(old_token)).status_code == 200  # the old key is cached now

    # 1. A new key signs; the old one is still published.
    new = new_signing_key(f"rotated-{secrets.token_hex(3)}")
    provider.restart(keys=[new, old])
    issued = api_tokens(provider, "alice")["access_token"]
    assert jwt.get_unverified_header(issued)["kid"] == new["kid"]
    assert client.get(embargoed, headers=bearer(issued)).status_code == 200
    assert client.get(embargoed, headers=bearer(old_token)).status_code == 200

    # 2. The old key withdrawn.  Our cache refreshes when a token names a key it does not know.
    provider.restart(keys=[new])
    assert [k["kid"] for k in httpx.get(provider.jwks_uri).json()["keys"]] == [new["kid"]]
    assert_refused(client.get(embargoed, headers=bearer(sign(claims_for(provider), new_signing_key()))))
    message = assert_refused(client.get(embargoed, headers=bearer(old_token)))
    assert "does not publish" in message
    assert client.get(embargoed, headers=bearer(issued)).status_code == 200
    fresh = api_tokens(provider, "alice")["access_token"]
    assert client.get(embargoed, headers=bearer(fresh)).status_code == 200


def test_the_refresh_floor_holds_back_a_flood_of_unknown_keys(app, node, provider, monkeypatch):
    fetched = []
    real = oidc._get_json
    monkeypatch.setattr(oidc, "_get_json", lambda url: fetched.append(url) or real(url))
    client = browser(app)
    for _ in range(5):
        assert_refused(client.get("/api/Datasets/count", headers=bearer(sign(claims_for(provider), new_signing_key()))))
    assert len([url for url in fetched if url == provider.jwks_uri]) <= 1


def test_a_withdrawn_key_is_not_trusted_forever(app, node, provider, monkeypatch):
    """A provider withdraws a (compromised) key.  No token with an unknown kid arrives.  A day
    later, a token signed with the withdrawn key must no longer be accepted."""
    client = browser(app)
    embargoed = f"/api/Datasets/{node.embargoed[0]}"
    current = provider.keys[0]
    monkeypatch.setattr(oidc, "KEYS_REFRESH", 0.0)
    assert client.get(embargoed, headers=bearer(sign(claims_for(provider), current))).status_code == 200
    replacement = new_signing_key(f"after-compromise-{secrets.token_hex(3)}")
    provider.restart(keys=[replacement])
    try:
        class _ADayLater:
            monotonic = staticmethod(lambda: time.monotonic() + 24 * 3600)
            time = staticmethod(time.time)

        monkeypatch.setattr(oidc, "time", _ADayLater)
        answer = client.get(embargoed, headers=bearer(sign(claims_for(provider), current)))
        assert answer.status_code == 401, "a token signed with a withdrawn key is still accepted a day later"
    finally:
        provider.restart(keys=[current])  # as the node's cache has it: the tests after this one sign with it


# --------------------------------------------------------------------------- 5. a real browser


def test_sign_in_and_out_in_chromium(node, provider, tmp_path):
    _browser_or_skip()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    served = Process([sys.executable, "-m", "pancommons.cli", "serve", "--port", str(node.serve_port)],
                     node.serve_port, node.environment(provider), "/api/Datasets/count")
    try:
        served.wait_ready()
        _browse(served.url.removesuffix("/api"), node, provider)
    except BaseException:
        print(f"--- pancommons serve output:\n{served.output()}")
        raise
    finally:
        served.stop()


def _browse(base: str, node: Node, provider: OpenIdProvider) -> None:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    landing = f"{base}/datasets/{node.embargoed[0]}"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = chromium.new_context()
            page = context.new_page()

            def console(message) -> None:
                if message.type != "error":
                    return
                where = f"{message.text} (from {message.location.get('url')}, on {page.url})"
                # The provider's development login page asks fonts.googleapis.com for a font (no
                # network here) and has no favicon: its problems, not the portal's.
                (problems if page.url.startswith(base + "/") else provider_problems).append(where)

            provider_problems: list[str] = []
            page.on("console", console)
            page.on("pageerror", lambda error: problems.append(f"{error} (on {page.url})"))

            assert page.goto(base + "/").status == 200
            assert page.goto(landing).status == 404  # anonymous: the embargoed dataset does not exist
            problems.clear()  # (Chromium reports that 404 on the console)
            page.goto(base + "/")
            page.click("header.top nav a:text-is('Sign in')")
            page.wait_for_url("**/login?**")
            page.screenshot(path=str(ARTIFACTS / "1-login.png"), full_page=True)
            assert page.inner_text("#login-provider") == f"Sign in with {PROVIDER_NAME}"
            page.click("#login-provider")
            page.wait_for_url(provider.issuer + "/**")
            page.wait_for_selector("form input[name=prompt]", state="attached")
            page.screenshot(path=str(ARTIFACTS / "2-provider.png"), full_page=True)

            prompts: list[str] = []
            browser_login(page, "alice", prompts=prompts)
            assert prompts == ["login"]
            page.wait_for_load_state()
            assert page.url == base + "/", page.url  # back on the page the sign-in started from
            cookies = {c["name"]: c for c in context.cookies(base)}
            session = cookies.get("pancommons_session")
            assert session is not None, (
                f"Chromium did not keep the Secure session cookie over {base} (cookies: {sorted(cookies)}); "
                f"the page after the callback is {page.url}")
            assert (session["secure"], session["httpOnly"], session["sameSite"]) == (True, True, "Lax")
            assert "pancommons_login" not in cookies
            csrf = cookies.get("pancommons_csrf")  # made for the header's sign-out form: kept as well
            assert csrf is not None and (csrf["secure"], csrf["httpOnly"], csrf["sameSite"]) == (True, True, "Lax")
            page.screenshot(path=str(ARTIFACTS / "3-signed-in.png"), full_page=True)

            page.click("header.top nav a:text-is('My proposals')")
            page.wait_for_url("**/me/proposals")
            assert node.proposal_pid in page.content()
            assert "principal investigator" in page.inner_text("table.records")
            page.screenshot(path=str(ARTIFACTS / "4-my-proposals.png"), full_page=True)

            answer = page.goto(landing)
            assert answer.status == 200
            assert "Embargoed" in page.inner_text("p.access")
            page.screenshot(path=str(ARTIFACTS / "5-embargoed-dataset.png"), full_page=True)

            with page.expect_navigation():
                page.click("header.top form.inline button[type=submit]")
            assert page.url == base + "/", page.url
            assert page.locator("header.top nav a:text-is('Sign in')").count() == 1
            assert "pancommons_session" not in {c["name"] for c in context.cookies(base)}
            page.screenshot(path=str(ARTIFACTS / "6-signed-out.png"), full_page=True)
            assert problems == []

            assert page.goto(landing).status == 404
            page.screenshot(path=str(ARTIFACTS / "7-dataset-after-sign-out.png"), full_page=True)
            assert all("404" in problem for problem in problems), problems
            assert all(problem.split(" (from ")[0].startswith("Failed to load resource") for problem in provider_problems), \
                provider_problems
        finally:
            chromium.close()
