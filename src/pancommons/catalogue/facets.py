"""Facets: how many of the datasets a filter selects fall in each facility,
instrument, technique, year and sample formula — the portal's filter panel.

Counts are of datasets the caller may see (the same selection as a list or
a count).  Techniques are rolled up the PaNET hierarchy: a dataset counts
once under every term its techniques fall under, so "x-ray diffraction"
counts powder and single-crystal datasets together, each dataset once.

The panel of the whole catalogue — what a portal shows before any filter —
comes from the catalogue's summary (``Catalogue.whole_catalogue``): counting
a million datasets takes seconds, however it is written, and no request
waits for it after start-up.  A filtered panel is counted, and reused for a
few seconds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from pancommons.catalogue import policy
from pancommons.catalogue.search import Catalogue
from pancommons.catalogue.tally import Tally, tally
from pancommons.db import tables as t
from pancommons.db.compile import TABLES
from pancommons.db.text_search import matching_ids
from pancommons.query.filter import Filter
from pancommons.query.text import query_terms

MAX_VALUES = 200  # per facet; the long tail is summed in "other"


def facets(catalogue: Catalogue, query: Filter, caller: policy.Caller = policy.ANONYMOUS) -> dict[str, Any]:
    if query.where is None and not any(include.filtering for include in query.includes) and not query.query:
        found = catalogue.whole_catalogue(caller)
    else:
        # A portal asks for the same panel on every page view: reuse it for a few seconds.
        key = ("facets", caller.cache_key, query.where, query.includes, query.query)
        found = catalogue.reused(key, lambda: _count(catalogue, query, caller))
    if found is None:
        return _empty()
    with catalogue.engine.connect() as connection:
        return _render(connection, catalogue, found)


def _count(catalogue: Catalogue, query: Filter, caller: policy.Caller) -> Tally | None:
    compiler = catalogue.compiler(caller)
    datasets = TABLES["Dataset"]
    condition = compiler.selection("Dataset", datasets, query.where, query.includes)
    if query.query:
        terms = query_terms(query.query)
        if not terms:
            return None
        condition = condition & datasets.c.id.in_(matching_ids(catalogue.dialect, "Dataset", terms))
    with catalogue.engine.connect() as connection:
        return tally(connection, catalogue.dialect, condition)


def _empty() -> dict[str, Any]:
    return {"total": 0, "facility": [], "instrument": [], "technique": [], "year": [], "sampleFormula": []}


def _render(connection, catalogue: Catalogue, found: Tally) -> dict[str, Any]:
    named = {
        row.id: row
        for row in connection.execute(
            select(t.Instrument.id, t.Instrument.pid, t.Instrument.name, t.Instrument.facility)
            .where(t.Instrument.id.in_([key for key, count in found.instrument.items() if key is not None and count]))
        )
    }
    return {
        "total": found.total,
        "facility": _values((value, count) for value, count in found.facility.items() if value and count),
        "instrument": sorted(
            ({"value": named[key].pid, "label": named[key].name, "facility": named[key].facility, "count": count}
             for key, count in found.instrument.items() if key in named and count),
            key=lambda item: (-item["count"], item["label"].lower(), item["value"]),
        )[:MAX_VALUES],
        "technique": _techniques(connection, catalogue, found.techniques),
        "year": sorted(({"value": int(value), "count": count} for value, count in found.year.items()
                        if value is not None and count),
                       key=lambda item: -item["value"]),
        "sampleFormula": _values((value, count) for value, count in found.formula.items() if count),
    }


def _values(pairs) -> list[dict]:
    items = sorted(({"value": value, "count": count} for value, count in pairs), key=lambda i: (-i["count"], str(i["value"])))
    return items[:MAX_VALUES]


def _techniques(connection, catalogue: Catalogue, sets: Counter) -> list[dict]:
    """Datasets per technique, rolled up the hierarchy: a set of techniques adds its count once
    to every term any of its techniques falls under."""
    ids = {technique for combination, count in sets.items() if count for technique in combination}
    if not ids:
        return []
    known = {
        row.id: row
        for row in connection.execute(
            select(t.Technique.id, t.Technique.pid, t.Technique.name, t.Technique.panet_id).where(t.Technique.id.in_(ids))
        )
    }
    ontology = catalogue.techniques
    counts: Counter[str] = Counter()
    labels: dict[str, str] = {}
    for combination, count in sets.items():
        if not count:
            continue
        terms: set[str] = set()
        for technique in combination:
            row = known.get(technique)
            if row is None:  # removed since it was counted
                continue
            key = row.panet_id or row.pid
            labels.setdefault(key, row.name)
            terms.add(key)
            if ontology is not None and row.panet_id:
                terms |= set(ontology.ancestors(row.panet_id))
        for term in terms:
            counts[term] += count
    items = []
    for term, count in counts.items():
        label = (ontology.label(term) if ontology is not None else None) or labels.get(term, term)
        item = {"value": term, "label": label, "count": count}
        if ontology is not None and term in ontology.terms:
            item["parents"] = sorted(ontology.parents(term))
        items.append(item)
    items.sort(key=lambda item: (-item["count"], item["label"].lower()))
    return items
