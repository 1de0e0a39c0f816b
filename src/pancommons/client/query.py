"""Keyword arguments a scientist writes → the PaNOSC filter the Search API takes.

    datasets(technique="x-ray diffraction", wavelength=(0.9, 1.1, "angstrom"),
             temperature_below=(100, "K"), text="lysozyme")

becomes ``include`` scopes on techniques and parameters (the API's inner join:
a dataset must match every one) and the free-text ``query``.  A quantity
always carries its unit: the server converts it through pint, so 20 celsius
and 293.15 K find the same datasets.  Anything the keywords do not cover can
be written as a raw ``where``/``include``/``filter`` and is combined with them.
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

# keyword → the PaNOSC parameter name the portal and the API use for it
QUANTITIES = {
    "wavelength": "incident_wavelength",
    "energy": "incident_photon_energy",
    "temperature": "sample_temperature",
    "pressure": "sample_pressure",
}


class Criteria(dict):
    """The PaNOSC filter (a dict) plus the free-text query that travels beside it."""

    def __init__(self, filter: dict, text: str | None = None):
        super().__init__(filter)
        self.text = text

    def where(self) -> dict | None:
        return self.get("where")


def dataset_filter(
    *,
    text: str | None = None,
    technique: str | list[str] | None = None,
    facility: str | list[str] | None = None,
    instrument: str | None = None,
    proposal: str | None = None,
    sample: str | None = None,
    formula: str | None = None,
    title: str | None = None,
    kind: str | None = None,
    public: bool | None = None,
    year: int | None = None,
    order: str | None = None,
    where: dict | None = None,
    include: list | None = None,
    filter: dict | str | None = None,
    **quantities: Any,
) -> Criteria:
    """The filter for datasets; see the module's documentation and ``QUANTITIES``.

    ``technique``: a PaNET name ("x-ray diffraction") or IRI; the API matches its whole
    subtree. A list means any of them. ``instrument``: its name or pid. ``proposal``:
    its pid. ``formula``: the sample's chemical formula. ``kind``: "raw" or "processed".
    Quantities: ``wavelength=(low, high, unit)`` for a range, ``wavelength_above=(value,
    unit)`` / ``wavelength_below=(value, unit)`` for one side (strictly above or below);
    likewise ``energy``, ``temperature``, ``pressure``.
    """
    raw = _raw(filter)
    conditions = _listed(raw.pop("where", None)) + _listed(where)
    includes = _includes(raw.pop("include", None)) + _includes(include)

    if facility is not None:
        conditions.append({"facility": _one_or_any(facility, "facility")})
    if kind is not None:
        if kind not in ("raw", "processed"):
            raise ValueError(f"kind: expected 'raw' or 'processed', not {kind!r}")
        conditions.append({"kind": kind})
    if public is not None:
        conditions.append({"isPublic": bool(public)})
    if title is not None:
        conditions.append({"title": {"ilike": f"%{_text(title, 'title')}%"}})
    if year is not None:
        if isinstance(year, bool) or not isinstance(year, int):
            raise ValueError(f"year: expected a whole number, not {year!r}")
        conditions.append({"creationDate": {"between": [f"{year}-01-01T00:00:00Z", f"{year}-12-31T23:59:59.999Z"]}})
    if technique is not None:
        includes.append(_scoped("techniques", _technique(technique)))
    if instrument is not None:
        name = _text(instrument, "instrument")
        includes.append(_scoped("instrument", {"or": [{"pid": name}, {"name": name}]}))
    if proposal is not None:
        includes.append(_scoped("documents", {"pid": _text(proposal, "proposal")}))
    if sample is not None:
        includes.append(_scoped("samples", {"name": {"ilike": f"%{_text(sample, 'sample')}%"}}))
    if formula is not None:
        includes.append(_scoped("samples", {"chemicalFormula": _text(formula, "formula")}))
    includes.extend(_quantity(keyword, value) for keyword, value in quantities.items())

    return _assemble(raw, conditions, includes, text, order)


def document_filter(*, text: str | None = None, type: str | None = None, title: str | None = None,
                    order: str | None = None, where: dict | None = None, include: list | None = None,
                    filter: dict | str | None = None) -> Criteria:
    """The filter for documents (proposals, publications)."""
    raw = _raw(filter)
    conditions = _listed(raw.pop("where", None)) + _listed(where)
    if type is not None:
        conditions.append({"type": _text(type, "type")})
    if title is not None:
        conditions.append({"title": {"ilike": f"%{_text(title, 'title')}%"}})
    includes = _includes(raw.pop("include", None)) + _includes(include)
    return _assemble(raw, conditions, includes, text, order)


def instrument_filter(*, facility: str | list[str] | None = None, name: str | None = None, text: str | None = None,
                      where: dict | None = None, filter: dict | str | None = None) -> Criteria:
    raw = _raw(filter)
    conditions = _listed(raw.pop("where", None)) + _listed(where)
    if facility is not None:
        conditions.append({"facility": _one_or_any(facility, "facility")})
    if name is not None:
        conditions.append({"name": _text(name, "name")})
    return _assemble(raw, conditions, _includes(raw.pop("include", None)), text, None)


def _assemble(raw: dict, conditions: list, includes: list, text: str | None, order: str | None) -> Criteria:
    in_filter = raw.pop("query", None)  # a raw filter's own query; text= wins over it
    text = in_filter if text is None else _text(text, "text")
    if conditions:
        raw["where"] = conditions[0] if len(conditions) == 1 else {"and": conditions}
    if includes:
        raw["include"] = includes
    if order is not None:
        raw["order"] = _order(order)
    for paged in ("limit", "skip"):  # the results page through everything themselves
        if paged in raw:
            raise ValueError(f"filter: {paged} is set by the results as they page; "
                             f"take a slice instead (results[:10]) or pass limit= to the search")
    return Criteria(raw, text or None)


def _raw(filter: dict | str | None) -> dict:
    if filter is None:
        return {}
    if isinstance(filter, str):
        try:
            filter = json.loads(filter)
        except ValueError as error:
            raise ValueError(f"filter: not JSON ({error})") from None
    if not isinstance(filter, dict):
        raise TypeError("filter: expected a JSON object")
    return json.loads(json.dumps(filter))  # a deep copy the caller's dict does not share


def _listed(where: dict | None) -> list[dict]:
    if where is None:
        return []
    if not isinstance(where, dict):
        raise TypeError("where: expected a JSON object")
    return [where]


def _includes(value: Any) -> list:
    """LoopBack takes one relation name, one include object, or a list of them."""
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise TypeError(f"include: expected a relation name, an include object or a list of them, not {value!r}")


def _scoped(relation: str, where: dict) -> dict:
    return {"relation": relation, "scope": {"where": where}}


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: expected a non-empty string, not {value!r}")
    return value.strip()


def _one_or_any(value: str | list[str], name: str) -> Any:
    if isinstance(value, (list, tuple, set)):
        values = [_text(item, name) for item in value]
        if not values:
            raise ValueError(f"{name}: expected at least one value")
        return {"inq": values}
    return _text(value, name)


def _technique(value: str | list[str]) -> dict:
    """A PaNET IRI matches by pid, anything else by name; the server rolls both up the hierarchy."""

    def one(item: str) -> dict:
        item = _text(item, "technique")
        return {"pid": item} if item.startswith(("http://", "https://")) else {"name": item}

    if isinstance(value, (list, tuple, set)):
        if not value:
            raise ValueError("technique: expected at least one technique")
        return {"or": [one(item) for item in value]}
    return one(value)


def _quantity(keyword: str, value: Any) -> dict:
    name, _, side = keyword.rpartition("_")
    if side not in ("above", "below"):
        name, side = keyword, "range"
    if name not in QUANTITIES:
        known = ", ".join(f"{q}, {q}_above, {q}_below" for q in QUANTITIES)
        raise TypeError(f"unknown search keyword {keyword!r}; quantities are {known}")
    parameter = QUANTITIES[name]
    if side == "range":
        if not (isinstance(value, (tuple, list)) and len(value) == 3):
            raise ValueError(f"{keyword}: expected (low, high, unit), e.g. {keyword}=(0.9, 1.1, 'angstrom'); "
                             f"for one side use {name}_above or {name}_below")
        low, high, unit = value
        low, high = sorted((_number(low, keyword), _number(high, keyword)))
        test = {"between": [low, high]}
    else:
        if not (isinstance(value, (tuple, list)) and len(value) == 2):
            raise ValueError(f"{keyword}: expected (value, unit), e.g. {keyword}=(100, 'K')")
        number, unit = value
        test = {"gt" if side == "above" else "lt": _number(number, keyword)}
    unit = _text(unit, f"{keyword} unit")
    return _scoped("parameters", {"and": [{"name": parameter}, {"value": test}, {"unit": unit}]})


def _number(value: Any, keyword: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{keyword}: {value!r} is not a number")
    if not math.isfinite(value):
        raise ValueError(f"{keyword}: {value!r} is not a finite number")
    return float(value) if not float(value).is_integer() else int(value)


def _order(order: str) -> str:
    """``"title"``, ``"-creationDate"`` (descending) or the API's own ``"title ASC"``."""
    order = _text(order, "order")
    if " " in order:
        return order
    field = order.lstrip("-")
    return f"{field} {'DESC' if order.startswith('-') else 'ASC'}"
