"""Read PaNET's ROBOT template (``PaNET.csv``) and classify it.

Why classify at all: most of PaNET's hierarchy is not written down as parents.
Only a third of the terms have ``Parent IRI`` (``SC %``) values; the rest are
*defined* by their ``Equivalent`` (``EC %``) columns, which ROBOT joins into
one intersection of named classes and existential restrictions, e.g.
``x-ray diffraction ≡ 'x-ray probe-based techniques' ⊓ 'diffraction-based
techniques'`` and ``diffraction-based techniques ≡ definedbyprocess some
diffraction``.  Whether ``x-ray powder diffraction`` falls under ``x-ray
diffraction`` is then a matter of reasoning, which PaNET's own releases leave
to an OWL reasoner.  The template only uses the OWL 2 EL fragment
(intersections, existential restrictions, property domains, ranges and
sub-properties), so a small EL completion algorithm (Baader, Brandt & Lutz,
"Pushing the EL envelope", 2005/2008) classifies it exactly: it is sound and
complete for subsumption in EL, runs in polynomial time, and is the calculus
ELK (ROBOT's default reasoner) implements.  It subsumes the plain
structural rule "D falls under C ≡ X ⊓ ∃p.F when D falls under X and has a
∃p.E with E under F", iterated to a fixpoint.

Disjointness axioms (``DC %``) cannot make a class fall under another in EL
without ⊥; they are only checked afterwards, and a class under two disjoint
classes is reported as a warning rather than made unsatisfiable.

Anything that cannot be read (a non-EL keyword such as ``or``/``only``, an
unbalanced parenthesis, an unknown label) is recorded in the result's
``warnings`` and that cell is left out, never guessed.  An equivalence with an
unreadable part keeps only its necessary direction (the term still falls under
the parts that were read): dropping a conjunct from the sufficient direction
would wrongly put more terms under it.
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from pancommons.panet.ontology import (
    PANET_BASE,
    Ontology,
    OntologyError,
    Term,
    normalise_label,
)

OWL_THING = "http://www.w3.org/2002/07/owl#Thing"
PREFIXES = {
    "panet": PANET_BASE,
    "owl": "http://www.w3.org/2002/07/owl#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "obo": "http://purl.obolibrary.org/obo/",
}
# ROBOT's default TYPE is owl:Class; properties (owl:ObjectProperty) are not terms.
CLASS_TYPES = {"", "owl:class", "class"}

# ROBOT template directives (row 2 of the table) -> what the column holds.  Columns are
# found by directive, not by position, so an added column in a new release does no harm.
_ROLE_BY_DIRECTIVE = {
    "ID": "id",
    "A rdfs:label": "label",
    "LABEL": "label",
    "TYPE": "type",
    "SC %": "parent",
    "EC %": "equivalent",
    "DC %": "disjoint",
    "SP %": "super_property",
    "DOMAIN": "domain",
    "RANGE": "range",
}
_ALT_LABEL = re.compile(r"^A (skos:altLabel|<?http://www\.w3\.org/2004/02/skos/core#altLabel>?)$")


# -- the template ------------------------------------------------------------------


@dataclass(slots=True)
class Entity:
    """Everything the template says about one IRI, merged over all its rows.

    PaNET has an IRI on two rows (``PaNET01022``: the second adds a Wikidata
    equivalent).  ROBOT makes one axiom per row, so each row's ``EC`` cells stay
    a separate definition: merging them into one intersection would demand that
    a technique also be the Wikidata class before it counts as diffraction-based.
    """

    iri: str
    label: str = ""
    alt_labels: list[str] = field(default_factory=list)
    rdf_type: str = ""
    parents: list[str] = field(default_factory=list)
    definitions: list[list[str]] = field(default_factory=list)
    disjoint: list[str] = field(default_factory=list)
    super_properties: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)

    @property
    def is_class(self) -> bool:
        return self.rdf_type.casefold() in CLASS_TYPES


def read_template(text: str, source: str) -> tuple[dict[str, Entity], list[str]]:
    """Entities by IRI (in table order) and warnings about rows that were skipped."""
    try:
        rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as error:
        raise OntologyError(f"{source}: not a readable CSV table ({error})") from error
    directive_index, columns = _find_directives(rows, source)
    entities: dict[str, Entity] = {}
    warnings: list[str] = []
    for number, row in enumerate(rows[directive_index + 1 :], start=directive_index + 2):
        _read_row(row, number, columns, entities, warnings)
    if not any(entity.is_class for entity in entities.values()):
        raise OntologyError(f"{source}: the ROBOT template defines no classes")
    return entities, warnings


def _find_directives(rows: list[list[str]], source: str) -> tuple[int, dict[str, list[int]]]:
    """The row of ROBOT directives (``ID``, ``A rdfs:label``, ``SC %`` ...) among the first few."""
    for index, row in enumerate(rows[:10]):
        columns: dict[str, list[int]] = {}
        for position, directive in enumerate(row):
            role = "alt_label" if _ALT_LABEL.match(directive) else _ROLE_BY_DIRECTIVE.get(directive)
            if role:
                columns.setdefault(role, []).append(position)
        if "id" in columns and "label" in columns:
            return index, columns
    raise OntologyError(
        f"{source}: not a ROBOT template (no row of template directives such as 'ID' and 'A rdfs:label')"
    )


def _read_row(
    row: list[str],
    number: int,
    columns: dict[str, list[int]],
    entities: dict[str, Entity],
    warnings: list[str],
) -> None:
    def cells(role: str) -> list[str]:
        return [row[i] for i in columns.get(role, ()) if i < len(row) and row[i]]

    ids = cells("id")
    if not ids:
        # Blank separator rows and the "ID number" row carry nothing a class could get.
        if any(cells(role) for role in ("label", "parent", "equivalent")):
            warnings.append(f"row {number}: has a label or axioms but no ID; skipped")
        return
    iri = _expand(ids[0])
    entity = entities.setdefault(iri, Entity(iri))
    entity.label = entity.label or next(iter(cells("label")), "")
    entity.alt_labels += [alt for alt in cells("alt_label") if alt not in entity.alt_labels]
    entity.rdf_type = entity.rdf_type or next(iter(cells("type")), "")
    entity.parents += cells("parent")
    if cells("equivalent"):
        entity.definitions.append(cells("equivalent"))
    entity.disjoint += cells("disjoint")
    entity.super_properties += cells("super_property")
    entity.domains += cells("domain")
    entity.ranges += cells("range")


def _expand(name: str) -> str:
    """A full IRI for ``PaNET:PaNET01124`` (or an IRI in angle brackets); other text unchanged."""
    name = name.strip()
    if name.startswith("<") and name.endswith(">"):
        return name[1:-1]
    prefix, colon, local = name.partition(":")
    if colon and prefix.casefold() in PREFIXES and not local.startswith("//"):
        return PREFIXES[prefix.casefold()] + local
    return name


# -- class expressions (the EL part of Manchester syntax) ------------------------------


@dataclass(frozen=True, slots=True)
class Some:
    """The existential restriction ``(prop some filler)``; the filler is a conjunction."""

    prop: str
    filler: frozenset[Conjunct]


Conjunct = str | Some  # a str is a named class IRI
Concept = frozenset[Conjunct]  # an intersection; the empty one is owl:Thing

_KEYWORDS = {"and", "some"}
_NOT_EL = {"or", "not", "only", "value", "min", "max", "exactly", "that", "inverse", "self"}
_TOKEN = re.compile(r"\s*(?:(?P<paren>[()])|'(?P<quoted>[^']*)'|<(?P<iri>[^>]*)>|(?P<word>[^\s()']+))")


class ExpressionError(ValueError):
    """A cell that is not an EL class expression this reader understands."""


class Names:
    """Label and IRI lookup for the names a cell may use.

    ROBOT resolves quoted labels exactly; this lookup is case- and
    whitespace-insensitive because the table has labels with stray trailing
    spaces.  Unknown names are kept as external names (``label:...``) so the
    reasoning can still treat fillers such as ``'x-ray'`` by name, and each is
    reported once.
    """

    def __init__(self, entities: Iterable[Entity]) -> None:
        entities = list(entities)
        self.iris = {entity.iri for entity in entities} | {OWL_THING}
        self.by_label: dict[str, str] = {}
        self.conflicts: list[str] = []
        self.unknown: set[str] = set()
        for entity in entities:
            for name in (entity.label, *entity.alt_labels):
                key = normalise_label(name)
                if not key:
                    continue
                known = self.by_label.setdefault(key, entity.iri)
                if known != entity.iri and name == entity.label:
                    self.conflicts.append(f"label {name!r} names both {known} and {entity.iri}")

    def knows(self, name: str) -> bool:
        """Whether ``name`` is a label of the table or an IRI/CURIE it defines."""
        return _expand(name) in self.iris or normalise_label(name) in self.by_label

    def resolve(self, name: str) -> str:
        expanded = _expand(name)
        if expanded != name.strip() or re.match(r"^https?://", expanded):
            if expanded.startswith(PANET_BASE) and expanded not in self.iris:
                self.unknown.add(name)  # a PaNET IRI the table does not define: likely a typo
            return expanded
        iri = self.by_label.get(normalise_label(name))
        if iri is None:
            self.unknown.add(name)
            return "label:" + normalise_label(name)
        return iri


def parse_expression(cell: str, names: Names) -> Concept:
    """An intersection of named classes and ``(p some F)`` restrictions, from one cell.

    Like ROBOT, first try the whole cell as one name: labels are written
    unquoted in ``SC %`` cells and some contain the keyword ``and`` (``photon
    and neutron specifiers``).  A cell without parentheses or quotes that is
    not a known name is an unknown label, not an expression.
    """
    if names.knows(cell) or not re.search(r"[()']", cell):
        return _without_thing({names.resolve(cell)})
    parser = _Parser(_tokens(cell), names)
    concept = parser.conjunction()
    if parser.peek() is not None:
        raise ExpressionError(f"unexpected {parser.peek()[1]!r}")
    return concept


def _tokens(cell: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    cell = cell.strip()
    while position < len(cell):
        match = _TOKEN.match(cell, position)
        if not match or match.end() == position:
            raise ExpressionError(f"cannot read from {cell[position:]!r} (an unclosed quote?)")
        position = match.end()
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "word" and text.casefold() in _KEYWORDS | _NOT_EL:
            kind = "keyword"
            text = text.casefold()
        elif kind in ("quoted", "word"):
            kind = "name"
        elif kind == "iri":
            kind, text = "name", f"<{text}>"
        tokens.append((kind, text))
    return tokens


class _Parser:
    """Recursive descent over ``conjunction := operand ('and' operand)*`` and
    ``operand := '(' conjunction ')' | name 'some' operand | name``, which gives
    Manchester's precedence: ``p some A and B`` is ``(p some A) and B``."""

    def __init__(self, tokens: list[tuple[str, str]], names: Names) -> None:
        self.tokens = tokens
        self.position = 0
        self.names = names

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ExpressionError("expression ends too early")
        self.position += 1
        return token

    def conjunction(self) -> Concept:
        parts = set(self.operand())
        while self.peek() == ("keyword", "and"):
            self.take()
            parts |= self.operand()
        following = self.peek()
        if following and following[0] == "keyword" and following[1] in _NOT_EL:
            raise ExpressionError(f"{following[1]!r} is outside the EL fragment this reader classifies")
        return frozenset(parts)

    def operand(self) -> Concept:
        kind, text = self.take()
        if (kind, text) == ("paren", "("):
            inner = self.conjunction()
            closing = self.peek()
            if closing != ("paren", ")"):
                raise ExpressionError(f"missing ')' before {closing[1]!r}" if closing else "missing ')'")
            self.take()
            return inner
        if kind == "keyword":
            if text in _NOT_EL:
                raise ExpressionError(f"{text!r} is outside the EL fragment this reader classifies")
            raise ExpressionError(f"unexpected {text!r}")
        if kind != "name":
            raise ExpressionError(f"unexpected {text!r}")
        if self.peek() == ("keyword", "some"):
            self.take()
            return frozenset({Some(self.names.resolve(text), self.operand())})
        return _without_thing({self.names.resolve(text)})


def _without_thing(parts: set[Conjunct]) -> Concept:
    """owl:Thing adds nothing to an intersection (``photon and neutron technique`` has it as parent)."""
    return frozenset(parts - {OWL_THING})


# -- the axioms ------------------------------------------------------------------------


@dataclass(slots=True)
class Axioms:
    """What the table says, as parsed expressions, before any reasoning."""

    terms: list[Term]
    subclass: list[tuple[str, Concept]] = field(default_factory=list)  # C ⊑ expr
    equivalent: list[tuple[str, Concept]] = field(default_factory=list)  # C ≡ expr
    disjoint: list[tuple[str, str]] = field(default_factory=list)
    super_properties: list[tuple[str, str]] = field(default_factory=list)
    domains: list[tuple[str, str]] = field(default_factory=list)
    ranges: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_axioms(text: str, source: str) -> Axioms:
    """Parse the template into axioms, collecting (not raising) per-cell problems."""
    entities, warnings = read_template(text, source)
    names = Names(entities.values())
    terms = [
        Term(entity.iri, " ".join(entity.label.split()) or entity.iri, tuple(entity.alt_labels))
        for entity in entities.values()
        if entity.is_class
    ]
    axioms = Axioms(terms, warnings=[*warnings, *names.conflicts])
    for entity in entities.values():
        _entity_axioms(entity, names, axioms)
    axioms.warnings += [f"unknown name {name!r}, kept as an external class" for name in sorted(names.unknown)]
    return axioms


def _entity_axioms(entity: Entity, names: Names, axioms: Axioms) -> None:
    def parsed(cells: list[str], what: str) -> list[Concept | None]:
        """One concept per cell, None where the cell could not be read (and a warning)."""
        concepts: list[Concept | None] = []
        for cell in cells:
            try:
                concepts.append(parse_expression(cell, names))
            except ExpressionError as error:
                axioms.warnings.append(f"{entity.iri} ({entity.label!r}): {what} {cell!r} not parsed: {error}")
                concepts.append(None)
        return concepts

    name = entity.iri
    for concept in parsed(entity.parents, "parent"):
        if concept is not None:
            axioms.subclass.append((name, concept))
    for cells in entity.definitions:
        conjuncts = parsed(cells, "equivalent")
        readable: Concept = frozenset().union(*(c for c in conjuncts if c is not None))
        complete = None not in conjuncts
        (axioms.equivalent if complete else axioms.subclass).append((name, readable))
    for cell in entity.disjoint:
        axioms.disjoint.append((name, names.resolve(cell)))
    for cell in entity.super_properties:
        axioms.super_properties.append((name, names.resolve(cell)))
    for cell in entity.domains:
        axioms.domains.append((name, names.resolve(cell)))
    for cell in entity.ranges:
        axioms.ranges.append((name, names.resolve(cell)))


# -- EL classification -----------------------------------------------------------------


class _NormalForm:
    """The axioms rewritten into the four shapes the completion rules work on.

    ``A ⊑ B``, ``A1 ⊓ … ⊓ An ⊑ B``, ``A ⊑ ∃r.B`` and ``∃r.B ⊑ C`` over *atoms*
    (named classes, owl:Thing, and fresh names standing for nested expressions),
    plus the property hierarchy and ranges.
    """

    def __init__(self) -> None:
        self.told: dict[str, set[str]] = {}  # A ⊑ B
        self.conjunctions: dict[str, list[tuple[frozenset[str], str]]] = {}  # by each member
        self.exists_right: dict[str, set[tuple[str, str]]] = {}  # A ⊑ ∃r.B
        self.exists_left: dict[tuple[str, str], set[str]] = {}  # ∃r.B ⊑ C
        self.super_roles: dict[str, set[str]] = {}  # r ⊑ s, reflexive-transitive once closed
        self.ranges: dict[str, set[str]] = {}
        self._fresh: dict[object, str] = {}

    def subclass(self, atom: str, concept: Concept) -> None:
        """``atom ⊑ concept``: one rule per conjunct."""
        for part in concept:
            if isinstance(part, Some):
                self.exists_right.setdefault(atom, set()).add((part.prop, self.atom_for(part.filler)))
            else:
                self.told.setdefault(atom, set()).add(part)

    def superclass(self, concept: Concept, atom: str) -> None:
        """``concept ⊑ atom``: the sufficient direction of a definition."""
        members = frozenset(self._left_atom(part) for part in concept)
        if len(members) == 1:
            self.told.setdefault(next(iter(members)), set()).add(atom)
        elif members:
            for member in members:
                self.conjunctions.setdefault(member, []).append((members, atom))

    def atom_for(self, concept: Concept) -> str:
        """A name for a filler: itself when it is one named class, else a fresh name defined
        as equivalent to it (both directions, since a filler is both produced and matched)."""
        if not concept:
            return OWL_THING
        if len(concept) == 1 and isinstance(part := next(iter(concept)), str):
            return part
        if concept not in self._fresh:
            fresh = self._fresh[concept] = f"_:filler{len(self._fresh)}"
            self.subclass(fresh, concept)
            self.superclass(concept, fresh)
        return self._fresh[concept]

    def _left_atom(self, part: Conjunct) -> str:
        if isinstance(part, str):
            return part
        key = ("some", part)
        if key not in self._fresh:
            fresh = self._fresh[key] = f"_:some{len(self._fresh)}"
            self.exists_left.setdefault((part.prop, self.atom_for(part.filler)), set()).add(fresh)
        return self._fresh[key]

    def close_roles(self, super_properties: Iterable[tuple[str, str]], ranges: Iterable[tuple[str, str]]) -> None:
        direct: dict[str, set[str]] = {}
        for sub, sup in super_properties:
            direct.setdefault(sub, set()).add(sup)
        roles = set(direct) | {r for (r, _) in self.exists_left} | {
            r for pairs in self.exists_right.values() for r, _ in pairs
        }
        for role in roles:
            reached, stack = {role}, [role]
            while stack:
                for sup in direct.get(stack.pop(), ()):
                    if sup not in reached:
                        reached.add(sup)
                        stack.append(sup)
            self.super_roles[role] = reached
        declared: dict[str, set[str]] = {}
        for role, range_class in ranges:
            if range_class != OWL_THING:
                declared.setdefault(role, set()).add(range_class)
        for role, supers in self.super_roles.items():
            # A super-property's range binds every sub-property's fillers too.
            self.ranges[role] = set().union(*(declared.get(s, set()) for s in supers))


def classify(axioms: Axioms) -> dict[str, set[str]]:
    """Each term's strict ancestors among the terms, by EL completion."""
    normal = _NormalForm()
    for name, concept in axioms.subclass:
        normal.subclass(name, concept)
    for name, concept in axioms.equivalent:
        normal.subclass(name, concept)  # C ⊑ A and C ⊑ ∃p.F for every conjunct …
        if concept:
            normal.superclass(concept, name)  # … and A ⊓ ∃p.F ⊑ C
        else:
            axioms.warnings.append(f"{name}: defined as owl:Thing; only the necessary direction kept")
    for prop, domain in axioms.domains:
        if domain != OWL_THING:
            normal.exists_left.setdefault((prop, OWL_THING), set()).add(domain)  # ∃p.⊤ ⊑ D
    normal.close_roles(axioms.super_properties, axioms.ranges)
    subsumers = _saturate(normal, [term.iri for term in axioms.terms])
    term_iris = {term.iri for term in axioms.terms}
    return {iri: (subsumers[frozenset({iri})] & term_iris) - {iri} for iri in term_iris}


def _saturate(normal: _NormalForm, named: list[str]) -> dict[frozenset[str], set[str]]:
    """Completion rules to a fixpoint.

    A *node* is a conjunction of atoms standing for "some individual of this
    kind": one per named class, plus one per successor ``B ⊓ range(r)`` that an
    ``A ⊑ ∃r.B`` calls for.  ``subsumers[node]`` grows by:

    1. ``A ∈ S(x), A ⊑ B``                      ⇒ ``B ∈ S(x)``
    2. ``A1…An ∈ S(x), A1 ⊓ … ⊓ An ⊑ B``        ⇒ ``B ∈ S(x)``
    3. ``A ∈ S(x), A ⊑ ∃r.B``                   ⇒ edge ``x -r-> node(B ⊓ range(r))``, and for
       every super-property s of r an edge ``x -s-> …`` too
    4. edge ``x -r-> y``, ``B ∈ S(y)``, ``∃r.B ⊑ C`` ⇒ ``C ∈ S(x)`` (B = owl:Thing gives domains)
    """
    subsumers: dict[frozenset[str], set[str]] = {}
    predecessors: dict[frozenset[str], set[tuple[str, frozenset[str]]]] = {}
    todo: deque[tuple[frozenset[str], str]] = deque()

    def node(atoms: frozenset[str]) -> frozenset[str]:
        if atoms not in subsumers:
            subsumers[atoms] = set()
            predecessors[atoms] = set()
            todo.extend((atoms, atom) for atom in (*atoms, OWL_THING))
        return atoms

    def link(source: frozenset[str], role: str, target: frozenset[str]) -> None:
        for sup in normal.super_roles.get(role, {role}):
            if (sup, source) not in predecessors[target]:
                predecessors[target].add((sup, source))
                for atom in list(subsumers[target]):
                    todo.extend((source, c) for c in normal.exists_left.get((sup, atom), ()))

    for iri in named:
        node(frozenset({iri}))
    while todo:
        x, atom = todo.popleft()
        if atom in subsumers[x]:
            continue
        subsumers[x].add(atom)
        todo.extend((x, b) for b in normal.told.get(atom, ()))
        for members, b in normal.conjunctions.get(atom, ()):
            if members <= subsumers[x]:
                todo.append((x, b))
        for role, filler in normal.exists_right.get(atom, ()):
            link(x, role, node(frozenset({filler, *normal.ranges.get(role, ())})))
        for role, predecessor in list(predecessors[x]):
            todo.extend((predecessor, c) for c in normal.exists_left.get((role, atom), ()))
    return subsumers


def _disjointness_warnings(axioms: Axioms, ancestors: dict[str, set[str]]) -> list[str]:
    """A class under two disjoint classes would be unsatisfiable for an OWL reasoner."""
    warnings = []
    for a, b in axioms.disjoint:
        for iri, ups in ancestors.items():
            if {a, b} <= ups | {iri}:
                warnings.append(f"{iri} falls under {a} and {b}, declared disjoint (it is unsatisfiable)")
    return warnings


def ontology_from_table(text: str, source: str) -> Ontology:
    """Parse and classify a ROBOT template; problems end up in ``Ontology.warnings``."""
    axioms = read_axioms(text, source)
    ancestors = classify(axioms)
    warnings = axioms.warnings + _disjointness_warnings(axioms, ancestors)
    return Ontology(axioms.terms, ancestors, source=source, warnings=warnings)
