"""What the catalogue learns from a file or a user office, as plain data.

These records cross process boundaries during ingestion (they are pickled
from the extraction workers to the writer), so they are slotted dataclasses
holding only plain values.  The API's own representations (pydantic, the
PaNOSC field names) are built from the catalogue, not from these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class DatasetKind(StrEnum):
    RAW = "raw"
    PROCESSED = "processed"


class StorageTier(StrEnum):
    DISK = "disk"
    TAPE = "tape"


@dataclass(slots=True)
class ParameterValue:
    """A measured or descriptive quantity, as written and in SI."""

    name: str
    value: float | str
    unit: str | None = None
    si_value: float | None = None
    si_unit: str | None = None
    source: str | None = None  # the HDF5 path it came from


@dataclass(slots=True)
class PersonRecord:
    full_name: str
    first_name: str | None = None
    last_name: str | None = None
    orcid: str | None = None
    email: str | None = None  # personal data: stored for access matching, never shown
    facility_user_id: str | None = None
    affiliation: str | None = None
    affiliation_city: str | None = None
    affiliation_country: str | None = None
    role: str | None = None


@dataclass(slots=True)
class SampleRecord:
    name: str
    chemical_formula: str | None = None
    description: str | None = None


@dataclass(slots=True)
class ArrayRecord:
    path: str
    shape: tuple[int, ...]
    dtype: str
    chunks: tuple[int, ...] | None
    filters: list[str]
    layout: str
    virtual_sources: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class EntryRecord:
    """One NXentry: one dataset of the catalogue."""

    entry_path: str
    title: str
    definition: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    time_raw: str | None = None  # the text the time came from, kept when it could not be read
    time_source: str = "start_time"
    proposal_id: str | None = None
    instrument_name: str | None = None
    facility: str | None = None
    source_name: str | None = None
    source_type: str | None = None
    probe: str | None = None
    kind: DatasetKind = DatasetKind.RAW
    default_plot: str | None = None
    techniques: list[tuple[str, str]] = field(default_factory=list)  # (PaNET IRI, name)
    samples: list[SampleRecord] = field(default_factory=list)
    users: list[PersonRecord] = field(default_factory=list)
    parameters: list[ParameterValue] = field(default_factory=list)
    derived_from: list[tuple[str, str | None]] = field(default_factory=list)  # (file ref, entry path)


@dataclass(slots=True)
class FileRecord:
    """A catalogued file: what ingestion hands to the catalogue writer."""

    path: str  # absolute
    size: int
    mtime_ns: int
    checksum: str
    checksum_algorithm: str
    entries: list[EntryRecord] = field(default_factory=list)
    arrays: list[ArrayRecord] = field(default_factory=list)
    arrays_total: int = 0
    filters: list[str] = field(default_factory=list)  # every compression/check filter the file uses
    warnings: list[str] = field(default_factory=list)
