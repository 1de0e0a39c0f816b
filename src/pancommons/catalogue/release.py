"""Open what its date opens: datasets whose embargo ended, documents whose release date passed.

Visibility itself is decided at query time (catalogue/policy.py), so data
opens on the day whether or not this runs.  What this adds is the flag and
the words: an opened record's title and summary join the text of the
records linked to it (a proposal is found by its released datasets'
titles), which text_index only borrows from public records.  It runs after
every ingest, when the API starts, and as `pancommons release` (cron).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, update

from pancommons.catalogue import text_index
from pancommons.db.account_tables import AuditEvent
from pancommons.db.tables import Dataset, Document


@dataclass(frozen=True, slots=True)
class Released:
    datasets: int
    documents: int


def release_embargoed(engine: Engine, now: datetime | None = None) -> Released:
    """Set the flag of every record whose date has come, each release written to the audit log."""
    now = now or datetime.now(UTC)
    with engine.begin() as connection:
        datasets = _open(connection, Dataset, Dataset.embargo_until, now)
        documents = _open(connection, Document, Document.release_date, now)
        if datasets:
            text_index.refresh_with_documents(connection, [row_id for row_id, _ in datasets])
        if documents:
            text_index.refresh_documents_with_datasets(connection, [row_id for row_id, _ in documents])
        events = [{"at": now, "actor": "system", "action": "released", "target": pid[:1024],
                   "detail": {"kind": kind, "reason": "embargo ended"}}
                  for kind, opened in (("dataset", datasets), ("proposal", documents)) for _, pid in opened]
        for chunk in range(0, len(events), 1000):
            connection.execute(insert(AuditEvent), events[chunk : chunk + 1000])
    return Released(len(datasets), len(documents))


def _open(connection, table, date, now: datetime) -> list[tuple[int, str]]:
    """(id, pid) of the rows this call opened; a row another run opened meanwhile is not counted twice."""
    due = connection.execute(select(table.id).where(table.is_public.is_(False), date <= now)).scalars().all()
    opened = []
    for chunk in range(0, len(due), 500):
        opened += connection.execute(
            # the date again: a data manager may have moved it later since the select (PostgreSQL re-reads the row)
            update(table).where(table.id.in_(due[chunk : chunk + 500]), table.is_public.is_(False), date <= now)
            .values(is_public=True).returning(table.id, table.pid)
        ).all()
    return [tuple(row) for row in opened]
