"""The PaNOSC model as filters see it: each entity's fields, their types, its relations.

A filter may name only what is written here; the SQL compiler maps each
name to a column.  Names are the API's (camelCase), exactly as
panosc-search-api.md lists them, plus a few extras a facility catalogue
has (``Sample.chemicalFormula``, ``Dataset.facility`` ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FieldType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date-time"
    STRING_LIST = "list of strings"
    NUMBER_OR_STRING = "number or string"  # a parameter's value


@dataclass(frozen=True, slots=True)
class Relation:
    target: str
    many: bool = True


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    fields: dict[str, FieldType]
    relations: dict[str, Relation]
    text_fields: tuple[str, ...]  # what {"text": …} searches
    order: tuple[str, ...]  # the default order without a text query


S, N, B, D = FieldType.STRING, FieldType.NUMBER, FieldType.BOOLEAN, FieldType.DATE

ENTITIES: dict[str, Entity] = {
    entity.name: entity
    for entity in (
        Entity(
            "Dataset",
            {"pid": S, "title": S, "isPublic": B, "creationDate": D, "size": N, "facility": S, "kind": S, "license": S},
            {
                "documents": Relation("Document"),
                "techniques": Relation("Technique"),
                "instrument": Relation("Instrument", many=False),
                "files": Relation("File"),
                "parameters": Relation("Parameter"),
                "samples": Relation("Sample"),
            },
            ("title",),
            ("title", "pid"),
        ),
        Entity(
            "Document",
            {
                "pid": S, "isPublic": B, "type": S, "title": S, "summary": S, "doi": S, "startDate": D,
                "endDate": D, "releaseDate": D, "license": S, "keywords": FieldType.STRING_LIST,
            },
            {"datasets": Relation("Dataset"), "members": Relation("Member"), "parameters": Relation("Parameter")},
            ("title", "summary"),
            ("title", "pid"),
        ),
        Entity("File", {"id": N, "name": S, "path": S, "size": N}, {"dataset": Relation("Dataset", many=False)},
               ("name",), ("path", "id")),
        Entity("Instrument", {"pid": S, "name": S, "facility": S}, {"datasets": Relation("Dataset")},
               ("name", "facility"), ("name", "pid")),
        Entity(
            "Member",
            {"id": N, "role": S},
            {
                "document": Relation("Document", many=False),
                "person": Relation("Person", many=False),
                "affiliation": Relation("Affiliation", many=False),
            },
            (),
            ("id",),
        ),
        Entity(
            "Parameter",
            {"id": N, "name": S, "value": FieldType.NUMBER_OR_STRING, "unit": S},
            {"dataset": Relation("Dataset", many=False), "document": Relation("Document", many=False)},
            (),
            ("name", "id"),
        ),
        Entity(
            "Person",
            {"id": S, "fullName": S, "orcid": S, "researcherId": S, "firstName": S, "lastName": S},
            {"members": Relation("Member")},
            ("fullName", "firstName", "lastName"),
            ("fullName", "id"),
        ),
        Entity("Sample", {"pid": S, "name": S, "description": S, "chemicalFormula": S},
               {"datasets": Relation("Dataset")}, ("name", "description"), ("name", "pid")),
        Entity("Technique", {"pid": S, "name": S, "panetId": S}, {"datasets": Relation("Dataset")},
               ("name",), ("name", "pid")),
        Entity(
            "Affiliation",
            {"id": N, "name": S, "address": S, "city": S, "country": S},
            {"members": Relation("Member")},
            ("name", "city", "country"),
            ("name", "id"),
        ),
    )
}

# Entities with their own endpoints; the rest are reached through include.
TOP_LEVEL = ("Dataset", "Document", "Instrument")
