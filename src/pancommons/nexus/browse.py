"""Reading catalogued HDF5 files for the viewer: open handles kept, nothing read the caller may not read.

h5grove (the protocol H5Web speaks) reopens the file on every request and
lets HDF5 follow external links, virtual-dataset sources and external raw
storage wherever they point — relative to the server's working directory,
even.  Here:

* ``OpenFiles`` keeps recently used files open (reopened when the file on
  disk changes); a request leases the handles it reads, so a handle is
  never closed under a reader;
* ``locate`` walks a path one link at a time: soft links are followed
  within the file, external links only into files of the same data root
  that the caller may read (``allowed``: a catalogued file, per the access
  policy), resolved by us relative to the linking file, never by HDF5;
* ``check_sources`` refuses data stored outside the HDF5 file, and
  virtual-dataset sources in files the caller may not read, all the way down.

h5grove's content classes then describe and slice the entity found.
"""

from __future__ import annotations

import logging
import os
import posixpath
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401 - registers bitshuffle/LZ4, Blosc, Zstd… so compressed detector data decodes

log = logging.getLogger(__name__)

MAX_OPEN = 64  # files held open at once (beyond those leased by requests under way)
MAX_HOPS = 40  # links followed for one path; virtual datasets nested

Allowed = Callable[[Path], bool]  # may this caller read that file?


class NotInFile(LookupError):
    """The path names nothing in the file, or leads where the caller may not read: 404."""


@dataclass(frozen=True)
class Located:
    file: h5py.File
    path: str  # of the entity inside ``file``, reached through hard links only


class _Held:
    __slots__ = ("handle", "retired", "stamp", "users")

    def __init__(self, handle: h5py.File, stamp: tuple[int, int]):
        self.handle, self.stamp, self.users, self.retired = handle, stamp, 0, False


class OpenFiles:
    """An LRU of open, read-only h5py files, keyed by path, reopened when size or mtime change.

    Closing an h5py file invalidates every object read from it, so requests lease their
    handles (``session()``): a handle evicted or replaced while leased is closed when its last
    lease ends.
    """

    def __init__(self, capacity: int = MAX_OPEN):
        self.capacity = capacity
        self._files: OrderedDict[Path, _Held] = OrderedDict()
        self._lock = threading.Lock()

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = Session(self)
        try:
            yield session
        finally:
            with self._lock:
                for held in session.leases:
                    held.users -= 1
                    if held.retired and held.users == 0:
                        _close(held)

    def _lease(self, path: Path) -> _Held:
        with self._lock:
            stat = path.stat()  # inside the lock: one new version is opened once
            stamp = (stat.st_size, stat.st_mtime_ns)
            held = self._files.get(path)
            if held is not None and (held.stamp != stamp or not held.handle.id.valid):
                self._retire(path)
                held = None
            if held is None:
                handle = h5py.File(path, "r", locking=False)  # readers never lock out the beamline's writer
                held = self._files[path] = _Held(handle, stamp)
            self._files.move_to_end(path)
            held.users += 1
            while len(self._files) > self.capacity:
                self._retire(next(iter(self._files)))
            return held

    def _retire(self, path: Path) -> None:
        held = self._files.pop(path)
        held.retired = True
        if held.users == 0:
            _close(held)

    def close_all(self) -> None:
        with self._lock:
            for path in list(self._files):
                self._retire(path)


class Session:
    """The files one request reads, leased until it ends."""

    def __init__(self, files: OpenFiles):
        self.files = files
        self.leases: list[_Held] = []

    def open(self, path: Path) -> h5py.File:
        held = self.files._lease(path)
        self.leases.append(held)
        return held.handle


def _close(held: _Held) -> None:
    try:
        held.handle.close()
    except Exception as error:  # noqa: BLE001 - closing is tidying: a failure must not fail a request
        log.debug("closing %s: %s", held.handle, error)


def locate(session: Session, start: Path, root: Path, path: str, allowed: Allowed) -> Located:
    """The entity at ``path`` of ``start``, links followed by us (see the module's doc)."""
    if "\x00" in path:  # HDF5 would read the name only up to it
        raise NotInFile(f"{path!r}: cannot read a path with a NUL character in this file")
    current = session.open(start)
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
            if other is None or not other.is_file() or not allowed(other):
                raise NotInFile(f"{path}: an external link to a file that is not in this data root or not open to you")
            current = session.open(other)
            remaining = [part for part in link.path.split("/") if part] + remaining
            where = "/"
            continue
        raise NotInFile(f"{path}: a link of an unknown kind")
    return Located(current, where)


def check_sources(session: Session, dataset: h5py.Dataset, root: Path, allowed: Allowed, depth: int = 0) -> None:
    """Refuse data HDF5 would read from elsewhere: external raw storage always, virtual-dataset
    sources unless each lies in this file or in a file the caller may read, all the way down."""
    if dataset.external:
        raise NotInFile(f"{dataset.name}: its data are stored outside the HDF5 file")
    if not dataset.is_virtual:
        return
    if depth > MAX_HOPS:
        raise NotInFile(f"{dataset.name}: virtual datasets nested too deep")
    home = Path(dataset.file.filename).parent
    for source in dataset.virtual_sources():
        name = source.file_name
        if name == ".":
            holder = Path(dataset.file.filename)
        else:
            target = _inside(root, home, name)
            cwd_twin = None if os.path.isabs(name) else Path.cwd() / name  # HDF5 may look there first
            if (target is None or not target.is_file() or not allowed(target)
                    or (cwd_twin is not None and cwd_twin.exists() and cwd_twin.resolve() != target)):
                raise NotInFile(f"{dataset.name}: its data come from a file outside this data root or not open to you")
            holder = target
        # Found as locate() finds: a link on the way is followed by us, under the same rules.
        found = locate(session, holder, root, source.dset_name, allowed)
        inner = found.file[found.path]
        if isinstance(inner, h5py.Dataset):
            check_sources(session, inner, root, allowed, depth + 1)


def _inside(root: Path, base: Path, name: str) -> Path | None:
    """``name`` resolved against ``base``, if that lands inside ``root``."""
    try:
        target = (base / name).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return target if target.is_relative_to(root) else None
