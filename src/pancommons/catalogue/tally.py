"""Datasets counted by facility, instrument, year, technique set and sample formula: what facets
and counts are made of.

A ``Tally`` of two disjoint selections is the sum of their tallies, which is
what lets the whole catalogue be served from a summary: the datasets flagged
public (counted once, again only after a write) plus the few whose embargo
has passed since (counted on every request), see ``Catalogue.whole_catalogue``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Integer, cast, extract, func, select

from pancommons.db import tables as t
from pancommons.db.compile import TABLES


@dataclass
class Tally:
    total: int = 0
    facility: Counter = field(default_factory=Counter)
    instrument: Counter = field(default_factory=Counter)  # instrument id → datasets
    year: Counter = field(default_factory=Counter)
    techniques: Counter = field(default_factory=Counter)  # frozenset of technique ids → datasets
    formula: Counter = field(default_factory=Counter)  # chemical formula → datasets

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.total + other.total,
            self.facility + other.facility,
            self.instrument + other.instrument,
            self.year + other.year,
            self.techniques + other.techniques,
            self.formula + other.formula,
        )


def tally(connection, dialect: str, condition: ColumnElement[bool]) -> Tally:
    """Count the datasets ``condition`` selects."""
    datasets = TABLES["Dataset"]
    found = Tally()
    # One pass over the selection gives the total and three facets: few groups, one scan.
    year_of = _year(dialect, datasets)
    for site, instrument_id, when, count in connection.execute(
        select(datasets.c.facility, datasets.c.instrument_id, year_of, func.count())
        .where(condition)
        .group_by(datasets.c.facility, datasets.c.instrument_id, year_of)
    ):
        found.total += count
        found.facility[site] += count
        found.instrument[instrument_id] += count
        found.year[when] += count
    if not found.total:
        return found
    selected = select(datasets.c.id).where(condition)
    found.formula.update(dict(connection.execute(
        select(t.Sample.chemical_formula, func.count(func.distinct(t.DatasetSample.dataset_id)))
        .join(t.DatasetSample, t.DatasetSample.sample_id == t.Sample.id)
        .where(t.DatasetSample.dataset_id.in_(selected), t.Sample.chemical_formula.is_not(None))
        .group_by(t.Sample.chemical_formula)
    ).all()))
    found.techniques.update(_technique_sets(connection, dialect, selected))
    return found


def _year(dialect: str, datasets):
    if dialect == "sqlite":  # stored as UTC text: the year is its first four characters
        return cast(func.substr(datasets.c.creation_date, 1, 4), Integer).label("year")
    return cast(extract("year", func.timezone("UTC", datasets.c.creation_date)), Integer).label("year")


def _technique_sets(connection, dialect: str, selected) -> dict[frozenset[int], int]:
    """Datasets per set of techniques: most datasets carry one, so there are few sets, and a
    dataset is counted once under a term however many of its techniques fall under it."""
    separator = ","
    if dialect == "sqlite":
        aggregated = func.group_concat(t.DatasetTechnique.technique_id, separator)
    else:
        aggregated = func.string_agg(cast(t.DatasetTechnique.technique_id, t.String), separator)
    per_dataset = (
        select(aggregated.label("techniques"))
        .where(t.DatasetTechnique.dataset_id.in_(selected))
        .group_by(t.DatasetTechnique.dataset_id)
        .subquery()
    )
    sets: Counter = Counter()
    for combination, count in connection.execute(
        select(per_dataset.c.techniques, func.count()).group_by(per_dataset.c.techniques)
    ):
        sets[frozenset(int(part) for part in combination.split(separator))] += count
    return sets
