"""Keep the full-text rows of datasets and documents in step with the catalogue.

What a record is found by (panosc-search-api.md, "Free-text query"):

- a dataset: its title, techniques, samples, parameters' names and string
  values, instrument, members named in its files, and its proposal's title,
  summary, keywords and member names;
- a document: its title, summary, keywords, members and its datasets' titles.

Text crosses from one record into another only when the other is public:
an embargoed dataset's title must not make its public proposal findable by
that title, nor an embargoed proposal's summary its public dataset.  (When
an embargo ends, the release refreshes the records it opens.)

Callers pass the ids they touched; ``refresh`` accepts a Connection or a
Session (anything with ``execute``) and writes in the caller's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, insert, select, update

from pancommons.db import tables as t
from pancommons.db.text_search import repeated_tokens
from pancommons.query.text import body_of

_CHUNK = 500


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    unique = sorted(set(ids))
    for start in range(0, len(unique), _CHUNK):
        yield unique[start : start + _CHUNK]


def refresh(executor, *, dataset_ids: Sequence[int] = (), document_ids: Sequence[int] = ()) -> None:
    """Recompute the text rows of these datasets and documents (missing ids are dropped)."""
    for chunk in _chunks(dataset_ids):
        _replace(executor, (t.DatasetText, t.DatasetTextStats), "dataset_id", chunk, _dataset_texts(executor, chunk))
    for chunk in _chunks(document_ids):
        _replace(executor, (t.DocumentText, t.DocumentTextStats), "document_id", chunk, _document_texts(executor, chunk))


def refresh_with_documents(executor, dataset_ids: Sequence[int]) -> None:
    """After datasets changed: them, and the documents that show their titles."""
    documents = _linked(executor, t.DocumentDataset.document_id, t.DocumentDataset.dataset_id, dataset_ids)
    refresh(executor, dataset_ids=dataset_ids, document_ids=documents)


def refresh_documents_with_datasets(executor, document_ids: Sequence[int]) -> None:
    """After documents changed: them, and the datasets that carry their words."""
    datasets = _linked(executor, t.DocumentDataset.dataset_id, t.DocumentDataset.document_id, document_ids)
    refresh(executor, dataset_ids=datasets, document_ids=document_ids)


def _linked(executor, wanted, given, ids: Sequence[int]) -> list[int]:
    found: set[int] = set()
    for chunk in _chunks(ids):
        found.update(executor.execute(select(wanted).where(given.in_(chunk))).scalars())
    return sorted(found)


def rebuild(executor) -> tuple[int, int]:
    """Recompute every text row (after a bulk load, or to repair); returns (datasets, documents)."""
    dataset_ids = list(executor.execute(select(t.Dataset.id)).scalars())
    document_ids = list(executor.execute(select(t.Document.id)).scalars())
    refresh(executor, dataset_ids=dataset_ids, document_ids=document_ids)
    return len(dataset_ids), len(document_ids)


def _replace(executor, tables, key: str, ids: list[int], texts: dict[int, list[str | None]]) -> None:
    """The text rows and their scoring statistics (``DatasetTextStats``) of these records, afresh."""
    for table in tables:
        executor.execute(delete(table).where(getattr(table, key).in_(ids)))
    rows, stats = [], []
    for record_id in ids:
        if record_id in texts:
            body, length = body_of(texts[record_id])
            rows.append({key: record_id, "body": body, "length": length})
            stats.append({key: record_id, "length": length, "repeats": repeated_tokens(body)})
    if rows:
        text_table, stats_table = tables
        executor.execute(insert(text_table), rows)
        executor.execute(insert(stats_table), stats)
        if text_table is t.DatasetText:  # the datasets' own copy of the length, for their public length index
            datasets, lengths = t.Dataset.__table__, t.DatasetTextStats.__table__
            executor.execute(update(datasets).where(datasets.c.id.in_(ids)).values(
                text_length=select(lengths.c.length).where(lengths.c.dataset_id == datasets.c.id).scalar_subquery()))


def _dataset_texts(executor, ids: list[int]) -> dict[int, list[str | None]]:
    texts: dict[int, list[str | None]] = {}
    for dataset_id, title, instrument in executor.execute(
        select(t.Dataset.id, t.Dataset.title, t.Instrument.name)
        .outerjoin(t.Instrument, t.Instrument.id == t.Dataset.instrument_id)
        .where(t.Dataset.id.in_(ids))
    ):
        texts[dataset_id] = [title, instrument]
    related = [
        select(t.DatasetTechnique.dataset_id, t.Technique.name)
        .join(t.Technique, t.Technique.id == t.DatasetTechnique.technique_id)
        .where(t.DatasetTechnique.dataset_id.in_(ids)),
        *(
            select(t.DatasetSample.dataset_id, column)
            .join(t.Sample, t.Sample.id == t.DatasetSample.sample_id)
            .where(t.DatasetSample.dataset_id.in_(ids))
            for column in (t.Sample.name, t.Sample.chemical_formula, t.Sample.description)
        ),
        select(t.Parameter.dataset_id, t.Parameter.name).where(t.Parameter.dataset_id.in_(ids)),
        select(t.Parameter.dataset_id, t.Parameter.value_string).where(t.Parameter.dataset_id.in_(ids)),
        select(t.Member.dataset_id, t.Person.full_name)
        .join(t.Person, t.Person.id == t.Member.person_id)
        .where(t.Member.dataset_id.in_(ids)),
    ]
    public_documents = (
        select(t.DocumentDataset.dataset_id, t.Document.id)
        .join(t.Document, t.Document.id == t.DocumentDataset.document_id)
        .where(t.DocumentDataset.dataset_id.in_(ids), t.Document.is_public.is_(True))
    )
    for statement in related:
        for dataset_id, value in executor.execute(statement):
            if dataset_id in texts:
                texts[dataset_id].append(value)
    documents_of: dict[int, list[int]] = defaultdict(list)
    for dataset_id, document_id in executor.execute(public_documents):
        documents_of[document_id].append(dataset_id)
    if documents_of:
        own = _own_document_texts(executor, list(documents_of))
        for document_id, dataset_list in documents_of.items():
            for dataset_id in dataset_list:
                texts[dataset_id].extend(own.get(document_id, ()))
    return texts


def _own_document_texts(executor, ids: list[int]) -> dict[int, list[str | None]]:
    """A document's own words: title, summary, keywords and members' names."""
    texts: dict[int, list[str | None]] = {}
    for document_id, title, summary, keywords in executor.execute(
        select(t.Document.id, t.Document.title, t.Document.summary, t.Document.keywords).where(t.Document.id.in_(ids))
    ):
        texts[document_id] = [title, summary, *(str(word) for word in keywords or ())]
    for document_id, name in executor.execute(
        select(t.Member.document_id, t.Person.full_name)
        .join(t.Person, t.Person.id == t.Member.person_id)
        .where(t.Member.document_id.in_(ids))
    ):
        texts[document_id].append(name)
    return texts


def _document_texts(executor, ids: list[int]) -> dict[int, list[str | None]]:
    texts = _own_document_texts(executor, ids)
    for document_id, title in executor.execute(
        select(t.DocumentDataset.document_id, t.Dataset.title)
        .join(t.Dataset, t.Dataset.id == t.DocumentDataset.dataset_id)
        .where(t.DocumentDataset.document_id.in_(ids), t.Dataset.is_public.is_(True))
    ):
        texts[document_id].append(title)
    return texts
