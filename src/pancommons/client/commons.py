"""``Commons``: one object for a facility's commons or for the federation of many.

    from pancommons.client import Commons
    commons = Commons("https://data.facility.eu")            # or the federation's address
    for dataset in commons.datasets(technique="x-ray diffraction", wavelength=(0.9, 1.1, "angstrom")):
        print(dataset.pid, dataset.title)
"""

from __future__ import annotations

from typing import Any, Self
from urllib.parse import quote

from pancommons.client.connection import Connection, api_base, node_root
from pancommons.client.errors import CommonsError, NotFound
from pancommons.client.hdf5 import RemoteFile
from pancommons.client.query import (
    Criteria,
    dataset_filter,
    document_filter,
    instrument_filter,
)
from pancommons.client.records import (
    DATASET_RELATIONS,
    PAGE_SIZE,
    Dataset,
    Document,
    Instrument,
    Results,
    _Details,
)

DETAILS_BATCH = 100  # pids per request when fetching a page's related records (keeps the URL short)


class Commons:
    """A commons node (``https://data.facility.eu``) or a federation in front of many.

    ``token``: a personal API token (``pct_…``, from the portal's /me/tokens) or your identity
    provider's access token; it opens what you may see under embargo, and is sent only to this
    address — never to the facility nodes a federation's records point to.
    ``strict``: raise ProviderUnavailable when a federation answers without some facilities,
    instead of warning (PartialAnswer) and going on with the others' results."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60.0, strict: bool = False):
        self._connection = Connection(url, token, timeout, strict)
        self._federation: bool | None = None  # asked when first needed

    @property
    def url(self) -> str:
        """The API base this object talks to."""
        return self._connection.api

    def __repr__(self) -> str:
        return f"Commons({self._connection.root!r}{', token=…' if self._connection.token else ''})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._connection.close()

    # Searches -------------------------------------------------------------------------------

    def datasets(self, *, limit: int | None = None, page_size: int = PAGE_SIZE, **criteria: Any) -> Results[Dataset]:
        """Datasets matching the keywords of ``pancommons.client.query.dataset_filter``: text, technique,
        facility, instrument, proposal, sample, formula, title, kind, public, year, order, the
        quantities (``wavelength=(0.9, 1.1, "angstrom")``, ``temperature_below=(100, "K")`` …), or a
        raw PaNOSC ``where`` / ``include`` / ``filter``. With a ``text`` query, best matches first."""
        return Results(self, "Datasets", dataset_filter(**criteria), self._datasets, limit, page_size)

    def documents(self, *, limit: int | None = None, page_size: int = PAGE_SIZE, **criteria: Any) -> Results[Document]:
        """Documents (proposals, publications): text, type, title, order, or a raw where/include/filter."""
        return Results(self, "Documents", document_filter(**criteria), self._documents, limit, page_size)

    def proposals(self, **criteria: Any) -> Results[Document]:
        return self.documents(type="proposal", **criteria)

    def instruments(self, *, limit: int | None = None, **criteria: Any) -> Results[Instrument]:
        """Instruments: facility, name, or a raw where/filter."""
        return Results(self, "Instruments", instrument_filter(**criteria),
                       lambda page: [Instrument.of(item) for item in page], limit)

    def facets(self, **criteria: Any) -> dict:
        """Counts per facility, instrument, technique, year and sample formula of the datasets the
        keywords select, and their ``total`` (a pancommons extension of the PaNOSC API)."""
        found = dataset_filter(**criteria)
        return self._connection.get("Datasets/facets", filter=dict(found) or None, query=found.text)

    # Single records ---------------------------------------------------------------------------

    def dataset(self, pid: str) -> Dataset:
        """One dataset by its pid, with its complete related records."""
        raw = self._record("Datasets", pid, DATASET_RELATIONS)
        dataset = Dataset(self, raw)
        dataset._details._found = {(dataset.provider, dataset.pid): raw}
        return dataset

    def document(self, pid: str) -> Document:
        return Document(self, self._record("Documents", pid, []))

    def proposal(self, pid: str) -> Document:
        return self.document(pid)

    def instrument(self, pid: str) -> Instrument:
        return Instrument.of(self._record("Instruments", pid, []))

    def open(self, file_id: int | str) -> RemoteFile:
        """A catalogued file by its id (as on a dataset's landing page and in the viewer's address),
        read remotely like ``dataset.files[0].open()``."""
        if not str(file_id).isascii() or not str(file_id).isdigit():
            raise ValueError(f"file_id: expected a catalogue file id (a whole number), not {file_id!r}")
        if self._is_federation():
            raise CommonsError("a file id belongs to one facility's node, and a federation serves no files: "
                               "open it from its dataset (dataset.files[0].open()) or with Commons(<the node's address>)")
        return RemoteFile(self._connection, f"{self._connection.root}/h5grove", str(file_id))

    def _is_federation(self) -> bool:
        """Whether this address is a federation (it answers /api/status; a node does not)."""
        if self._federation is None:
            try:
                self._connection.get("status")
                self._federation = True
            except NotFound:
                self._federation = False
        return self._federation

    def status(self) -> dict:
        """A federation's account of each facility (state, failures, latency); for a node, that it answers."""
        if self._is_federation():
            return self._connection.get("status")
        return {"url": self.url, "federation": False, "datasets": self._connection.get("Datasets/count")["count"]}

    # What the records ask for -----------------------------------------------------------------

    def _api_of(self, provider: str | None) -> str:
        return api_base(provider) if provider else self._connection.api

    def _node_of(self, provider: str | None) -> str:
        return node_root(self._api_of(provider))

    def _record(self, collection: str, pid: str, include: list, provider: str | None = None) -> dict:
        if not isinstance(pid, str) or not pid:
            raise ValueError(f"pid: expected a non-empty string, not {pid!r}")
        path = f"{collection}/{quote(pid, safe='')}"
        return self._connection.get(path, api=self._api_of(provider), filter={"include": include} if include else None)

    def _datasets(self, page: list[dict]) -> list[Dataset]:
        made: list[Dataset] = []
        details = _Details(self, made)  # shared by the page: one request fills them all
        made.extend(Dataset(self, raw, details) for raw in page)
        return made

    def _documents(self, page: list[dict]) -> list[Document]:
        return [Document(self, raw) for raw in page]

    def _details(self, datasets: list[Dataset]) -> dict[tuple, dict]:
        """(provider, pid) → the dataset with all its related records, for a page of datasets."""
        found: dict[tuple, dict] = {}
        by_provider: dict[str | None, list[str]] = {}
        for dataset in datasets:
            by_provider.setdefault(dataset.provider, []).append(dataset.pid)
        for provider, pids in by_provider.items():
            for start in range(0, len(pids), DETAILS_BATCH):
                batch = pids[start:start + DETAILS_BATCH]
                filter = {"where": {"pid": {"inq": batch}}, "include": DATASET_RELATIONS, "limit": len(batch)}
                for raw in self._connection.get("Datasets", api=self._api_of(provider), filter=filter):
                    found[(provider, str(raw.get("pid")))] = raw
        return found

    def _count(self, collection: str, criteria: Criteria) -> int:
        if "include" not in criteria:
            return int(self._connection.get(f"{collection}/count", where=criteria.where(), query=criteria.text)["count"])
        if collection == "Datasets":  # the count endpoint takes no include; the facets' total does
            return int(self._connection.get("Datasets/facets", filter=dict(criteria), query=criteria.text)["total"])
        return sum(1 for _ in Results(self, collection, criteria, lambda page: page, page_size=1000))
