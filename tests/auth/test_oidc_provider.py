"""The test OpenID provider is a real one: discovery, the code flow with PKCE, JWT access tokens
for the API verified against the published keys, refusals, consent, key rotation, a browser."""

from __future__ import annotations

import http.server
import os
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from tests.auth.oidc_provider import (
    ALICE,
    API_RESOURCE,
    BOB,
    PUBLIC_CLIENT_ID,
    PUBLIC_REDIRECT_URI,
    SERVICE_CLIENT_ID,
    WEB_CLIENT_ID,
    WEB_CLIENT_SECRET,
    WEB_REDIRECT_URI,
    LoginRejected,
    browser_login,
    new_signing_key,
    openid_provider,  # noqa: F401  (the fixture)
    pkce_pair,
    running_provider,
    sign,
)

CHROMIUM = Path("/usr/bin/chromium")


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _verify_access_token(provider, token: str) -> dict:
    signing_key = jwt.PyJWKClient(provider.jwks_uri, cache_keys=False).get_signing_key_from_jwt(token)
    return jwt.decode(
        token, signing_key.key, algorithms=["RS256"], audience=API_RESOURCE, issuer=provider.issuer,
        options={"require": ["exp", "iat", "sub", "aud", "iss"]},
    )


def test_discovery_document(openid_provider):
    meta = httpx.get(openid_provider.url("/.well-known/openid-configuration")).json()
    issuer = openid_provider.issuer
    assert issuer.startswith("http://127.0.0.1:")
    assert meta["issuer"] == issuer
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "end_session_endpoint"):
        assert meta[endpoint].startswith(issuer + "/"), endpoint
    assert "S256" in meta["code_challenge_methods_supported"]
    assert "plain" not in meta["code_challenge_methods_supported"]
    assert "code" in meta["response_types_supported"]
    assert {"openid", "profile", "email", "pan"} <= set(meta["scopes_supported"])
    assert {"email", "email_verified", "name", "orcid", "facility_user_id"} <= set(meta["claims_supported"])
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    jwks = httpx.get(meta["jwks_uri"]).json()
    assert [k["kid"] for k in jwks["keys"]] == [openid_provider.keys[0]["kid"]]
    assert all("d" not in k for k in jwks["keys"]), "private key material published"


def test_code_flow_gives_a_jwt_access_token_for_the_api_and_an_id_token(openid_provider):
    tokens = openid_provider.scripted_login(WEB_CLIENT_ID, "http://127.0.0.1:8765/callback", ALICE,
                                            client_secret=WEB_CLIENT_SECRET)
    assert tokens["token_type"] == "Bearer"
    assert openid_provider.last_prompts == ["login"]  # first-party client: no consent page

    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["alg"] == "RS256" and header["typ"] == "at+jwt"
    assert header["kid"] == openid_provider.keys[0]["kid"]
    claims = _verify_access_token(openid_provider, tokens["access_token"])
    assert claims["iss"] == openid_provider.issuer
    assert claims["aud"] == API_RESOURCE
    assert claims["sub"] == ALICE
    assert claims["client_id"] == WEB_CLIENT_ID

    id_key = jwt.PyJWKClient(openid_provider.jwks_uri).get_signing_key_from_jwt(tokens["id_token"])
    id_token = jwt.decode(tokens["id_token"], id_key.key, algorithms=["RS256"], audience=WEB_CLIENT_ID,
                          issuer=openid_provider.issuer)
    assert id_token["sub"] == ALICE
    assert id_token["email"] == "alice@pancommons.test" and id_token["email_verified"] is True
    assert id_token["name"] == "Alice Adams"
    assert id_token["orcid"] == "https://orcid.org/0000-0002-1825-0097"
    assert id_token["facility_user_id"] == "fac-1001"
    assert id_token["nonce"]


def test_public_client_and_custom_scope(openid_provider):
    tokens = openid_provider.scripted_login(PUBLIC_CLIENT_ID, PUBLIC_REDIRECT_URI, BOB, scope="openid pan api")
    claims = _verify_access_token(openid_provider, tokens["access_token"])
    assert claims["sub"] == BOB and claims["client_id"] == PUBLIC_CLIENT_ID
    assert claims["scope"] == "api"
    id_token = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert id_token["facility_user_id"] == "fac-1002"
    assert "email" not in id_token and "name" not in id_token  # neither email nor profile asked for


def test_client_credentials_token_is_for_the_api(openid_provider):
    tokens = openid_provider.client_credentials(SERVICE_CLIENT_ID)
    claims = _verify_access_token(openid_provider, tokens["access_token"])
    assert claims["client_id"] == SERVICE_CLIENT_ID and claims["sub"] == SERVICE_CLIENT_ID


def test_a_request_without_pkce_is_refused(openid_provider):
    url = openid_provider.authorization_url(WEB_CLIENT_ID, WEB_REDIRECT_URI, state="s1")  # no code_challenge
    answer = _query(openid_provider.authorize(url, ALICE))
    assert answer["error"] == "invalid_request"
    assert "PKCE" in answer["error_description"]
    assert answer["state"] == "s1" and answer["iss"] == openid_provider.issuer
    assert "code" not in answer


def test_a_wrong_code_verifier_is_refused(openid_provider):
    verifier, challenge = pkce_pair()
    url = openid_provider.authorization_url(WEB_CLIENT_ID, WEB_REDIRECT_URI, code_challenge=challenge)
    code = _query(openid_provider.authorize(url, ALICE))["code"]
    other, _ = pkce_pair()
    answer = openid_provider.exchange_code(WEB_CLIENT_ID, WEB_REDIRECT_URI, code, code_verifier=other)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    answer = openid_provider.exchange_code(WEB_CLIENT_ID, WEB_REDIRECT_URI, code, code_verifier=None)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    # oidc-provider checks the verifier before it spends the code: the right one still works, once.
    answer = openid_provider.exchange_code(WEB_CLIENT_ID, WEB_REDIRECT_URI, code, code_verifier=verifier)
    assert answer.status_code == 200
    answer = openid_provider.exchange_code(WEB_CLIENT_ID, WEB_REDIRECT_URI, code, code_verifier=verifier)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_a_second_authorization_in_the_same_session_needs_no_login(openid_provider):
    with httpx.Client() as browser:
        for expected in (["login"], []):
            url = openid_provider.authorization_url(WEB_CLIENT_ID, WEB_REDIRECT_URI, code_challenge=pkce_pair()[1])
            assert "code" in _query(openid_provider.authorize(url, ALICE, http=browser))
            assert openid_provider.last_prompts == expected


def test_an_unknown_login_is_turned_away(openid_provider):
    with pytest.raises(LoginRejected):
        openid_provider.scripted_login(WEB_CLIENT_ID, WEB_REDIRECT_URI, "mallory")


def test_a_token_crafted_with_the_providers_key_verifies_and_one_with_another_key_does_not(openid_provider):
    now = int(time.time())
    claims = {"iss": openid_provider.issuer, "aud": API_RESOURCE, "sub": ALICE, "iat": now, "exp": now + 60}
    assert _verify_access_token(openid_provider, sign(claims, openid_provider.keys[0]))["sub"] == ALICE
    stranger = new_signing_key(kid=openid_provider.keys[0]["kid"])  # same kid, other key
    with pytest.raises(jwt.InvalidSignatureError):
        _verify_access_token(openid_provider, sign(claims, stranger))


def test_consent_page_and_key_rotation():
    first = new_signing_key("first")
    with running_provider(keys=[first], skip_consent=False) as provider:
        old = provider.scripted_login(WEB_CLIENT_ID, WEB_REDIRECT_URI, ALICE)
        assert provider.last_prompts == ["login", "consent"]
        assert jwt.get_unverified_header(old["access_token"])["kid"] == "first"
        port = provider.port

        # A new key signs; the old one is still published, so old tokens still verify.
        second = new_signing_key("second")
        provider.restart(keys=[second, first])
        assert provider.port == port
        assert [k["kid"] for k in httpx.get(provider.jwks_uri).json()["keys"]] == ["second", "first"]
        new = provider.scripted_login(WEB_CLIENT_ID, WEB_REDIRECT_URI, ALICE)
        assert jwt.get_unverified_header(new["access_token"])["kid"] == "second"
        assert jwt.get_unverified_header(new["id_token"])["kid"] == "second"
        assert _verify_access_token(provider, new["access_token"])["sub"] == ALICE
        assert _verify_access_token(provider, old["access_token"])["sub"] == ALICE

        # The old key withdrawn: old tokens no longer find their key.
        provider.restart(keys=[second])
        assert [k["kid"] for k in httpx.get(provider.jwks_uri).json()["keys"]] == ["second"]
        with pytest.raises(jwt.PyJWKClientError):
            _verify_access_token(provider, old["access_token"])
        assert _verify_access_token(provider, new["access_token"])["sub"] == ALICE
    assert not provider.running


def test_a_client_registered_later_with_its_own_redirect_uri(openid_provider):
    client = openid_provider.register_client(["http://127.0.0.1:9/app/callback"], client_id="late-web")
    tokens = openid_provider.scripted_login("late-web", "http://127.0.0.1:9/app/callback", ALICE)
    assert _verify_access_token(openid_provider, tokens["access_token"])["client_id"] == "late-web"
    assert client["client_secret"]


def test_login_and_consent_in_a_real_browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install '.[test]')"
    else:
        reason = None if CHROMIUM.exists() else f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if reason:
        if os.environ.get("PANCOMMONS_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)

    # The client's side: a bare HTTP server for the redirect (Playwright's routes don't see
    # redirected requests); a native client's loopback redirect URI takes any port.
    server = http.server.HTTPServer(("127.0.0.1", 0), _Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    callback = f"http://127.0.0.1:{server.server_port}/callback"
    try:
        with running_provider(skip_consent=False) as provider, sync_playwright() as playwright:
            verifier, challenge = pkce_pair()
            url = provider.authorization_url(PUBLIC_CLIENT_ID, callback, state="browser", code_challenge=challenge)
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(url)
                assert page.locator("input[name=login]").count() == 1
                prompts: list[str] = []
                final = browser_login(page, ALICE, prompts=prompts)
                assert prompts == ["login", "consent"]
                assert "back at the client" in page.content()
                cookies = {c["name"]: c for c in page.context.cookies(provider.issuer)}
            finally:
                browser.close()
            answer = _query(final)
            assert final.startswith(callback + "?") and answer["state"] == "browser"
            # The provider's session cookie works over plain http on loopback (not Secure, SameSite=Lax).
            session = cookies["_session"]
            assert (session["secure"], session["httpOnly"], session["sameSite"]) == (False, True, "Lax")
            assert "_session.sig" in cookies  # signed with the config's cookie keys
            tokens = provider.exchange_code(PUBLIC_CLIENT_ID, callback, answer["code"], code_verifier=verifier).json()
            assert _verify_access_token(provider, tokens["access_token"])["sub"] == ALICE
    finally:
        server.shutdown()
        server.server_close()


class _Callback(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"<!DOCTYPE html><p>back at the client</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass
