"""A signed-in person's own part of the catalogue: the proposals whose member list names them,
and the data of those proposals and of the instruments they are scientist of, embargoed or not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, or_, select

from pancommons.catalogue import policy
from pancommons.catalogue.search import Catalogue
from pancommons.db import tables as t
from pancommons.db.compile import TABLES

PAGE = 50


@dataclass(frozen=True)
class MyProposal:
    pid: str
    title: str
    leader: bool  # the caller is its principal investigator
    end_date: datetime | None
    release_date: datetime | None
    open: bool
    datasets: int
    embargoed: int
    may_release: bool


@dataclass(frozen=True)
class MyDataset:
    pid: str
    title: str
    creation_date: datetime | None
    embargo_until: datetime | None
    open: bool
    proposal: str | None
    instrument: str | None


def my_proposals(catalogue: Catalogue, caller: policy.Caller) -> list[MyProposal]:
    if not caller.proposals:
        return []
    now = datetime.now(UTC)
    visibility = policy.visibility_for(caller, now)
    documents, datasets = TABLES["Document"], TABLES["Dataset"]
    open_dataset = visibility.dataset_public(datasets)
    with catalogue.engine.connect() as connection:
        counts = {
            document_id: (total, embargoed or 0)
            for document_id, total, embargoed in connection.execute(
                select(t.DocumentDataset.document_id, func.count(), func.sum(case((open_dataset, 0), else_=1)))
                .join(datasets, datasets.c.id == t.DocumentDataset.dataset_id)
                .where(t.DocumentDataset.document_id.in_(sorted(caller.proposals)), visibility.datasets(datasets))
                .group_by(t.DocumentDataset.document_id)
            )
        }
        rows = connection.execute(
            select(documents).where(documents.c.id.in_(sorted(caller.proposals)), visibility.documents(documents))
            .order_by(documents.c.end_date.desc().nulls_last(), documents.c.pid)
        ).mappings().all()
    return [
        MyProposal(row["pid"], row["title"], row["id"] in caller.principal_of, row["end_date"], row["release_date"],
                   policy.is_public_document(row["is_public"], row["release_date"], now),
                   *counts.get(row["id"], (0, 0)), caller.may_release(row["id"]))
        for row in rows
    ]


def my_data(catalogue: Catalogue, caller: policy.Caller, page: int = 1) -> tuple[list[MyDataset], int]:
    """One page of the caller's datasets, newest first, and how many there are."""
    if not (caller.proposals or caller.instruments):
        return [], 0
    now = datetime.now(UTC)
    visibility = policy.visibility_for(caller, now)
    datasets, documents = TABLES["Dataset"], TABLES["Document"]
    parts = []
    if caller.proposals:
        parts.append(datasets.c.id.in_(select(t.DocumentDataset.dataset_id)
                                       .where(t.DocumentDataset.document_id.in_(sorted(caller.proposals)))))
    if caller.instruments:
        parts.append(datasets.c.instrument_id.in_(sorted(caller.instruments)))
    mine = or_(*parts) & visibility.datasets(datasets)
    proposal = (
        select(documents.c.pid).join(t.DocumentDataset, t.DocumentDataset.document_id == documents.c.id)
        .where(t.DocumentDataset.dataset_id == datasets.c.id, documents.c.type == "proposal")
        .limit(1).scalar_subquery()
    )
    with catalogue.engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(datasets).where(mine)).scalar_one()
        rows = connection.execute(
            select(datasets, proposal.label("proposal"), t.Instrument.name.label("instrument_name"))
            .outerjoin(t.Instrument, t.Instrument.id == datasets.c.instrument_id)
            .where(mine).order_by(datasets.c.creation_date.desc(), datasets.c.pid)
            .limit(PAGE).offset((max(page, 1) - 1) * PAGE)
        ).mappings().all()
    return [
        MyDataset(row["pid"], row["title"], row["creation_date"], row["embargo_until"],
                  policy.is_public_dataset(row["is_public"], row["embargo_until"], now), row["proposal"],
                  row["instrument_name"])
        for row in rows
    ], total
