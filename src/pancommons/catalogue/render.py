"""Catalogue rows in the PaNOSC shape: camelCase fields, ISO times, no private data.

One function per entity, so what the API (and the portal, and exports)
shows of a record is decided here and nowhere else.  A person's e-mail
address never leaves the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pancommons.catalogue.policy import is_public_dataset, is_public_document


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Fields every record of an entity carries, whatever ``fields`` asks (PaNOSC's "R" fields, and score).
REQUIRED = {
    "Dataset": ("pid", "title", "isPublic", "creationDate", "score"),
    "Document": ("pid", "isPublic", "type", "title", "keywords", "score"),
    "File": ("id", "name"),
    "Instrument": ("pid", "name", "facility", "score"),
    "Member": ("id",),
    "Parameter": ("id", "name", "value"),
    "Person": ("id", "fullName"),
    "Sample": ("pid", "name"),
    "Technique": ("pid", "name"),
    "Affiliation": ("id", "name"),
}


def _present(record: dict[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    """Optional fields without a value are left out, as the reference does."""
    return {key: value for key, value in record.items() if value is not None or key in required}


def render(entity: str, row, now: datetime, score: float | None) -> dict[str, Any]:
    return _RENDERERS[entity](row, now, score)


def _dataset(row, now, score):
    return _present(
        {
            "pid": row["pid"],
            "title": row["title"],
            "isPublic": is_public_dataset(row["is_public"], row["embargo_until"], now),
            "creationDate": iso(row["creation_date"]),
            "size": row["size"],
            "score": score or 0,
            # A facility catalogue's extras (the PaNOSC names above are never replaced).
            "facility": row["facility"],
            "kind": row["kind"],
            "license": row["license"],
            "embargoUntil": iso(row["embargo_until"]),
        },
        ("pid", "title", "isPublic", "creationDate", "score"),
    )


def _document(row, now, score):
    return _present(
        {
            "pid": row["pid"],
            "isPublic": is_public_document(row["is_public"], row["release_date"], now),
            "type": row["type"],
            "title": row["title"],
            "summary": row["summary"],
            "doi": row["doi"],
            "startDate": iso(row["start_date"]),
            "endDate": iso(row["end_date"]),
            "releaseDate": iso(row["release_date"]),
            "license": row["license"],
            "keywords": list(row["keywords"] or []),
            "score": score or 0,
        },
        ("pid", "isPublic", "type", "title", "keywords", "score"),
    )


def _file(row, now, score):
    return _present({"id": row["id"], "name": row["name"], "path": row["path"], "size": row["size"]}, ("id", "name"))


def _instrument(row, now, score):
    return {"pid": row["pid"], "name": row["name"], "facility": row["facility"], "score": score or 0}


def _member(row, now, score):
    return _present({"id": row["id"], "role": row["role"]}, ("id",))


def _parameter(row, now, score):
    # Written out rather than through _present: a page of datasets with their parameters renders
    # ~10⁴ of these, the most of any entity.
    value = row["value_number"]
    if value is None:
        value = row["value_string"]
    elif isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    record = {"id": row["id"], "name": row["name"], "value": value}
    unit = row["unit"]
    if unit is not None:
        record["unit"] = unit
    return record


def _person(row, now, score):
    return _present(
        {
            "id": row["pid"] or str(row["id"]),
            "fullName": row["full_name"],
            "orcid": row["orcid"],
            "researcherId": row["researcher_id"],
            "firstName": row["first_name"],
            "lastName": row["last_name"],
        },
        ("id", "fullName"),
    )


def _sample(row, now, score):
    return _present(
        {"pid": row["pid"], "name": row["name"], "description": row["description"], "chemicalFormula": row["chemical_formula"]},
        ("pid", "name"),
    )


def _technique(row, now, score):
    return _present({"pid": row["pid"], "name": row["name"], "panetId": row["panet_id"]}, ("pid", "name"))


def _affiliation(row, now, score):
    return _present(
        {"id": row["id"], "name": row["name"], "address": row["address"], "city": row["city"], "country": row["country"]},
        ("id", "name"),
    )


_RENDERERS = {
    "Dataset": _dataset,
    "Document": _document,
    "File": _file,
    "Instrument": _instrument,
    "Member": _member,
    "Parameter": _parameter,
    "Person": _person,
    "Sample": _sample,
    "Technique": _technique,
    "Affiliation": _affiliation,
}
