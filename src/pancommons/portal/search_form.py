"""The portal's search form, read into the same PaNOSC filter the API takes.

The form's fields are those of data.panosc.eu's filter panel — facility,
technique, sample formula, wavelength, photon energy, sample temperature,
pressure — plus instrument and year. ``SearchForm.filter()`` writes them as
a PaNOSC filter, which ``query.filter.parse_filter`` checks exactly as it
checks an API request: one query path for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from pancommons.query.filter import FilterError

PAGE_SIZE = 20
MAX_PAGE = 500  # 10,000 results deep; beyond, narrow the search

# form name → (parameter name, units offered, label)
QUANTITIES = {
    "wavelength": ("incident_wavelength", ("nm", "pm", "angstrom"), "Wavelength"),
    "energy": ("incident_photon_energy", ("eV", "keV", "J"), "Photon energy"),
    "temperature": ("sample_temperature", ("K", "celsius", "fahrenheit"), "Sample temperature"),
    "pressure": ("sample_pressure", ("Pa", "kPa", "bar", "mbar"), "Pressure"),
}
UNIT_LABELS = {"angstrom": "Å", "celsius": "°C", "fahrenheit": "°F"}
SORTS = {  # form value → PaNOSC order, for datasets and for proposals (whose date is their start)
    "relevance": (None, None),
    "title": ("title ASC", "title ASC"),
    "newest": ("creationDate DESC", "startDate DESC"),
    "oldest": ("creationDate ASC", "startDate ASC"),
}
KINDS = ("datasets", "proposals")


@dataclass(frozen=True)
class Range:
    low: float | None
    high: float | None
    unit: str


@dataclass(frozen=True)
class SearchForm:
    kind: str = "datasets"
    text: str = ""
    facilities: tuple[str, ...] = ()
    technique: str = ""
    formula: str = ""
    instrument: str = ""
    year: int | None = None
    ranges: dict[str, Range] = field(default_factory=dict)
    sort: str = ""
    page: int = 1

    @classmethod
    def read(cls, arguments) -> SearchForm:
        """From the query string (a Starlette QueryParams or a dict of lists); FilterError names the field."""
        def one(name: str) -> str:
            values = arguments.getlist(name) if hasattr(arguments, "getlist") else arguments.get(name, [])
            text = values[-1] if values else ""
            if len(text) > 1000:
                raise FilterError(name, "longer than 1000 characters")
            return text.strip()

        kind = one("kind") or "datasets"
        if kind not in KINDS:
            raise FilterError("kind", f"expected one of {', '.join(KINDS)}")
        facilities = tuple(sorted({value.strip() for value in (arguments.getlist("facility") if hasattr(arguments, "getlist")
                                                                 else arguments.get("facility", [])) if value.strip()}))
        ranges = {}
        for name, (_, units, label) in QUANTITIES.items():
            low, high, unit = one(f"{name}_min"), one(f"{name}_max"), one(f"{name}_unit") or units[0]
            if unit not in units:
                raise FilterError(f"{name}_unit", f"{label}: expected a unit among {', '.join(units)}")
            if low or high:
                ranges[name] = Range(_number(low, f"{name}_min"), _number(high, f"{name}_max"), unit)
        year = one("year")
        if year and (not _whole(year) or not 1900 <= int(year) <= 2200):
            raise FilterError("year", "expected a year such as 2024")
        sort = one("sort")
        if sort and sort not in SORTS:
            raise FilterError("sort", f"expected one of {', '.join(SORTS)}")
        page = one("page") or "1"
        if not _whole(page) or not 1 <= int(page) <= MAX_PAGE:
            raise FilterError("page", f"expected a page from 1 to {MAX_PAGE}")
        return cls(kind, one("q"), facilities, one("technique"), one("formula"), one("instrument"),
                   int(year) if year else None, ranges, sort, int(page))

    @property
    def effective_sort(self) -> str:
        return self.sort or ("relevance" if self.text else "title")

    def filter(self) -> dict:
        """The PaNOSC filter of this form (for datasets, or for proposals)."""
        conditions: list[dict] = []
        includes: list[dict] = []
        if self.kind == "proposals":
            conditions.append({"type": "proposal"})
        else:
            if self.facilities:
                conditions.append({"facility": {"inq": list(self.facilities)}})
            if self.year:
                conditions.append({"creationDate": {"between": [f"{self.year}-01-01T00:00:00Z", f"{self.year}-12-31T23:59:59.999Z"]}})
            if self.technique:
                includes.append({"relation": "techniques", "scope": {"where": {"name": self.technique}}})
            if self.formula:
                includes.append({"relation": "samples", "scope": {"where": {"chemicalFormula": self.formula}}})
            if self.instrument:
                includes.append({"relation": "instrument", "scope": {"where": {"pid": self.instrument}}})
            for name, wanted in self.ranges.items():
                includes.append({"relation": "parameters", "scope": {"where": {"and": _range_conditions(name, wanted)}}})
        raw: dict = {"limit": PAGE_SIZE, "skip": (self.page - 1) * PAGE_SIZE}
        if conditions:
            raw["where"] = conditions[0] if len(conditions) == 1 else {"and": conditions}
        if includes:
            raw["include"] = includes
        order = SORTS[self.effective_sort][KINDS.index(self.kind)]
        if order is not None:
            raw["order"] = order
        return raw

    def link(self, **changes) -> str:
        """The query string of this form with ``changes`` (a new filter resets the page)."""
        if "page" not in changes:
            changes["page"] = 1
        form = replace(self, **changes)
        pairs: list[tuple[str, str]] = [("kind", form.kind)] if form.kind != "datasets" else []
        pairs += [("q", form.text)] if form.text else []
        pairs += [("facility", value) for value in form.facilities]
        for name in ("technique", "formula", "instrument"):
            if getattr(form, name):
                pairs.append((name, getattr(form, name)))
        if form.year:
            pairs.append(("year", str(form.year)))
        for name, wanted in form.ranges.items():
            if wanted.low is not None:
                pairs.append((f"{name}_min", plain(wanted.low)))
            if wanted.high is not None:
                pairs.append((f"{name}_max", plain(wanted.high)))
            pairs.append((f"{name}_unit", wanted.unit))
        if form.sort:
            pairs.append(("sort", form.sort))
        if form.page > 1:
            pairs.append(("page", str(form.page)))
        return "?" + urlencode(pairs)

    @property
    def active(self) -> list[tuple[str, str]]:
        """(label, link without it) of every filter in use, for the "remove" chips."""
        chips = [(f"“{self.text}”", self.link(text=""))] if self.text else []
        chips += [(f"Facility: {value}", self.link(facilities=tuple(v for v in self.facilities if v != value)))
                  for value in self.facilities]
        for name, label in (("technique", "Technique"), ("formula", "Formula"), ("instrument", "Instrument")):
            if getattr(self, name):
                chips.append((f"{label}: {getattr(self, name)}", self.link(**{name: ""})))
        if self.year:
            chips.append((f"Year: {self.year}", self.link(year=None)))
        for name, wanted in self.ranges.items():
            label = QUANTITIES[name][2]
            low = plain(wanted.low) if wanted.low is not None else "…"
            high = plain(wanted.high) if wanted.high is not None else "…"
            rest = {key: value for key, value in self.ranges.items() if key != name}
            chips.append((f"{label}: {low}–{high} {UNIT_LABELS.get(wanted.unit, wanted.unit)}", self.link(ranges=rest)))
        return chips


def _range_conditions(name: str, wanted: Range) -> list[dict]:
    parameter, _, _ = QUANTITIES[name]
    conditions: list[dict] = [{"name": parameter}]
    if wanted.low is not None and wanted.high is not None:
        low, high = sorted((wanted.low, wanted.high))
        conditions.append({"value": {"between": [low, high]}})
    elif wanted.low is not None:
        conditions.append({"value": {"gte": wanted.low}})
    else:
        conditions.append({"value": {"lte": wanted.high}})
    conditions.append({"unit": wanted.unit})
    return conditions


def _whole(text: str) -> bool:
    """Digits 0-9 only (str.isdigit also takes ² and other digits int() refuses)."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def _number(text: str, name: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise FilterError(name, f"{text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise FilterError(name, "expected a finite number")
    return value


def plain(value: float) -> str:
    """A number as a person writes it: 20, not 20.0."""
    return str(int(value)) if float(value).is_integer() else repr(value)
