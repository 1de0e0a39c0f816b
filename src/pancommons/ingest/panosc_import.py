"""``pancommons import-panosc``: a catalogue dump in the PaNOSC reference fixture's format.

The reference implementation (panosc-eu/search-api, LoopBack 3) keeps its
catalogue as a memory-connector file: ``{"ids": {...}, "models": {"Dataset":
{"<key>": "<the record as a JSON string>"}, ...}}`` with the PaNOSC API's
field names.  A facility moving from the reference (or a test bed loading its
fixture) imports that file here; LoopBack's own models (AccessToken, ACL, Role,
RoleMapping, User) are ignored.

Each record is validated and written on its own, under a savepoint: a record
that is not JSON, misses a required field or names an unknown pid is reported
as ``(model, key, reason)`` and skipped, and the rest land in one transaction.
Records are matched by natural keys, so importing the same file twice changes
nothing and a changed file updates in place.  An import adds and updates; it
never deletes what a dump no longer holds.

Natural keys (the dump's own ``id`` of a File, Parameter or Member is not
kept: it repeats across join records and means nothing outside the dump):

- Dataset, Document, Instrument, Sample, Technique: the pid (a technique's
  ``panetId``, else its pid when that is a PaNET IRI, is its PaNET term).  A
  Dataset or a Document whose pid this catalogue's own ingestion or
  user-office import already owns is refused, so a dump never overwrites the
  files' truth.  An Instrument whose (facility, name) another instrument
  already has is not created twice: datasets naming its pid are linked to the
  existing one (and the report says so).
- Person: ``persons.pid`` = the dump's id (as text), else the person already
  known by the same ORCID iD; identifiers ``panosc:<id>`` and
  ``orcid:<iD>`` (as ``shared_rows`` writes them) let later ingestion of
  files naming the same ORCID meet the same row.
- Affiliation: ``affiliation_key`` = ``panosc:<id>``.
- Member: (document, person, role); a changed affiliation updates it, a
  changed role is another membership.  Roles are written snake_case, as the
  user-office import writes them (``principal investigator`` →
  ``principal_investigator``).
- Parameter: (its dataset or document, name); value, unit and the SI form
  (through ``units.normalise``) are updated.  The unit is kept as written.
- File: imported files are not on this node's storage.  They live under the
  pseudo data root ``panosc-import`` (never a real, absolute data root, so
  no scan marks them missing) at path ``<dataset pid>/<path>/<name>`` (the
  dump's ``path`` taken as the file's directory; ``<dataset pid>/<path>``
  when ``path`` already ends with the name, ``<dataset pid>/<name>`` without
  a path), with size 0 when the dump gives none, no checksum (``""``,
  algorithm ``""``), mtime 0 and state ``present``.
- DatasetSample, DatasetTechnique, DocumentDataset: the pair of pids.

Dates without a zone are taken as UTC (LoopBack serialises JavaScript Dates,
which are UTC instants).  After writing, the full-text rows of every dataset
and document the import touched — directly, or through an instrument,
sample, technique, person or linked record that changed — are recomputed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from pancommons.catalogue import text_index
from pancommons.db.engine import database_reason
from pancommons.db.tables import (
    Affiliation,
    DataFile,
    Dataset,
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
from pancommons.ingest.proposals import read_export_text
from pancommons.ingest.shared_rows import checked_orcid, fit
from pancommons.techniques import PANET_PREFIX
from pancommons.units import expected_dimension, normalise

IMPORTED_DATA_ROOT = "panosc-import"

# Written in this order: a record's references are stored before it.
MODELS = (
    "Instrument",
    "Technique",
    "Sample",
    "Affiliation",
    "Person",
    "Dataset",
    "Document",
    "File",
    "Parameter",
    "Member",
    "DatasetSample",
    "DatasetTechnique",
    "DocumentDataset",
)
LOOPBACK_MODELS = frozenset({"AccessToken", "ACL", "Role", "RoleMapping", "User"})


class PanoscImportError(ValueError):
    """The file as a whole cannot be read (the message names the file and the reason)."""


class Problem(NamedTuple):
    model: str
    key: str  # the record's key in the dump ("" for a whole model)
    reason: str


@dataclass
class ModelCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class PanoscImportReport:
    counts: dict[str, ModelCounts] = field(default_factory=lambda: {model: ModelCounts() for model in MODELS})
    problems: list[Problem] = field(default_factory=list)

    def _total(self, outcome: str) -> int:
        return sum(getattr(counts, outcome) for counts in self.counts.values())

    @property
    def created(self) -> int:
        return self._total("created")

    @property
    def updated(self) -> int:
        return self._total("updated")

    @property
    def unchanged(self) -> int:
        return self._total("unchanged")

    def summary_line(self) -> str:
        return (
            f"created: {self.created}, updated: {self.updated}, unchanged: {self.unchanged}, "
            f"problems: {len(self.problems)}"
        )


class Refused(ValueError):
    """A record the catalogue will not take (unknown reference, pid owned by ingestion, ...)."""


class _Aliased(Exception):
    """An instrument whose (facility, name) another pid already has in the catalogue."""

    def __init__(self, pid: str, existing_id: int, existing_pid: str):
        super().__init__(pid)
        self.pid, self.existing_id, self.existing_pid = pid, existing_id, existing_pid


# --- the records, as the PaNOSC API names their fields -------------------------------------


def _without_nul(value):
    # PostgreSQL refuses NUL in text; SQLite would keep it.
    return value.replace("\x00", "") if isinstance(value, str) else value


class _Record(BaseModel):
    """Fields by their camelCase API names; ids that are numbers in one model and
    text in another (Affiliation 1, Person "panosc-person1") are all text here."""

    model_config = ConfigDict(
        alias_generator=to_camel, extra="ignore", coerce_numbers_to_str=True, str_strip_whitespace=True
    )

    _clean = field_validator("*", mode="before")(classmethod(lambda cls, value: _without_nul(value)))


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _pid():
    # longer pids would be clipped to the column, and two clipped pids could become one
    return Field(min_length=1, max_length=255)


class InstrumentIn(_Record):
    pid: str = _pid()
    name: str = Field(min_length=1, max_length=255)
    facility: str = Field(max_length=255)


class TechniqueIn(_Record):
    pid: str = _pid()
    name: str = Field(min_length=1)
    panet_id: str | None = None


class SampleIn(_Record):
    pid: str = _pid()
    name: str = Field(min_length=1)
    description: str | None = None


class AffiliationIn(_Record):
    id: str = Field(min_length=1, max_length=590)
    name: str = Field(min_length=1)
    address: str | None = None
    city: str | None = None
    country: str | None = None


class PersonIn(_Record):
    id: str = _pid()
    full_name: str = Field(min_length=1)
    orcid: str | None = None
    researcher_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    _valid_orcid = field_validator("orcid")(classmethod(lambda cls, value: checked_orcid(value)))


class DatasetIn(_Record):
    pid: str = _pid()
    title: str = Field(min_length=1)
    is_public: bool
    creation_date: datetime
    size: int | None = Field(default=None, ge=0)
    instrument_id: str | None = None

    _zone = field_validator("creation_date")(classmethod(lambda cls, value: _utc(value)))


class DocumentIn(_Record):
    pid: str = _pid()
    is_public: bool
    type: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1)
    summary: str | None = None
    doi: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    release_date: datetime | None = None
    license: str | None = Field(default=None, max_length=64)
    keywords: list[str] | None = None

    _zone = field_validator("start_date", "end_date", "release_date")(classmethod(lambda cls, value: _utc(value)))


class FileIn(_Record):
    name: str = Field(min_length=1, max_length=512)
    path: str | None = None
    size: int | None = Field(default=None, ge=0)
    dataset_id: str = Field(min_length=1)


class ParameterIn(_Record):
    name: str = Field(min_length=1, max_length=255)
    value: float | str
    unit: str | None = Field(default=None, max_length=64)
    dataset_id: str | None = None
    document_id: str | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _number_or_text(cls, value):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("must be a number or a string")  # noqa: TRY004 - pydantic reports only ValueError
        return float(value) if isinstance(value, int) else value

    @model_validator(mode="after")
    def _one_parent(self) -> ParameterIn:
        if bool(self.dataset_id) == bool(self.document_id):
            raise ValueError("a parameter belongs to exactly one of datasetId and documentId")
        return self


class MemberIn(_Record):
    role: str | None = None
    document_id: str = Field(min_length=1)
    person_id: str = Field(min_length=1)
    affiliation_id: str | None = None

    @field_validator("role")
    @classmethod
    def _snake_role(cls, value: str | None) -> str | None:
        # as proposals.MemberIn writes roles: one spelling per role in the catalogue
        if not value:
            return None
        return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")[:64] or None


class DatasetSampleIn(_Record):
    dataset_id: str = Field(min_length=1)
    sample_id: str = Field(min_length=1)


class DatasetTechniqueIn(_Record):
    dataset_id: str = Field(min_length=1)
    technique_id: str = Field(min_length=1)


class DocumentDatasetIn(_Record):
    dataset_id: str = Field(min_length=1)
    document_id: str = Field(min_length=1)


_SCHEMAS: dict[str, type[_Record]] = {
    "Instrument": InstrumentIn,
    "Technique": TechniqueIn,
    "Sample": SampleIn,
    "Affiliation": AffiliationIn,
    "Person": PersonIn,
    "Dataset": DatasetIn,
    "Document": DocumentIn,
    "File": FileIn,
    "Parameter": ParameterIn,
    "Member": MemberIn,
    "DatasetSample": DatasetSampleIn,
    "DatasetTechnique": DatasetTechniqueIn,
    "DocumentDataset": DocumentDatasetIn,
}


# --- reading the file -----------------------------------------------------------------------


def read_dump(path: Path) -> dict[str, dict[str, object]]:
    """The dump's models: name → {key → record (a JSON string, as LoopBack writes it)}."""
    text = read_export_text(path, PanoscImportError)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise PanoscImportError(f"{path}: invalid JSON at {where}: {error.msg}") from None
    shape = 'a LoopBack memory-connector file: {"ids": {...}, "models": {"Dataset": {...}, ...}}'
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise PanoscImportError(f"{path}: not {shape}")
    for name, records in data["models"].items():
        if not isinstance(records, dict):
            raise PanoscImportError(f"{path}: model {name!r} is not an object of records; expected {shape}")
    return data["models"]


def _parse(raw: object) -> dict:
    """One record: LoopBack stores each as a JSON string; an object is taken as it is."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as error:
            raise Refused(f"not valid JSON (line {error.lineno} column {error.colno}: {error.msg})") from None
    if not isinstance(raw, dict):
        raise Refused(f"a record is a JSON object, not {type(raw).__name__}")
    return raw


def _validation_reason(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'record'}: {problem['msg']}" for problem in error.errors()
    )


# --- writing --------------------------------------------------------------------------------


@dataclass
class _Outcome:
    kind: str  # created | updated | unchanged
    datasets: tuple[int, ...] = ()  # whose text may have changed
    documents: tuple[int, ...] = ()
    shared: tuple[str, int] | None = None  # (kind, id) of a shared row whose words others' text shows


class _Importer:
    def __init__(self, connection: Connection, report: PanoscImportReport):
        self.connection = connection
        self.report = report
        self.instrument_aliases: dict[str, int] = {}
        self.datasets: set[int] = set()
        self.documents: set[int] = set()
        self.shared: dict[str, set[int]] = {}
        self.seen: dict[tuple, str] = {}  # natural key → the dump key that had it first

    # reading references ---------------------------------------------------------------

    def _id(self, table, pid: str, field_name: str, model: str) -> int:
        found = self.connection.execute(select(table.id).where(table.pid == pid)).scalar()
        if found is None:
            raise Refused(f"{field_name} {pid!r}: no {model} with this pid")
        return found

    def dataset_id(self, pid: str) -> int:
        return self._id(Dataset, pid, "datasetId", "Dataset")

    def document_id(self, pid: str) -> int:
        return self._id(Document, pid, "documentId", "Document")

    def instrument(self, pid: str) -> tuple[int, str]:
        row = self.connection.execute(select(Instrument.id, Instrument.facility).where(Instrument.pid == pid)).first()
        if row is None and pid in self.instrument_aliases:
            row = self.connection.execute(
                select(Instrument.id, Instrument.facility).where(Instrument.id == self.instrument_aliases[pid])
            ).first()
        if row is None:
            raise Refused(f"instrumentId {pid!r}: no Instrument with this pid")
        return row.id, row.facility

    # one generic upsert --------------------------------------------------------------

    def store(
        self, table, where: Iterable, values: dict, *, on_create: dict | None = None, row=None
    ) -> tuple[str, int]:
        """Create the row, or update the columns that differ; the outcome and the row's id."""
        values = fit(table, dict(values))
        if row is None:
            row = self.connection.execute(
                select(table.__table__).where(*where).order_by(table.id).limit(1)
            ).mappings().first()
        if row is None:
            new = fit(table, {**(on_create or {}), **values})
            return "created", self.connection.execute(insert(table).values(**new).returning(table.id)).scalar_one()
        changes = {key: value for key, value in values.items() if row[key] != value}
        if not changes:
            return "unchanged", row["id"]
        if "updated_at" in table.__table__.c:
            changes["updated_at"] = utcnow()
        self.connection.execute(update(table).where(table.id == row["id"]).values(**changes))
        return "updated", row["id"]

    def link(self, table, values: dict) -> str:
        where = [getattr(table, key) == value for key, value in values.items()]
        if self.connection.execute(select(*table.__table__.primary_key.columns).where(*where)).first() is not None:
            return "unchanged"
        self.connection.execute(insert(table).values(**values))
        return "created"

    # the models ------------------------------------------------------------------------

    def instrument_record(self, record: InstrumentIn) -> _Outcome:
        same_name = self.connection.execute(
            select(Instrument.id, Instrument.pid).where(
                Instrument.facility == record.facility, Instrument.name == record.name, Instrument.pid != record.pid
            )
        ).first()
        if same_name is not None:
            raise _Aliased(record.pid, same_name.id, same_name.pid)
        values = {"pid": record.pid, "name": record.name, "facility": record.facility}
        kind, row_id = self.store(Instrument, [Instrument.pid == record.pid], values)
        return _Outcome(kind, shared=("instrument", row_id))

    def technique_record(self, record: TechniqueIn) -> _Outcome:
        # a technique named by its PaNET IRI is that term, as shared_rows records it for ingestion
        panet_id = record.panet_id or (record.pid if record.pid.startswith(PANET_PREFIX) else None)
        values = {"pid": record.pid, "name": record.name, "panet_id": panet_id}
        kind, row_id = self.store(Technique, [Technique.pid == record.pid], values)
        return _Outcome(kind, shared=("technique", row_id))

    def sample_record(self, record: SampleIn) -> _Outcome:
        values = {"pid": record.pid, "name": record.name, "description": record.description}
        kind, row_id = self.store(Sample, [Sample.pid == record.pid], values)
        return _Outcome(kind, shared=("sample", row_id))

    def affiliation_record(self, record: AffiliationIn) -> _Outcome:
        key = f"panosc:{record.id}"
        values = {
            "affiliation_key": key,
            "name": record.name,
            "address": record.address,
            "city": record.city,
            "country": record.country,
        }
        kind, row_id = self.store(Affiliation, [Affiliation.affiliation_key == key], values)
        return _Outcome(kind, shared=("affiliation", row_id))

    def person_record(self, record: PersonIn) -> _Outcome:
        values = {
            "pid": record.id,
            "full_name": record.full_name,
            "first_name": record.first_name,
            "last_name": record.last_name,
            "orcid": record.orcid,
            "researcher_id": record.researcher_id,
        }
        row = self.connection.execute(select(Person.__table__).where(Person.pid == record.id)).mappings().first()
        if row is None and record.orcid:
            # someone ingestion already met by this ORCID iD, not yet claimed by another dump's id
            row = self.connection.execute(
                select(Person.__table__)
                .join(PersonIdentifier, PersonIdentifier.person_id == Person.id)
                .where(PersonIdentifier.key == f"orcid:{record.orcid}", Person.pid.is_(None))
            ).mappings().first()
        kind, row_id = self.store(Person, [Person.pid == record.id], values, row=row)
        keys = [f"panosc:{record.id}"[:600]] + ([f"orcid:{record.orcid}"] if record.orcid else [])
        held = set(
            self.connection.execute(select(PersonIdentifier.key).where(PersonIdentifier.key.in_(keys))).scalars()
        )
        new_keys = [{"key": key, "person_id": row_id} for key in keys if key not in held]
        if new_keys:  # an identifier someone else already holds stays theirs
            self.connection.execute(insert(PersonIdentifier), new_keys)
        return _Outcome(kind, shared=("person", row_id))

    def dataset_record(self, record: DatasetIn) -> _Outcome:
        instrument_id, facility = self.instrument(record.instrument_id) if record.instrument_id else (None, None)
        row = self.connection.execute(select(Dataset.__table__).where(Dataset.pid == record.pid)).mappings().first()
        if row is not None and row["source_file_id"] is not None:
            raise Refused("a dataset this catalogue ingested from its own files has this pid; not overwritten")
        values = {
            "pid": record.pid,
            "title": record.title,
            "is_public": record.is_public,
            "creation_date": record.creation_date,
            "size": record.size,
            "instrument_id": instrument_id,
            "facility": facility or None,
        }
        if row is not None and row["embargo_decided"]:  # a person decided its date here: the dump does not undo it
            values.pop("is_public")
        kind, row_id = self.store(Dataset, [Dataset.pid == record.pid], values, on_create={"kind": "raw"}, row=row)
        return _Outcome(kind, datasets=(row_id,))

    def document_record(self, record: DocumentIn) -> _Outcome:
        row = self.connection.execute(select(Document.__table__).where(Document.pid == record.pid)).mappings().first()
        if row is not None and row["proposal_number"] is not None:
            raise Refused("a proposal of this catalogue's user office has this pid; not overwritten")
        values = {
            "pid": record.pid,
            "type": record.type,
            "title": record.title,
            "summary": record.summary,
            "doi": record.doi,
            "start_date": record.start_date,
            "end_date": record.end_date,
            "release_date": record.release_date,
            "license": record.license,
            "keywords": list(record.keywords or []),
            "is_public": record.is_public,
        }
        if row is not None and row["release_decided"]:  # a person decided its date here: the dump does not undo it
            values.pop("release_date")
            values.pop("is_public")
        kind, row_id = self.store(Document, [Document.pid == record.pid], values, row=row)
        return _Outcome(kind, documents=(row_id,))

    def file_record(self, record: FileIn) -> _Outcome:
        dataset_id = self.dataset_id(record.dataset_id)
        path = imported_file_path(record.dataset_id, record.path, record.name)
        if len(path) > 2048:
            raise Refused(f"path {path[:60]!r}... is longer than the catalogue keeps (2048 characters)")
        kind, file_id = self.store(
            DataFile,
            [DataFile.data_root == IMPORTED_DATA_ROOT, DataFile.path == path],
            {"name": record.name, "size": record.size or 0},
            on_create={
                "data_root": IMPORTED_DATA_ROOT,
                "path": path,
                "mtime_ns": 0,
                "checksum": "",
                "checksum_algorithm": "",
                "state": "present",
            },
        )
        if self.link(DatasetFile, {"dataset_id": dataset_id, "file_id": file_id}) == "created" and kind == "unchanged":
            kind = "updated"
        return _Outcome(kind, datasets=(dataset_id,))

    def parameter_record(self, record: ParameterIn) -> _Outcome:
        if record.dataset_id:
            parent = {"dataset_id": self.dataset_id(record.dataset_id), "document_id": None}
        else:
            parent = {"dataset_id": None, "document_id": self.document_id(record.document_id)}
        number = record.value if isinstance(record.value, float) else None
        si = normalise(number, record.unit, expected_dimension(record.name)) if number is not None else None
        values = {
            **parent,
            "name": record.name,
            "value_number": number,
            "value_string": record.value if isinstance(record.value, str) else None,
            "unit": record.unit,
            "si_value": si.si_value if si else None,
            "si_unit": si.si_unit if si else None,
        }
        where = [
            Parameter.dataset_id.is_not_distinct_from(parent["dataset_id"]),
            Parameter.document_id.is_not_distinct_from(parent["document_id"]),
            Parameter.name == record.name,
        ]
        kind, _ = self.store(Parameter, where, values)
        return _Outcome(
            kind,
            datasets=(parent["dataset_id"],) if parent["dataset_id"] else (),
            documents=(parent["document_id"],) if parent["document_id"] else (),
        )

    def member_record(self, record: MemberIn) -> _Outcome:
        document_id = self.document_id(record.document_id)
        person_id = self.connection.execute(select(Person.id).where(Person.pid == record.person_id)).scalar()
        if person_id is None:
            raise Refused(f"personId {record.person_id!r}: no Person with this id")
        affiliation_id = None
        if record.affiliation_id:
            affiliation_id = self.connection.execute(
                select(Affiliation.id).where(Affiliation.affiliation_key == f"panosc:{record.affiliation_id}")
            ).scalar()
            if affiliation_id is None:
                raise Refused(f"affiliationId {record.affiliation_id!r}: no Affiliation with this id")
        where = [
            Member.document_id == document_id,
            Member.dataset_id.is_(None),
            Member.person_id == person_id,
            Member.role.is_not_distinct_from(record.role),
        ]
        values = {
            "document_id": document_id,
            "person_id": person_id,
            "role": record.role,
            "affiliation_id": affiliation_id,
        }
        kind, _ = self.store(Member, where, values)
        return _Outcome(kind, documents=(document_id,))

    def dataset_sample_record(self, record: DatasetSampleIn) -> _Outcome:
        dataset_id = self.dataset_id(record.dataset_id)
        sample_id = self._id(Sample, record.sample_id, "sampleId", "Sample")
        kind = self.link(DatasetSample, {"dataset_id": dataset_id, "sample_id": sample_id})
        return _Outcome(kind, datasets=(dataset_id,))

    def dataset_technique_record(self, record: DatasetTechniqueIn) -> _Outcome:
        dataset_id = self.dataset_id(record.dataset_id)
        technique_id = self._id(Technique, record.technique_id, "techniqueId", "Technique")
        kind = self.link(DatasetTechnique, {"dataset_id": dataset_id, "technique_id": technique_id})
        return _Outcome(kind, datasets=(dataset_id,))

    def document_dataset_record(self, record: DocumentDatasetIn) -> _Outcome:
        dataset_id = self.dataset_id(record.dataset_id)
        document_id = self.document_id(record.document_id)
        kind = self.link(DocumentDataset, {"document_id": document_id, "dataset_id": dataset_id})
        return _Outcome(kind, datasets=(dataset_id,), documents=(document_id,))

    # bookkeeping -----------------------------------------------------------------------

    def note(self, model: str, outcome: _Outcome) -> None:
        """Count a record whose savepoint held, and remember whose text it may change."""
        counts = self.report.counts[model]
        setattr(counts, outcome.kind, getattr(counts, outcome.kind) + 1)
        if outcome.kind == "unchanged":
            return
        self.datasets.update(outcome.datasets)
        self.documents.update(outcome.documents)
        if outcome.shared and outcome.kind == "updated":  # a new shared row is in nobody's text yet
            self.shared.setdefault(outcome.shared[0], set()).add(outcome.shared[1])

    def refresh_text(self) -> None:
        """Recompute the text rows of what changed, and of records whose text shows it."""
        touched = {"datasets": set(self.datasets), "documents": set(self.documents)}
        for kind, wanted, given, target in _SHOWN_IN:
            touched[target].update(self._linked(wanted, given, self.shared.get(kind, set())))
        # a dataset's text holds its documents' words and a document's its datasets' titles
        of_documents = set(self._linked(DocumentDataset.dataset_id, DocumentDataset.document_id, touched["documents"]))
        of_datasets = set(self._linked(DocumentDataset.document_id, DocumentDataset.dataset_id, touched["datasets"]))
        datasets, documents = touched["datasets"] | of_documents, touched["documents"] | of_datasets
        text_index.refresh(self.connection, dataset_ids=sorted(datasets), document_ids=sorted(documents))

    def _linked(self, wanted, given, ids: set[int]) -> Iterable[int]:
        ordered = sorted(ids)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            for found in self.connection.execute(select(wanted).where(given.in_(chunk))).scalars():
                if found is not None:
                    yield found


# Shared rows whose words show in other records' text: (changed row kind, record id, link to the row, which records).
_SHOWN_IN = (
    ("instrument", Dataset.id, Dataset.instrument_id, "datasets"),
    ("technique", DatasetTechnique.dataset_id, DatasetTechnique.technique_id, "datasets"),
    ("sample", DatasetSample.dataset_id, DatasetSample.sample_id, "datasets"),
    ("person", Member.dataset_id, Member.person_id, "datasets"),
    ("person", Member.document_id, Member.person_id, "documents"),
)


def imported_file_path(dataset_pid: str, path: str | None, name: str) -> str:
    """Where an imported file is catalogued under the ``panosc-import`` root (see the module doc).

    ``.`` and ``..`` segments are dropped: the path only names the file within its
    dataset, it must not climb into another dataset's.
    """
    segments = [part for part in (path or "").replace("\\", "/").split("/") if part not in ("", ".", "..")]
    if not segments or segments[-1] != name:
        segments.append(name)
    return "/".join([dataset_pid, *segments])


_HANDLERS: dict[str, Callable[[_Importer, _Record], _Outcome]] = {
    "Instrument": _Importer.instrument_record,
    "Technique": _Importer.technique_record,
    "Sample": _Importer.sample_record,
    "Affiliation": _Importer.affiliation_record,
    "Person": _Importer.person_record,
    "Dataset": _Importer.dataset_record,
    "Document": _Importer.document_record,
    "File": _Importer.file_record,
    "Parameter": _Importer.parameter_record,
    "Member": _Importer.member_record,
    "DatasetSample": _Importer.dataset_sample_record,
    "DatasetTechnique": _Importer.dataset_technique_record,
    "DocumentDataset": _Importer.document_dataset_record,
}


def _natural_key(model: str, record: _Record) -> tuple:
    """What makes two records of a dump the same record (see the module doc)."""
    match record:
        case PersonIn() | AffiliationIn():
            return model, record.id
        case FileIn():
            return model, imported_file_path(record.dataset_id, record.path, record.name)
        case ParameterIn():
            return model, record.dataset_id, record.document_id, record.name
        case MemberIn():
            return model, record.document_id, record.person_id, record.role
        case DatasetSampleIn():
            return model, record.dataset_id, record.sample_id
        case DatasetTechniqueIn():
            return model, record.dataset_id, record.technique_id
        case DocumentDatasetIn():
            return model, record.dataset_id, record.document_id
    return model, record.pid


# --- the import -----------------------------------------------------------------------------


def import_panosc(path: Path, engine: Engine) -> PanoscImportReport:
    """Load a PaNOSC reference dump into the catalogue; whole-file problems raise PanoscImportError."""
    models = read_dump(path)
    report = PanoscImportReport()
    for name in models:
        if name not in _SCHEMAS and name not in LOOPBACK_MODELS:
            report.problems.append(Problem(name, "", "not a PaNOSC model; its records are ignored"))
    with engine.begin() as connection:
        importer = _Importer(connection, report)
        for model in MODELS:
            for key, raw in models.get(model, {}).items():
                _import_record(importer, model, str(key), raw)
        importer.refresh_text()
    return report


def _import_record(importer: _Importer, model: str, key: str, raw: object) -> None:
    """One record under its own savepoint: what the catalogue refuses costs only itself."""
    report = importer.report
    try:
        record = _SCHEMAS[model].model_validate(_parse(raw))
    except Refused as error:
        report.problems.append(Problem(model, key, str(error)))
        return
    except ValidationError as error:
        report.problems.append(Problem(model, key, _validation_reason(error)))
        return
    natural = _natural_key(model, record)
    if natural in importer.seen:
        first = importer.seen[natural]
        same = ", ".join(map(str, natural[1:]))
        report.problems.append(Problem(model, key, f"repeats record {first!r} ({same}); skipped"))
        return
    importer.seen[natural] = key
    try:
        with importer.connection.begin_nested():
            outcome = _HANDLERS[model](importer, record)
    except Refused as error:
        report.problems.append(Problem(model, key, str(error)))
        return
    except _Aliased as aliased:
        importer.instrument_aliases[aliased.pid] = aliased.existing_id
        report.problems.append(
            Problem(
                model,
                key,
                f"the catalogue already has this facility and name as instrument {aliased.existing_pid!r}; "
                "datasets naming this pid are linked to it",
            )
        )
        return
    except (OperationalError, InterfaceError):
        raise  # the database is gone, not this record: stop
    except (SQLAlchemyError, ValueError, OverflowError) as error:
        report.problems.append(Problem(model, key, f"the catalogue could not store it: {database_reason(error)}"))
        return
    importer.note(model, outcome)
