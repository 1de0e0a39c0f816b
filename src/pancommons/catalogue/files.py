"""The files a caller may read, and where they are on disk.

A file is readable when the caller may see at least one dataset holding
it (catalogue/policy.py decides), it is present, and its catalogued path
resolves — symbolic links followed — to a place inside one of the node's
configured data roots.  Requests name files by catalogue id only; no path
from a request ever reaches the file system.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import case, exists, select

from pancommons.catalogue import policy
from pancommons.catalogue.search import Catalogue
from pancommons.db import tables as t
from pancommons.db.compile import TABLES


class FileRefused(LookupError):
    """No such file for this caller, or not readable here; the message says which, never where."""


@dataclass(frozen=True)
class ReadableFile:
    path: Path  # absolute, symbolic links resolved, inside a data root
    name: str
    checksum: str  # as catalogued ("" for a file imported without one)
    checksum_algorithm: str  # a hashlib name


def readable_file(catalogue: Catalogue, file_id: int, caller: policy.Caller, roots: list[Path]) -> ReadableFile:
    """Where a file the caller may read is, and what it is called and should hash to."""
    if not 0 < file_id < 2**62:
        raise FileRefused(f"There is no file {file_id} here, or it is not open to you.")
    with catalogue.engine.connect() as connection:
        row = connection.execute(
            select(t.DataFile.data_root, t.DataFile.path, t.DataFile.name, t.DataFile.state, t.DataFile.checksum,
                   t.DataFile.checksum_algorithm)
            .where(t.DataFile.id == file_id, _held_visibly(catalogue, caller))
        ).first()
    if row is None:
        raise FileRefused(f"There is no file {file_id} here, or it is not open to you.")
    if row.state != "present":
        raise FileRefused(f"File {row.name} is no longer on the facility's storage.")
    root = _configured_root(row.data_root, roots)
    if root is None:
        raise FileRefused(f"File {row.name} is catalogued here but not held on this node's storage.")
    try:
        path = (root / row.path).resolve(strict=True)
    except (OSError, RuntimeError):
        raise FileRefused(f"File {row.name} is missing from the facility's storage.") from None
    if not path.is_relative_to(root) or not path.is_file():
        raise FileRefused(f"File {row.name} is not readable here.")  # a link out of the data root
    return ReadableFile(path, row.name, row.checksum or "", row.checksum_algorithm or "")


def readable_path(catalogue: Catalogue, path: Path, caller: policy.Caller, roots: list[Path]) -> bool:
    """Whether ``path`` (resolved, on disk) is a catalogued file the caller may read: the test a
    file must pass before the viewer follows an HDF5 link or virtual-dataset source into it."""
    for root in roots:
        real_root = root.resolve()
        if not path.is_relative_to(real_root):
            continue
        relative = path.relative_to(real_root).as_posix()
        with catalogue.engine.connect() as connection:
            found = connection.execute(
                select(t.DataFile.id).where(
                    t.DataFile.data_root.in_({str(root), os.path.normpath(str(root)), str(real_root)}),
                    t.DataFile.path == relative, t.DataFile.state == "present", _held_visibly(catalogue, caller),
                )
            ).first()
        if found is not None:
            return True
    return False


def under_embargo(catalogue: Catalogue, file_id: int) -> bool:
    """Whether no public dataset holds this file: a download of it is written to the audit log."""
    with catalogue.engine.connect() as connection:
        held_publicly = _held_visibly(catalogue, policy.ANONYMOUS)
        return connection.execute(select(t.DataFile.id).where(t.DataFile.id == file_id, held_publicly)).first() is None


def _held_visibly(catalogue: Catalogue, caller: policy.Caller):
    """The file row belongs to at least one dataset the caller may see."""
    compiler = catalogue.compiler(caller)
    datasets = TABLES["Dataset"]
    return exists(
        select(1).select_from(t.DatasetFile.__table__).join(datasets, datasets.c.id == t.DatasetFile.dataset_id)
        .where(t.DatasetFile.file_id == t.DataFile.id, compiler.visible("Dataset", datasets))
    )


@dataclass(frozen=True)
class ViewedFrom:
    """The dataset a viewer of one file links back to, and where in the file it opens."""

    pid: str
    title: str
    default_plot: str  # HDF5 path of the NeXus default plot; "/" when ingestion found none


def viewed_from(catalogue: Catalogue, file_id: int, caller: policy.Caller, pid: str | None = None) -> ViewedFrom | None:
    """The visible dataset holding a file that its viewer opens on (None: the caller sees none).

    A file of several NXentries holds several datasets, each with its own default plot: the
    one named by ``pid`` if it holds the file, else the first entry made from the file, else
    any dataset listing it (a processed dataset may list raw files it did not come from).
    """
    compiler = catalogue.compiler(caller)
    datasets = TABLES["Dataset"]
    # CASE, not a bare comparison: NULL source_file_id would sort first under PostgreSQL's DESC
    made_here = case((datasets.c.source_file_id == file_id, 0), else_=1)
    named = case((datasets.c.pid == pid, 0), else_=1) if pid is not None else made_here
    with catalogue.engine.connect() as connection:
        row = connection.execute(
            select(datasets.c.pid, datasets.c.title, datasets.c.default_plot)
            .join(t.DatasetFile.__table__, t.DatasetFile.dataset_id == datasets.c.id)
            .where(t.DatasetFile.file_id == file_id, compiler.visible("Dataset", datasets))
            .order_by(named, made_here, datasets.c.entry_path, datasets.c.pid)
            .limit(1)
        ).first()
    if row is None:
        return None
    return ViewedFrom(row.pid, row.title or row.pid, row.default_plot or "/")


def _configured_root(data_root: str, roots: list[Path]) -> Path | None:
    """The real path of the configured data root the file was catalogued under (None: not one of them)."""
    stored = os.path.realpath(data_root)  # ingestion stores a root's real path (ingest/scan.py DataRoots)
    for root in roots:
        if os.path.realpath(root) == stored:
            return Path(stored)
    return None
