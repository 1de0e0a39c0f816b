"""The files a caller may read, and where they are on disk.

A file is readable when the caller may see at least one dataset holding
it (catalogue/policy.py decides), it is present, and its catalogued path
resolves — symbolic links followed — to a place inside one of the node's
configured data roots.  Requests name files by catalogue id only; no path
from a request ever reaches the file system.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import exists, select

from pancommons.catalogue import policy
from pancommons.catalogue.search import Catalogue
from pancommons.db import tables as t
from pancommons.db.compile import TABLES


class FileRefused(LookupError):
    """No such file for this caller, or not readable here; the message says which, never where."""


def readable_file(catalogue: Catalogue, file_id: int, caller: policy.Caller, roots: list[Path]) -> tuple[Path, str]:
    """(absolute path, file name) of a file the caller may read."""
    compiler = catalogue.compiler(caller)
    datasets = TABLES["Dataset"]
    held_visibly = exists(
        select(1).select_from(t.DatasetFile.__table__).join(datasets, datasets.c.id == t.DatasetFile.dataset_id)
        .where(t.DatasetFile.file_id == t.DataFile.id, compiler.visible("Dataset", datasets))
    )
    with catalogue.engine.connect() as connection:
        row = connection.execute(
            select(t.DataFile.data_root, t.DataFile.path, t.DataFile.name, t.DataFile.state)
            .where(t.DataFile.id == file_id, held_visibly)
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
    return path, row.name


def _configured_root(data_root: str, roots: list[Path]) -> Path | None:
    """The real path of the configured data root the file was catalogued under (None: not one of them)."""
    for root in roots:
        if os.path.normpath(str(root)) == os.path.normpath(data_root):
            return root.resolve()
    return None
