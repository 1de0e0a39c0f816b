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

from sqlalchemy import Engine, select, update

from pancommons.catalogue import text_index
from pancommons.db.tables import Dataset, Document


@dataclass(frozen=True, slots=True)
class Released:
    datasets: int
    documents: int


def release_embargoed(engine: Engine, now: datetime | None = None) -> Released:
    now = now or datetime.now(UTC)
    with engine.begin() as connection:
        datasets = connection.execute(
            select(Dataset.id).where(Dataset.is_public.is_(False), Dataset.embargo_until <= now)
        ).scalars().all()
        documents = connection.execute(
            select(Document.id).where(Document.is_public.is_(False), Document.release_date <= now)
        ).scalars().all()
        for chunk in range(0, len(datasets), 500):
            ids = datasets[chunk : chunk + 500]
            connection.execute(update(Dataset).where(Dataset.id.in_(ids)).values(is_public=True))
        for chunk in range(0, len(documents), 500):
            ids = documents[chunk : chunk + 500]
            connection.execute(update(Document).where(Document.id.in_(ids)).values(is_public=True))
        if datasets:
            text_index.refresh_with_documents(connection, datasets)
        if documents:
            text_index.refresh_documents_with_datasets(connection, documents)
    return Released(len(datasets), len(documents))
