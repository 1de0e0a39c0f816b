"""Reading catalogued HDF5 files for the viewer: open handles kept, links followed only inside the data root.

h5grove (the protocol H5Web speaks) reopens the file on every request and
lets HDF5 follow external links and virtual-dataset sources wherever they
point — relative to the server's working directory, even.  Here:

* ``OpenFiles`` keeps recently used files open (reopened when the file on
  disk changes), so the many small requests of a viewer session cost no
  open each;
* ``locate`` walks a path one link at a time: soft links are followed
  within the file, external links only to files inside the same data root
  (resolved by us, relative to the linking file), never by HDF5 itself;
* ``check_virtual_sources`` refuses data whose virtual-dataset sources lie
  outside the data root.

h5grove's content classes then describe and slice the entity found.
"""

from __future__ import annotations

import logging
import os
import posixpath
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401 - registers bitshuffle/LZ4, Blosc, Zstd… so compressed detector data decodes

log = logging.getLogger(__name__)

MAX_OPEN = 64  # files held open at once
MAX_HOPS = 40  # links followed for one path


class NotInFile(LookupError):
    """The path names nothing in the file (or leads out of the data root): 404."""


@dataclass(frozen=True)
class Located:
    file: h5py.File
    path: str  # of the entity inside ``file``, reached through hard links only


class OpenFiles:
    """An LRU of open, read-only h5py files, keyed by path, reopened when size or mtime change."""

    def __init__(self, capacity: int = MAX_OPEN):
        self.capacity = capacity
        self._files: OrderedDict[Path, tuple[tuple[int, int], h5py.File]] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, path: Path) -> h5py.File:
        stat = path.stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
        with self._lock:
            held = self._files.get(path)
            if held is not None and held[0] == stamp and held[1].id.valid:
                self._files.move_to_end(path)
                return held[1]
            if held is not None:
                self._close(path)
            handle = h5py.File(path, "r", locking=False)  # readers never lock out the beamline's writer
            self._files[path] = (stamp, handle)
            while len(self._files) > self.capacity:
                self._close(next(iter(self._files)))
            return handle

    def _close(self, path: Path) -> None:
        _, handle = self._files.pop(path)
        try:
            handle.close()
        except Exception as error:  # noqa: BLE001 - closing is tidying: a failure must not fail a request
            log.debug("closing %s: %s", path, error)

    def close_all(self) -> None:
        with self._lock:
            for path in list(self._files):
                self._close(path)


def locate(files: OpenFiles, start: Path, root: Path, path: str) -> Located:
    """The entity at ``path`` of ``start``, links followed by us (see the module's doc)."""
    current = files.open(start)
    remaining = [part for part in path.split("/") if part]
    where = "/"
    hops = 0
    while remaining:
        name = remaining.pop(0)
        if name in (".", ".."):
            raise NotInFile(f"{path}: '.' and '..' are not HDF5 path members")
        group = current[where]
        if not isinstance(group, h5py.Group):
            raise NotInFile(f"{path} is not a valid path: {where} is not a group")
        link = group.get(name, getlink=True)
        if link is None:
            raise NotInFile(f"{path} is not a valid path in {Path(current.filename).name}")
        if isinstance(link, h5py.HardLink):
            where = posixpath.join(where, name)
            continue
        hops += 1
        if hops > MAX_HOPS:
            raise NotInFile(f"{path}: more than {MAX_HOPS} links (a loop?)")
        if isinstance(link, h5py.SoftLink):
            target = link.path if link.path.startswith("/") else posixpath.join(where, link.path)
            remaining = [part for part in target.split("/") if part] + remaining
            where = "/"
            continue
        if isinstance(link, h5py.ExternalLink):
            other = _inside(root, Path(current.filename).parent, link.filename)
            if other is None or not other.is_file():
                raise NotInFile(f"{path}: an external link to a file that is not in this data root")
            current = files.open(other)
            remaining = [part for part in link.path.split("/") if part] + remaining
            where = "/"
            continue
        raise NotInFile(f"{path}: a link of an unknown kind")
    return Located(current, where)


def check_virtual_sources(dataset: h5py.Dataset, root: Path) -> None:
    """Refuse a virtual dataset whose sources are outside the data root (HDF5 would read them)."""
    if not dataset.is_virtual:
        return
    home = Path(dataset.file.filename).parent
    for source in dataset.virtual_sources():
        name = source.file_name
        if name == ".":
            continue
        if _inside(root, home, name) is None or (not os.path.isabs(name) and (Path.cwd() / name).exists()
                                                   and _inside(root, Path.cwd(), name) is None):
            raise NotInFile(f"{dataset.name}: its data come from a file outside this data root")


def _inside(root: Path, base: Path, name: str) -> Path | None:
    """``name`` resolved against ``base``, if that lands inside ``root``."""
    try:
        target = (base / name).resolve()
    except (OSError, RuntimeError):
        return None
    return target if target.is_relative_to(root) else None
