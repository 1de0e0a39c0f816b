"""Words, as the text index and the text query both read them.

One tokenizer for both sides: a record is found by a query exactly when they
share a token.  Accents are dropped and case folded (``Müller`` finds
``muller``), and every run of letters and digits is a token, so ``x-ray``
is ``x`` and ``ray`` whichever way it is written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_TOKEN = re.compile(r"[^\W_]+")
MAX_TOKEN = 64  # longer runs are hashes or encoded data, not words anyone types


def tokens(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    return [token for token in _TOKEN.findall(plain) if len(token) <= MAX_TOKEN]


def body_of(texts: Iterable[str | None]) -> tuple[str, int]:
    """The indexed body of a record and its length in tokens.

    Every token is wrapped in its own pair of spaces, so the frequency of a
    term is (len(body) - len(body without " term ")) / len(" term ") on any
    database, with no overlapping matches.
    """
    words = [token for text in texts if text for token in tokens(text)]
    return "".join(f" {word} " for word in words), len(words)


def query_terms(query: str, limit: int = 32) -> list[str]:
    """The distinct terms of a free-text query, in order, at most ``limit``."""
    seen: dict[str, None] = {}
    for token in tokens(query):
        seen.setdefault(token, None)
    return list(seen)[:limit]
