"""Writing extracted files into the catalogue, one transaction per batch.

A batch commits whole or not at all, so killing an ingest leaves no
half-written dataset.  A file's datasets keep their pid (derived from data
root, path and entry) and their row across re-ingests: when a file changes,
the columns and child rows that ingestion owns are rewritten in place and
everything else about the dataset (access decisions, DOIs, publication
links) stays.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import aliased

from pancommons.config import Settings
from pancommons.db.tables import (
    Affiliation,
    DataFile,
    Dataset,
    DatasetDerivation,
    DatasetFile,
    DatasetSample,
    DatasetTechnique,
    Document,
    DocumentDataset,
    Instrument,
    Member,
    Parameter,
    Person,
    PersonIdentifier,
    Sample,
    Technique,
    utcnow,
)
from pancommons.ingest.scan import LocatedFile
from pancommons.model import EntryRecord, FileRecord, PersonRecord

_PID_NAMESPACE = uuid.UUID("6f1c2a8e-4d0b-5c3e-9a7f-2b8d1e0c4f53")
_CACHE_SIZE = 20_000


def dataset_pid(prefix: str, data_root: str, relative: str, entry_path: str) -> str:
    digest = uuid.uuid5(_PID_NAMESPACE, f"{data_root}|{relative}|{entry_path}").hex[:20]
    return f"{prefix}/{digest}"


def _short_hash(*parts: str | None) -> str:
    return hashlib.sha1("|".join(part or "" for part in parts).encode()).hexdigest()[:12]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def add_years(moment: datetime, years: int) -> datetime:
    year = min(moment.year + years, 9999)
    try:
        return moment.replace(year=year)
    except ValueError:  # 29 February into a common year
        return moment.replace(year=year, day=28)


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


@dataclass(slots=True)
class Existing:
    """What the catalogue already knows of a file, for change detection."""

    id: int
    size: int
    mtime_ns: int
    checksum: str
    state: str


@dataclass(slots=True)
class BatchOutcome:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


class CatalogueWriter:
    def __init__(self, engine: Engine, settings: Settings, run_id: int | None = None):
        self.engine = engine
        self.settings = settings
        self.run_id = run_id
        self.prefix = settings.resolved_pid_prefix
        self._proposal_pattern = re.compile(settings.proposal_id_pattern) if settings.proposal_id_pattern else None
        self._ids: dict[str, _LRU] = {name: _LRU() for name in ("instrument", "technique", "sample", "person", "affiliation")}

    # --- lookups --------------------------------------------------------------

    def existing(self, connection: Connection, files: Sequence[LocatedFile]) -> dict[tuple[str, str], Existing]:
        found: dict[tuple[str, str], Existing] = {}
        by_root: dict[str, list[str]] = {}
        for located in files:
            by_root.setdefault(located.data_root, []).append(located.relative)
        for root, relatives in by_root.items():
            for start in range(0, len(relatives), 500):
                rows = connection.execute(
                    select(DataFile.id, DataFile.path, DataFile.size, DataFile.mtime_ns, DataFile.checksum, DataFile.state)
                    .where(DataFile.data_root == root, DataFile.path.in_(relatives[start : start + 500]))
                )
                for row in rows:
                    found[(root, row.path)] = Existing(row.id, row.size, row.mtime_ns, row.checksum, row.state)
        return found

    def mark_seen(self, connection: Connection, file_ids: Sequence[int]) -> None:
        for start in range(0, len(file_ids), 500):
            connection.execute(
                update(DataFile).where(DataFile.id.in_(file_ids[start : start + 500])).values(last_seen_run=self.run_id)
            )

    def proposal_number(self, identifier: str | None) -> str | None:
        if not identifier:
            return None
        if self._proposal_pattern is not None:
            match = self._proposal_pattern.search(identifier)
            if match:
                return match.groupdict().get("proposal") or match.group(0)
        return identifier

    # --- the batch --------------------------------------------------------------

    def write_batch(self, items: Sequence[tuple[LocatedFile, FileRecord]]) -> BatchOutcome:
        """Catalogue extracted files in one transaction; returns what changed."""
        outcome = BatchOutcome()
        try:
            with self.engine.begin() as connection:
                known = self.existing(connection, [located for located, _ in items])
                touched: list[tuple[int, LocatedFile, FileRecord, list[int]]] = []
                new_items = []
                for located, record in items:
                    previous = known.get((located.data_root, located.relative))
                    if previous is None:
                        new_items.append((located, record))
                    elif previous.checksum == record.checksum:
                        self._refresh_unchanged(connection, previous.id, record)
                        outcome.unchanged += 1
                    else:
                        dataset_ids = self._update_file(connection, previous.id, located, record)
                        touched.append((previous.id, located, record, dataset_ids))
                        outcome.updated += 1
                for moved_id, located, record in self._moved(connection, new_items):
                    new_items.remove((located, record))
                    connection.execute(update(DataFile).where(DataFile.id == moved_id).values(**self._file_values(located, record)))
                    outcome.updated += 1
                if new_items:
                    touched.extend(self._insert_files(connection, new_items))
                    outcome.new += len(new_items)
                if touched:
                    self._write_children(connection, touched)
        except Exception:
            self.forget_ids()
            raise
        return outcome

    def forget_ids(self) -> None:
        """After a rollback: ids made in the rolled-back transaction no longer exist."""
        for cache in self._ids.values():
            cache.clear()

    def _moved(self, connection: Connection, new_items) -> list[tuple[int, LocatedFile, FileRecord]]:
        """New paths whose bytes are a catalogued file no longer at its own path: a move
        or a rename.  The file's row (and its datasets, pids and links) moves with it."""
        if not new_items:
            return []
        checksums = {record.checksum for _, record in new_items}
        candidates: dict[tuple[str, str, int], list] = {}
        for row in connection.execute(
            select(DataFile.id, DataFile.data_root, DataFile.path, DataFile.checksum, DataFile.size)
            .where(DataFile.checksum.in_(checksums))
        ):
            candidates.setdefault((row.data_root, row.checksum, row.size), []).append(row)
        moved = []
        for located, record in new_items:
            for row in candidates.get((located.data_root, record.checksum, record.size), []):
                if not os.path.exists(os.path.join(row.data_root, row.path)):
                    moved.append((row.id, located, record))
                    candidates[(located.data_root, record.checksum, record.size)].remove(row)
                    break
        return moved

    def _file_values(self, located: LocatedFile, record: FileRecord) -> dict:
        return fit(DataFile, {
            "data_root": located.data_root,
            "path": located.relative,
            "name": located.relative.rsplit("/", 1)[-1],
            "size": record.size,
            "mtime_ns": record.mtime_ns,
            "checksum": record.checksum,
            "checksum_algorithm": record.checksum_algorithm,
            "state": "present",
            "filters": record.filters,
            "arrays": [
                {
                    "path": array.path,
                    "shape": list(array.shape),
                    "dtype": array.dtype,
                    "chunks": list(array.chunks) if array.chunks else None,
                    "filters": array.filters,
                    "layout": array.layout,
                    **({"virtual_sources": [list(source) for source in array.virtual_sources]} if array.virtual_sources else {}),
                }
                for array in record.arrays
            ],
            "arrays_total": record.arrays_total,
            "warnings": record.warnings[:50],
            "last_seen_run": self.run_id,
            "updated_at": utcnow(),
        })

    def _refresh_unchanged(self, connection: Connection, file_id: int, record: FileRecord) -> None:
        # Touched, or back after being missing, with the same bytes: only stat data and presence move.
        connection.execute(
            update(DataFile)
            .where(DataFile.id == file_id)
            .values(size=record.size, mtime_ns=record.mtime_ns, state="present", last_seen_run=self.run_id)
        )

    def _insert_files(self, connection: Connection, items) -> list[tuple[int, LocatedFile, FileRecord, list[int]]]:
        now = utcnow()
        file_rows = [{**self._file_values(located, record), "created_at": now} for located, record in items]
        file_ids = connection.execute(
            insert(DataFile).returning(DataFile.id, sort_by_parameter_order=True), file_rows
        ).scalars().all()
        dataset_rows = []
        owners = []
        for file_id, (located, record) in zip(file_ids, items):
            for entry in record.entries:
                dataset_rows.append({**self._dataset_values(connection, located, record, entry, file_id), "created_at": now})
                owners.append(file_id)
        dataset_ids = []
        if dataset_rows:
            dataset_ids = connection.execute(
                insert(Dataset).returning(Dataset.id, sort_by_parameter_order=True), dataset_rows
            ).scalars().all()
        per_file: dict[int, list[int]] = {}
        for owner, dataset_id in zip(owners, dataset_ids):
            per_file.setdefault(owner, []).append(dataset_id)
        return [(file_id, located, record, per_file.get(file_id, [])) for file_id, (located, record) in zip(file_ids, items)]

    def _update_file(self, connection: Connection, file_id: int, located: LocatedFile, record: FileRecord) -> list[int]:
        connection.execute(update(DataFile).where(DataFile.id == file_id).values(**self._file_values(located, record)))
        # Datasets are matched by entry, not by pid: a file that was moved keeps the
        # pids it was first catalogued with.
        current = {
            row.entry_path: row.id
            for row in connection.execute(select(Dataset.id, Dataset.entry_path).where(Dataset.source_file_id == file_id))
        }
        dataset_ids = []
        for entry in record.entries:
            values = self._dataset_values(connection, located, record, entry, file_id)
            dataset_id = current.pop(entry.entry_path, None)
            if dataset_id is None:
                dataset_id = connection.execute(insert(Dataset).returning(Dataset.id), values).scalar_one()
            else:
                values.pop("pid")
                self._update_dataset(connection, dataset_id, values)
            dataset_ids.append(dataset_id)
        if current:  # entries that left the file
            connection.execute(delete(Dataset).where(Dataset.id.in_(list(current.values()))))
        return dataset_ids

    def _update_dataset(self, connection: Connection, dataset_id: int, values: dict) -> None:
        before = connection.execute(
            select(Dataset.embargo_until, Dataset.proposal_number).where(Dataset.id == dataset_id)
        ).one()
        if before.embargo_until == values["embargo_until"]:
            # Access follows the embargo date ingestion derives; while that date
            # stands, an access decision already taken is left alone.
            values.pop("is_public")
        connection.execute(update(Dataset).where(Dataset.id == dataset_id).values(**values))
        self._clear_owned_children(connection, dataset_id)
        if before.proposal_number != values["proposal_number"]:
            # The file now names another proposal: the old proposal link goes (links to publications stay).
            connection.execute(
                delete(DocumentDataset).where(
                    DocumentDataset.dataset_id == dataset_id,
                    DocumentDataset.document_id.in_(select(Document.id).where(Document.type == "proposal")),
                )
            )

    def _clear_owned_children(self, connection: Connection, dataset_id: int) -> None:
        for table, column in (
            (Parameter, Parameter.dataset_id),
            (DatasetTechnique, DatasetTechnique.dataset_id),
            (DatasetSample, DatasetSample.dataset_id),
            (Member, Member.dataset_id),
            (DatasetDerivation, DatasetDerivation.dataset_id),
            (DatasetFile, DatasetFile.dataset_id),
        ):
            connection.execute(delete(table).where(column == dataset_id))

    def _dataset_values(self, connection: Connection, located: LocatedFile, record: FileRecord, entry: EntryRecord, file_id: int) -> dict:
        acquired = entry.end_time or entry.start_time
        embargo_until = add_years(acquired, self.settings.embargo_years) if acquired else None
        return fit(Dataset, {
            "pid": dataset_pid(self.prefix, located.data_root, located.relative, entry.entry_path),
            "title": entry.title,
            "is_public": bool(embargo_until and embargo_until <= datetime.now(timezone.utc)),
            "creation_date": entry.start_time,
            "end_date": entry.end_time,
            "size": record.size,
            "facility": entry.facility or self.settings.facility or None,
            "instrument_id": self._instrument_id(connection, entry.facility or self.settings.facility, entry.instrument_name),
            "proposal_number": self.proposal_number(entry.proposal_id),
            "kind": entry.kind.value,
            "license": self.settings.default_license,
            "embargo_until": embargo_until,
            "definition": entry.definition,
            "probe": entry.probe,
            "default_plot": entry.default_plot,
            "time_source": entry.time_source,
            "time_raw": (entry.time_raw or "")[:128] or None,
            "source_file_id": file_id,
            "entry_path": entry.entry_path,
            "updated_at": utcnow(),
        })

    def _write_children(self, connection: Connection, touched) -> None:
        parameters, techniques, samples, members, derivations, links = [], [], [], [], [], []
        people: list[tuple[PersonRecord, str | None]] = []  # one per member row, resolved together below
        for file_id, located, record, dataset_ids in touched:
            for dataset_id, entry in zip(dataset_ids, record.entries):
                links.append({"dataset_id": dataset_id, "file_id": file_id})
                for parameter in entry.parameters:
                    numeric = isinstance(parameter.value, (int, float))
                    parameters.append(
                        fit(Parameter, {
                            "dataset_id": dataset_id,
                            "name": parameter.name,
                            "value_number": float(parameter.value) if numeric else None,
                            "value_string": None if numeric else str(parameter.value),
                            "unit": parameter.unit or None,
                            "si_value": parameter.si_value,
                            "si_unit": parameter.si_unit,
                            "source": parameter.source,
                        })
                    )
                for technique_id in {self._technique_id(connection, iri, name) for iri, name in entry.techniques}:
                    techniques.append({"dataset_id": dataset_id, "technique_id": technique_id})
                for sample_id in {
                    self._sample_id(connection, sample.name, sample.chemical_formula, sample.description)
                    for sample in entry.samples
                }:
                    samples.append({"dataset_id": dataset_id, "sample_id": sample_id})
                for person in entry.users:
                    people.append((person, entry.facility))
                    members.append(
                        fit(Member, {
                            "dataset_id": dataset_id,
                            "affiliation_id": self.affiliation_id(connection, person.affiliation, None, None),
                            "role": person.role or None,
                        })
                    )
                for reference, source_entry in dict.fromkeys(entry.derived_from):
                    source_path = self._source_path(located, reference)
                    if source_path is None:
                        continue  # a source outside every data root cannot be a catalogued dataset
                    derivations.append(
                        fit(DatasetDerivation, {
                            "dataset_id": dataset_id,
                            "source_path": source_path,
                            "source_entry": "/" + source_entry.strip("/") if source_entry else None,
                        })
                    )
        for member, person_id in zip(members, self.people_ids(connection, people) if people else []):
            member["person_id"] = person_id
        for table, rows in (
            (DatasetFile, links),
            (Parameter, parameters),
            (DatasetTechnique, techniques),
            (DatasetSample, samples),
            (Member, members),
            (DatasetDerivation, _unique(derivations, ("dataset_id", "source_path"))),
        ):
            if rows:
                connection.execute(insert(table), rows)
        dataset_ids = [dataset_id for *_, ids in touched for dataset_id in ids]
        link_proposals(connection, dataset_ids=dataset_ids)

    # --- shared rows ------------------------------------------------------------

    def _source_path(self, located: LocatedFile, reference: str) -> str | None:
        """A raw file named by a processed one (relative to its directory, or absolute),
        as a path relative to the processed file's data root."""
        directory = os.path.dirname(os.path.join(located.data_root, located.relative))  # where it really is
        target = os.path.normpath(os.path.join(directory, reference))
        root = located.data_root.rstrip(os.sep) + os.sep
        if not target.startswith(root):
            return None
        return Path(os.path.relpath(target, located.data_root)).as_posix()

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

    def _instrument_id(self, connection: Connection, facility: str | None, name: str | None) -> int | None:
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

    def _technique_id(self, connection: Connection, iri: str, name: str) -> int:
        iri = iri[:255]
        return self._cached("technique", iri, connection, {"pid": iri}, lambda: {"pid": iri, "name": name})

    def _sample_id(self, connection: Connection, name: str, formula: str | None, description: str | None) -> int:
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
            # the strongest identifier decides who it is
            owner = next((owners[key] for key in keys if key in owners), None)
            if owner is None:
                owner = ("new", len(created))
                created.append(details)
            elif isinstance(owner, int):
                # fill what the known person lacks from what this record says; never overwrite
                details.pop("full_name")
                completions.append({"person_id": owner, **details})
            for key in keys:
                if key not in owners:  # an identifier already held by someone else stays theirs
                    owners[key] = owner
                    new_keys.append((key, owner))
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


def _unique(rows: list[dict], key: tuple[str, ...]) -> list[dict]:
    return list({tuple(row[k] for k in key): row for row in rows}.values())


def link_proposals(connection: Connection, *, dataset_ids: Sequence[int] | None = None, document_ids: Sequence[int] | None = None) -> None:
    """Link datasets to the proposals their proposal number names (whichever arrived second)."""
    already = select(DocumentDataset.dataset_id).where(
        DocumentDataset.dataset_id == Dataset.id, DocumentDataset.document_id == Document.id
    )
    query = (
        select(Document.id, Dataset.id)
        .join(Dataset, Dataset.proposal_number == Document.proposal_number)
        .where(~already.exists())
    )
    chunks: list = [None]
    if dataset_ids is not None:
        chunks = [("dataset", list(dataset_ids[i : i + 500])) for i in range(0, len(dataset_ids), 500)]
    elif document_ids is not None:
        chunks = [("document", list(document_ids[i : i + 500])) for i in range(0, len(document_ids), 500)]
    for chunk in chunks:
        scoped = query
        if chunk is not None:
            kind, ids = chunk
            scoped = query.where((Dataset.id if kind == "dataset" else Document.id).in_(ids))
        connection.execute(
            insert(DocumentDataset).from_select(["document_id", "dataset_id"], scoped)
        )


def resolve_derivations(connection: Connection) -> int:
    """Point processed datasets at the raw datasets their files name, once both are catalogued.

    The source is looked up in the processed file's own data root (the path
    was written relative to it) and, where the process named an entry, by it.
    """
    processed_file = aliased(DataFile)
    processed = aliased(Dataset)
    root_of_processed = (
        select(processed_file.data_root)
        .join(processed, processed.source_file_id == processed_file.id)
        .where(processed.id == DatasetDerivation.dataset_id)
        .correlate(DatasetDerivation)  # to the row being updated, through the enclosing subquery
        .scalar_subquery()
    )
    source = (
        select(Dataset.id)
        .join(DataFile, DataFile.id == Dataset.source_file_id)
        .where(
            DataFile.path == DatasetDerivation.source_path,
            DataFile.data_root == root_of_processed,
            (Dataset.entry_path == DatasetDerivation.source_entry) | (DatasetDerivation.source_entry.is_(None)),
        )
        .order_by(Dataset.entry_path)
        .limit(1)
        .correlate(DatasetDerivation)
        .scalar_subquery()
    )
    result = connection.execute(
        update(DatasetDerivation)
        .where(DatasetDerivation.source_dataset_id.is_(None))
        .values(source_dataset_id=source)
    )
    return result.rowcount or 0
