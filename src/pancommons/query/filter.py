"""The PaNOSC filter as a typed tree, checked against the model before anything runs.

``parse_filter(entity, json)`` turns the LoopBack-style JSON of a request
into a ``Filter``; every error is a ``FilterError`` naming the offending
part (``filter.where.and[1].size.between: ...``).  The SQL compiler
(``db/compile.py``) and the portal's search form both work from this tree:
one query path for all interfaces.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pancommons import units
from pancommons.query.regexp import Pattern, UnsafePattern, parse_regexp
from pancommons.query.schema import ENTITIES, Entity, FieldType
from pancommons.query.text import CorpusStatistics

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_SKIP = 1_000_000
MAX_DEPTH = 10  # and/or nesting inside one where
MAX_INCLUDE_DEPTH = 5
MAX_NODES = 300
MAX_LIST = 1000
MAX_STRING = 1000
MAX_QUERY = 500
MAX_FILTER_BYTES = 20_000

COMPARISONS = ("eq", "neq", "gt", "gte", "lt", "lte")
OPERATORS = (*COMPARISONS, "between", "inq", "nin", "like", "nlike", "ilike", "nilike", "regexp")
_ORDERED = {FieldType.NUMBER, FieldType.DATE, FieldType.STRING, FieldType.NUMBER_OR_STRING}
_TEXTUAL = {FieldType.STRING, FieldType.NUMBER_OR_STRING}
_SORTABLE = {FieldType.STRING, FieldType.NUMBER, FieldType.DATE}


class FilterError(ValueError):
    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True, slots=True)
class Comparison:
    field: str
    op: str
    value: Any  # typed: str, float, bool, datetime, Pattern, a tuple for between/inq/nin, None for null


@dataclass(frozen=True, slots=True)
class Quantity:
    """A parameter value compared in a unit: the operands converted to SI (None: any value)."""

    op: str | None
    si_values: tuple[float, ...]
    si_unit: str
    unit: str


@dataclass(frozen=True, slots=True)
class Text:
    value: str


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


Node = Comparison | Quantity | Text | And | Or


@dataclass(frozen=True, slots=True)
class Include:
    relation: str
    entity: str
    where: Node | None = None
    includes: tuple[Include, ...] = ()
    limit: int | None = None
    skip: int = 0
    fields: tuple[str, ...] | None = None
    order: tuple[tuple[str, bool], ...] = ()

    @property
    def filtering(self) -> bool:
        """An include with a where at any depth is an inner join: parents without a match drop out."""
        return self.where is not None or any(child.filtering for child in self.includes)

    @property
    def units(self) -> tuple[str, ...]:
        """The units the scope asks parameters in; each matching parameter is shown in the one of its kind."""
        return tuple(dict.fromkeys(_units_in(self.where)))


@dataclass(frozen=True, slots=True)
class Filter:
    entity: str
    where: Node | None = None
    includes: tuple[Include, ...] = ()
    limit: int = DEFAULT_LIMIT
    skip: int = 0
    fields: tuple[str, ...] | None = None
    order: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    query: str | None = None


def _units_in(node: Node | None) -> list[str]:
    if isinstance(node, Quantity):
        return [node.unit]
    if isinstance(node, (And, Or)):
        return [unit for item in node.items for unit in _units_in(item)]
    return []


# --- entry points -------------------------------------------------------------------------


def load_json(text: str | None, argument: str) -> Any:
    """The JSON of a query-string argument, or a FilterError naming the argument."""
    if text is None or text.strip() == "":
        return None
    if len(text) > MAX_FILTER_BYTES:
        raise FilterError(argument, f"longer than {MAX_FILTER_BYTES} characters")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise FilterError(argument, f"not valid JSON ({error.msg} at character {error.pos})") from None
    except (RecursionError, ValueError) as error:  # arrays nested a thousand deep; integers of 5,000 digits
        raise FilterError(argument, f"not acceptable JSON ({str(error).split(';')[0][:120]})") from None


def parse_corpus_argument(raw: str | None) -> CorpusStatistics | None:
    """The ``corpus`` argument: text statistics to score with (see CorpusStatistics), or None."""
    if raw is None:
        return None
    decoded = load_json(raw, "corpus")
    try:
        return CorpusStatistics.from_json(decoded)
    except ValueError as error:
        raise FilterError("corpus", str(error)) from None


def parse_facet_arguments(where: str | None, filter: str | None, query: str | None) -> Filter:
    """The selection facets count, from a where clause or a whole filter (its where, include and query)."""
    if where is not None and filter is not None:
        raise FilterError("where", "give either where or filter, not both")
    raw = load_json(filter, "filter") if filter is not None else {"where": load_json(where, "where")}
    if isinstance(raw, dict) and raw.get("where") is None:
        raw.pop("where", None)
    return parse_filter("Dataset", raw, query=query)


def parse_filter(entity: str, raw: Any, *, query: str | None = None, include_only: bool = False) -> Filter:
    """A checked Filter for ``entity`` from the decoded JSON of ``filter`` (None: no filter)."""
    budget = _Budget()
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise FilterError("filter", f"must be a JSON object, not {_kind(raw)}")
    allowed = {"include"} if include_only else {"where", "include", "limit", "skip", "offset", "fields", "order", "query"}
    for key in raw:
        if key not in allowed:
            raise FilterError(f"filter.{key}", f"unknown filter key; expected one of {', '.join(sorted(allowed))}")
    model = ENTITIES[entity]
    text = raw.get("query", query)
    if "query" in raw and query is not None and raw["query"] != query:
        raise FilterError("query", "given both as ?query= and inside the filter, differently")
    return Filter(
        entity=entity,
        where=parse_where(model, raw.get("where"), "filter.where", budget),
        includes=_includes(model, raw.get("include"), "filter.include", budget, depth=1),
        limit=_count(raw.get("limit"), "filter.limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        skip=_count(raw.get("skip", raw.get("offset")), "filter.skip", 0, 0, MAX_SKIP),
        fields=_fields(model, raw.get("fields"), "filter.fields"),
        order=_order(model, raw.get("order"), "filter.order"),
        query=_query(text),
    )


def parse_where_argument(entity: str, raw: Any) -> Node | None:
    """The ``where`` argument of the count endpoints."""
    return parse_where(ENTITIES[entity], raw, "where", _Budget())


# --- where --------------------------------------------------------------------------------


@dataclass
class _Budget:
    nodes: int = 0

    def spend(self, where: str) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FilterError(where, f"filter has more than {MAX_NODES} conditions")


def parse_where(model: Entity, raw: Any, where: str, budget: _Budget, depth: int = 1) -> Node | None:
    if raw is None:
        return None
    if depth > MAX_DEPTH:
        raise FilterError(where, f"nested deeper than {MAX_DEPTH} levels")
    if not isinstance(raw, dict):
        raise FilterError(where, f"must be a JSON object, not {_kind(raw)}")
    items: list[Node] = []
    for key, value in raw.items():
        budget.spend(where)
        place = f"{where}.{key}"
        if key in ("and", "or"):
            if not isinstance(value, list) or not value:
                raise FilterError(place, "must be a non-empty list of conditions")
            parts = []
            for index, item in enumerate(value):
                part = parse_where(model, item, f"{place}[{index}]", budget, depth + 1)
                if part is not None:
                    parts.append(part)
            if not parts:  # {"or": [{}]}: an empty condition holds for every record, as in LoopBack
                continue
            node: Node = And(tuple(parts)) if key == "and" else Or(tuple(parts))
            items.append(_with_units(model, node, place) if key == "and" else node)
        elif key == "text":
            if not isinstance(value, str):
                raise FilterError(place, f"must be a string, not {_kind(value)}")
            items.append(Text(_bounded(value, place)))
        elif key in model.fields:
            items.extend(_conditions(model, key, value, place))
        elif key in model.relations:
            raise FilterError(place, f"{key!r} is a relation of {model.name}: filter it with include and scope.where")
        else:
            raise FilterError(place, f"unknown field {key!r} of {model.name}; known: {', '.join(model.fields)}, text")
    if not items:
        return None
    node = items[0] if len(items) == 1 else And(tuple(items))
    return _with_units(model, node, where) if isinstance(node, And) else node


def _conditions(model: Entity, name: str, value: Any, place: str) -> list[Node]:
    kind = model.fields[name]
    if isinstance(value, dict):
        if not value:
            raise FilterError(place, "empty operator object")
        out = []
        for op, operand in value.items():
            if op not in OPERATORS:
                raise FilterError(f"{place}.{op}", f"unknown operator {op!r}; known: {', '.join(OPERATORS)}")
            out.append(Comparison(name, op, _operand(kind, op, operand, f"{place}.{op}")))
        return out
    return [Comparison(name, "eq", _operand(kind, "eq", value, place))]


def _operand(kind: FieldType, op: str, value: Any, place: str) -> Any:
    if op == "between":
        if kind not in _ORDERED:
            raise FilterError(place, f"between does not apply to a {kind} field")
        if not isinstance(value, list) or len(value) != 2:
            raise FilterError(place, "between needs a list of exactly two values [low, high]")
        low, high = (_typed(kind, item, f"{place}[{index}]") for index, item in enumerate(value))
        if low is None or high is None:
            raise FilterError(place, "between needs two values, not null")
        if isinstance(low, str) != isinstance(high, str):  # 1 and 1.5 are both numbers (JSON clients write 1.0 as 1)
            raise FilterError(place, "between needs two values of the same type")
        return (low, high)
    if op in ("inq", "nin"):
        if not isinstance(value, list):
            raise FilterError(place, f"{op} needs a list of values")
        if len(value) > MAX_LIST:
            raise FilterError(place, f"{op} accepts at most {MAX_LIST} values")
        return tuple(_typed(kind, item, f"{place}[{index}]") for index, item in enumerate(value))
    if op in ("like", "nlike", "ilike", "nilike", "regexp"):
        if kind not in _TEXTUAL:
            raise FilterError(place, f"{op} applies to text fields, not a {kind} field")
        if not isinstance(value, str):
            raise FilterError(place, f"{op} needs a string pattern, not {_kind(value)}")
        if op == "regexp":
            try:
                return parse_regexp(value)
            except UnsafePattern as error:
                raise FilterError(place, str(error)) from None
        trailing = len(value) - len(value.rstrip("\\"))
        if trailing % 2:
            raise FilterError(place, "pattern ends in an unescaped \\ (write \\\\ for a backslash)")
        return _bounded(value, place)
    if op in ("gt", "gte", "lt", "lte"):
        if kind not in _ORDERED:
            raise FilterError(place, f"{op} does not apply to a {kind} field")
        if value is None:
            raise FilterError(place, f"{op} needs a value, not null")
    return _typed(kind, value, place)


def _typed(kind: FieldType, value: Any, place: str) -> Any:
    if value is None:
        return None
    if kind in (FieldType.STRING, FieldType.STRING_LIST):
        if not isinstance(value, str):
            raise FilterError(place, f"expected a string, not {_kind(value)}")
        return _bounded(value, place)
    if kind == FieldType.NUMBER:
        return _number(value, place)
    if kind == FieldType.BOOLEAN:
        if not isinstance(value, bool):
            raise FilterError(place, f"expected true or false, not {_kind(value)}")
        return value
    if kind == FieldType.DATE:
        if not isinstance(value, str):
            raise FilterError(place, f"expected an ISO 8601 date-time string, not {_kind(value)}")
        try:
            moment = datetime.fromisoformat(value.strip())
            moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        except ValueError:
            raise FilterError(place, f"{value!r} is not an ISO 8601 date-time") from None
        except OverflowError:
            raise FilterError(place, f"{value!r} is outside the years 1–9999 in UTC") from None
        return moment
    if isinstance(value, str):  # NUMBER_OR_STRING
        return _bounded(value, place)
    return _number(value, place)


def _number(value: Any, place: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FilterError(place, f"expected a number, not {_kind(value)}")
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:  # what a 64-bit column holds
            raise FilterError(place, "integer out of range (64-bit)")
        return value
    if not math.isfinite(value) or abs(value) > 1e300:
        raise FilterError(place, "expected a finite number")
    return value


def _bounded(text: str, place: str) -> str:
    if len(text) > MAX_STRING:
        raise FilterError(place, f"string longer than {MAX_STRING} characters")
    if "\x00" in text:
        raise FilterError(place, "string contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise FilterError(place, "string is not valid Unicode (a lone surrogate)") from None
    return text


# --- parameters with units ----------------------------------------------------------------


def _with_units(model: Entity, node: And, place: str) -> And:
    """In a Parameter where, ``{"unit": U}`` makes the value conditions of its ``and`` quantities in U.

    ``{"and": [{"name": "x"}, {"value": {"lt": 80}}, {"unit": "celsius"}]}``
    compares the stored SI value with 80 °C in kelvin, so a parameter
    recorded in K, °C or °F matches alike.  The unit reaches value
    conditions nested in ``or`` groups of the same ``and`` too, and may sit
    in a nested ``and`` (``{"name": "x", "unit": "K"}`` beside ``{"value": …}``).
    """
    if model.name != "Parameter":
        return node
    items = _flatten(node)
    written = _unit_of(items, place)
    if written is None:
        return And(tuple(items))
    try:
        scale, offset, si_unit = units.si_conversion(written)
    except units.UnknownUnit:
        raise FilterError(f"{place}.unit", f"unknown unit {written!r}") from None
    except units.IncompatibleUnit as error:
        raise FilterError(f"{place}.unit", str(error)) from None

    def convert(item: Node) -> Node:
        if isinstance(item, Comparison) and item.field == "value" and _numeric(item.value):
            values = item.value if isinstance(item.value, tuple) else (item.value,)
            return Quantity(item.op, tuple(v * scale + offset for v in values), si_unit, written)
        if isinstance(item, Or):
            return Or(tuple(convert(part) for part in item.items))
        if isinstance(item, And):
            return And(tuple(convert(part) for part in item.items))
        return item

    kept = [
        convert(item) for item in items
        if not (isinstance(item, Comparison) and item.field == "unit") and not (isinstance(item, Quantity) and item.op is None)
    ]
    if not any(_holds_quantity(item) for item in kept):
        kept.append(Quantity(None, (), si_unit, written))  # a unit alone: values of that dimension
    return And(tuple(kept))


def _flatten(node: And) -> list[Node]:
    """(a and (b and c)) is (a and b and c): a unit written beside the name still meets the value."""
    out: list[Node] = []
    for item in node.items:
        out.extend(_flatten(item) if isinstance(item, And) else [item])
    return out


def _unit_of(items: list[Node], place: str) -> str | None:
    written = {
        item.value for item in items
        if isinstance(item, Comparison) and item.field == "unit" and item.op == "eq" and isinstance(item.value, str)
        and item.value.strip()
    } | {item.unit for item in items if isinstance(item, Quantity) and item.op is None}
    if len(written) > 1:
        raise FilterError(f"{place}.unit", f"different units in one condition: {', '.join(sorted(written))}")
    return written.pop() if written else None


def _holds_quantity(node: Node) -> bool:
    if isinstance(node, Quantity):
        return True
    return isinstance(node, (And, Or)) and any(_holds_quantity(item) for item in node.items)


def _numeric(value: Any) -> bool:
    values = value if isinstance(value, tuple) else (value,)
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


# --- include, fields, order, limits -------------------------------------------------------


def _includes(model: Entity, raw: Any, place: str, budget: _Budget, depth: int) -> tuple[Include, ...]:
    if raw is None:
        return ()
    if depth > MAX_INCLUDE_DEPTH:
        raise FilterError(place, f"includes nested deeper than {MAX_INCLUDE_DEPTH} levels")
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for index, item in enumerate(items):
        spot = f"{place}[{index}]" if isinstance(raw, list) else place
        budget.spend(spot)
        if isinstance(item, str):
            out.append(Include(_relation(model, item, spot), model.relations[item].target))
            continue
        if not isinstance(item, dict) or "relation" not in item:
            raise FilterError(spot, 'expected a relation name or {"relation": ..., "scope": {...}}')
        extra = set(item) - {"relation", "scope"}
        if extra:
            raise FilterError(f"{spot}.{sorted(extra)[0]}", "unknown include key; expected relation, scope")
        relation = _relation(model, item["relation"], f"{spot}.relation")
        target = ENTITIES[model.relations[relation].target]
        scope = item.get("scope") or {}
        if not isinstance(scope, dict):
            raise FilterError(f"{spot}.scope", f"must be a JSON object, not {_kind(scope)}")
        for key in scope:
            if key not in ("where", "include", "limit", "skip", "fields", "order"):
                raise FilterError(f"{spot}.scope.{key}", "unknown scope key; expected where, include, limit, skip, fields, order")
        parts = _technique_parts(target, parse_where(target, scope.get("where"), f"{spot}.scope.where", budget))
        out.extend(
            Include(
                relation=relation,
                entity=target.name,
                where=part,
                includes=_includes(target, scope.get("include"), f"{spot}.scope.include", budget, depth + 1),
                limit=_count(scope.get("limit"), f"{spot}.scope.limit", None, 1, MAX_LIMIT),
                skip=_count(scope.get("skip"), f"{spot}.scope.skip", 0, 0, MAX_SKIP),
                fields=_fields(target, scope.get("fields"), f"{spot}.scope.fields"),
                order=_order(target, scope.get("order"), f"{spot}.scope.order"),
            )
            for part in parts
        )
    return tuple(out)


def _technique_parts(target: Entity, where: Node | None) -> list[Node | None]:
    """``{"and": [{"pid": X}, {"pid": Y}]}`` on techniques means one technique from each subtree
    (panosc-search-api.md): the same as two includes, each satisfied by its own row."""
    if target.name != "Technique" or not isinstance(where, And):
        return [where]
    deep = all(
        isinstance(item, Comparison) and item.field in ("pid", "name") and item.op in ("eq", "inq")
        for item in where.items
    )
    return list(where.items) if deep else [where]


def _relation(model: Entity, name: Any, place: str) -> str:
    if not isinstance(name, str) or name not in model.relations:
        known = ", ".join(model.relations)
        raise FilterError(place, f"unknown relation {name!r} of {model.name}; known: {known}")
    return name


def _count(value: Any, place: str, default: int | None, low: int, high: int) -> int | None:
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FilterError(place, f"expected a whole number, not {_kind(value)}")
    if not low <= value <= high:
        raise FilterError(place, f"must be between {low} and {high}, not {value}")
    return value


def _fields(model: Entity, raw: Any, place: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if isinstance(raw, dict):
        if not all(isinstance(flag, bool) for flag in raw.values()):
            raise FilterError(place, "a fields object maps names to true or false")
        wanted = [name for name, flag in raw.items() if flag]
        names = list(raw)
        if not wanted:  # only exclusions: everything else
            wanted = [name for name in model.fields if name not in raw]
    elif isinstance(raw, list) and all(isinstance(name, str) for name in raw):
        names = wanted = raw
    else:
        raise FilterError(place, "expected a list of field names or an object of name: true/false")
    for name in names:
        if name not in model.fields and name != "score":
            raise FilterError(place, f"unknown field {name!r} of {model.name}")
    return tuple(wanted)


def _order(model: Entity, raw: Any, place: str) -> tuple[tuple[str, bool], ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise FilterError(place, 'expected "field ASC|DESC" or a list of them')
    out = []
    for item in items:
        parts = item.split()
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC")):
            raise FilterError(place, f'{item!r} is not "field ASC" or "field DESC"')
        name = parts[0]
        if name not in model.fields or model.fields[name] not in _SORTABLE:
            raise FilterError(place, f"cannot order {model.name} by {name!r}")
        out.append((name, len(parts) == 2 and parts[1].upper() == "DESC"))
    return tuple(out)


def _query(text: Any) -> str | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise FilterError("query", f"must be a string, not {_kind(text)}")
    if len(text) > MAX_QUERY:
        raise FilterError("query", f"longer than {MAX_QUERY} characters")
    return text.strip() or None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


__all__ = [
    "And", "Comparison", "Filter", "FilterError", "Include", "Node", "Or", "Pattern", "Quantity", "Text",
    "load_json", "parse_filter", "parse_where_argument",
]
