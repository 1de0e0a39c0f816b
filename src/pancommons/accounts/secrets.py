"""Secrets the commons hands out or is given — session cookies, API tokens, passwords — and how
they are kept: as hashes only.

Session cookies and API tokens are 256 random bits, so a plain SHA-256 is
enough to keep them (nothing to guess); passwords are people's, so they are
stretched with scrypt (the standard library's: no dependency for the
embedded default's local accounts).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

API_TOKEN_PREFIX = "pct_"  # tells a personal API token from an OpenID provider's JWT at a glance
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + _b64(salt) + "$" + _b64(key)


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` is the one ``stored`` was made from; as slow for no account as for one."""
    if not stored:
        hash_password(password)  # the same work, so timing does not tell which usernames exist
        return False
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        found = hashlib.scrypt(password.encode(), salt=_unb64(salt), dklen=32, n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, _unb64(key))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
