"""Technique hints: what a NeXus entry says about the technique, as PaNET terms.

One data table decides it (``data/technique_hints.csv``, shipped), and a
facility extends it with its own CSV of the same columns (setting
``technique_hints``), typically to name the technique of instruments whose
files carry no application definition.  A row matches an entry when every
column it fills (definition, probe, instrument) equals the entry's value,
case-insensitively; among matching rows only the most specific ones count,
so ``NXsas`` + ``neutron`` wins over plain ``NXsas``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

PANET_PREFIX = "http://purl.org/pan-science/PaNET/"
_COLUMNS = ("definition", "probe", "instrument", "panet_iri", "name")


@dataclass(frozen=True, slots=True)
class TechniqueHint:
    definition: str
    probe: str
    instrument: str
    panet_iri: str
    name: str

    @property
    def specificity(self) -> int:
        return sum(1 for value in (self.definition, self.probe, self.instrument) if value)

    def matches(self, definition: str, probe: str, instrument: str) -> bool:
        return all(
            not wanted or wanted == given
            for wanted, given in (
                (self.definition, definition),
                (self.probe, probe),
                (self.instrument, instrument),
            )
        )


class TechniqueTableError(ValueError):
    pass


def read_hints(text: str, origin: str) -> list[TechniqueHint]:
    rows = list(csv.DictReader(text.splitlines()))
    hints = []
    for number, row in enumerate(rows, start=2):
        missing = [column for column in _COLUMNS if column not in row]
        if missing:
            raise TechniqueTableError(f"{origin}: missing column(s) {', '.join(missing)}")
        values = {column: (row[column] or "").strip() for column in _COLUMNS}
        if not values["panet_iri"].startswith(PANET_PREFIX):
            raise TechniqueTableError(f"{origin} line {number}: panet_iri must start with {PANET_PREFIX}")
        if not values["name"]:
            raise TechniqueTableError(f"{origin} line {number}: name is empty")
        if not (values["definition"] or values["probe"] or values["instrument"]):
            raise TechniqueTableError(f"{origin} line {number}: a row must match on definition, probe or instrument")
        for key in ("definition", "probe", "instrument"):
            values[key] = values[key].lower()
        hints.append(TechniqueHint(**values))
    return hints


@lru_cache(maxsize=8)
def load_hints(extra: Path | None = None) -> tuple[TechniqueHint, ...]:
    builtin = resources.files("pancommons").joinpath("data/technique_hints.csv").read_text(encoding="utf-8")
    hints = read_hints(builtin, "technique_hints.csv")
    if extra is not None:
        hints += read_hints(Path(extra).read_text(encoding="utf-8"), str(extra))
    return tuple(hints)


def techniques_for(
    hints: tuple[TechniqueHint, ...], definition: str | None, probe: str | None, instrument: str | None
) -> list[tuple[str, str]]:
    """(PaNET IRI, name) pairs for an entry, most specific rows only, without repeats."""
    given = ((definition or "").lower(), (probe or "").lower(), (instrument or "").lower())
    matching = [hint for hint in hints if hint.matches(*given)]
    if not matching:
        return []
    # Instrument rows (a facility's knowledge of its beamlines) and file rows
    # (definition, probe) speak of different things: the most specific of each count.
    chosen: dict[str, TechniqueHint] = {}
    for rows in ([h for h in matching if h.instrument], [h for h in matching if not h.instrument]):
        if rows:
            best = max(hint.specificity for hint in rows)
            for hint in rows:
                if hint.specificity == best:
                    chosen.setdefault(hint.panet_iri, hint)
    return [(hint.panet_iri, hint.name) for hint in chosen.values()]
