"""A catalogued HDF5 file read over the network, through the h5grove protocol the viewer uses.

    with dataset.files[0].open() as f:
        frame = f["/entry/data/data"][10, :, :]     # one frame travels, as raw bytes, not the file

Groups, attributes and shapes come from ``/meta`` and ``/attr``; a slice comes
from ``/data`` as ``format=bin`` (the array's own bytes, nothing else), and
the client turns it back into a NumPy array of the dataset's dtype.  Only
basic indexing travels (integers, slices with a positive step, ``...``):
that is what HDF5 itself reads efficiently; index the array you get for more.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from pancommons.client.errors import CommonsError, NotFound

if TYPE_CHECKING:
    from pancommons.client.connection import Connection


class RemoteFile:
    """The file's root group, with the file's name and id."""

    def __init__(self, connection: Connection, h5grove: str, file_id: str, name: str = ""):
        self._connection = connection
        self._base = h5grove
        self.file_id = file_id
        self.filename = name
        self._meta: dict[str, dict] = {}
        self._attrs: dict[str, dict] = {}

    def __repr__(self) -> str:
        return f"<remote HDF5 file {self.filename or self.file_id!r}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Nothing stays open on the server between requests; this only forgets what was cached."""
        self._meta.clear()
        self._attrs.clear()

    # The root group's face, as h5py.File has it.
    @property
    def root(self) -> RemoteGroup:
        return self.get_entity("/")

    def __getitem__(self, path: str) -> RemoteGroup | RemoteDataset:
        try:
            return self.get_entity(path)  # straight to the entity: the root's listing is not needed
        except NotFound as missing:
            raise KeyError(missing.message) from None

    def __contains__(self, path: str) -> bool:
        try:
            self[path]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.root)

    def keys(self) -> list[str]:
        return self.root.keys()

    @property
    def attrs(self) -> dict:
        return self.root.attrs

    def paths(self, path: str = "/") -> list[str]:
        """Every path below ``path`` (links listed, not followed)."""
        return self._json("paths", path)

    def visit(self, callback) -> Any:
        """Like h5py's visit: ``callback(name)`` for every path below the root until it returns something."""
        for path in self.paths("/")[1:]:
            found = callback(path.lstrip("/"))
            if found is not None:
                return found
        return None

    def default_plot(self) -> Plot:
        """The NeXus default plot: the NXdata that the file's ``@default`` chain names, its signal and axes."""
        return default_plot(self)

    # The h5grove requests ----------------------------------------------------------------------

    def get_entity(self, path: str) -> RemoteGroup | RemoteDataset:
        path = normalise(path)
        meta = self.meta(path)
        if meta.get("kind") == "group":
            return RemoteGroup(self, path, meta)
        if meta.get("kind") == "dataset":
            return RemoteDataset(self, path, meta)
        raise NotFound(f"{path} in {self.filename or self.file_id} is a {meta.get('kind', 'link')} that leads nowhere readable")

    def meta(self, path: str) -> dict:
        if path not in self._meta:
            meta = self._json("meta", path)
            self._meta[path] = meta
            # A group's listing already describes its datasets fully (shape, type, attributes):
            # keep them, so reading a group's members costs no request per member.
            for child in meta.get("children") or []:
                if child.get("kind") == "dataset" and "shape" in child:
                    self._meta.setdefault(f"{path.rstrip('/')}/{child['name']}", child)
        return self._meta[path]

    def attributes(self, path: str) -> dict:
        if path not in self._attrs:
            self._attrs[path] = self._json("attr", path)
        return self._attrs[path]

    def read(self, path: str, selection: str | None, format: str) -> bytes:
        params = {"selection": selection} if selection is not None else {}
        return self._get("data", path, format=format, dtype="origin", **params).content

    def _get(self, endpoint: str, path: str, **params: str):
        return self._connection.request("GET", f"{self._base}/{endpoint}", {"file": self.file_id, "path": path, **params})

    def _json(self, endpoint: str, path: str, **params: str) -> Any:
        response = self._get(endpoint, path, **params)
        try:
            return json.loads(response.content)
        except ValueError:
            raise CommonsError(f"{response.request.url} answered something that is not JSON", response.status_code,
                               str(response.request.url)) from None


class RemoteGroup:
    def __init__(self, file: RemoteFile, path: str, meta: dict):
        self.file = file
        self.name = path
        self._meta = meta

    def __repr__(self) -> str:
        return f"<remote HDF5 group {self.name!r} ({len(self.keys())} members)>"

    def keys(self) -> list[str]:
        return [child["name"] for child in self._meta.get("children", [])]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, path: str) -> bool:
        if isinstance(path, str) and "/" not in path:
            return path in self.keys()  # a member's name: the group's listing says
        try:
            self[path]
        except (NotFound, KeyError):
            return False
        return True

    def __getitem__(self, path: str) -> RemoteGroup | RemoteDataset:
        if not isinstance(path, str) or not path:
            raise KeyError(f"expected a member name or path, not {path!r}")
        full = path if path.startswith("/") else f"{self.name.rstrip('/')}/{path}"
        try:
            return self.file.get_entity(full)
        except NotFound as missing:
            raise KeyError(missing.message) from None

    def items(self) -> list[tuple[str, RemoteGroup | RemoteDataset]]:
        return [(name, self[name]) for name in self.keys()]

    @property
    def attrs(self) -> dict:
        return self.file.attributes(self.name)


class RemoteDataset:
    def __init__(self, file: RemoteFile, path: str, meta: dict):
        self.file = file
        self.name = path
        self._meta = meta
        # HDF5's null dataspace (h5py.Empty) has no shape: it holds no value at all
        self.empty = meta.get("shape") is None
        self.shape: tuple[int, ...] = tuple(meta.get("shape") or ())
        self.dtype = _dtype((meta.get("type") or {}).get("dtype"))
        self.chunks = tuple(meta["chunks"]) if meta.get("chunks") else None
        self.compression = [item.get("name") for item in meta.get("filters") or []]

    def __repr__(self) -> str:
        return f"<remote HDF5 dataset {self.name!r}: shape {self.shape}, type {self.dtype.str}>"

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("a scalar dataset has no length")
        return self.shape[0]

    @property
    def attrs(self) -> dict:
        return self.file.attributes(self.name)

    def __array__(self, dtype=None, copy=None):
        values = np.asarray(self[()])
        return values.astype(dtype) if dtype is not None else values

    def __getitem__(self, key: Any) -> Any:
        if self.empty:
            return None  # what an empty dataset holds: nothing (h5py answers h5py.Empty)
        selection, shape = selection_of(key, self.shape)
        if 0 in shape:
            return np.empty(shape, dtype=self.dtype)
        if self.dtype.kind in "biufc":
            content = self.file.read(self.name, selection, "bin")
            expected = math.prod(shape) * self.dtype.itemsize
            if len(content) != expected:
                raise CommonsError(f"{self.name}: the server sent {len(content)} bytes for a selection of {expected}")
            values = np.frombuffer(content, dtype=self.dtype).reshape(shape)
            return values[()] if not shape else values.copy()  # a writable array of its own, like h5py's
        values = json.loads(self.file.read(self.name, selection, "json"))  # strings, compound and other types
        if self.dtype.names:  # records come as lists of field values: rebuild the structured array
            found = np.array(_records(values, len(shape)), dtype=self.dtype)
            return found if shape else found[()]
        return values if not shape else np.asarray(values)


def _dtype(described: Any) -> np.dtype:
    """NumPy's dtype for h5grove's description: a string, or for a compound a {field: description} dict."""
    try:
        if isinstance(described, dict):
            return np.dtype([(name, _dtype(field)) for name, field in described.items()])
        return np.dtype(described)
    except (TypeError, ValueError):
        return np.dtype(object)  # a type NumPy cannot name (references …): read as JSON


def _records(values: Any, depth: int) -> Any:
    """Lists of field values at ``depth`` → tuples, as NumPy builds structured arrays from."""
    if depth == 0:
        return tuple(values) if isinstance(values, list) else values
    return [_records(value, depth - 1) for value in values]


def normalise(path: str) -> str:
    if not isinstance(path, str):
        raise KeyError(f"expected an HDF5 path, not {path!r}")
    return "/" + "/".join(part for part in path.split("/") if part)


def selection_of(key: Any, shape: tuple[int, ...]) -> tuple[str | None, tuple[int, ...]]:
    """A NumPy basic index → h5grove's selection string and the shape of what it selects."""
    if key is Ellipsis or (isinstance(key, tuple) and not key):
        return None, shape
    if not isinstance(key, tuple):
        key = (key,)
    if sum(member is Ellipsis for member in key) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if Ellipsis in key:
        at = key.index(Ellipsis)
        key = key[:at] + (slice(None),) * (len(shape) - len(key) + 1) + key[at + 1:]
    if len(key) > len(shape):
        raise IndexError(f"too many indices for a dataset of {len(shape)} dimension(s): {len(key)}")
    key = key + (slice(None),) * (len(shape) - len(key))
    members, result = [], []
    for axis, (member, size) in enumerate(zip(key, shape)):
        if isinstance(member, slice):
            start, stop, step = member.indices(size)
            if step < 1:
                raise ValueError("remote datasets take slices with a positive step (as h5py does); reverse the array you get")
            members.append(f"{start}:{max(start, stop)}:{step}")
            result.append(len(range(start, stop, step)))
        elif isinstance(member, (int, np.integer)) and not isinstance(member, bool):
            index = int(member) + size if member < 0 else int(member)
            if not 0 <= index < size:
                raise IndexError(f"index {int(member)} is out of range for axis {axis} of size {size}")
            members.append(str(index))
        else:
            raise TypeError(f"remote datasets take integers, slices and '...', not {type(member).__name__}: "
                            "read a slice, then index the NumPy array")
    return ",".join(members), tuple(result)


@dataclass
class Plot:
    """A NeXus NXdata ready to draw: its signal, one axis per dimension (None where it names none), and title."""

    group: RemoteGroup
    signal: RemoteDataset
    axes: list[RemoteDataset | None]
    title: str

    def __repr__(self) -> str:
        named = [axis.name.rsplit("/", 1)[-1] if axis else "." for axis in self.axes]
        return f"<NeXus plot {self.group.name!r}: {self.signal.name.rsplit('/', 1)[-1]} against {named}>"


def default_plot(file: RemoteFile) -> Plot:
    """Follow ``@default`` from the root to an NXdata (NeXus: root → NXentry → NXdata, each step optional
    where there is only one candidate), then its ``@signal`` and ``@axes``."""
    group: RemoteGroup = file.root
    entry: RemoteGroup | None = None
    for _ in range(8):  # root → entry → (subentry …) → data: a few steps, never a cycle
        nx_class = _attr_text(group.attrs.get("NX_class"))
        if nx_class == "NXdata":
            return _plot(group, entry)
        if nx_class in ("NXentry", "NXsubentry"):
            entry = group
        named = _attr_text(group.attrs.get("default"))
        child = None
        if named:
            child = group[named]
        else:
            for name in group:
                candidate = group[name]
                if isinstance(candidate, RemoteGroup) and _attr_text(candidate.attrs.get("NX_class")) in ("NXentry", "NXdata", "NXsubentry"):
                    child = candidate
                    break
        if not isinstance(child, RemoteGroup):
            break
        group = child
    raise NotFound(f"{file.filename or file.file_id} names no NeXus default plot (no @default leading to an NXdata)")


def _plot(group: RemoteGroup, entry: RemoteGroup | None) -> Plot:
    attrs = group.attrs
    signal_name = _attr_text(attrs.get("signal"))
    if not signal_name:  # NeXus 2012 style: the dataset carrying @signal=1
        signal_name = next((name for name in group
                            if isinstance(group[name], RemoteDataset) and str(group[name].attrs.get("signal")) == "1"), "")
    if not signal_name:
        raise NotFound(f"{group.name} is an NXdata without a @signal")
    signal = group[signal_name]
    axes_names = attrs.get("axes") or []
    if isinstance(axes_names, str):
        axes_names = [part for part in axes_names.replace(":", ",").split(",") if part.strip()]
    axes = [group[name] if name not in (".", "") and name in group else None for name in axes_names]
    axes = (axes + [None] * signal.ndim)[:signal.ndim]  # one per dimension, None where @axes names none
    title = _attr_text(attrs.get("title"))
    if not title and entry is not None and "title" in entry:  # the entry's title, as NeXus viewers show it
        title = _attr_text(entry["title"][()])
    title = title or group.name
    return Plot(group, signal, axes, title)


def _attr_text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return value if isinstance(value, str) else ""
