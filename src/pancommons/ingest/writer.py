"""Writing extracted files into the catalogue, one transaction per batch.

A batch commits whole or not at all, so killing an ingest leaves no
half-written dataset.  A file's datasets keep their pid (derived from data
root, path and entry) and their row across re-ingests: when a file changes,
the columns and child rows that ingestion owns are rewritten in place and
everything else about the dataset (access decisions, DOIs, publication
links) stays.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, insert, select, update

from pancommons.catalogue import text_index
from pancommons.catalogue.embargo import follow_proposals
from pancommons.config import Settings
from pancommons.db.tables import (
    DataFile,
    Dataset,
    DatasetDerivation,
    DatasetFile,
    DatasetSample,
    DatasetTechnique,
    Document,
    DocumentDataset,
    Member,
    Parameter,
    utcnow,
)
from pancommons.ingest.links import link_proposals
from pancommons.ingest.scan import LocatedFile
from pancommons.ingest.shared_rows import SharedRows, fit
from pancommons.model import EntryRecord, FileRecord, PersonRecord

_PID_NAMESPACE = uuid.UUID("6f1c2a8e-4d0b-5c3e-9a7f-2b8d1e0c4f53")


def dataset_pid(prefix: str, data_root: str, relative: str, entry_path: str) -> str:
    digest = uuid.uuid5(_PID_NAMESPACE, f"{data_root}|{relative}|{entry_path}").hex[:20]
    return f"{prefix}/{digest}"


def add_years(moment: datetime, years: int) -> datetime:
    year = min(moment.year + years, 9999)
    try:
        return moment.replace(year=year)
    except ValueError:  # 29 February into a common year
        return moment.replace(year=year, day=28)


@dataclass(slots=True)
class Existing:
    """What the catalogue already knows of a file, for change detection."""

    id: int
    size: int
    mtime_ns: int
    checksum: str
    state: str


@dataclass(slots=True)
class BatchOutcome:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


class CatalogueWriter:
    def __init__(self, engine: Engine, settings: Settings, run_id: int | None = None):
        self.engine = engine
        self.settings = settings
        self.run_id = run_id
        self.prefix = settings.resolved_pid_prefix
        self._proposal_pattern = re.compile(settings.proposal_id_pattern) if settings.proposal_id_pattern else None
        self.rows = SharedRows(settings)

    # --- lookups --------------------------------------------------------------

    def existing(self, connection: Connection, files: Sequence[LocatedFile]) -> dict[tuple[str, str], Existing]:
        found: dict[tuple[str, str], Existing] = {}
        by_root: dict[str, list[str]] = {}
        for located in files:
            by_root.setdefault(located.data_root, []).append(located.relative)
        for root, relatives in by_root.items():
            for start in range(0, len(relatives), 500):
                rows = connection.execute(
                    select(DataFile.id, DataFile.path, DataFile.size, DataFile.mtime_ns, DataFile.checksum, DataFile.state)
                    .where(DataFile.data_root == root, DataFile.path.in_(relatives[start : start + 500]))
                )
                for row in rows:
                    found[(root, row.path)] = Existing(row.id, row.size, row.mtime_ns, row.checksum, row.state)
        return found

    def mark_seen(self, connection: Connection, file_ids: Sequence[int]) -> None:
        for start in range(0, len(file_ids), 500):
            connection.execute(
                update(DataFile).where(DataFile.id.in_(file_ids[start : start + 500])).values(last_seen_run=self.run_id)
            )

    def proposal_number(self, identifier: str | None) -> str | None:
        if not identifier:
            return None
        if self._proposal_pattern is not None:
            match = self._proposal_pattern.search(identifier)
            if match:
                return match.groupdict().get("proposal") or match.group(0)
        return identifier

    # --- the batch --------------------------------------------------------------

    def write_batch(self, items: Sequence[tuple[LocatedFile, FileRecord]]) -> BatchOutcome:
        """Catalogue extracted files in one transaction; returns what changed."""
        outcome = BatchOutcome()
        try:
            with self.engine.begin() as connection:
                known = self.existing(connection, [located for located, _ in items])
                touched: list[tuple[int, LocatedFile, FileRecord, list[int]]] = []
                new_items = []
                for located, record in items:
                    previous = known.get((located.data_root, located.relative))
                    if previous is None:
                        new_items.append((located, record))
                    elif previous.checksum == record.checksum:
                        self._refresh_unchanged(connection, previous.id, record)
                        outcome.unchanged += 1
                    else:
                        dataset_ids = self._update_file(connection, previous.id, located, record)
                        touched.append((previous.id, located, record, dataset_ids))
                        outcome.updated += 1
                for moved_id, located, record in self._moved(connection, new_items):
                    new_items.remove((located, record))
                    connection.execute(update(DataFile).where(DataFile.id == moved_id).values(**self._file_values(located, record)))
                    outcome.updated += 1
                if new_items:
                    touched.extend(self._insert_files(connection, new_items))
                    outcome.new += len(new_items)
                if touched:
                    self._write_children(connection, touched)
                    changed = [dataset_id for *_, dataset_ids in touched for dataset_id in dataset_ids]
                    text_index.refresh_with_documents(connection, changed)
        except Exception:
            self.rows.forget()
            raise
        return outcome

    def _moved(self, connection: Connection, new_items) -> list[tuple[int, LocatedFile, FileRecord]]:
        """New paths whose bytes are a catalogued file no longer at its own path: a move
        or a rename.  The file's row (and its datasets, pids and links) moves with it."""
        if not new_items:
            return []
        checksums = {record.checksum for _, record in new_items}
        candidates: dict[tuple[str, str, int], list] = {}
        for row in connection.execute(
            select(DataFile.id, DataFile.data_root, DataFile.path, DataFile.checksum, DataFile.size)
            .where(DataFile.checksum.in_(checksums))
        ):
            candidates.setdefault((row.data_root, row.checksum, row.size), []).append(row)
        moved = []
        for located, record in new_items:
            for row in candidates.get((located.data_root, record.checksum, record.size), []):
                if not os.path.exists(os.path.join(row.data_root, row.path)):
                    moved.append((row.id, located, record))
                    candidates[(located.data_root, record.checksum, record.size)].remove(row)
                    break
        return moved

    def _file_values(self, located: LocatedFile, record: FileRecord) -> dict:
        return fit(DataFile, {
            "data_root": located.data_root,
            "path": located.relative,
            "name": located.relative.rsplit("/", 1)[-1],
            "size": record.size,
            "mtime_ns": record.mtime_ns,
            "checksum": record.checksum,
            "checksum_algorithm": record.checksum_algorithm,
            "state": "present",
            "filters": record.filters,
            "arrays": [
                {
                    "path": array.path,
                    "shape": list(array.shape),
                    "dtype": array.dtype,
                    "chunks": list(array.chunks) if array.chunks else None,
                    "filters": array.filters,
                    "layout": array.layout,
                    **({"virtual_sources": [list(source) for source in array.virtual_sources]} if array.virtual_sources else {}),
                }
                for array in record.arrays
            ],
            "arrays_total": record.arrays_total,
            "warnings": record.warnings[:50],
            "last_seen_run": self.run_id,
            "updated_at": utcnow(),
        })

    def _refresh_unchanged(self, connection: Connection, file_id: int, record: FileRecord) -> None:
        # Touched, or back after being missing, with the same bytes: only stat data and presence move.
        connection.execute(
            update(DataFile)
            .where(DataFile.id == file_id)
            .values(size=record.size, mtime_ns=record.mtime_ns, state="present", last_seen_run=self.run_id)
        )

    def _insert_files(self, connection: Connection, items) -> list[tuple[int, LocatedFile, FileRecord, list[int]]]:
        now = utcnow()
        file_rows = [{**self._file_values(located, record), "created_at": now} for located, record in items]
        file_ids = connection.execute(
            insert(DataFile).returning(DataFile.id, sort_by_parameter_order=True), file_rows
        ).scalars().all()
        dataset_rows = []
        owners = []
        for file_id, (located, record) in zip(file_ids, items):
            for entry in record.entries:
                dataset_rows.append({**self._dataset_values(connection, located, record, entry, file_id), "created_at": now})
                owners.append(file_id)
        dataset_ids = []
        if dataset_rows:
            self._avoid_taken_pids(connection, dataset_rows)
            dataset_ids = connection.execute(
                insert(Dataset).returning(Dataset.id, sort_by_parameter_order=True), dataset_rows
            ).scalars().all()
        per_file: dict[int, list[int]] = {}
        for owner, dataset_id in zip(owners, dataset_ids):
            per_file.setdefault(owner, []).append(dataset_id)
        return [(file_id, located, record, per_file.get(file_id, [])) for file_id, (located, record) in zip(file_ids, items)]

    def _update_file(self, connection: Connection, file_id: int, located: LocatedFile, record: FileRecord) -> list[int]:
        connection.execute(update(DataFile).where(DataFile.id == file_id).values(**self._file_values(located, record)))
        # Datasets are matched by entry, not by pid: a file that was moved keeps the
        # pids it was first catalogued with.
        current = {
            row.entry_path: row.id
            for row in connection.execute(select(Dataset.id, Dataset.entry_path).where(Dataset.source_file_id == file_id))
        }
        dataset_ids = []
        for entry in record.entries:
            values = self._dataset_values(connection, located, record, entry, file_id)
            dataset_id = current.pop(entry.entry_path, None)
            if dataset_id is None:
                self._avoid_taken_pids(connection, [values])
                dataset_id = connection.execute(insert(Dataset).returning(Dataset.id), values).scalar_one()
            else:
                values.pop("pid")
                self._update_dataset(connection, dataset_id, values)
            dataset_ids.append(dataset_id)
        if current:  # entries that left the file
            connection.execute(delete(Dataset).where(Dataset.id.in_(list(current.values()))))
        return dataset_ids

    def _avoid_taken_pids(self, connection: Connection, rows: list[dict]) -> None:
        """A pid is derived from where a file is; a file that moved away keeps its pids, so a
        new file at its old path gets fresh ones (a pid, once given, is never given again)."""
        wanted = [row["pid"] for row in rows]
        taken = set(connection.execute(select(Dataset.pid).where(Dataset.pid.in_(wanted))).scalars())
        for row in rows:
            if row["pid"] in taken:
                row["pid"] = f"{self.prefix}/{uuid.uuid4().hex[:20]}"

    def _update_dataset(self, connection: Connection, dataset_id: int, values: dict) -> None:
        before = connection.execute(
            select(Dataset.embargo_until, Dataset.embargo_decided, Dataset.proposal_number).where(Dataset.id == dataset_id)
        ).one()
        if before.embargo_decided:  # a person decided this dataset's date: ingestion leaves it alone
            values.pop("embargo_until")
            values.pop("is_public")
        elif before.embargo_until == values["embargo_until"]:
            # Access follows the embargo date ingestion derives; while that date
            # stands, an access decision already taken is left alone.
            values.pop("is_public")
        connection.execute(update(Dataset).where(Dataset.id == dataset_id).values(**values))
        self._clear_owned_children(connection, dataset_id)
        if before.proposal_number != values["proposal_number"]:
            # The file now names another proposal: the old proposal link goes (links to publications stay).
            connection.execute(
                delete(DocumentDataset).where(
                    DocumentDataset.dataset_id == dataset_id,
                    DocumentDataset.document_id.in_(select(Document.id).where(Document.type == "proposal")),
                )
            )

    def _clear_owned_children(self, connection: Connection, dataset_id: int) -> None:
        for table, column in (
            (Parameter, Parameter.dataset_id),
            (DatasetTechnique, DatasetTechnique.dataset_id),
            (DatasetSample, DatasetSample.dataset_id),
            (Member, Member.dataset_id),
            (DatasetDerivation, DatasetDerivation.dataset_id),
            (DatasetFile, DatasetFile.dataset_id),
        ):
            connection.execute(delete(table).where(column == dataset_id))

    def _dataset_values(self, connection: Connection, located: LocatedFile, record: FileRecord, entry: EntryRecord, file_id: int) -> dict:
        acquired = entry.end_time or entry.start_time
        embargo_until = add_years(acquired, self.settings.embargo_years) if acquired else None
        return fit(Dataset, {
            "pid": dataset_pid(self.prefix, located.data_root, located.relative, entry.entry_path),
            "title": entry.title,
            "is_public": bool(embargo_until and embargo_until <= datetime.now(UTC)),
            "creation_date": entry.start_time,
            "end_date": entry.end_time,
            "size": record.size,
            "facility": entry.facility or self.settings.facility or None,
            "instrument_id": self.rows.instrument_id(connection, entry.facility or self.settings.facility, entry.instrument_name),
            "proposal_number": self.proposal_number(entry.proposal_id),
            "kind": entry.kind.value,
            "license": self.settings.default_license,
            "embargo_until": embargo_until,
            "definition": entry.definition,
            "probe": entry.probe,
            "default_plot": entry.default_plot,
            "time_source": entry.time_source,
            "time_raw": (entry.time_raw or "")[:128] or None,
            "source_file_id": file_id,
            "entry_path": entry.entry_path,
            "updated_at": utcnow(),
        })

    def _write_children(self, connection: Connection, touched) -> None:
        parameters, techniques, samples, members, derivations, links = [], [], [], [], [], []
        people: list[tuple[PersonRecord, str | None]] = []  # one per member row, resolved together below
        for file_id, located, record, dataset_ids in touched:
            for dataset_id, entry in zip(dataset_ids, record.entries):
                links.append({"dataset_id": dataset_id, "file_id": file_id})
                for parameter in entry.parameters:
                    numeric = isinstance(parameter.value, (int, float))
                    parameters.append(
                        fit(Parameter, {
                            "dataset_id": dataset_id,
                            "name": parameter.name,
                            "value_number": float(parameter.value) if numeric else None,
                            "value_string": None if numeric else str(parameter.value),
                            "unit": parameter.unit or None,
                            "si_value": parameter.si_value,
                            "si_unit": parameter.si_unit,
                            "source": parameter.source,
                        })
                    )
                for technique_id in {self.rows.technique_id(connection, iri, name) for iri, name in entry.techniques}:
                    techniques.append({"dataset_id": dataset_id, "technique_id": technique_id})
                for sample_id in {
                    self.rows.sample_id(connection, sample.name, sample.chemical_formula, sample.description)
                    for sample in entry.samples
                }:
                    samples.append({"dataset_id": dataset_id, "sample_id": sample_id})
                for person in entry.users:
                    people.append((person, entry.facility))
                    members.append(
                        fit(Member, {
                            "dataset_id": dataset_id,
                            "affiliation_id": self.rows.affiliation_id(connection, person.affiliation, None, None),
                            "role": person.role or None,
                        })
                    )
                for reference, source_entry in dict.fromkeys(entry.derived_from):
                    source_path = self._source_path(located, reference)
                    if source_path is None:
                        continue  # a source outside every data root cannot be a catalogued dataset
                    derivations.append(
                        fit(DatasetDerivation, {
                            "dataset_id": dataset_id,
                            "source_path": source_path,
                            "source_entry": "/" + source_entry.strip("/") if source_entry else None,
                        })
                    )
        for member, person_id in zip(members, self.rows.people_ids(connection, people) if people else []):
            member["person_id"] = person_id
        for table, rows in (
            (DatasetFile, links),
            (Parameter, parameters),
            (DatasetTechnique, techniques),
            (DatasetSample, samples),
            (Member, members),
            (DatasetDerivation, _unique(derivations, ("dataset_id", "source_path"))),
        ):
            if rows:
                connection.execute(insert(table), rows)
        dataset_ids = [dataset_id for *_, ids in touched for dataset_id in ids]
        link_proposals(connection, dataset_ids=dataset_ids)
        follow_proposals(connection, dataset_ids=dataset_ids)  # a dataset opens with its proposal

    def _source_path(self, located: LocatedFile, reference: str) -> str | None:
        """A raw file named by a processed one (relative to its directory, or absolute),
        as a path relative to the processed file's data root."""
        directory = os.path.dirname(os.path.join(located.data_root, located.relative))  # where it really is
        # resolved like the roots are, so a reference through a link to the storage still lands inside
        target = os.path.realpath(os.path.join(directory, reference))
        root = located.data_root.rstrip(os.sep) + os.sep
        if not target.startswith(root):
            return None
        return Path(os.path.relpath(target, located.data_root)).as_posix()


def _unique(rows: list[dict], key: tuple[str, ...]) -> list[dict]:
    return list({tuple(row[k] for k in key): row for row in rows}.values())
