"""Compile the filter tree (``query.filter``) to SQLAlchemy expressions over the catalogue tables.

Every name a filter uses is looked up here and mapped to a column; nothing
from a request is ever pasted into SQL text, and values travel as bound
parameters.  Relations become correlated EXISTS subqueries, which gives the
PaNOSC inner-join rule for free: a parent whose related rows all fail the
scope is not selected, and ``limit``/``skip`` apply to what is left.

Which rows a caller may see is not decided here: the service hands in a
``Visibility`` (catalogue/policy.py) and it is applied to every dataset and
document row a query touches, at any depth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    FromClause,
    String,
    and_,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)

from pancommons.db import tables as t
from pancommons.query.filter import And, Comparison, Node, Or, Quantity, Text
from pancommons.query.regexp import Pattern
from pancommons.query.schema import ENTITIES

TABLES = {
    "Dataset": t.Dataset.__table__,
    "Document": t.Document.__table__,
    "File": t.DataFile.__table__,
    "Instrument": t.Instrument.__table__,
    "Member": t.Member.__table__,
    "Parameter": t.Parameter.__table__,
    "Person": t.Person.__table__,
    "Sample": t.Sample.__table__,
    "Technique": t.Technique.__table__,
    "Affiliation": t.Affiliation.__table__,
}

# API field → column, where the names differ.
_COLUMNS = {
    ("Dataset", "creationDate"): "creation_date",
    ("Document", "startDate"): "start_date",
    ("Document", "endDate"): "end_date",
    ("Document", "releaseDate"): "release_date",
    ("Person", "fullName"): "full_name",
    ("Person", "researcherId"): "researcher_id",
    ("Person", "firstName"): "first_name",
    ("Person", "lastName"): "last_name",
    ("Sample", "chemicalFormula"): "chemical_formula",
    ("Technique", "panetId"): "panet_id",
}

# The photon-energy/wavelength pair a quantity filter may cross (E = hc/λ): a
# wavelength asked for also finds datasets that recorded only the photon energy,
# and the other way round, but only for photons (probe not a particle).
HC = 6.62607015e-34 * 299792458.0  # J·m, exact in SI since 2019
DUAL_NAMES = {"incident_wavelength": "incident_photon_energy", "incident_photon_energy": "incident_wavelength"}
_DUAL_UNITS = {"m": "J", "J": "m"}
PARTICLE_PROBES = ("neutron", "electron", "muon", "positron", "ion")


class Visibility(Protocol):
    def datasets(self, alias: FromClause) -> ColumnElement[bool]: ...
    def documents(self, alias: FromClause) -> ColumnElement[bool]: ...
    def dataset_public(self, alias: FromClause) -> ColumnElement[bool]: ...
    def document_public(self, alias: FromClause) -> ColumnElement[bool]: ...


class Techniques(Protocol):
    """The PaNET hierarchy, as far as the compiler needs it."""

    def resolve(self, text: str) -> str | None: ...
    def descendants(self, iri: str) -> frozenset[str]: ...


@dataclass(frozen=True, slots=True)
class Link:
    """How to reach a relation's rows from a parent: the joined FROM and the column holding the parent's id."""

    build: Callable[[FromClause], tuple[FromClause, ColumnElement]]


def _via(table, child_key: str, parent_key: str) -> Link:
    """Through an association table: child JOIN assoc ON assoc.child_key = child.id; parent id in assoc.parent_key."""

    def build(child):
        association = table.__table__.alias()
        return child.join(association, association.c[child_key] == child.c.id), association.c[parent_key]

    return Link(build)


def _direct(column: str) -> Link:
    """The child row holds the parent's id."""
    return Link(lambda child: (child, child.c[column]))


def _reverse(table, column: str) -> Link:
    """The parent row holds the child's id (dataset → instrument, member → person)."""

    def build(child):
        parent = table.__table__.alias()
        return child.join(parent, parent.c[column] == child.c.id), parent.c.id

    return Link(build)


LINKS: dict[tuple[str, str], Link] = {
    ("Dataset", "documents"): _via(t.DocumentDataset, "document_id", "dataset_id"),
    ("Dataset", "techniques"): _via(t.DatasetTechnique, "technique_id", "dataset_id"),
    ("Dataset", "instrument"): _reverse(t.Dataset, "instrument_id"),
    ("Dataset", "files"): _via(t.DatasetFile, "file_id", "dataset_id"),
    ("Dataset", "parameters"): _direct("dataset_id"),
    ("Dataset", "samples"): _via(t.DatasetSample, "sample_id", "dataset_id"),
    ("Document", "datasets"): _via(t.DocumentDataset, "dataset_id", "document_id"),
    ("Document", "members"): _direct("document_id"),
    ("Document", "parameters"): _direct("document_id"),
    ("File", "dataset"): _via(t.DatasetFile, "dataset_id", "file_id"),
    ("Instrument", "datasets"): _direct("instrument_id"),
    ("Member", "document"): _reverse(t.Member, "document_id"),
    ("Member", "person"): _reverse(t.Member, "person_id"),
    ("Member", "affiliation"): _reverse(t.Member, "affiliation_id"),
    ("Parameter", "dataset"): _reverse(t.Parameter, "dataset_id"),
    ("Parameter", "document"): _reverse(t.Parameter, "document_id"),
    ("Person", "members"): _direct("person_id"),
    ("Sample", "datasets"): _via(t.DatasetSample, "dataset_id", "sample_id"),
    ("Technique", "datasets"): _via(t.DatasetTechnique, "dataset_id", "technique_id"),
    ("Affiliation", "members"): _direct("affiliation_id"),
}


def column(entity: str, alias: FromClause, name: str) -> ColumnElement:
    """The SQL expression of an API field."""
    if entity == "Person" and name == "id":
        # Imported people keep the id their catalogue gave them; others are known by row id.
        return func.coalesce(alias.c.pid, cast(alias.c.id, String))
    return alias.c[_COLUMNS.get((entity, name), name)]


class Compiler:
    def __init__(self, dialect: str, visibility: Visibility, techniques: Techniques | None, now: datetime):
        self.dialect = dialect
        self.visibility = visibility
        self.techniques = techniques
        self.now = now

    # --- rows an entity may show -------------------------------------------------------

    def visible(self, entity: str, alias: FromClause) -> ColumnElement[bool]:
        if entity == "Dataset":
            return self.visibility.datasets(alias)
        if entity == "Document":
            return self.visibility.documents(alias)
        if entity == "Member":
            # A role in a hidden proposal or dataset is itself hidden.
            return and_(
                or_(alias.c.document_id.is_(None), self._exists_visible("Document", alias.c.document_id)),
                or_(alias.c.dataset_id.is_(None), self._exists_visible("Dataset", alias.c.dataset_id)),
            )
        return true()

    def _exists_visible(self, entity: str, key: ColumnElement) -> ColumnElement[bool]:
        other = TABLES[entity].alias()
        return exists(select(literal(1)).select_from(other).where(other.c.id == key, self.visible(entity, other)))

    def selection(self, entity: str, alias: FromClause, where: Node | None, includes) -> ColumnElement[bool]:
        """Rows of ``alias`` that are visible, match ``where`` and satisfy every filtering include."""
        clauses = [self.visible(entity, alias)]
        if where is not None:
            clauses.append(self.where(entity, alias, where))
        clauses.extend(self.related_exists(entity, alias, include) for include in includes if include.filtering)
        return and_(*clauses)

    def related_exists(self, entity: str, alias: FromClause, include) -> ColumnElement[bool]:
        child = TABLES[include.entity].alias()
        joined, parent_key = LINKS[(entity, include.relation)].build(child)
        condition = self.selection(include.entity, child, include.where, include.includes)
        return exists(select(literal(1)).select_from(joined).where(parent_key == alias.c.id, condition))

    def related_rows(self, entity: str, include, parent_ids, cap: int) -> Any:
        """SELECT parent id, child row for the included relation of these parents, in order,
        the scope's skip/limit (or ``cap``) applied per parent by the database."""
        child = TABLES[include.entity].alias()
        joined, parent_key = LINKS[(entity, include.relation)].build(child)
        condition = self.selection(include.entity, child, include.where, include.includes)
        place = func.row_number().over(partition_by=parent_key, order_by=self.order(include.entity, child, include.order))
        ranked = (
            select(parent_key.label("_parent"), child, place.label("_place"))
            .select_from(joined)
            .where(parent_key.in_(parent_ids), condition)
            .subquery("ranked")
        )
        first, last = include.skip, include.skip + (include.limit or cap)
        return (
            select(ranked)
            .where(ranked.c["_place"] > first, ranked.c["_place"] <= last)
            .order_by(ranked.c["_parent"], ranked.c["_place"])
        )

    # --- where ----------------------------------------------------------------------------

    def where(self, entity: str, alias: FromClause, node: Node) -> ColumnElement[bool]:
        if isinstance(node, And):
            return self._and(entity, alias, node)
        if isinstance(node, Or):
            return or_(*(self.where(entity, alias, item) for item in node.items)) if node.items else false()
        if isinstance(node, Text):
            needle = node.value.lower()
            fields = ENTITIES[entity].text_fields
            if not fields:
                return false()
            return or_(*(self.lower(column(entity, alias, name)).contains(needle, autoescape=True) for name in fields))
        if isinstance(node, Quantity):
            return self._quantity(alias, node)
        return self._comparison(entity, alias, node)

    def _and(self, entity: str, alias: FromClause, node: And) -> ColumnElement[bool]:
        if entity == "Parameter" and any(isinstance(item, Quantity) for item in node.items):
            names = [
                item.value for item in node.items
                if isinstance(item, Comparison) and item.field == "name" and item.op == "eq" and isinstance(item.value, str)
            ]
            if len(names) == 1 and names[0] in DUAL_NAMES:
                rest = [item for item in node.items if not (isinstance(item, Comparison) and item.field == "name")]
                return self._dual(alias, names[0], rest)
        return and_(*(self.where(entity, alias, item) for item in node.items)) if node.items else true()

    def _dual(self, alias: FromClause, name: str, items) -> ColumnElement[bool]:
        """``name`` with quantities in its own unit, or its photon twin with them converted by E = hc/λ."""
        quantities = [item for item in items if isinstance(item, Quantity)]
        others = [self.where("Parameter", alias, item) for item in items if not isinstance(item, Quantity)]
        direct = and_(alias.c.name == name, *(self._quantity(alias, q) for q in quantities))
        twin_unit = _DUAL_UNITS.get(quantities[0].si_unit)
        if twin_unit is None:
            return and_(direct, *others)
        twin = and_(
            alias.c.name == DUAL_NAMES[name],
            *(self._quantity(alias, _reciprocal(q, twin_unit)) for q in quantities),
        )
        if name == "incident_photon_energy":  # a recorded wavelength is a photon's only for photon probes
            dataset = t.Dataset.__table__.alias()
            twin = and_(
                twin,
                ~exists(
                    select(literal(1)).select_from(dataset).where(
                        dataset.c.id == alias.c.dataset_id, dataset.c.probe.in_(PARTICLE_PROBES)
                    )
                ),
            )
        return and_(or_(direct, twin), *others)

    def _quantity(self, alias: FromClause, node: Quantity) -> ColumnElement[bool]:
        """Stored SI value against the query's SI operands; another dimension matches nothing.

        Equality allows a relative 1e-9: 68 °F is 293.15 K only up to the last bit of a double.
        """
        value = alias.c.si_value
        same_kind = alias.c.si_unit == node.si_unit
        if node.op is None:
            return same_kind
        if node.op in ("eq", "neq", "inq", "nin"):
            near = or_(*(value.between(*_tolerance(v)) for v in node.si_values)) if node.si_values else false()
            return and_(same_kind, not_(near) if node.op in ("neq", "nin") else near)
        operand = node.si_values if node.op == "between" else node.si_values[0]
        return and_(same_kind, _compare(value, node.op, operand))

    def _comparison(self, entity: str, alias: FromClause, node: Comparison) -> ColumnElement[bool]:
        if entity == "Technique" and node.field in ("pid", "name") and node.op in ("eq", "neq", "inq", "nin"):
            return self._technique(alias, node)
        if entity == "Parameter" and node.field == "value":
            return self._parameter_value(alias, node)
        if entity == "Document" and node.field == "keywords":
            return self._keywords(alias, node)
        if node.op in ("ilike", "nilike"):
            return self._ilike(column(entity, alias, node.field), node.op, node.value)
        if node.field == "isPublic" and entity in ("Dataset", "Document"):
            public = self.visibility.dataset_public(alias) if entity == "Dataset" else self.visibility.document_public(alias)
            return _compare_bool(public, node)
        return _compare(column(entity, alias, node.field), node.op, node.value, dialect=self.dialect)

    def _technique(self, alias: FromClause, node: Comparison) -> ColumnElement[bool]:
        """Deep: a technique matches X when it is X or anything PaNET classifies under X."""
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        matches = [self._technique_is(alias, node.field, value) for value in values if value is not None]
        anyone = or_(*matches) if matches else false()
        return not_(anyone) if node.op in ("neq", "nin") else anyone

    def _technique_is(self, alias: FromClause, field: str, value: str) -> ColumnElement[bool]:
        own = alias.c[field] == value
        iri = self.techniques.resolve(value) if self.techniques else None
        if iri is None or not _is_technique_term(iri):
            return own
        subtree = sorted(self.techniques.descendants(iri))
        # coalesce: a technique without a PaNET id is outside every subtree (false, not SQL's unknown),
        # so neq/nin keep it.
        return or_(own, func.coalesce(alias.c.panet_id, "").in_(subtree))

    def _parameter_value(self, alias: FromClause, node: Comparison) -> ColumnElement[bool]:
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        if node.value is None:
            both_null = and_(alias.c.value_number.is_(None), alias.c.value_string.is_(None))
            return both_null if node.op == "eq" else not_(both_null)
        if isinstance(node.value, Pattern) or all(isinstance(v, str) for v in values if v is not None):
            if node.op in ("ilike", "nilike"):
                return self._ilike(alias.c.value_string, node.op, node.value)
            return _compare(alias.c.value_string, node.op, node.value, dialect=self.dialect)
        if all(isinstance(v, (int, float)) for v in values):
            return _compare(alias.c.value_number, node.op, node.value, dialect=self.dialect)
        # a list mixing text, numbers and null: each kind against its own column
        strings = tuple(v for v in values if isinstance(v, str))
        numbers = tuple(v for v in values if isinstance(v, (int, float)))
        empty = and_(alias.c.value_number.is_(None), alias.c.value_string.is_(None))
        parts = [alias.c.value_string.in_(strings) if strings else false(),
                 alias.c.value_number.in_(numbers) if numbers else false()]
        if None in values:
            parts.append(empty)
        anyone = or_(*parts)
        return not_(anyone) if node.op == "nin" else anyone

    def _keywords(self, alias: FromClause, node: Comparison) -> ColumnElement[bool]:
        """A keyword condition holds when some keyword of the document satisfies it."""
        if node.value is None:
            return _compare(alias.c.keywords, node.op, None)
        if self.dialect == "sqlite":
            each = func.json_each(alias.c.keywords).table_valued("value").alias()
            element = each.c.value
        else:
            each = func.json_array_elements_text(alias.c.keywords).table_valued("value").alias()
            element = each.c.value
        positive = {"neq": "eq", "nin": "inq"}.get(node.op, node.op)
        holds = exists(select(literal(1)).select_from(each).where(_compare(element, positive, node.value, dialect=self.dialect)))
        return not_(holds) if node.op in ("neq", "nin") else holds

    def lower(self, expression: ColumnElement) -> ColumnElement:
        """Lower case beyond ASCII on both databases (SQLite's lower() and PostgreSQL's under
        the byte-wise "C" collation of titles fold ASCII only)."""
        if self.dialect == "sqlite":
            return func.unicode_lower(expression)
        return func.lower(expression.collate("default"))

    def _ilike(self, expression: ColumnElement, op: str, pattern: str) -> ColumnElement[bool]:
        match = self.lower(expression).like(pattern.lower(), escape="\\")
        return or_(not_(match), expression.is_(None)) if op == "nilike" else match

    # --- order -----------------------------------------------------------------------------

    def order(self, entity: str, alias: FromClause, order) -> list:
        """ORDER BY for the requested order (or the entity's default), ending in the key for a stable page."""
        model = ENTITIES[entity]
        requested = list(order) or [(name, False) for name in model.order[:1]]
        clauses = []
        for name, descending in requested:
            expression = column(entity, alias, name)
            if model.fields.get(name) == "string" and name not in ("pid", "id"):
                expression = func.lower(expression)
            clauses.append((expression.desc() if descending else expression.asc()).nulls_last())
        key = "pid" if "pid" in model.fields else "id"
        clauses.append(alias.c[key].asc())
        return clauses


def _tolerance(value: float) -> tuple[float, float]:
    spread = abs(value) * 1e-9 or 1e-300
    return value - spread, value + spread


def _is_technique_term(iri: str) -> bool:
    """PaNET's techniques are PaNET0…; its specifier classes (the probe 'x-ray', PaNET2020…) are not
    techniques, and a name that resolves to one must not widen a technique filter."""
    return iri.rsplit("/", 1)[-1].startswith("PaNET0")


def _reciprocal(node: Quantity, twin_unit: str) -> Quantity:
    """The same condition on the photon twin: x ↦ hc/x reverses order, so gt becomes lt."""
    flipped = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte"}.get(node.op or "", node.op)
    values = tuple(HC / value if value else float("inf") for value in node.si_values)
    if node.op == "between":
        values = (values[1], values[0])
    return Quantity(flipped, values, twin_unit, node.unit)


def _compare(expression: ColumnElement, op: str, value: Any, dialect: str = "") -> ColumnElement[bool]:
    if op == "eq":
        return expression.is_(None) if value is None else expression == value
    if op == "neq":
        # LoopBack's neq keeps rows where the field is null; SQL's <> would drop them.
        return expression.is_not(None) if value is None else or_(expression != value, expression.is_(None))
    if op == "gt":
        return expression > value
    if op == "gte":
        return expression >= value
    if op == "lt":
        return expression < value
    if op == "lte":
        return expression <= value
    if op == "between":
        return expression.between(value[0], value[1])
    if op == "inq":
        present = [v for v in value if v is not None]
        clause = expression.in_(present) if present else false()
        return or_(clause, expression.is_(None)) if None in value else clause
    if op == "nin":
        present = [v for v in value if v is not None]
        clause = or_(expression.not_in(present), expression.is_(None)) if present else true()
        return and_(clause, expression.is_not(None)) if None in value else clause
    if op == "like":
        return expression.like(value, escape="\\")
    if op == "nlike":
        return or_(not_(expression.like(value, escape="\\")), expression.is_(None))
    if op == "ilike":
        return func.lower(expression).like(func.lower(value), escape="\\")
    if op == "nilike":
        return or_(not_(func.lower(expression).like(func.lower(value), escape="\\")), expression.is_(None))
    if op == "regexp":
        return _regexp(expression, value, dialect)
    raise ValueError(f"operator {op!r} reached the compiler unchecked")  # the parser refuses unknown ones


def _compare_bool(expression: ColumnElement[bool], node: Comparison) -> ColumnElement[bool]:
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    wanted = [bool(v) for v in values if v is not None]
    matches = or_(*((expression if v else not_(expression)) for v in wanted)) if wanted else false()
    return not_(matches) if node.op in ("neq", "nin") else matches


def _regexp(expression: ColumnElement, pattern: Pattern, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return expression.op("~*" if pattern.ignore_case else "~")(pattern.source)
    # SQLite: the REGEXP function the engine registers (db/engine.py); the flag travels in the pattern.
    source = ("(?i)" if pattern.ignore_case else "") + pattern.source
    return func.regexp(source, expression) == 1


__all__ = ["LINKS", "TABLES", "Compiler", "Visibility", "column"]
