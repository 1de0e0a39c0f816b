"""A real OpenID Provider on loopback for the login tests: panva's certified ``oidc-provider``.

``tests/auth/op/`` holds the Node side (``provider.mjs``, pinned in ``package-lock.json``);
this module installs it (``npm ci``, once, when ``node_modules`` is missing or older than
the lock), starts it on a free 127.0.0.1 port and drives it like a user would::

    from tests.auth.oidc_provider import openid_provider  # noqa: F401  (the fixture)

    def test_login(openid_provider):
        tokens = openid_provider.scripted_login(WEB_CLIENT_ID, WEB_REDIRECT_URI, "alice",
                                                client_secret=WEB_CLIENT_SECRET)
        ...

What the provider does
    * The authorization-code flow, with PKCE (S256) required of every client, confidential or
      public; client_credentials for a client that has that grant type (``pancommons-service``).
    * Login and consent through oidc-provider's built-in development pages ("devInteractions"):
      the login form takes any login and any password; the login *is* the account's ``sub``
      and must be one of ``accounts`` (an unknown one leads back to the login form, which
      :meth:`OpenIdProvider.authorize` reports as :class:`LoginRejected`).
    * Consent: with ``skip_consent=True`` (the default) every configured client is first
      party and never sees the consent page; with ``False`` the consent page shows and the
      scripted flow (or a browser) presses its "Continue" button.
    * Access tokens from the code flow are RS256 JWTs for the API ``resource``
      (``aud`` = resource, ``sub`` = account, ``client_id``, ``scope``), even when the client
      sends no ``resource`` parameter; client_credentials tokens likewise (``sub`` = client_id).
      The ID token then carries the scope's claims (the access token is not for userinfo).
    * The first key in ``keys`` signs; all of them are published at ``jwks_uri``.
      :meth:`OpenIdProvider.restart` swaps them (key rotation) on the same port.
    * Plain http on 127.0.0.1: the provider's cookies (``_session``, ``_interaction``...) are
      signed, ``HttpOnly``, ``SameSite=Lax`` and not ``Secure``, which a browser accepts there.

Scopes -> claims
    ``openid``: sub; ``email``: email, email_verified; ``profile``: name, given_name,
    family_name, preferred_username, orcid, facility_user_id; ``pan``: orcid, facility_user_id
    (the same two facility claims, for a client that asks for them without ``profile``).
    ``resource_scopes`` (default ``"api"``) are the API's own scopes: asked for in ``scope``,
    they end up in the access token's ``scope`` claim.

Node and npm absent: :func:`require_provider` (which the fixture calls) skips the test with
the reason, unless ``PANCOMMONS_TEST_REQUIRE_OIDC=1``, where it fails.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, quote_plus, urlencode, urljoin, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

OP_DIR = Path(__file__).resolve().parent / "op"
PROVIDER_SCRIPT = OP_DIR / "provider.mjs"
LOCK_FILE = OP_DIR / "package-lock.json"
NODE_MODULES = OP_DIR / "node_modules"
INSTALL_STAMP = NODE_MODULES / ".pancommons-lock-sha256"
REQUIRE_ENV = "PANCOMMONS_TEST_REQUIRE_OIDC"
START_TIMEOUT = 30.0

API_RESOURCE = "https://pancommons.test/api"

# The default accounts (login = sub).
ALICE = "alice"
BOB = "bob"
DEFAULT_ACCOUNTS: dict[str, dict] = {
    ALICE: {
        "name": "Alice Adams",
        "given_name": "Alice",
        "family_name": "Adams",
        "preferred_username": "alice",
        "email": "alice@pancommons.test",
        "email_verified": True,
        "orcid": "https://orcid.org/0000-0002-1825-0097",
        "facility_user_id": "fac-1001",
    },
    BOB: {
        "name": "Bob Brown",
        "email": "bob@pancommons.test",
        "email_verified": False,
        "facility_user_id": "fac-1002",
    },
}

# The default clients.  Their redirect URIs are loopback URIs of "native" clients, so
# oidc-provider accepts them on any port (RFC 8252 section 7.3): an app under test on
# http://127.0.0.1:PORT/callback can use them as they are.
WEB_CLIENT_ID = "pancommons-web"
WEB_CLIENT_SECRET = "pancommons-web-secret"
WEB_REDIRECT_URI = "http://127.0.0.1/callback"
PUBLIC_CLIENT_ID = "pancommons-cli"
PUBLIC_REDIRECT_URI = "http://127.0.0.1/callback"
SERVICE_CLIENT_ID = "pancommons-service"
SERVICE_CLIENT_SECRET = "pancommons-service-secret"
DEFAULT_CLIENTS: list[dict] = [
    {
        "client_id": WEB_CLIENT_ID,
        "client_secret": WEB_CLIENT_SECRET,
        "application_type": "native",
        "redirect_uris": [WEB_REDIRECT_URI],
        "post_logout_redirect_uris": ["http://127.0.0.1/"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    },
    {
        "client_id": PUBLIC_CLIENT_ID,
        "application_type": "native",
        "redirect_uris": [PUBLIC_REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    },
    {
        "client_id": SERVICE_CLIENT_ID,
        "client_secret": SERVICE_CLIENT_SECRET,
        "redirect_uris": [],
        "grant_types": ["client_credentials"],
        "response_types": [],
        "token_endpoint_auth_method": "client_secret_basic",
    },
]


class ProviderError(RuntimeError):
    """The provider did not start, or a flow did not go as a user's would."""


class LoginRejected(ProviderError):
    """The login form came back after a login was submitted: no such account."""


# --------------------------------------------------------------------------- keys


def new_signing_key(kid: str | None = None, size: int = 2048) -> dict:
    """A fresh private RSA JWK for RS256 signing (``kid``, ``use``=sig, ``alg``=RS256)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=size)
    jwk = json.loads(RSAAlgorithm.to_jwk(key))
    jwk.update(kid=kid or f"test-{secrets.token_hex(6)}", use="sig", alg="RS256")
    return jwk


def public_jwk(jwk: dict) -> dict:
    """The public half of a private RSA JWK."""
    return {k: jwk[k] for k in ("kty", "kid", "use", "alg", "n", "e") if k in jwk}


def sign(claims: dict, jwk: dict, headers: dict | None = None) -> str:
    """A JWT over ``claims`` signed with the private JWK (for crafting tokens in tests)."""
    import jwt

    key = RSAAlgorithm.from_jwk(json.dumps(jwk))
    return jwt.encode(claims, key, algorithm=jwk.get("alg", "RS256"), headers={"kid": jwk["kid"], **(headers or {})})


def pkce_pair() -> tuple[str, str]:
    """``(code_verifier, code_challenge)`` for S256."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


# --------------------------------------------------------------------------- availability


def skip_reason() -> str | None:
    """Why the provider cannot run here (no node or npm), or None."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "node and npm are needed to run the test OpenID provider (tests/auth/op) and are not on PATH"
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        major = int(version.lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError) as error:
        return f"cannot tell node's version: {error}"
    if major < 20:
        return f"the test OpenID provider (oidc-provider 9) needs Node.js 20 or later, not {version}"
    return None


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: the OpenID Connect tests must not be skipped)", pytrace=False)
    pytest.skip(reason)


def require_provider() -> None:
    """Skip (or, under ``PANCOMMONS_TEST_REQUIRE_OIDC=1``, fail) where the provider can't run;
    otherwise make sure its node packages are installed."""
    reason = skip_reason()
    if reason:
        _unavailable(reason)
    try:
        ensure_installed()
    except ProviderError as error:
        _unavailable(str(error))


def _lock_digest() -> str:
    return hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest()


def ensure_installed() -> None:
    """``npm ci`` in tests/auth/op when node_modules is missing or was installed from another lock."""
    digest = _lock_digest()
    if INSTALL_STAMP.is_file() and INSTALL_STAMP.read_text().strip() == digest:
        return
    # One installer at a time (parallel test workers); the lock lives outside the work tree.
    lock_path = Path(tempfile.gettempdir()) / f"pancommons-op-npm-{hashlib.sha256(str(OP_DIR).encode()).hexdigest()[:16]}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if INSTALL_STAMP.is_file() and INSTALL_STAMP.read_text().strip() == digest:
            return
        npm = shutil.which("npm")
        if npm is None:
            raise ProviderError("npm is not on PATH")
        try:
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=OP_DIR, capture_output=True, text=True, timeout=300, check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise ProviderError(f"npm ci in {OP_DIR} took more than 300 s") from error
        if done.returncode != 0:
            raise ProviderError(f"npm ci in {OP_DIR} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        INSTALL_STAMP.write_text(digest + "\n")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- HTML forms


class _Forms(HTMLParser):
    """The forms of a page: action, method and the named inputs' values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action") or "", "method": (attrs.get("method") or "get").lower(), "fields": {}})
        elif tag in ("input", "button") and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""


def _forms(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


# --------------------------------------------------------------------------- the provider


class OpenIdProvider:
    """oidc-provider on 127.0.0.1, as a context manager.

    ``clients`` are oidc-provider client metadata (default :data:`DEFAULT_CLIENTS`),
    ``accounts`` ``{sub: claims}`` (default :data:`DEFAULT_ACCOUNTS`), ``keys`` private JWKs
    (default: one fresh RSA key; the first signs), ``resource`` the API audience.
    """

    def __init__(
        self,
        clients: list[dict] | None = None,
        accounts: dict[str, dict] | None = None,
        resource: str | None = API_RESOURCE,
        keys: list[dict] | None = None,
        *,
        resource_scopes: str = "api",
        access_token_claims: list[str] | None = None,
        skip_consent: bool = True,
        port: int | None = None,
    ) -> None:
        self.clients = [dict(c) for c in (DEFAULT_CLIENTS if clients is None else clients)]
        self.accounts = dict(DEFAULT_ACCOUNTS if accounts is None else accounts)
        self.resource = resource
        self.keys = list(keys) if keys else [new_signing_key()]
        self.resource_scopes = resource_scopes
        self.access_token_claims = list(access_token_claims or [])
        self.skip_consent = skip_consent
        self.port = port
        self._cookie_keys = [secrets.token_urlsafe(32)]
        self._dir: tempfile.TemporaryDirectory | None = None
        self._process: subprocess.Popen | None = None
        self._metadata: dict | None = None
        self.last_prompts: list[str] = []  # the provider pages the last authorize() went through

    # ---- lifecycle

    @property
    def issuer(self) -> str:
        if self.port is None:
            raise ProviderError("the provider has not been started")
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "") -> str:
        return self.issuer + "/" + path.lstrip("/")

    @property
    def metadata(self) -> dict:
        """The discovery document (fetched at start)."""
        if self._metadata is None:
            raise ProviderError("the provider has not been started")
        return self._metadata

    @property
    def jwks_uri(self) -> str:
        return self.metadata["jwks_uri"]

    @property
    def public_jwks(self) -> dict:
        return {"keys": [public_jwk(k) for k in self.keys]}

    def __enter__(self) -> OpenIdProvider:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        ensure_installed()
        self._dir = tempfile.TemporaryDirectory(prefix="pancommons-op-")
        chosen = self.port
        for attempt in range(3):
            self.port = chosen or _free_port()
            try:
                self._launch()
                return
            except ProviderError as error:
                # Another process took the free port between our probe and node's bind.
                if chosen is None and "EADDRINUSE" in str(error) and attempt < 2:
                    continue
                self.stop()
                raise

    def stop(self) -> None:
        self._terminate()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def restart(self, keys: list[dict] | None = None, **changes) -> None:
        """Restart on the same port, with new ``keys`` (first signs) and/or other settings
        (``clients``, ``accounts``, ``resource``, ``skip_consent``...).  State held in memory
        (sessions, grants, issued codes and opaque tokens) is gone afterwards; clients added
        with :meth:`register_client` are kept."""
        if keys is not None:
            self.keys = list(keys)
        for name, value in changes.items():
            if not hasattr(self, name) or name.startswith("_"):
                raise TypeError(f"unknown setting {name!r}")
            setattr(self, name, value)
        self._terminate()
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="pancommons-op-")
        self._launch()

    def _config(self) -> dict:
        return {
            "port": self.port,
            "issuer": self.issuer,
            "clients": self.clients,
            "jwks": {"keys": self.keys},
            "accounts": self.accounts,
            "resource": self.resource,
            "resource_scopes": self.resource_scopes,
            "access_token_claims": self.access_token_claims,
            "skip_consent": self.skip_consent,
            "cookie_keys": self._cookie_keys,
        }

    def _launch(self) -> None:
        assert self._dir is not None
        workdir = Path(self._dir.name)
        config = workdir / "config.json"
        config.write_text(json.dumps(self._config()))
        self._stdout_path = workdir / "stdout.log"
        self._stderr_path = workdir / "stderr.log"
        node = shutil.which("node")
        if node is None:
            raise ProviderError("node is not on PATH")
        with open(self._stdout_path, "wb") as out, open(self._stderr_path, "wb") as err:
            self._process = subprocess.Popen(
                [node, str(PROVIDER_SCRIPT), str(config)],
                cwd=OP_DIR, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            )
        self._wait_ready()

    def _output(self) -> str:
        parts = []
        for path in (getattr(self, "_stdout_path", None), getattr(self, "_stderr_path", None)):
            if path is not None and path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(p for p in parts if p.strip())

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        ready = False
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise ProviderError(f"the OpenID provider exited with {code} while starting:\n{self._output()}")
            if not ready:
                ready = "READY" in self._stdout_path.read_text(errors="replace").split()
            if ready:
                try:
                    answer = httpx.get(self.url("/.well-known/openid-configuration"), timeout=2)
                except httpx.HTTPError:
                    answer = None
                if answer is not None and answer.status_code == 200:
                    self._metadata = answer.json()
                    return
            time.sleep(0.05)
        self._terminate()
        raise ProviderError(f"the OpenID provider was not ready within {START_TIMEOUT:.0f} s:\n{self._output()}")

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def logs(self) -> str:
        """What node printed so far (stdout then stderr)."""
        return self._output()

    # ---- clients

    def client(self, client_id: str) -> dict | None:
        return next((c for c in self.clients if c.get("client_id") == client_id), None)

    def register_client(self, redirect_uris: list[str], **metadata) -> dict:
        """Add a client to the provider's static clients (e.g. one whose redirect URI names the
        port of an app under test).  Without ``client_id`` one is made up; without
        ``token_endpoint_auth_method`` it is a confidential ``client_secret_basic`` client with
        a fresh secret.  A running provider is restarted (same port and keys; sessions and
        codes are lost).  Returns the client's metadata, ``client_secret`` included."""
        client = {
            "client_id": metadata.pop("client_id", None) or f"client-{secrets.token_hex(4)}",
            "redirect_uris": list(redirect_uris),
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
            **metadata,
        }
        if client["token_endpoint_auth_method"] != "none" and "client_secret" not in client:
            client["client_secret"] = secrets.token_urlsafe(24)
        self.clients = [c for c in self.clients if c.get("client_id") != client["client_id"]] + [client]
        if self.running:
            self.restart()
        return client

    # ---- flows

    def authorization_url(
        self,
        client_id: str,
        redirect_uri: str,
        *,
        scope: str = "openid profile email",
        state: str | None = None,
        nonce: str | None = None,
        code_challenge: str | None = None,
        extra_params: dict | None = None,
    ) -> str:
        """An authorization request URL (``code_challenge=None``: no PKCE)."""
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state or secrets.token_urlsafe(16),
            "nonce": nonce or secrets.token_urlsafe(16),
        }
        if code_challenge is not None:
            params.update(code_challenge=code_challenge, code_challenge_method="S256")
        params.update(extra_params or {})
        params = {k: v for k, v in params.items() if v is not None}
        return self.metadata["authorization_endpoint"] + "?" + urlencode(params)

    def authorize(self, authorization_url: str, username: str, *, password: str = "any", http: httpx.Client | None = None) -> str:
        """Walk an authorization request as a user: log in as ``username`` on the provider's
        login page, pass its consent page if shown, and follow redirects until the provider
        sends the browser off its own origin.  Returns that URL (the client's redirect_uri with
        ``code``, ``state`` and ``iss`` — or ``error``), which is not requested.  ``http`` may
        carry an earlier session's cookies (then no login page shows)."""
        own = http is None
        http = http or httpx.Client(timeout=10)
        try:
            return self._walk(http, authorization_url, username, password)
        finally:
            if own:
                http.close()

    def _walk(self, http: httpx.Client, url: str, username: str, password: str) -> str:
        issuer_origin = _origin(self.issuer)
        logged_in = False
        self.last_prompts = []
        method, data = "GET", None
        for _ in range(20):
            if _origin(url) != issuer_origin:
                return url
            answer = http.request(method, url, data=data, follow_redirects=False)
            method, data = "GET", None
            if answer.is_redirect:
                url = urljoin(url, answer.headers["location"])
                continue
            if answer.status_code != 200 or "html" not in answer.headers.get("content-type", ""):
                raise ProviderError(f"{url} answered {answer.status_code}: {answer.text[:2000]}")
            forms = [f for f in _forms(answer.text) if f["method"] == "post"]
            prompt = forms[0]["fields"].get("prompt") if forms else None
            if prompt:
                self.last_prompts.append(prompt)
            if prompt == "login":
                if logged_in:
                    raise LoginRejected(f"the provider asked again for a login after {username!r}: no such account?")
                logged_in = True
                fields = {**forms[0]["fields"], "login": username, "password": password}
            elif prompt == "consent":
                fields = dict(forms[0]["fields"])
            else:
                raise ProviderError(f"unexpected page at {url} ({answer.status_code}):\n{answer.text[:2000]}")
            method, data = "POST", fields
            url = urljoin(url, forms[0]["action"])
        raise ProviderError(f"too many redirects; last at {url}")

    def exchange_code(
        self,
        client_id: str,
        redirect_uri: str,
        code: str,
        *,
        code_verifier: str | None,
        client_secret: str | None = None,
        extra_params: dict | None = None,
    ) -> httpx.Response:
        """The token request for an authorization code (the raw answer)."""
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier is not None:
            data["code_verifier"] = code_verifier
        data.update(extra_params or {})
        return self._token_request(client_id, client_secret, data)

    def _token_request(self, client_id: str, client_secret: str | None, data: dict) -> httpx.Response:
        registered = self.client(client_id) or {}
        if client_secret is None:
            client_secret = registered.get("client_secret")
        method = registered.get("token_endpoint_auth_method") or ("client_secret_basic" if client_secret else "none")
        headers: dict[str, str] = {}
        if method == "client_secret_post":
            data = {**data, "client_id": client_id, "client_secret": client_secret}
        elif method == "client_secret_basic":
            # RFC 6749 section 2.3.1: both form-encoded before base64 (oidc-provider decodes them).
            pair = f"{quote_plus(client_id)}:{quote_plus(client_secret or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            data = {**data, "client_id": client_id}
        return httpx.post(self.metadata["token_endpoint"], data=data, headers=headers, timeout=10)

    def scripted_login(
        self,
        client_id: str,
        redirect_uri: str,
        username: str,
        client_secret: str | None = None,
        scope: str = "openid profile email",
        extra_params: dict | None = None,
    ) -> dict:
        """A whole authorization-code + PKCE flow as ``username``: the token response
        (``access_token``, ``id_token``, ``token_type``, ``expires_in``, ``scope``, ...).
        ``client_secret`` defaults to the configured client's."""
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(16)
        url = self.authorization_url(
            client_id, redirect_uri, scope=scope, state=state, code_challenge=challenge, extra_params=extra_params
        )
        final = self.authorize(url, username)
        params = {k: v[0] for k, v in parse_qs(urlsplit(final).query).items()}
        if "error" in params:
            raise ProviderError(f"authorization failed: {params}")
        if params.get("state") != state:
            raise ProviderError(f"state mismatch in {final}")
        if params.get("iss") not in (None, self.issuer):
            raise ProviderError(f"iss mismatch in {final}")
        answer = self.exchange_code(
            client_id, redirect_uri, params["code"], code_verifier=verifier, client_secret=client_secret
        )
        if answer.status_code != 200:
            raise ProviderError(f"token request failed ({answer.status_code}): {answer.text}")
        return answer.json()

    def client_credentials(self, client_id: str, client_secret: str | None = None, scope: str | None = None) -> dict:
        """A client_credentials token response (an API access token without a user)."""
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        answer = self._token_request(client_id, client_secret, data)
        if answer.status_code != 200:
            raise ProviderError(f"token request failed ({answer.status_code}): {answer.text}")
        return answer.json()


def browser_login(
    page, username: str, password: str = "any", timeout: float = 10_000, prompts: list[str] | None = None
) -> str:
    """In a Playwright ``page`` that is on the provider's login page (sent there by our app,
    or by ``page.goto(authorization_url)``): sign in as ``username``, press "Continue" on the
    consent page if one shows, and return the URL the browser is sent to off the provider.
    The pages passed ("login", "consent") are appended to ``prompts`` if given."""
    issuer = _origin(page.url)
    logged_in = False
    for _ in range(4):
        if _origin(page.url) != issuer:
            return page.url
        page.wait_for_selector("form input[name=prompt]", state="attached", timeout=timeout)
        prompt = page.get_attribute("form input[name=prompt]", "value")
        if prompts is not None:
            prompts.append(prompt)
        if prompt == "login":
            if logged_in:
                raise LoginRejected(f"the provider asked again for a login after {username!r}: no such account?")
            logged_in = True
            page.fill("input[name=login]", username)
            page.fill("input[name=password]", password)
        with page.expect_navigation(timeout=timeout):
            page.click("form button[type=submit]")
    if _origin(page.url) != issuer:
        return page.url
    raise ProviderError(f"the browser is still on the provider after login and consent: {page.url}")


@contextlib.contextmanager
def running_provider(**settings) -> Iterator[OpenIdProvider]:
    """:func:`require_provider`, then an :class:`OpenIdProvider` with ``settings``."""
    require_provider()
    with OpenIdProvider(**settings) as provider:
        yield provider


@pytest.fixture(scope="module")
def openid_provider() -> Iterator[OpenIdProvider]:
    """One provider per test module, with the default clients and accounts; import it into a
    test module (``from tests.auth.oidc_provider import openid_provider``) to use it."""
    with running_provider() as provider:
        yield provider
