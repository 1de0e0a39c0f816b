"""Words, as the text index and the text query both read them.

One tokenizer for both sides: a record is found by a query exactly when they
share a token.  Accents are dropped and case folded (``Müller`` finds
``muller``), and every run of letters and digits is a token, so ``x-ray``
is ``x`` and ``ray`` whichever way it is written.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class CorpusStatistics:
    """What BM25 needs to know of a corpus: its size, mean record length, and how many records hold each term.

    A node computes them over what the caller may see; a federation sums
    every node's (``combined``) and hands the sum back to each node, so a
    record gets the same score whichever node holds it.
    """

    records: int
    average_length: float
    frequencies: dict[str, int]  # term → records holding it

    def idf(self, term: str) -> float:
        # Counts cached at different moments of an ingest may disagree; a term is never in more records than exist.
        frequency = min(self.frequencies.get(term, 0), self.records)
        return math.log(1.0 + (self.records - frequency + 0.5) / (frequency + 0.5))

    def to_json(self) -> dict:
        return {"records": self.records, "averageLength": self.average_length, "frequencies": dict(self.frequencies)}

    @classmethod
    def from_json(cls, raw) -> CorpusStatistics:
        """Read the wire form; ValueError names what is wrong."""
        if not isinstance(raw, dict) or set(raw) != {"records", "averageLength", "frequencies"}:
            raise ValueError("expected an object with exactly records, averageLength and frequencies")
        records, average, frequencies = raw["records"], raw["averageLength"], raw["frequencies"]
        if not _is_count(records):
            raise ValueError("records must be a whole number ≥ 0")
        if isinstance(average, bool) or not isinstance(average, int | float) or not 0 <= average < 1e12:
            raise ValueError("averageLength must be a number ≥ 0")
        if not isinstance(frequencies, dict) or len(frequencies) > 256:
            raise ValueError("frequencies must be an object of at most 256 terms")
        for term, frequency in frequencies.items():
            if not _is_count(frequency):
                raise ValueError(f"frequencies.{term} must be a whole number ≥ 0")
        return cls(records, float(average), dict(frequencies))

    @classmethod
    def combined(cls, parts: Iterable[CorpusStatistics]) -> CorpusStatistics:
        """The statistics of the union of disjoint corpora."""
        parts = list(parts)
        records = sum(part.records for part in parts)
        length = sum(part.records * part.average_length for part in parts)
        frequencies: dict[str, int] = {}
        for part in parts:
            for term, frequency in part.frequencies.items():
                frequencies[term] = frequencies.get(term, 0) + frequency
        return cls(records, length / records if records else 0.0, frequencies)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63
