"""``pancommons ingest``: scan, extract in parallel, write in batches, report.

A streaming pipeline: paths come from a directory walk (a generator), go
through change detection in chunks, are extracted by worker processes with
a bounded number of tasks in flight, and are written one transaction per
batch.  Memory is bounded by the batch size and the in-flight window, not
by the number of files.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice

from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError

from pancommons.catalogue.release import release_embargoed
from pancommons.config import Settings
from pancommons.db.engine import database_reason
from pancommons.db.tables import DataFile, IngestRun, utcnow
from pancommons.ingest.links import resolve_derivations
from pancommons.ingest.scan import (
    DataRoots,
    LocatedFile,
    ScanProblem,
    path_state,
    walk_files,
)
from pancommons.ingest.writer import CatalogueWriter
from pancommons.model import FileRecord
from pancommons.nexus.extract import ExtractionError, ExtractOptions, extract_file
from pancommons.techniques import load_hints

_MAX_LISTED = 1000  # failures and warnings kept in the report and the run record
_TASK_SIZE = 16  # files per worker task: amortises inter-process traffic


@dataclass
class IngestReport:
    run_id: int | None = None
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    failed_count: int = 0
    deleted: list[str] = field(default_factory=list)
    deleted_count: int = 0
    warnings: list[tuple[str, str]] = field(default_factory=list)
    warned_files: int = 0
    seconds: float = 0.0
    unlisted_directories: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.new + self.updated + self.unchanged + self.failed_count

    def summary_line(self) -> str:
        return f"new: {self.new}, updated: {self.updated}, unchanged: {self.unchanged}, failed: {self.failed_count}"

    def fail(self, path: str, reason: str) -> None:
        self.failed_count += 1
        if len(self.failed) < _MAX_LISTED:
            self.failed.append((path, reason))

    def warn(self, path: str, messages: Sequence[str]) -> None:
        self.warned_files += 1
        for message in messages:
            if len(self.warnings) < _MAX_LISTED:
                self.warnings.append((path, message))

    def as_json(self) -> dict:
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed_count,
            "deleted": self.deleted_count,
            "failures": [{"path": path, "reason": reason} for path, reason in self.failed],
            "deleted_files": self.deleted,
            "seconds": round(self.seconds, 3),
        }


class NothingToDo(Exception):
    """Ingest could not start: the message says why (exit status non-zero)."""


def extract_options(settings: Settings) -> ExtractOptions:
    return ExtractOptions(
        zone=settings.facility_timezone,
        default_facility=settings.facility,
        hints=load_hints(settings.technique_hints),
        max_parameters=settings.max_parameters_per_entry,
        checksum_algorithm=settings.checksum_algorithm,
    )


# --- worker side ---------------------------------------------------------------

_worker_options: ExtractOptions | None = None


def _init_worker(options: ExtractOptions) -> None:
    global _worker_options
    _worker_options = options


def _extract_one(located: LocatedFile, options: ExtractOptions) -> FileRecord | str:
    try:
        return extract_file(located.path, options)
    except ExtractionError as error:
        return str(error)
    except Exception as error:  # a library bug on a strange file must not stop the batch
        return f"unexpected error: {type(error).__name__}: {error}"


def _extract_task(files: list[LocatedFile]) -> list[tuple[LocatedFile, FileRecord | str]]:
    assert _worker_options is not None
    return [(located, _extract_one(located, _worker_options)) for located in files]


# --- main side -----------------------------------------------------------------


def count_candidates(paths: Sequence[str], settings: Settings) -> int:
    """How many files a run will look at (a fast walk, for the progress bar)."""
    roots = DataRoots(settings.data_roots)
    return sum(1 for _ in walk_files(paths, roots, settings.ingest_suffixes))


def check_paths(paths: Sequence[str], settings: Settings) -> DataRoots:
    """Refuse a run that could do nothing, with the reason and what to do about it."""
    roots = DataRoots(settings.data_roots)
    existing = [path for path in paths if path_state(path) != "vanished"]
    if not existing:
        raise NothingToDo(f"{paths[0]}: no such file or directory")
    outside = [path for path in existing if not _under_roots(roots, path)]
    if len(outside) == len(existing):
        raise NothingToDo(
            f"{outside[0]} is not under a data root (data roots: {roots.describe()}); "
            "set PANCOMMONS_DATA_ROOTS or data_roots in pancommons.toml, or pass --data-root"
        )
    return roots


def ingest(
    paths: Sequence[str],
    settings: Settings,
    engine: Engine,
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    roots = check_paths(paths, settings)
    workers = workers if workers is not None else (settings.ingest_workers or os.cpu_count() or 1)
    started = time.perf_counter()
    report = IngestReport()
    with engine.begin() as connection:
        report.run_id = connection.execute(
            insert(IngestRun).values(paths=[os.path.abspath(path) for path in paths]).returning(IngestRun.id)
        ).scalar_one()
    writer = CatalogueWriter(engine, settings, report.run_id)
    options = extract_options(settings)
    advance = progress or (lambda n: None)

    to_extract = _changed_files(walk_files(paths, roots, settings.ingest_suffixes), writer, report, advance, settings.ingest_batch_size)
    results = _extract_inline(to_extract, options) if workers <= 1 else _extract_parallel(to_extract, options, workers)
    batch: list[tuple[LocatedFile, FileRecord]] = []
    for located, outcome in results:
        if isinstance(outcome, str):
            report.fail(located.path, outcome)
            advance(1)
            continue
        if outcome.warnings:
            report.warn(located.path, outcome.warnings)
        batch.append((located, outcome))
        if len(batch) >= settings.ingest_batch_size:
            _write(writer, batch, report, advance)
            batch = []
    if batch:
        _write(writer, batch, report, advance)

    with engine.begin() as connection:
        resolve_derivations(connection)
        _mark_missing(connection, roots, paths, report)
        report.seconds = time.perf_counter() - started
        connection.execute(
            update(IngestRun)
            .where(IngestRun.id == report.run_id)
            .values(finished_at=utcnow(), summary=report.as_json())
        )
    release_embargoed(engine)
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA optimize")  # planner statistics for the API's queries
    return report


def _under_roots(roots: DataRoots, path: str) -> bool:
    try:
        roots.locate(os.path.abspath(path))
        return True
    except ValueError:
        return False


def _write(writer: CatalogueWriter, batch, report: IngestReport, advance) -> None:
    try:
        outcomes = [writer.write_batch(batch)]
    except (OperationalError, InterfaceError):
        raise  # the database itself is unavailable: stop; each committed batch is whole
    except Exception:  # noqa: BLE001 - one file's content must not cost the batch
        # Something in this batch could not be written: find the file, keep the rest.
        outcomes = []
        for located, record in batch:
            try:
                outcomes.append(writer.write_batch([(located, record)]))
            except (OperationalError, InterfaceError):
                raise
            except Exception as refused:  # noqa: BLE001
                report.fail(located.path, f"the catalogue could not store it: {database_reason(refused)}")
    for outcome in outcomes:
        report.new += outcome.new
        report.updated += outcome.updated
        report.unchanged += outcome.unchanged
    advance(len(batch))



def _changed_files(
    found: Iterable[LocatedFile | ScanProblem], writer: CatalogueWriter, report: IngestReport, advance, chunk_size: int
) -> Iterator[LocatedFile]:
    """Files whose size or modification time differ from the catalogue's; the rest are marked seen."""
    iterator = iter(found)
    while chunk := list(islice(iterator, chunk_size)):
        located = []
        for item in chunk:
            if isinstance(item, ScanProblem):
                report.fail(item.path, item.reason)
                if item.unlisted_directory:
                    report.unlisted_directories.append(item.path)
                advance(1)
            else:
                located.append(item)
        if not located:
            continue
        with writer.engine.begin() as connection:
            known = writer.existing(connection, located)
            unchanged_ids = [
                previous.id
                for item in located
                if (previous := known.get((item.data_root, item.relative))) is not None
                and previous.state == "present"
                and previous.size == item.size
                and previous.mtime_ns == item.mtime_ns
            ]
            # Every file still on disk is seen, even one that fails to extract below:
            # only files that are gone may be reported deleted.
            writer.mark_seen(connection, [previous.id for previous in known.values() if previous.state == "present"])
        report.unchanged += len(unchanged_ids)
        advance(len(unchanged_ids))
        unchanged = set(unchanged_ids)
        for item in located:
            previous = known.get((item.data_root, item.relative))
            if previous is None or previous.id not in unchanged:
                yield item


def _extract_inline(files: Iterable[LocatedFile], options: ExtractOptions):
    for located in files:
        yield located, _extract_one(located, options)


def _extract_parallel(files: Iterable[LocatedFile], options: ExtractOptions, workers: int):
    """Extraction in worker processes, at most a few tasks per worker in flight."""
    context = multiprocessing.get_context("forkserver")
    tasks = _chunks(files, _TASK_SIZE)
    in_flight: set[Future] = set()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(options,)) as pool:
        for task in islice(tasks, workers * 3):
            in_flight.add(pool.submit(_extract_task, task))
        while in_flight:
            done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                for task in islice(tasks, 1):
                    in_flight.add(pool.submit(_extract_task, task))
                yield from future.result()


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _mark_missing(connection, roots: DataRoots, paths: Sequence[str], report: IngestReport) -> None:
    """Files catalogued below the scanned paths that this run did not see: deleted from disk.

    Directories the walk could not list are left out: their files were not
    seen, but nothing says they are gone (a permission change, a stale mount).
    """
    scopes = [_below(root, relative) for root, relative in _located(roots, paths)]
    if not scopes:
        return
    unseen = [_below(root, relative) for root, relative in _located(roots, report.unlisted_directories)]
    condition = and_(
        or_(*scopes),
        *[~scope for scope in unseen],
        DataFile.state == "present",
        or_(DataFile.last_seen_run.is_(None), DataFile.last_seen_run != report.run_id),
    )
    listed = connection.execute(
        select(DataFile.data_root, DataFile.path).where(condition).order_by(DataFile.data_root, DataFile.path).limit(_MAX_LISTED)
    ).all()
    report.deleted = [f"{root.rstrip('/')}/{path}" for root, path in listed]
    # One statement however many went missing: memory does not grow with them.
    report.deleted_count = connection.execute(update(DataFile).where(condition).values(state="missing")).rowcount


def _located(roots: DataRoots, paths: Sequence[str]) -> Iterator[tuple[str, str]]:
    for path in paths:
        state = path_state(path)
        try:
            if state == "ok":
                yield roots.locate(os.path.abspath(path))
            elif state == "vanished":  # located by its parent, which may still exist
                yield _locate_vanished(roots, path)
            # anything else (unreadable) is no scope at all: nothing under it is called deleted
        except ValueError:
            continue


def _locate_vanished(roots: DataRoots, path: str) -> tuple[str, str]:
    parent, name = os.path.split(os.path.abspath(path))
    root, relative = roots.locate(parent)
    return root, f"{relative}/{name}" if relative else name


def _below(root: str, relative: str):
    """The catalogued file at ``relative`` or anywhere under it, compared character by
    character (a range or LIKE would depend on the database's collation and case rules)."""
    if not relative:
        return DataFile.data_root == root
    prefix = relative + "/"
    return and_(
        DataFile.data_root == root,
        or_(DataFile.path == relative, func.substr(DataFile.path, 1, len(prefix)) == prefix),
    )
