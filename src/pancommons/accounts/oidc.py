"""Signing in with the facility's OpenID provider (UmbrellaID through eduTEAMS, Keycloak, any
standard one, configured by its issuer URL), and checking the provider's JWTs.

The portal's login is the authorization-code flow with PKCE (S256, RFC 7636),
a ``state`` and a ``nonce``: two requests, written here with httpx (authlib's
httpx client is deprecated as of 1.9 and would add a dependency for them);
the ID token and API bearer tokens are checked with PyJWT — signature
against the provider's published keys (fetched again when a token names a key
not seen before, so the provider can rotate them, but not more than once per
``KEYS_REFRESH`` seconds whatever tokens arrive), issuer, audience, expiry.
Only asymmetric algorithms are accepted: ``none`` and HMAC (which would turn
the public key into a shared secret) are refused before any key is looked at.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import jwt

from pancommons.accounts.store import Identity
from pancommons.config import Settings

ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
DISCOVERY_TTL = 3600.0
KEYS_REFRESH = 10.0  # least seconds between two fetches of the provider's keys
KEYS_MAX_AGE = 3600.0  # the keys are fetched again at least this often
LEEWAY = 30  # seconds of clock difference tolerated on exp/nbf/iat
TIMEOUT = httpx.Timeout(10.0)


class ProviderUnavailable(RuntimeError):
    """The OpenID provider cannot be reached or answered nonsense; the message says which."""


class InvalidToken(ValueError):
    """A token that is not a valid one of our provider for us; the message says why (for 401s and logs)."""


@dataclass(frozen=True)
class PendingLogin:
    """What the portal keeps (signed, in a short-lived cookie) between sending the browser to the
    provider and its coming back."""

    state: str
    nonce: str
    verifier: str
    next: str


@dataclass(frozen=True)
class SignedIn:
    subject: str
    identity: Identity
    preferred_username: str | None


class OpenIdProvider:
    def __init__(self, settings: Settings):
        if not (settings.oidc_issuer and settings.oidc_client_id):
            raise ValueError("an OpenID provider needs oidc_issuer and oidc_client_id")
        self.issuer = settings.oidc_issuer  # compared exactly, as OpenID Connect Discovery says
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret or None
        self.scopes = settings.oidc_scopes
        self.audience = settings.oidc_audience or settings.oidc_client_id
        self.name = settings.oidc_provider_name
        self.orcid_claim = settings.oidc_orcid_claim
        self.facility_user_id_claim = settings.oidc_facility_user_id_claim
        self._lock = threading.Lock()
        self._metadata: dict | None = None
        self._metadata_at = 0.0
        self._keys_lock = threading.Lock()
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._keys_at = float("-inf")

    # --- the provider's documents -----------------------------------------------------------

    def metadata(self) -> dict:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata_at > DISCOVERY_TTL:
                found = _get_json(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
                for field in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(found.get(field), str):
                        raise ProviderUnavailable(f"the provider's discovery document has no {field}")
                if found["issuer"] != self.issuer:
                    raise ProviderUnavailable(f"the provider says its issuer is {found['issuer']!r}, not {self.issuer!r}")
                self._metadata, self._metadata_at = found, time.monotonic()
            return self._metadata

    def _key(self, kid: str | None, algorithm: str) -> jwt.PyJWK:
        if time.monotonic() - self._keys_at > KEYS_MAX_AGE:  # a key the provider withdrew is not trusted for long
            self._refresh_keys()
        key = self._find_key(kid)
        if key is None:  # a key not seen before: the provider may have rotated its keys
            self._refresh_keys()
            key = self._find_key(kid)
        if key is None:
            raise InvalidToken("signed with a key the provider does not publish")
        if "alg" in key._jwk_data and key.algorithm_name != algorithm:
            raise InvalidToken(f"key {kid!r} is for {key.algorithm_name}, not {algorithm}")
        return key

    def _refresh_keys(self) -> None:
        with self._keys_lock:
            if time.monotonic() - self._keys_at < KEYS_REFRESH:
                return
            self._keys_at = time.monotonic()
            published = _get_json(self.metadata()["jwks_uri"])
            keys = {}
            for entry in published.get("keys", []):
                if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                    continue
                try:
                    keys[entry.get("kid")] = jwt.PyJWK.from_dict(entry)
                except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                    continue  # a key type this library does not know signs none of the tokens we accept
            self._keys = keys

    def _find_key(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is not None:
            return self._keys.get(kid)
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None

    # --- tokens ---------------------------------------------------------------------------

    def decode(self, token: str, audience: str, nonce: str | None = None) -> dict:
        """The claims of a JWT the provider signed for ``audience``, or InvalidToken saying why not."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("not a JWT") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in ASYMMETRIC:
            raise InvalidToken(f"algorithm {str(algorithm)[:20]!r} is not accepted")
        key = self._key(header.get("kid"), algorithm)
        try:
            claims = jwt.decode(
                token, key=key.key, algorithms=[algorithm], audience=audience, issuer=self.issuer, leeway=LEEWAY,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("not meant for this service (audience)") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("issued by another provider") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("signature does not verify") from None
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from None
        except (TypeError, ValueError) as error:  # e.g. a key of another type than the token's algorithm says
            raise InvalidToken(f"cannot be checked with the provider's key: {error}") from None
        if nonce is not None and claims.get("nonce") != nonce:
            raise InvalidToken("nonce does not match this login")
        return claims

    def access_claims(self, token: str) -> dict:
        """An API bearer token: an access token of our provider for our audience — not an ID token
        (which a client could otherwise replay to us: its audience is our client id)."""
        claims = self.decode(token, self.audience)
        if "nonce" in claims or str(claims.get("typ", "")).lower() == "id":
            raise InvalidToken("an ID token is not an access token")
        if self.audience == self.client_id and _token_type(token) not in ("at+jwt", "application/at+jwt"):
            # Our client id is also the audience of every ID token the provider gives us (with or without
            # a nonce): without an audience of its own, only a token typed as an access token (RFC 9068) is one.
            raise InvalidToken("not typed as an access token (at+jwt); set oidc_audience to the API's own audience")
        if claims.get("client_id") is not None and claims.get("client_id") == claims["sub"]:
            raise InvalidToken("a client's own token (client credentials) names no person; use a personal API token")
        return claims

    def identity(self, claims: dict) -> Identity:
        def text(name: str) -> str | None:
            value = claims.get(name)
            return value.strip() if isinstance(value, str) and value.strip() else None

        name = text("name") or " ".join(part for part in (text("given_name"), text("family_name")) if part)
        return Identity(
            display_name=name or text("preferred_username") or "",
            email=text("email"),
            email_verified=claims.get("email_verified") is True,
            orcid=text(self.orcid_claim) or text("eduperson_orcid"),
            facility_user_id=text(self.facility_user_id_claim),
        )

    # --- the login ------------------------------------------------------------------------

    def begin(self, redirect_uri: str, next_page: str) -> tuple[str, PendingLogin]:
        """Where to send the browser, and what to remember until it comes back."""
        endpoint = self.metadata()["authorization_endpoint"]
        pending = PendingLogin(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), next_page)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(pending.verifier.encode()).digest()).decode().rstrip("=")
        query = urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri, "scope": self.scopes,
            "state": pending.state, "nonce": pending.nonce, "code_challenge": challenge, "code_challenge_method": "S256",
        })
        return endpoint + ("&" if "?" in endpoint else "?") + query, pending

    def finish(self, redirect_uri: str, pending: PendingLogin, code: str) -> SignedIn:
        """Redeem the code (with the PKCE verifier) and check the ID token it brings."""
        metadata = self.metadata()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": pending.verifier}
        auth = None
        if self.client_secret:
            auth = httpx.BasicAuth(self.client_id, self.client_secret)  # client_secret_basic
        else:
            form["client_id"] = self.client_id  # a public client: PKCE is its proof
        try:
            response = httpx.post(metadata["token_endpoint"], data=form, auth=auth, timeout=TIMEOUT,
                                  headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"the provider could not be reached: {error}") from None
        try:
            token = response.json()
        except ValueError:
            token = {}
        if response.status_code != 200 or not isinstance(token, dict):
            reason = token.get("error_description") or token.get("error") if isinstance(token, dict) else None
            raise InvalidToken(f"the provider refused the login: {reason or response.status_code}")
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise InvalidToken("the provider sent no ID token")
        claims = self.decode(id_token, self.client_id, nonce=pending.nonce)
        # Claims the ID token leaves out (many providers keep it small) come from the userinfo endpoint.
        if metadata.get("userinfo_endpoint") and isinstance(token.get("access_token"), str):
            extra = self._userinfo(metadata["userinfo_endpoint"], token["access_token"])
            if extra.get("sub") == claims["sub"]:
                claims = {**extra, **claims}
        preferred = claims.get("preferred_username")
        return SignedIn(claims["sub"], self.identity(claims), preferred if isinstance(preferred, str) else None)

    def _userinfo(self, endpoint: str, access_token: str) -> dict:
        try:
            response = httpx.get(endpoint, headers={"Authorization": f"Bearer {access_token}"}, timeout=TIMEOUT)
            found = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}


def _token_type(token: str) -> str:
    try:
        return str(jwt.get_unverified_header(token).get("typ", "")).lower()
    except jwt.PyJWTError:
        return ""


def _get_json(url: str) -> dict:
    try:
        response = httpx.get(url, timeout=TIMEOUT, follow_redirects=True)
    except httpx.HTTPError as error:
        raise ProviderUnavailable(f"the provider could not be reached ({url}): {error}") from None
    if response.status_code != 200:
        raise ProviderUnavailable(f"the provider answered {response.status_code} for {url}")
    try:
        found = response.json()
    except ValueError:
        raise ProviderUnavailable(f"the provider sent no JSON for {url}") from None
    if not isinstance(found, dict):
        raise ProviderUnavailable(f"the provider sent no JSON object for {url}")
    return found
