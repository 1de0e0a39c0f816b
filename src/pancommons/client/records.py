"""The catalogue's records as Python objects, and search results that page themselves.

A record keeps the API's JSON in ``raw``; its attributes are that JSON in
Python's spelling (``creationDate`` → ``creation_date``, a datetime).  The
related rows that came back with a search are in ``matched`` — with a filter
on parameters, that is only the parameters that matched, converted into the
filter's unit, as the PaNOSC API returns them.  The attributes ``parameters``,
``techniques``, ``samples``, ``instrument`` and ``documents`` are always the
dataset's complete lists, fetched on first use for a whole page of results at
once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote

from pancommons.client.errors import CommonsError, NotFound
from pancommons.client.query import Criteria

if TYPE_CHECKING:
    from pancommons.client.commons import Commons
    from pancommons.client.hdf5 import RemoteFile

PAGE_SIZE = 100  # records per request while iterating; the API takes at most 1000
DATASET_RELATIONS = ["techniques", "parameters", "samples", "instrument", "documents"]
DOCUMENT_RELATIONS = [{"relation": "members", "scope": {"include": ["person", "affiliation"]}}, "parameters"]


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float | int | str
    unit: str | None = None
    id: Any = None

    @classmethod
    def of(cls, raw: dict) -> Parameter:
        return cls(raw.get("name", ""), raw.get("value"), raw.get("unit"), raw.get("id"))

    def __str__(self) -> str:
        return f"{self.name} = {self.value}{' ' + self.unit if self.unit else ''}"


@dataclass(frozen=True)
class Technique:
    pid: str
    name: str
    panet_id: str | None = None

    @classmethod
    def of(cls, raw: dict) -> Technique:
        return cls(raw.get("pid", ""), raw.get("name", ""), raw.get("panetId"))


@dataclass(frozen=True)
class Sample:
    pid: str
    name: str
    description: str | None = None
    chemical_formula: str | None = None

    @classmethod
    def of(cls, raw: dict) -> Sample:
        return cls(raw.get("pid", ""), raw.get("name", ""), raw.get("description"), raw.get("chemicalFormula"))


@dataclass(frozen=True)
class Instrument:
    pid: str
    name: str
    facility: str | None = None
    provider: str | None = None

    @classmethod
    def of(cls, raw: dict) -> Instrument:
        return cls(raw.get("pid", ""), raw.get("name", ""), raw.get("facility"), raw.get("provider"))


@dataclass(frozen=True)
class Person:
    full_name: str
    orcid: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    @classmethod
    def of(cls, raw: dict) -> Person:
        return cls(raw.get("fullName", ""), raw.get("orcid"), raw.get("firstName"), raw.get("lastName"))


@dataclass(frozen=True)
class Member:
    role: str | None
    person: Person | None
    affiliation: str | None

    @classmethod
    def of(cls, raw: dict) -> Member:
        person = raw.get("person")
        affiliation = raw.get("affiliation") or {}
        return cls(raw.get("role"), Person.of(person) if person else None, affiliation.get("name"))


class Record:
    """A record of a commons, with the API's JSON in ``raw``."""

    key = "pid"

    def __init__(self, commons: Commons, raw: dict):
        self._commons = commons
        self.raw = raw
        self.provider: str | None = raw.get("provider")  # which facility answered, behind a federation

    @property
    def pid(self) -> str:
        return str(self.raw.get(self.key, ""))

    def __repr__(self) -> str:
        title = self.raw.get("title") or self.raw.get("name") or ""
        return f"<{type(self).__name__} {self.pid!r} {title!r}>"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and (other.provider, other.pid) == (self.provider, self.pid)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.provider, self.pid))

    @property
    def _node(self) -> str:
        """The node holding this record: the provider that answered, or the commons asked."""
        return self._commons._node_of(self.provider)


class Dataset(Record):
    def __init__(self, commons: Commons, raw: dict, details: _Details | None = None):
        super().__init__(commons, raw)
        self.title: str = raw.get("title", "")
        self.is_public: bool = bool(raw.get("isPublic"))
        self.creation_date = _when(raw.get("creationDate"))
        self.size: int | None = raw.get("size")
        self.score: float | None = raw.get("score")
        self.facility: str | None = raw.get("facility")
        self.kind: str | None = raw.get("kind")
        self.license: str | None = raw.get("license")
        self.embargo_until = _when(raw.get("embargoUntil"))
        self.matched = {name: raw[name] for name in DATASET_RELATIONS + ["files"] if name in raw}
        self._details = details or _Details(commons, [self])
        self._files: list[File] | None = None

    # The dataset's complete related records, fetched on first use.
    @property
    def parameters(self) -> list[Parameter]:
        return [Parameter.of(item) for item in self._related("parameters")]

    @property
    def techniques(self) -> list[Technique]:
        return [Technique.of(item) for item in self._related("techniques")]

    @property
    def samples(self) -> list[Sample]:
        return [Sample.of(item) for item in self._related("samples")]

    @property
    def instrument(self) -> Instrument | None:
        found = self._related("instrument")
        return Instrument.of(found) if found else None

    @property
    def documents(self) -> list[Document]:
        return [Document(self._commons, {**item, "provider": self.provider}) for item in self._related("documents")]

    def parameter(self, name: str) -> Parameter | None:
        """The parameter called ``name`` (``"incident_wavelength"``), or None."""
        return next((item for item in self.parameters if item.name == name), None)

    def _related(self, relation: str) -> Any:
        found = self._details.of(self).get(relation)
        return [] if found is None and relation != "instrument" else found

    @property
    def files(self) -> list[File]:
        if self._files is None:
            # Asked of the node holding the dataset: behind a federation, another facility may use the same pid.
            path, api = f"Datasets/{quote(self.pid, safe='')}/files", self._commons._api_of(self.provider)
            files: list[File] = []
            while True:  # a dataset of many files: the API pages them too
                listed = self._commons._connection.get(path, api=api, filter={"limit": 1000, "skip": len(files)})
                files += [File(self, item) for item in listed]
                if len(listed) < 1000:
                    break
            self._files = files
        return self._files

    @property
    def landing_page(self) -> str:
        return f"{self._node}/datasets/{quote(self.pid, safe='')}"

    def download(self, to: str | Path = ".", *, progress: bool = True, overwrite: bool = False, retries: int = 3) -> list[Path]:
        """Every file of the dataset under ``to``, at its path in the facility's data tree; see File.download."""
        from pancommons.client.download import download_dataset

        return download_dataset(self, Path(to), progress=progress, overwrite=overwrite, retries=retries)


class Document(Record):
    def __init__(self, commons: Commons, raw: dict):
        super().__init__(commons, raw)
        self.title: str = raw.get("title", "")
        self.type: str | None = raw.get("type")
        self.is_public: bool = bool(raw.get("isPublic"))
        self.summary: str | None = raw.get("summary")
        self.doi: str | None = raw.get("doi")
        self.start_date = _when(raw.get("startDate"))
        self.end_date = _when(raw.get("endDate"))
        self.release_date = _when(raw.get("releaseDate"))
        self.license: str | None = raw.get("license")
        self.keywords: list[str] = list(raw.get("keywords") or [])
        self.score: float | None = raw.get("score")
        self._full: dict | None = None

    @property
    def members(self) -> list[Member]:
        return [Member.of(item) for item in self._complete().get("members") or []]

    @property
    def parameters(self) -> list[Parameter]:
        return [Parameter.of(item) for item in self._complete().get("parameters") or []]

    def _complete(self) -> dict:
        if self._full is None:
            self._full = self._commons._record("Documents", self.pid, DOCUMENT_RELATIONS, self.provider)
        return self._full

    def datasets(self, **criteria: Any) -> Results[Dataset]:
        """This document's datasets (further narrowed by the same keywords as Commons.datasets)."""
        return self._commons.datasets(proposal=self.pid, **criteria)


@dataclass
class File:
    """One file of a dataset: open it remotely (HDF5) or download it."""

    dataset: Dataset = field(repr=False)
    raw: dict = field(repr=False)
    id: Any = field(init=False)
    name: str = field(init=False)
    path: str | None = field(init=False)
    size: int | None = field(init=False)

    def __post_init__(self):
        self.id = self.raw.get("id")
        self.name = self.raw.get("name", "")
        self.path = self.raw.get("path")
        self.size = self.raw.get("size")

    @property
    def url(self) -> str:
        """Where the node serves the file's bytes."""
        return f"{self.dataset._node}/files/{quote(str(self.id), safe='')}"

    def open(self) -> RemoteFile:
        """The file as an h5py-like object read over the network: only what you index travels."""
        from pancommons.client.hdf5 import RemoteFile

        return RemoteFile(self.dataset._commons._connection, f"{self.dataset._node}/h5grove", str(self.id), self.name)

    def download(self, to: str | Path = ".", *, progress: bool = True, overwrite: bool = False, retries: int = 3) -> Path:
        """The file saved at ``to`` (a directory, or the file's new name), its checksum verified.

        A good copy already there is kept as it is; an interrupted download resumes where it
        stopped; a different file at the target is left alone unless ``overwrite``."""
        from pancommons.client.download import download_file

        return download_file(self, to, progress=progress, overwrite=overwrite, retries=retries)


class _Details:
    """The complete related records of a page of datasets, fetched in one request when first needed."""

    def __init__(self, commons: Commons, datasets: list[Dataset]):
        self._commons = commons
        self._datasets = datasets
        self._found: dict[tuple, dict] | None = None

    def of(self, dataset: Dataset) -> dict:
        if self._found is None:
            self._found = self._commons._details(self._datasets)
        found = self._found.get((dataset.provider, dataset.pid))
        if found is None:
            raise NotFound(f"dataset {dataset.pid!r} is no longer there, or no longer open to you")
        return found


T = TypeVar("T", bound=Record)


class Results(Generic[T]):
    """What a search found, read page by page as you iterate; ``len()`` asks the server to count."""

    def __init__(self, commons: Commons, collection: str, criteria: Criteria, make: Callable[[list[dict]], list[T]],
                 limit: int | None = None, page_size: int = PAGE_SIZE):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit: expected a whole number ≥ 0, not {limit!r}")
        self._commons = commons
        self._collection = collection
        self.criteria = criteria
        self._make = make
        self._limit = limit
        self._page_size = max(1, min(page_size, 1000))
        self._count: int | None = None

    @property
    def filter(self) -> dict:
        """The PaNOSC filter these results come from (what to give any PaNOSC API)."""
        return dict(self.criteria)

    def __repr__(self) -> str:
        return f"<Results of {self._collection} for {dict(self.criteria)!r}{f' text={self.criteria.text!r}' if self.criteria.text else ''}>"

    def _page(self, skip: int, limit: int) -> list[T]:
        filter = {**self.criteria, "skip": skip, "limit": limit} if skip else {**self.criteria, "limit": limit}
        return self._make(self._commons._connection.get(self._collection, filter=filter, query=self.criteria.text))

    def __iter__(self) -> Iterator[T]:
        skip = 0
        while self._limit is None or skip < self._limit:
            wanted = self._page_size if self._limit is None else min(self._page_size, self._limit - skip)
            page = self._page(skip, wanted)
            yield from page
            if len(page) < wanted:
                return
            skip += len(page)

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            if index.step not in (None, 1) or (index.start or 0) < 0 or (index.stop is not None and index.stop < 0):
                raise IndexError("results take slices [start:stop] with start and stop ≥ 0")
            start = index.start or 0
            stop = index.stop if self._limit is None else self._limit if index.stop is None else min(index.stop, self._limit)
            if stop is None:
                return list(self)[start:]
            found: list[T] = []
            while start + len(found) < stop:
                page = self._page(start + len(found), min(1000, stop - start - len(found)))
                found += page
                if not page:
                    break
            return found
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise IndexError("results take indices ≥ 0")
        found = self[index:index + 1]
        if not found:
            raise IndexError(f"there are fewer than {index + 1} results")
        return found[0]

    def first(self) -> T | None:
        found = self[0:1]
        return found[0] if found else None

    def __len__(self) -> int:
        return self.count()

    def count(self) -> int:
        """How many records the filter selects (at most ``limit``)."""
        if self._count is None:
            self._count = self._commons._count(self._collection, self.criteria)
        return self._count if self._limit is None else min(self._count, self._limit)

    def to_pandas(self, details: bool = False):
        """One row per record: its fields, and for datasets its techniques, instrument and a column
        per parameter (``name [unit]``). Without ``details`` those are what matched the filter (in the
        filter's units); with it, each dataset's complete lists (one more request per page)."""
        try:
            import pandas
        except ImportError:
            raise CommonsError("to_pandas() needs pandas: pip install pandas") from None
        rows = [_row(record, details) for record in self]
        columns = list(COLUMNS.get(self._collection, ()))  # always there, even for no results
        if self.criteria.text:
            columns.append("score")  # without a text query every score is 0: no column
        for row in rows:
            if not self.criteria.text:
                row.pop("score", None)
            columns += [key for key in row if key not in columns]
        return pandas.DataFrame(rows, columns=columns)


COLUMNS = {
    "Datasets": ("pid", "title", "isPublic", "creationDate", "size", "facility", "kind", "license", "embargoUntil"),
    "Documents": ("pid", "type", "title", "isPublic", "startDate", "endDate", "releaseDate", "doi", "license"),
    "Instruments": ("pid", "name", "facility"),
}


def _row(record: Record | Instrument, details: bool) -> dict:
    if isinstance(record, Instrument):
        return {"pid": record.pid, "name": record.name, "facility": record.facility, "provider": record.provider}
    row = {key: value for key, value in record.raw.items() if not isinstance(value, (dict, list))}
    for key in ("creationDate", "embargoUntil", "startDate", "endDate", "releaseDate"):
        if key in row:
            row[key] = _when(row[key])
    if isinstance(record, Dataset):
        related = record._related if details else (lambda relation: record.matched.get(relation))
        techniques = related("techniques")
        if techniques:
            row["techniques"] = ", ".join(item.get("name", "") for item in techniques)
        instrument = related("instrument")
        if isinstance(instrument, dict):
            row["instrument"] = instrument.get("name")
        for item in related("parameters") or []:
            unit = item.get("unit")
            row[f"{item.get('name')} [{unit}]" if unit else item.get("name")] = item.get("value")
    return row
