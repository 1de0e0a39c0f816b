"""When data opens: the facility's embargo rule, and the people who may move a date.

- A proposal's release date is the end of its experiment plus the facility's
  embargo period (``embargo_years``, default 3), or the date the user office
  export gives for it (a per-proposal override).
- An ingested dataset opens with its proposal; a dataset that names no known
  proposal opens ``embargo_years`` after its own acquisition.
- The proposal's principal investigator or a data manager may release a
  proposal's data early (``release_now``); a data manager may also set another
  date, later or earlier (``set_release_date``).  A date a person decided is
  marked so, and neither re-ingestion nor a user-office re-import moves it.

Every change is written to the audit log in the transaction that makes it.
Who may see a record is still decided at query time from these dates
(catalogue/policy.py); the ``is_public`` flags follow them for the summaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, or_, select, update

from pancommons.accounts import audit
from pancommons.catalogue import policy, text_index
from pancommons.db.tables import Dataset, Document, DocumentDataset


class NotAllowed(PermissionError):
    """The caller may not change this record's release."""


class UnknownRecord(LookupError):
    pass


@dataclass(frozen=True)
class ReleaseChange:
    target: str
    release_date: datetime
    datasets: int  # datasets whose date moved with it


def follow_proposals(connection: Connection, *, dataset_ids: Sequence[int] = (), document_ids: Sequence[int] = (),
                     now: datetime | None = None) -> list[int]:
    """Give ingested datasets their proposal's release date (unless a person decided theirs); the
    ids whose date changed.  Imported records (import-panosc) keep the dates their catalogue gave."""
    now = now or datetime.now(UTC)
    pairs = (
        select(DocumentDataset.dataset_id, Document.release_date)
        .join(Document, Document.id == DocumentDataset.document_id)
        .join(Dataset, Dataset.id == DocumentDataset.dataset_id)
        .where(Document.type == "proposal", Document.release_date.is_not(None),
               Dataset.source_file_id.is_not(None), Dataset.embargo_decided.is_(False))
    )
    found = []
    for column, ids in ((DocumentDataset.dataset_id, dataset_ids), (DocumentDataset.document_id, document_ids)):
        for start in range(0, len(ids), 500):
            found += connection.execute(pairs.where(column.in_(ids[start : start + 500]))).all()
    return _set_dataset_dates(connection, {dataset_id: date for dataset_id, date in found}, now)


def release_now(engine: Engine, caller: policy.Caller, *, proposal: str | None = None, dataset: str | None = None,
                now: datetime | None = None) -> ReleaseChange:
    """Open a proposal's data (or one dataset) today: its principal investigator or a data manager."""
    now = now or datetime.now(UTC)
    return _decide(engine, caller, proposal, dataset, now, now, "released-early", already_open_stays=True)


def set_release_date(engine: Engine, caller: policy.Caller, when: datetime, *, proposal: str | None = None,
                     dataset: str | None = None, now: datetime | None = None) -> ReleaseChange:
    """A data manager's date for a proposal's data (or one dataset): an extended embargo, or an earlier opening."""
    if not caller.staff:
        raise NotAllowed("only a data manager may set a release date")
    if when.tzinfo is None:
        raise ValueError("the release date needs a time zone (or write it as a date)")
    return _decide(engine, caller, proposal, dataset, when, now or datetime.now(UTC), "release-date-set")


def may_release(engine: Engine, caller: policy.Caller, *, proposal: str | None = None, dataset: str | None = None) -> bool:
    """Whether the landing page offers this caller the early release of a proposal or dataset."""
    if caller.staff:
        return True
    if not caller.principal_of:
        return False
    with engine.connect() as connection:
        if proposal is not None:
            ids = connection.execute(select(Document.id).where(Document.pid == proposal)).scalars().all()
        else:
            ids = connection.execute(
                select(DocumentDataset.document_id).join(Dataset, Dataset.id == DocumentDataset.dataset_id)
                .where(Dataset.pid == dataset)).scalars().all()
    return any(caller.may_release(document_id) for document_id in ids)


def _decide(engine: Engine, caller: policy.Caller, proposal: str | None, dataset: str | None, when: datetime,
            now: datetime, action: str, already_open_stays: bool = False) -> ReleaseChange:
    if (proposal is None) == (dataset is None):
        raise ValueError("name a proposal or a dataset")
    opening = when <= now
    with engine.begin() as connection:
        if proposal is not None:
            document = connection.execute(
                select(Document.id, Document.release_date).where(Document.pid == proposal)).first()
            # Unknown and not yours answer alike: a release button is no way to learn what exists.
            if document is None or not (caller.may_release(document.id) or _sees(connection, caller, document.id, now)):
                raise UnknownRecord(f"there is no proposal {proposal!r} here, or it is not open to you")
            if not caller.may_release(document.id):
                raise NotAllowed("only the proposal's principal investigator or a data manager may release its data")
            if already_open_stays and document.release_date is not None and document.release_date <= now:
                return ReleaseChange(proposal, document.release_date, 0)  # open already: its published date stays
            connection.execute(update(Document).where(Document.id == document.id).values(
                release_date=when, release_decided=True, is_public=opening))
            changed = follow_proposals(connection, document_ids=[document.id], now=now)
            text_index.refresh_documents_with_datasets(connection, [document.id])
            audit.record(connection, caller.name, action, proposal, kind="proposal", release_date=when.isoformat(),
                         before=document.release_date.isoformat() if document.release_date else None,
                         datasets=len(changed))
            return ReleaseChange(proposal, when, len(changed))
        row = connection.execute(select(Dataset.id, Dataset.embargo_until).where(Dataset.pid == dataset)).first()
        proposals = [] if row is None else connection.execute(
            select(DocumentDataset.document_id).where(DocumentDataset.dataset_id == row.id)).scalars().all()
        allowed = row is not None and (caller.staff or any(caller.may_release(document) for document in proposals))
        if row is None or not (allowed or _sees_dataset(connection, caller, row.id, now)):
            raise UnknownRecord(f"there is no dataset {dataset!r} here, or it is not open to you")
        if not allowed:
            raise NotAllowed("only the principal investigator of its proposal or a data manager may release it")
        if already_open_stays and row.embargo_until is not None and row.embargo_until <= now:
            return ReleaseChange(dataset, row.embargo_until, 0)  # open already: its published date stays
        connection.execute(update(Dataset).where(Dataset.id == row.id).values(
            embargo_until=when, embargo_decided=True, is_public=opening))
        text_index.refresh_with_documents(connection, [row.id])
        audit.record(connection, caller.name, action, dataset, kind="dataset", release_date=when.isoformat(),
                     before=row.embargo_until.isoformat() if row.embargo_until else None)
        return ReleaseChange(dataset, when, 1)


def _set_dataset_dates(connection: Connection, dates: dict[int, datetime], now: datetime) -> list[int]:
    """Set each dataset's embargo date (one statement per date: a proposal's datasets share one);
    the ids whose date or flag changed."""
    by_date: dict[datetime, list[int]] = {}
    for dataset_id, date in dates.items():
        by_date.setdefault(date, []).append(dataset_id)
    changed = []
    for date, ids in by_date.items():
        opened = date <= now
        for start in range(0, len(ids), 500):
            changed += connection.execute(
                update(Dataset).where(
                    Dataset.id.in_(ids[start : start + 500]),
                    or_(Dataset.embargo_until.is_(None), Dataset.embargo_until != date, Dataset.is_public != opened),
                ).values(embargo_until=date, is_public=opened).returning(Dataset.id)
            ).scalars().all()
    return changed


def _sees(connection: Connection, caller: policy.Caller, document_id: int, now: datetime) -> bool:
    visible = policy.visibility_for(caller, now).documents(Document.__table__)
    return connection.execute(select(Document.id).where(Document.id == document_id, visible)).first() is not None


def _sees_dataset(connection: Connection, caller: policy.Caller, dataset_id: int, now: datetime) -> bool:
    visible = policy.visibility_for(caller, now).datasets(Dataset.__table__)
    return connection.execute(select(Dataset.id).where(Dataset.id == dataset_id, visible)).first() is not None
