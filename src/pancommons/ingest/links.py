"""Links made once both ends are catalogued: datasets to the proposals they name,
processed datasets to the raw datasets they were derived from."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import aliased

from pancommons.db.tables import (
    DataFile,
    Dataset,
    DatasetDerivation,
    Document,
    DocumentDataset,
)


def link_proposals(connection: Connection, *, dataset_ids: Sequence[int] | None = None, document_ids: Sequence[int] | None = None) -> None:
    """Link datasets to the proposals their proposal number names (whichever arrived second)."""
    already = select(DocumentDataset.dataset_id).where(
        DocumentDataset.dataset_id == Dataset.id, DocumentDataset.document_id == Document.id
    )
    query = (
        select(Document.id, Dataset.id)
        .join(Dataset, Dataset.proposal_number == Document.proposal_number)
        .where(~already.exists())
    )
    chunks: list = [None]
    if dataset_ids is not None:
        chunks = [("dataset", list(dataset_ids[i : i + 500])) for i in range(0, len(dataset_ids), 500)]
    elif document_ids is not None:
        chunks = [("document", list(document_ids[i : i + 500])) for i in range(0, len(document_ids), 500)]
    for chunk in chunks:
        scoped = query
        if chunk is not None:
            kind, ids = chunk
            scoped = query.where((Dataset.id if kind == "dataset" else Document.id).in_(ids))
        connection.execute(
            insert(DocumentDataset).from_select(["document_id", "dataset_id"], scoped)
        )


def resolve_derivations(connection: Connection) -> int:
    """Point processed datasets at the raw datasets their files name, once both are catalogued.

    The source is looked up in the processed file's own data root (the path
    was written relative to it) and, where the process named an entry, by it.
    """
    processed_file = aliased(DataFile)
    processed = aliased(Dataset)
    root_of_processed = (
        select(processed_file.data_root)
        .join(processed, processed.source_file_id == processed_file.id)
        .where(processed.id == DatasetDerivation.dataset_id)
        .correlate(DatasetDerivation)  # to the row being updated, through the enclosing subquery
        .scalar_subquery()
    )
    source = (
        select(Dataset.id)
        .join(DataFile, DataFile.id == Dataset.source_file_id)
        .where(
            DataFile.path == DatasetDerivation.source_path,
            DataFile.data_root == root_of_processed,
            (Dataset.entry_path == DatasetDerivation.source_entry) | (DatasetDerivation.source_entry.is_(None)),
        )
        .order_by(Dataset.entry_path)
        .limit(1)
        .correlate(DatasetDerivation)
        .scalar_subquery()
    )
    result = connection.execute(
        update(DatasetDerivation)
        .where(DatasetDerivation.source_dataset_id.is_(None))
        .values(source_dataset_id=source)
    )
    return result.rowcount or 0
