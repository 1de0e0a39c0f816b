"""The classified PaNET hierarchy, as the search API needs it: pure domain, no I/O.

A technique filter is *deep* (a query for ``x-ray diffraction`` matches every
technique under it), so the API asks for a term's descendants on every request.
That is why :class:`Ontology` takes the already classified, transitively closed
hierarchy and precomputes descendants, ancestors and direct parents once: each
lookup afterwards is a dictionary hit.  Reading the source (a ROBOT table or a
reasoned OWL file), classifying it and caching the result live elsewhere
(``table``, ``owl``, ``source``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PANET_BASE = "http://purl.org/pan-science/PaNET/"
JSON_FORMAT = "pancommons.panet/1"

_CURIE = re.compile(r"^panet:(?P<local>\S+)$", re.IGNORECASE)


class OntologyError(ValueError):
    """The ontology source cannot be read, parsed or classified; the message names the source."""


@dataclass(frozen=True, slots=True)
class Term:
    """One class of the ontology: its IRI, its ``rdfs:label`` and its ``skos:altLabel`` values."""

    iri: str
    label: str
    alt_labels: tuple[str, ...] = ()


def normalise_label(text: str) -> str:
    """Case-fold and collapse whitespace: the table has labels with stray trailing spaces,
    and users type ``X-ray Diffraction`` as readily as ``x-ray diffraction``."""
    return " ".join(text.split()).casefold()


def local_id(iri: str) -> str:
    """``PaNET01216`` for ``http://purl.org/pan-science/PaNET/PaNET01216``."""
    return re.split(r"[/#]", iri)[-1]


class Ontology:
    """Terms and their classified hierarchy, with O(1) lookups.

    ``ancestors`` maps each term IRI to the IRIs of the terms it falls under
    (with or without itself); it must already be transitively closed — the
    classifier or :meth:`from_edges` guarantees that.  Equivalent terms are
    ancestors of each other; that is the only kind of cycle allowed.
    """

    __slots__ = ("_ancestors", "_descendants", "_names", "_parents", "source", "terms", "warnings")

    def __init__(
        self,
        terms: Iterable[Term],
        ancestors: Mapping[str, Iterable[str]],
        *,
        source: str = "",
        warnings: Iterable[str] = (),
    ) -> None:
        self.terms: dict[str, Term] = {term.iri: term for term in terms}
        self.source = source
        self.warnings: tuple[str, ...] = tuple(warnings)
        self._ancestors = self._closed_ancestors(ancestors)
        self._descendants = self._invert(self._ancestors)
        self._parents: dict[str, frozenset[str]] | None = None  # computed on first use: display only
        self._names = self._name_index(self.terms.values())

    # -- construction helpers -------------------------------------------------

    def _closed_ancestors(self, ancestors: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
        """Every term gets itself; an IRI outside ``terms`` is a caller's bug, not data to keep."""
        ancestors = {iri: tuple(ups) for iri, ups in ancestors.items()}
        named = set(ancestors).union(*ancestors.values())
        unknown = named - self.terms.keys()
        if unknown:
            raise OntologyError(f"{self.source or 'ontology'}: hierarchy names unknown terms {sorted(unknown)[:5]}")
        return {iri: frozenset({iri, *ancestors.get(iri, ())}) for iri in self.terms}

    @staticmethod
    def _invert(ancestors: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
        below: dict[str, set[str]] = {iri: set() for iri in ancestors}
        for iri, ups in ancestors.items():
            for up in ups:
                below[up].add(iri)
        return {iri: frozenset(down) for iri, down in below.items()}

    @staticmethod
    def _direct_parents(ancestors: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
        """Transitive reduction modulo equivalence: B is a direct parent of A when A is strictly
        under B and no term lies strictly between them, i.e. B is a strict ancestor of A but not
        of any other strict ancestor of A.  Equivalent terms (each an ancestor of the other) are
        not strictly above each other, so the reduction never loops."""
        strict = {iri: frozenset(up for up in ups if iri not in ancestors[up]) for iri, ups in ancestors.items()}
        return {
            iri: above - frozenset().union(*(strict[mid] for mid in above))
            for iri, above in strict.items()
        }

    @staticmethod
    def _name_index(terms: Iterable[Term]) -> dict[str, str]:
        """Labels win over alt labels, and local ids over both, when two terms share a name."""
        terms = list(terms)
        names: dict[str, str] = {}
        for term in terms:
            for alt in term.alt_labels:
                names.setdefault(normalise_label(alt), term.iri)
        for term in terms:
            names[normalise_label(term.label)] = term.iri
        for term in terms:
            names[normalise_label(local_id(term.iri))] = term.iri
        return names

    @classmethod
    def from_edges(
        cls,
        terms: Iterable[Term],
        edges: Iterable[tuple[str, str]],
        *,
        source: str = "",
        warnings: Iterable[str] = (),
    ) -> Ontology:
        """Build from direct ``(sub, super)`` edges, e.g. a reasoned OWL file's ``subClassOf``,
        closing them transitively (cycles, i.e. equivalences, are fine)."""
        terms = list(terms)
        up: dict[str, set[str]] = {term.iri: set() for term in terms}
        for sub, sup in edges:
            if sub in up and sup in up and sub != sup:
                up[sub].add(sup)
        return cls(terms, transitive_closure(up), source=source, warnings=warnings)

    # -- queries (each a dictionary hit) -------------------------------------------

    def __len__(self) -> int:
        return len(self.terms)

    def __contains__(self, iri: object) -> bool:
        return iri in self.terms

    def descendants(self, iri: str) -> frozenset[str]:
        """The term and everything under it; an IRI not in the ontology is its own only
        descendant, so a filter on an unknown technique still matches that technique."""
        return self._descendants.get(iri) or frozenset({iri})

    def ancestors(self, iri: str) -> frozenset[str]:
        """The term and everything above it (``frozenset({iri})`` for an unknown IRI)."""
        return self._ancestors.get(iri) or frozenset({iri})

    def parents(self, iri: str) -> frozenset[str]:
        """Direct superclasses (the transitive reduction); empty for roots and unknown IRIs.

        Computed on first call rather than at load: the API's hot path needs only
        descendants, and this keeps a cache load at a few milliseconds (racing
        threads would compute the same value, which is harmless)."""
        if self._parents is None:
            self._parents = self._direct_parents(self._ancestors)
        return self._parents.get(iri, frozenset())

    def label(self, iri: str) -> str | None:
        term = self.terms.get(iri)
        return term.label if term else None

    def resolve(self, text: str) -> str | None:
        """The IRI a user means: a full IRI, ``PaNET:PaNET01216``, ``PaNET01216``, a label or
        an alt label (case-insensitive, whitespace-normalised); None when nothing matches."""
        text = text.strip()
        if text in self.terms:
            return text
        curie = _CURIE.match(text)
        if curie:
            text = curie.group("local")
        return self._names.get(normalise_label(text))

    # -- cache form ----------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Terms and strict ancestor lists: enough to rebuild without re-classifying."""
        return {
            "format": JSON_FORMAT,
            "source": self.source,
            "warnings": list(self.warnings),
            "terms": [
                {"iri": term.iri, "label": term.label, "alt_labels": list(term.alt_labels)}
                for term in self.terms.values()
            ],
            "ancestors": {
                iri: sorted(ups - {iri}) for iri, ups in self._ancestors.items() if len(ups) > 1
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Ontology:
        if not isinstance(data, Mapping) or data.get("format") != JSON_FORMAT:
            raise OntologyError(f"not a cached ontology of format {JSON_FORMAT}")
        try:
            terms = [
                Term(str(item["iri"]), str(item["label"]), tuple(str(alt) for alt in item["alt_labels"]))
                for item in data["terms"]
            ]
            ancestors = {str(iri): [str(up) for up in ups] for iri, ups in data["ancestors"].items()}
        except (KeyError, TypeError, AttributeError) as error:
            raise OntologyError(f"cached ontology is malformed: {error!r}") from error
        return cls(terms, ancestors, source=str(data.get("source", "")), warnings=data.get("warnings", ()))


def transitive_closure(up: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """For each node, every node reachable over ``up`` edges (itself excluded unless on a cycle)."""
    closure: dict[str, set[str]] = {}
    for start in up:
        seen: set[str] = set()
        stack = list(up[start])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(up.get(node, ()))
        closure[start] = seen
    return closure
