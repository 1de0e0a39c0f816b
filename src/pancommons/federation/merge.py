"""Merging providers' answers: the shapes they may answer in, the global order, sums.

The merge order is the order each of our nodes sorts in (db/compile.py
``Compiler.order``): with a text query by score descending first; then the
requested order or the entity's default (title, name for instruments),
strings case-insensitive, nulls last; then pid.  The provider's position in
the configuration breaks the last ties, so the merged list is the same on
every request.  Because every provider sorts its own records the same way,
the first ``skip + limit`` records of the merged list are among the first
``skip + limit`` of each provider: that is all a page needs.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from pancommons.catalogue.render import REQUIRED
from pancommons.federation.fanout import ShapeError
from pancommons.query.filter import Filter
from pancommons.query.schema import ENTITIES, FieldType

# --- the shapes providers answer in (other implementations included) ----------------------


def records(raw: Any, at_most: int | None = None) -> list[dict]:
    """A list answer (its first ``at_most`` records). Ids that are numbers (some implementations) become strings."""
    if not isinstance(raw, list):
        raise ShapeError(f"expected a list of records, got {type(raw).__name__}")
    found = []
    seen = set()
    for position, item in enumerate(raw[:at_most]):
        pid = item.get("pid") if item.__class__ is dict else None
        if pid.__class__ is not str or not pid:  # the common case checked inline: this runs for every record
            item = one_record(item, f"item {position}")
            pid = item["pid"]
        score = item.get("score")
        if score is not None and score.__class__ is not float and score.__class__ is not int:
            raise ShapeError(f"item {position}: score {str(score)[:40]!r} is not a number")
        if pid not in seen:  # a provider that ignores skip must not repeat a record
            seen.add(pid)
            found.append(item)
    return found


def plain_list(raw: Any) -> list[dict]:
    """A list of objects with no pid of their own (a dataset's files)."""
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ShapeError("expected a list of objects")
    return raw


def one_record(raw: Any, place: str = "answer") -> dict:
    if not isinstance(raw, dict):
        raise ShapeError(f"{place}: expected a record object, got {type(raw).__name__}")
    pid = raw.get("pid", raw.get("id"))
    if isinstance(pid, bool) or not isinstance(pid, str | int) or pid == "":
        raise ShapeError(f"{place}: a record without a pid")
    raw["pid"] = str(pid)
    return raw


def count(raw: Any) -> int:
    """``{"count": n}``, or a bare ``n`` as some implementations answer."""
    value = raw.get("count") if isinstance(raw, dict) else raw
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ShapeError(f"expected a count, got {str(raw)[:80]}")
    return value


FACETS = ("facility", "instrument", "technique", "year", "sampleFormula")


def facets(raw: Any) -> dict:
    if not isinstance(raw, dict) or not isinstance(raw.get("total"), int):
        raise ShapeError("expected facets with a total")
    for name in FACETS:
        values = raw.get(name, [])
        if not isinstance(values, list) or not all(isinstance(v, dict) and isinstance(v.get("count"), int) for v in values):
            raise ShapeError(f"facet {name}: expected a list of values with counts")
    return raw


# --- order ---------------------------------------------------------------------------------


class _Descending:
    """A sort key element that sorts in reverse."""

    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key

    def __lt__(self, other: _Descending) -> bool:
        return other.key < self.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.key == other.key


# Our nodes order by SQL lower(), which on both databases (SQLite; PostgreSQL under COLLATE "C")
# folds ASCII letters only: so does the merge, or pages would not line up.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


_NULL = (1,)


def _comparable(value: Any, kind: FieldType | None) -> tuple:
    """(0, type rank, value), or _NULL: nulls last either way, values of different JSON types never compared."""
    if value is None:
        return _NULL
    if value.__class__ is str:
        if kind == FieldType.STRING:
            # An ASCII string's lower() folds ASCII only; translate() is the slow path for the rest.
            return (0, 1, value.lower() if value.isascii() else value.translate(_ASCII_LOWER))
        if kind == FieldType.DATE:
            try:
                moment = datetime.fromisoformat(value)
                return (0, 0, (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
            except ValueError:
                pass
        return (0, 1, value)
    if isinstance(value, bool | int | float):
        return (0, 0, float(value))
    return (0, 2, str(value))


def order_of(query: Filter) -> list[tuple[str, bool]]:
    model = ENTITIES[query.entity]
    return list(query.order) or [(name, False) for name in model.order[:1]]


def sort_key(query: Filter, provider_rank: dict[str, int]) -> Callable[[dict], tuple]:
    """The merge order as a key function (computed for every record of every provider: kept lean)."""
    fields = ENTITIES[query.entity].fields
    clauses = [(name, descending, None if name in ("pid", "id") else fields.get(name)) for name, descending in order_of(query)]
    scored = bool(query.query)

    def key(record: dict) -> tuple:
        parts: list = [-float(record.get("score") or 0)] if scored else []
        for name, descending, kind in clauses:
            value = _comparable(record.get(name), kind)
            parts.append((0, _Descending(value)) if descending and value is not _NULL else value)
        parts.append(record["pid"])
        parts.append(provider_rank.get(record.get("provider"), 0))
        return tuple(parts)

    return key


def merged_page(query: Filter, pages: Iterable[list[dict]], provider_rank: dict[str, int]) -> list[dict]:
    """The page at skip/limit of the merge of the providers' lists (each in its provider's order).

    A k-way merge looks only at the head of each list: the first n records
    it gives depend only on the first n of each provider, so pages cut from
    windows of any size line up, even for a provider that sorts a little
    differently from ours; and only the records it passes get a key.
    """
    merged = heapq.merge(*pages, key=sort_key(query, provider_rank))
    return list(islice(merged, query.skip, query.skip + query.limit))


# --- what is forwarded ------------------------------------------------------------------------


def forwarded_filter(raw: dict | None, query: Filter) -> tuple[dict, set[str]]:
    """The filter a provider is asked with, less skip/limit (the federation pages), and the
    fields added so the federation can sort (to be removed again from the answer)."""
    forwarded = {key: value for key, value in (raw or {}).items() if key not in ("skip", "offset", "limit")}
    added: set[str] = set()
    if query.fields is not None:
        needed = {name for name, _ in order_of(query)} | {"pid"} | ({"score"} if query.query else set())
        added = needed - set(query.fields) - set(REQUIRED[query.entity])
        forwarded["fields"] = sorted(set(query.fields) | needed)
    return forwarded, added


# --- sums ------------------------------------------------------------------------------------


def summed_facets(answers: list[dict]) -> dict:
    """Facet counts of several providers added up, value by value (each provider cuts its long tail)."""
    total = sum(answer["total"] for answer in answers)
    merged: dict[str, Any] = {"total": total}
    for name in FACETS:
        counts: Counter = Counter()
        shown: dict = {}
        for answer in answers:
            for item in answer.get(name, []):
                identity = (item.get("value"), item.get("facility")) if name == "instrument" else item.get("value")
                counts[_hashable(identity)] += item["count"]
                shown.setdefault(_hashable(identity), {key: v for key, v in item.items() if key != "count"})
        items = [dict(shown[identity], count=number) for identity, number in counts.items()]
        if name == "year":
            items.sort(key=lambda item: -(item.get("value") or 0))
        else:
            items.sort(key=lambda item: (-item["count"], str(item.get("label", item.get("value"))).lower()))
        merged[name] = items
    return merged


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | tuple | type(None)) else repr(value)
