"""Rows many datasets share — instruments, techniques, samples, people, affiliations —
found or created, with their ids remembered (a bounded cache) for the rest of a run."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, func, insert, select, update

from pancommons.config import Settings
from pancommons.db.tables import (
    Affiliation,
    Instrument,
    Person,
    PersonIdentifier,
    Sample,
    Technique,
)
from pancommons.model import PersonRecord
from pancommons.techniques import PANET_PREFIX

_CACHE_SIZE = 20_000


def _short_hash(*parts: str | None) -> str:
    return hashlib.sha1("|".join(part or "" for part in parts).encode()).hexdigest()[:12]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def checked_orcid(value: str | None) -> str | None:
    """An ORCID iD as written by a user office or a dump, in canonical form; ValueError saying why not."""
    if not value:
        return None
    orcid = normalise_orcid(value)
    if orcid is None:
        raise ValueError(f"{value!r} is not a valid ORCID iD (checksum or form)")
    return orcid


def normalise_orcid(value: str | None) -> str | None:
    """The bare 16-character ORCID iD, or None when it is not a valid one."""
    if not value:
        return None
    text = value.strip().upper().removeprefix("HTTPS://ORCID.ORG/").removeprefix("HTTP://ORCID.ORG/")
    digits = text.replace("-", "")
    if not re.fullmatch(r"\d{15}[\dX]", digits):
        return None
    total = 0
    for char in digits[:-1]:
        total = (total + int(char)) * 2
    check = (12 - total % 11) % 11
    if digits[-1] != ("X" if check == 10 else str(check)):
        return None
    return "-".join(digits[i : i + 4] for i in range(0, 16, 4))


def person_keys(person: PersonRecord, facility: str | None) -> list[str]:
    """The identifiers of a person, strongest first; the name only when there is nothing else."""
    keys = []
    orcid = normalise_orcid(person.orcid)
    if orcid:
        keys.append(f"orcid:{orcid}")
    if person.facility_user_id:
        keys.append(f"user:{(facility or '').lower()}:{person.facility_user_id.strip().lower()}")
    if person.email:
        digest = hashlib.sha256(person.email.strip().lower().encode()).hexdigest()
        keys.append(f"email-sha256:{digest}")
    if not keys:
        keys.append("name:" + " ".join(person.full_name.lower().split()))
    return [key[:600] for key in keys]


class _LRU(OrderedDict):
    """Ids of rows already looked up; bounded so memory does not grow with the catalogue."""

    def get_id(self, key):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def put(self, key, value):
        self[key] = value
        if len(self) > _CACHE_SIZE:
            self.popitem(last=False)


def _column_limits(table) -> dict[str, int]:
    return {
        column.name: column.type.length
        for column in table.__table__.columns
        if isinstance(getattr(column.type, "length", None), int)
    }


_LIMITS: dict[type, dict[str, int]] = {}


def fit(table, row: dict) -> dict:
    """Clip text to its column's length: files carry arbitrarily long strings, and
    PostgreSQL refuses (where SQLite would store) what does not fit."""
    limits = _LIMITS.get(table)
    if limits is None:
        limits = _LIMITS[table] = _column_limits(table)
    for name, limit in limits.items():
        value = row.get(name)
        if isinstance(value, str) and len(value) > limit:
            row[name] = value[:limit]
    return row


def _exclusive_kind(key: str) -> str | None:
    """The kind of identifier a person has at most one of: an ORCID; a user id per facility."""
    if key.startswith("orcid:"):
        return "orcid:"
    if key.startswith("user:"):
        return key[: key.rindex(":") + 1]  # user:<facility>:
    return None  # e-mail addresses and names may be shared


def _contradicts(keys: list[str], known: set[str]) -> bool:
    """True when a record and a person disagree on an identifier only one person can hold."""
    theirs = {kind: key for key in known if (kind := _exclusive_kind(key))}
    return any((kind := _exclusive_kind(key)) in theirs and theirs[kind] != key for key in keys)


class SharedRows:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.prefix = settings.resolved_pid_prefix
        self._ids: dict[str, _LRU] = {name: _LRU() for name in ("instrument", "technique", "sample", "person", "affiliation")}

    def forget(self) -> None:
        """After a rollback: ids made in the rolled-back transaction no longer exist."""
        for cache in self._ids.values():
            cache.clear()

    # Statements are built once; each lookup only binds values (building a
    # SQLAlchemy statement costs more than running it on a cache hit).
    _LOOKUP = {
        "instrument": (select(Instrument.id).where(Instrument.facility == bindparam("facility"), Instrument.name == bindparam("name")), insert(Instrument).returning(Instrument.id)),
        "technique": (select(Technique.id).where(Technique.pid == bindparam("pid")), insert(Technique).returning(Technique.id)),
        "sample": (select(Sample.id).where(Sample.pid == bindparam("pid")), insert(Sample).returning(Sample.id)),
        "affiliation": (select(Affiliation.id).where(Affiliation.affiliation_key == bindparam("affiliation_key")), insert(Affiliation).returning(Affiliation.id)),
    }

    _TABLES = {"instrument": Instrument, "technique": Technique, "sample": Sample, "affiliation": Affiliation}

    def _cached(self, kind: str, key, connection: Connection, lookup: dict, values) -> int:
        """The id of a shared row, found or created; ``values`` is called only to create it."""
        cache = self._ids[kind]
        found = cache.get_id(key)
        if found is None:
            find, create = self._LOOKUP[kind]
            found = connection.execute(find, lookup).scalar()
            if found is None:
                found = connection.execute(create, fit(self._TABLES[kind], values())).scalar_one()
            cache.put(key, found)
        return found

    def instrument_id(self, connection: Connection, facility: str | None, name: str | None) -> int | None:
        if not name:
            return None
        facility, name = (facility or "")[:255], name[:255]  # as stored: lookups must find what was written
        return self._cached(
            "instrument",
            (facility, name),
            connection,
            {"facility": facility, "name": name},
            lambda: {
                "pid": f"{self.prefix}/instrument/{_slug(facility)}-{_slug(name)}-{_short_hash(facility, name)[:6]}",
                "name": name,
                "facility": facility,
            },
        )

    def technique_id(self, connection: Connection, iri: str, name: str) -> int:
        iri = iri[:255]
        panet_id = iri if iri.startswith(PANET_PREFIX) else None
        return self._cached(
            "technique", iri, connection, {"pid": iri}, lambda: {"pid": iri, "name": name, "panet_id": panet_id}
        )

    def sample_id(self, connection: Connection, name: str, formula: str | None, description: str | None) -> int:
        pid = f"{self.prefix}/sample/{_short_hash(name.lower(), formula)}"
        return self._cached(
            "sample",
            pid,
            connection,
            {"pid": pid},
            lambda: {"pid": pid, "name": name, "chemical_formula": formula, "description": description},
        )

    _KNOWN_KEYS = select(PersonIdentifier.key, PersonIdentifier.person_id).where(
        PersonIdentifier.key.in_(bindparam("keys", expanding=True))
    )
    _KEYS_OF = select(PersonIdentifier.key, PersonIdentifier.person_id).where(
        PersonIdentifier.person_id.in_(bindparam("ids", expanding=True))
    )
    _COMPLETE_PERSON = (
        update(Person)
        .where(Person.id == bindparam("person_id"))
        .values(
            {
                column: func.coalesce(getattr(Person, column), bindparam(column))
                for column in ("orcid", "facility_user_id", "email", "first_name", "last_name")
            }
        )
    )

    def person_id(self, connection: Connection, person: PersonRecord, facility: str | None) -> int:
        return self.people_ids(connection, [(person, facility)])[0]

    def people_ids(self, connection: Connection, people: Sequence[tuple[PersonRecord, str | None]]) -> list[int]:
        """The persons records name, each found by any identifier it shares with someone
        already known (or named earlier in the same call), else created; in a handful of
        statements however many records there are."""
        cache = self._ids["person"]
        keyed = [person_keys(person, self.settings.facility or facility) for person, facility in people]
        owners_of: list = [cache.get_id(tuple(keys)) for keys in keyed]
        pending = [index for index, owner in enumerate(owners_of) if owner is None]
        if not pending:
            return owners_of
        wanted = sorted({key for index in pending for key in keyed[index]})
        owners: dict[str, object] = {}
        for start in range(0, len(wanted), 500):
            owners.update(connection.execute(self._KNOWN_KEYS, {"keys": wanted[start : start + 500]}).all())
        # every identifier of the people found, to tell a namesake from the same person
        keys_of: dict[object, set[str]] = {}
        found_ids = sorted(set(owners.values()))
        for start in range(0, len(found_ids), 500):
            for key, owner in connection.execute(self._KEYS_OF, {"ids": found_ids[start : start + 500]}):
                keys_of.setdefault(owner, set()).add(key)
        created: list[dict] = []  # persons to create; ("new", n) stands for the n-th until it has an id
        completions: list[dict] = []
        new_keys: list[tuple[str, object]] = []
        for index in pending:
            person, keys = people[index][0], keyed[index]
            details = fit(Person, {
                "full_name": person.full_name,
                "first_name": person.first_name,
                "last_name": person.last_name,
                "orcid": normalise_orcid(person.orcid),
                "facility_user_id": person.facility_user_id,
                "email": person.email,
            })
            # the strongest identifier decides who it is, unless that someone has another
            # ORCID or user id (a shared group mailbox does not make two people one)
            owner = next((owners[key] for key in keys if key in owners), None)
            if owner is not None and _contradicts(keys, keys_of.get(owner, set())):
                owner = None
            if owner is None:
                owner = ("new", len(created))
                created.append(details)
            elif isinstance(owner, int):
                # fill what the known person lacks from what this record says; never overwrite
                details.pop("full_name")
                completions.append({"person_id": owner, **details})
            else:  # someone first met earlier in this same call
                person_row = created[owner[1]]
                for column, value in details.items():
                    if value and not person_row.get(column):
                        person_row[column] = value
            for key in keys:
                if key not in owners:  # an identifier already held by someone else stays theirs
                    owners[key] = owner
                    new_keys.append((key, owner))
                    keys_of.setdefault(owner, set()).add(key)
            owners_of[index] = owner
        ids: list[int] = []
        if created:
            ids = connection.execute(insert(Person).returning(Person.id, sort_by_parameter_order=True), created).scalars().all()

        def real(owner) -> int:
            return ids[owner[1]] if isinstance(owner, tuple) else owner

        if completions:
            connection.execute(self._COMPLETE_PERSON, completions)
        if new_keys:
            connection.execute(insert(PersonIdentifier), [{"key": key, "person_id": real(owner)} for key, owner in new_keys])
        for index in pending:
            owners_of[index] = real(owners_of[index])
            cache.put(tuple(keyed[index]), owners_of[index])
        return owners_of

    def affiliation_id(self, connection: Connection, name: str | None, city: str | None, country: str | None) -> int | None:
        if not name:
            return None
        key = "|".join(part.strip().lower() for part in (name, city or "", country or ""))[:600]
        return self._cached(
            "affiliation",
            key,
            connection,
            {"affiliation_key": key},
            lambda: {"affiliation_key": key, "name": name, "city": city, "country": country},
        )
