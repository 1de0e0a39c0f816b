"""Facets: how many of the datasets a filter selects fall in each facility,
instrument, technique, year and sample formula — the portal's filter panel.

Counts are of datasets the caller may see (the same selection as a list or
a count).  Techniques are rolled up the PaNET hierarchy: a dataset counts
once under every term its techniques fall under, so "x-ray diffraction"
counts powder and single-crystal datasets together, each dataset once.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Integer, cast, extract, func, select

from pancommons.catalogue import policy
from pancommons.catalogue.search import Catalogue
from pancommons.db import tables as t
from pancommons.db.compile import TABLES
from pancommons.db.text_search import matching_ids
from pancommons.query.filter import Filter
from pancommons.query.text import query_terms

MAX_VALUES = 200  # per facet; the long tail is summed in "other"


def facets(catalogue: Catalogue, query: Filter, caller: policy.Caller = policy.ANONYMOUS) -> dict[str, Any]:
    """Facet counts, reused for a few seconds: a portal asks for the same panel on every page view,
    and counting a million datasets takes a scan, however it is written."""
    key = ("facets", caller.cache_key, query.where, query.includes, query.query)
    return catalogue._cached(key, lambda: _count_facets(catalogue, query, caller))


def _count_facets(catalogue: Catalogue, query: Filter, caller: policy.Caller) -> dict[str, Any]:
    compiler = catalogue.compiler(caller)
    datasets = TABLES["Dataset"]
    condition = compiler.selection("Dataset", datasets, query.where, query.includes)
    if query.query:
        terms = query_terms(query.query)
        if not terms:
            return _empty()
        condition = condition & datasets.c.id.in_(matching_ids(catalogue.dialect, "Dataset", terms))
    selected = select(datasets.c.id).where(condition)
    with catalogue.engine.connect() as connection:
        # One pass over the selection gives the total and three facets: few groups, one scan.
        year_of = _year(catalogue.dialect, datasets)
        groups = connection.execute(
            select(datasets.c.facility, datasets.c.instrument_id, year_of, func.count())
            .where(condition)
            .group_by(datasets.c.facility, datasets.c.instrument_id, year_of)
        ).all()
        total = sum(count for *_, count in groups)
        facility: Counter = Counter()
        per_instrument: Counter = Counter()
        year: Counter = Counter()
        for site, instrument_id, when, count in groups:
            facility[site] += count
            per_instrument[instrument_id] += count
            year[when] += count
        named = {
            row.id: row
            for row in connection.execute(
                select(t.Instrument.id, t.Instrument.pid, t.Instrument.name, t.Instrument.facility)
                .where(t.Instrument.id.in_([key for key in per_instrument if key is not None]))
            )
        }
        instrument = [(named[key].pid, named[key].name, named[key].facility, count)
                      for key, count in per_instrument.items() if key in named]
        formula = connection.execute(
            select(t.Sample.chemical_formula, func.count(func.distinct(t.DatasetSample.dataset_id)))
            .join(t.DatasetSample, t.DatasetSample.sample_id == t.Sample.id)
            .where(t.DatasetSample.dataset_id.in_(selected), t.Sample.chemical_formula.is_not(None))
            .group_by(t.Sample.chemical_formula)
        ).all()
        techniques = _techniques(connection, catalogue, selected)
    return {
        "total": total,
        "facility": _values((value, count) for value, count in facility.items() if value),
        "instrument": sorted(
            ({"value": pid, "label": name, "facility": site, "count": count} for pid, name, site, count in instrument),
            key=lambda item: (-item["count"], item["label"].lower(), item["value"]),
        )[:MAX_VALUES],
        "technique": techniques,
        "year": sorted(({"value": int(value), "count": count} for value, count in year.items() if value is not None),
                       key=lambda item: -item["value"]),
        "sampleFormula": _values(formula),
    }


def _empty() -> dict[str, Any]:
    return {"total": 0, "facility": [], "instrument": [], "technique": [], "year": [], "sampleFormula": []}


def _values(pairs) -> list[dict]:
    items = sorted(({"value": value, "count": count} for value, count in pairs), key=lambda i: (-i["count"], str(i["value"])))
    return items[:MAX_VALUES]


def _year(dialect: str, datasets):
    if dialect == "sqlite":  # stored as UTC text: the year is its first four characters
        return cast(func.substr(datasets.c.creation_date, 1, 4), Integer).label("year")
    return cast(extract("year", func.timezone("UTC", datasets.c.creation_date)), Integer).label("year")


def _techniques(connection, catalogue: Catalogue, selected) -> list[dict]:
    """Datasets per technique, rolled up the hierarchy, each dataset counted once per term.

    Most datasets carry one technique, so the selection is grouped by its
    *set* of techniques: few groups, and a group adds its count once to
    every term any of its techniques falls under.
    """
    separator = ","
    if catalogue.dialect == "sqlite":
        aggregated = func.group_concat(t.DatasetTechnique.technique_id, separator)
    else:
        aggregated = func.string_agg(cast(t.DatasetTechnique.technique_id, t.String), separator)
    per_dataset = (
        select(aggregated.label("techniques"))
        .where(t.DatasetTechnique.dataset_id.in_(selected))
        .group_by(t.DatasetTechnique.dataset_id)
        .subquery()
    )
    groups = connection.execute(select(per_dataset.c.techniques, func.count()).group_by(per_dataset.c.techniques)).all()
    ids = {int(part) for combination, _ in groups for part in combination.split(separator)}
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
    for combination, count in groups:
        terms: set[str] = set()
        for part in set(combination.split(separator)):
            row = known[int(part)]
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
