"""What a landing page shows of one dataset or one proposal, for a caller.

The PaNOSC record (with its techniques, instrument, samples, parameters and
proposal) comes from the search service's ``get``, through the same
visibility; what the Search API does not carry — files with their
checksums and storage tier, the proposal's members, raw ↔ processed links —
is read here under the same rule: a related dataset the caller may not see
is not shown, not even by title.  No e-mail address ever leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select

from pancommons.catalogue import policy
from pancommons.catalogue.search import Catalogue
from pancommons.db import tables as t
from pancommons.db.compile import TABLES
from pancommons.query.filter import parse_filter

_DATASET_INCLUDES = parse_filter("Dataset", {"include": [
    "techniques", "instrument", "samples", "parameters", {"relation": "documents"},
]}, include_only=True).includes
_PROPOSAL_INCLUDES = parse_filter("Document", {"include": [
    {"relation": "members", "scope": {"include": ["person", "affiliation"]}}, "parameters",
]}, include_only=True).includes
MAX_LISTED_DATASETS = 500  # of a proposal, on its page


@dataclass
class DatasetPage:
    dataset: dict  # the PaNOSC record with its relations
    proposals: list[dict]  # with members (names, ORCID, role, affiliation)
    files: list[dict]  # name, path, size, checksum, algorithm, storage tier
    derived_from: list[dict] = field(default_factory=list)  # visible raw datasets this one was made from
    derived: list[dict] = field(default_factory=list)  # visible datasets made from this one
    embargo_until: str | None = None
    public: bool = True


@dataclass
class ProposalPage:
    proposal: dict
    datasets: list[dict]
    more_datasets: int = 0
    release_date: str | None = None
    public: bool = True


def dataset_page(catalogue: Catalogue, pid: str, caller: policy.Caller = policy.ANONYMOUS) -> DatasetPage | None:
    record = catalogue.get("Dataset", pid, _DATASET_INCLUDES, caller)
    if record is None:
        return None
    compiler = catalogue.compiler(caller)
    proposals = []
    for document in record.pop("documents", []) or []:
        found = catalogue.get("Document", document["pid"], _PROPOSAL_INCLUDES, caller)
        if found is not None:
            proposals.append(found)
    with catalogue.engine.connect() as connection:
        dataset_id = catalogue.dataset_id(connection, compiler, pid)
        files = [
            {"id": row.id, "name": row.name, "path": row.path, "size": row.size, "checksum": row.checksum,
             "checksumAlgorithm": row.checksum_algorithm, "storageTier": row.storage_tier, "present": row.state == "present"}
            for row in connection.execute(
                select(t.DataFile).join(t.DatasetFile, t.DatasetFile.file_id == t.DataFile.id)
                .where(t.DatasetFile.dataset_id == dataset_id).order_by(t.DataFile.path)
            )
        ]
        links = t.DatasetDerivation.__table__.c
        derived_from = _linked(connection, compiler, links.source_dataset_id, links.dataset_id, dataset_id)
        derived = _linked(connection, compiler, links.dataset_id, links.source_dataset_id, dataset_id)
    return DatasetPage(
        dataset=record,
        proposals=proposals,
        files=files,
        derived_from=derived_from,
        derived=derived,
        embargo_until=record.get("embargoUntil"),
        public=bool(record.get("isPublic")),
    )


@dataclass
class EmbargoedSummary:
    """What a metadata-only page shows of a dataset the caller may not see (a facility option)."""

    pid: str
    title: str
    kind: str
    facility: str | None
    instrument: str | None
    proposal: str | None
    release_date: datetime | None
    license: str | None


def embargoed_summary(catalogue: Catalogue, pid: str, caller: policy.Caller, facility_shows_embargoed: bool) -> EmbargoedSummary | None:
    datasets = TABLES["Dataset"]
    visibility = policy.visibility_for(caller, datetime.now(UTC))
    proposal = (
        select(t.Document.title).join(t.DocumentDataset, t.DocumentDataset.document_id == t.Document.id)
        .where(t.DocumentDataset.dataset_id == datasets.c.id, t.Document.type == "proposal")
        .order_by(t.Document.pid).limit(1).scalar_subquery()
    )
    with catalogue.engine.connect() as connection:
        row = connection.execute(
            select(datasets.c.pid, datasets.c.title, datasets.c.kind, datasets.c.facility, datasets.c.embargo_until,
                   datasets.c.license, t.Instrument.name.label("instrument"), proposal.label("proposal"))
            .outerjoin(t.Instrument, t.Instrument.id == datasets.c.instrument_id)
            .where(datasets.c.pid == pid, visibility.dataset_summaries(datasets, facility_shows_embargoed))
        ).first()
    if row is None:
        return None
    return EmbargoedSummary(row.pid, row.title, row.kind, row.facility, row.instrument, row.proposal,
                            row.embargo_until, row.license)


def _linked(connection, compiler, other_end, this_end, dataset_id: int) -> list[dict]:
    """The visible datasets at ``other_end`` of the derivation links whose ``this_end`` is ``dataset_id``."""
    other = TABLES["Dataset"].alias("other")
    rows = connection.execute(
        select(other.c.pid, other.c.title).join(t.DatasetDerivation.__table__, other_end == other.c.id)
        .where(this_end == dataset_id, compiler.visible("Dataset", other)).order_by(other.c.title)
    )
    return [{"pid": row.pid, "title": row.title} for row in rows]


def proposal_page(catalogue: Catalogue, pid: str, caller: policy.Caller = policy.ANONYMOUS) -> ProposalPage | None:
    proposal = catalogue.get("Document", pid, _PROPOSAL_INCLUDES, caller)
    if proposal is None:
        return None
    query = parse_filter("Dataset", {
        "include": [{"relation": "documents", "scope": {"where": {"pid": pid}}}, "techniques", "instrument"],
        "limit": MAX_LISTED_DATASETS,
    })
    datasets = catalogue.find(query, caller)
    more = 0
    if len(datasets) == MAX_LISTED_DATASETS:
        more = _count_of_proposal(catalogue, pid, caller) - MAX_LISTED_DATASETS
    for dataset in datasets:
        dataset.pop("documents", None)
    return ProposalPage(proposal, datasets, more, proposal.get("releaseDate"), bool(proposal.get("isPublic")))


def _count_of_proposal(catalogue: Catalogue, pid: str, caller: policy.Caller) -> int:
    compiler = catalogue.compiler(caller)
    include = parse_filter("Dataset", {"include": [{"relation": "documents", "scope": {"where": {"pid": pid}}}]}).includes
    datasets = TABLES["Dataset"]
    with catalogue.engine.connect() as connection:
        return int(connection.execute(
            select(func.count()).select_from(datasets).where(compiler.selection("Dataset", datasets, None, include))
        ).scalar_one())
