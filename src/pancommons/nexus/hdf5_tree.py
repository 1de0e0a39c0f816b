"""One pass over an HDF5 file's structure, reading headers, never bulk data.

The walk uses h5py's low-level API: the high-level objects cost several
times more per object, and cataloguing thousands of files a second is made
of exactly these per-object costs.  Every object is visited once (hard
links can alias or even loop); soft and external links are recorded, not
followed, and checked for dangling targets.  Only a few attributes are read
(those NeXus gives meaning to), and only when they are small.
"""

from __future__ import annotations

import math
import os
from collections import deque
from dataclasses import dataclass, field

import h5py
import hdf5plugin  # noqa: F401  registers bitshuffle/LZ4, Blosc, Zstd... so their data decodes
import numpy as np
from h5py import h5a, h5d, h5f, h5l, h5o, h5s, h5t, h5z

from pancommons.model import ArrayRecord

# Attributes NeXus gives meaning to; nothing else is read.
INTERESTING_ATTRS = (b"NX_class", b"default", b"signal", b"axes", b"short_name")
_ROOT_ATTRS = (b"NX_class", b"default", b"file_time", b"instrument")
_DATASET_ATTRS = (b"units", b"short_name")
MAX_ATTR_BYTES = 64 * 1024
MAX_VALUE_BYTES = 256 * 1024
MAX_OBJECTS = 50_000

_FILTER_NAMES = {
    h5z.FILTER_DEFLATE: "gzip",
    h5z.FILTER_SHUFFLE: "shuffle",
    h5z.FILTER_FLETCHER32: "fletcher32",
    h5z.FILTER_SZIP: "szip",
    h5z.FILTER_NBIT: "nbit",
    h5z.FILTER_SCALEOFFSET: "scaleoffset",
    307: "bzip2",
    32000: "lzf",
    32001: "blosc",
    32004: "lz4",
    32008: "bitshuffle",
    32015: "zstd",
    32017: "sz",
    32026: "blosc2",
}


class NotHDF5(Exception):
    pass


@dataclass(slots=True)
class Node:
    """A group or dataset, by its first path.

    Groups carry their NeXus attributes from the walk; a dataset's attributes
    and type are read only when asked for (``dataset_attr``, ``read_small``):
    most fields of a file are never looked at closely.
    """

    path: str
    is_group: bool
    attrs: dict[str, object] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)  # names, groups only
    # datasets only
    shape: tuple[int, ...] = ()
    dataset_id: h5d.DatasetID | None = None
    attrs_read: bool = False
    value: object = None
    value_read: bool = False


@dataclass(slots=True)
class Tree:
    nodes: dict[str, Node]
    soft_links: dict[str, str]  # path -> target path
    aliases: dict[str, str]  # a second hard link's path -> the path the object was first visited by
    external_links: dict[str, tuple[str, str]]  # path -> (file, path)
    arrays: list[ArrayRecord]
    warnings: list[str]
    arrays_total: int = 0
    member_cache: dict[str, list[Node]] = field(default_factory=dict)  # group path -> resolved members


def decode_text(raw: bytes, where: str, warnings: list[str]) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        warnings.append(f"{where}: text is not UTF-8, read as Latin-1")
        text = raw.decode("latin-1")
    # NUL bytes pad C strings; no database text column accepts them.
    return text.replace("\x00", "") if "\x00" in text else text


def python_value(array: np.ndarray, where: str, warnings: list[str]) -> object:
    """A small HDF5 value as plain Python: str, number, or list of them."""
    if array.ndim == 0 or array.size == 1:
        item = array.reshape(-1)[0] if array.ndim else array[()]
        if isinstance(item, bytes):
            return decode_text(item, where, warnings)
        if isinstance(item, str):
            return item.replace("\x00", "")
    if array.dtype.kind in "SO" or array.dtype.kind == "U":
        flat = [item for item in array.reshape(-1)]
        texts = [
            decode_text(item, where, warnings) if isinstance(item, bytes) else str(item).replace("\x00", "")
            for item in flat
        ]
        return texts[0] if len(texts) == 1 else texts
    if array.dtype.kind in "biuf":
        if array.size == 1:
            return array.reshape(-1)[0].item()
        return array.reshape(-1).tolist()
    return None  # compound, enum, reference...: not catalogue metadata


_VLEN_TEXT = h5py.string_dtype()


def numpy_type(type_id: h5t.TypeID) -> np.dtype | None:
    """The NumPy type of plain HDF5 data, built from the type's parts.

    h5py's own ``.dtype`` handles every HDF5 type and costs several times
    more; catalogue metadata is text and numbers, so those are built here and
    anything else (enum and bool, compound, opaque, reference...) is left unread.
    """
    kind = type_id.get_class()
    if kind == h5t.STRING:
        return _VLEN_TEXT if type_id.is_variable_str() else np.dtype(f"S{type_id.get_size()}")
    if kind not in (h5t.INTEGER, h5t.FLOAT):
        return None
    order = "<" if type_id.get_order() == h5t.ORDER_LE else ">"
    if kind == h5t.INTEGER:
        code = "i" if type_id.get_sign() == h5t.SGN_2 else "u"
        return np.dtype(f"{order}{code}{type_id.get_size()}")
    return np.dtype(f"{order}f{type_id.get_size()}") if type_id.get_size() in (2, 4, 8) else None


def _memory_type(type_id: h5t.TypeID) -> h5t.TypeID | None:
    """Fixed-length text is read as the file stores it (ASCII or UTF-8 bytes alike);
    HDF5 has no conversion from UTF-8 to the ASCII type a NumPy ``S`` array implies."""
    if isinstance(type_id, h5t.TypeStringID) and not type_id.is_variable_str():
        return type_id
    return None


def _read_attr(oid, name: bytes, where: str, warnings: list[str]) -> object:
    label = f"{where}@{name.decode()}"
    try:
        attr = h5a.open(oid, name)
        space = attr.get_space()
        if space.get_simple_extent_type() == h5s.NULL or space.get_simple_extent_npoints() == 0:
            return None  # an empty attribute says nothing
        if attr.get_storage_size() > MAX_ATTR_BYTES:
            warnings.append(f"{label}: attribute larger than {MAX_ATTR_BYTES} bytes skipped")
            return None
        type_id = attr.get_type()
        dtype = numpy_type(type_id)
        if dtype is None:
            return None  # not text or a number: no catalogue meaning
        array = np.empty(space.shape, dtype=dtype)
        attr.read(array, mtype=_memory_type(type_id))
    except (TypeError, ValueError, OSError, RuntimeError, KeyError) as error:
        warnings.append(f"{label}: unreadable attribute ({short_error(error)})")
        return None
    value = python_value(array, label, warnings)
    if _text_size(value) > MAX_ATTR_BYTES:  # variable-length text hides its size until read
        warnings.append(f"{label}: attribute larger than {MAX_ATTR_BYTES} bytes skipped")
        return None
    # Attributes are names (NX_class, units, default...): padding is never part of them.
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [item.strip() if isinstance(item, str) else item for item in value]
    return value


def _text_size(value: object) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(len(item) for item in value if isinstance(item, str))
    return 0


def _attrs_of(oid, path: str, warnings: list[str], names=INTERESTING_ATTRS) -> dict[str, object]:
    found: dict[str, object] = {}
    remaining = h5o.get_info(oid).num_attrs
    for name in names:
        if remaining == 0:
            break  # every attribute the object has is accounted for
        if h5a.exists(oid, name):
            remaining -= 1
            value = _read_attr(oid, name, path, warnings)
            if value is not None:
                found[name.decode()] = value
    return found


def dataset_attr(node: Node, name: str, warnings: list[str]) -> object:
    """An attribute of a dataset (``units``, ...), read on first use."""
    if not node.attrs_read and node.dataset_id is not None:
        node.attrs = _attrs_of(node.dataset_id, node.path, warnings, _DATASET_ATTRS)
        node.attrs_read = True
    return node.attrs.get(name)


def read_small(node: Node, warnings: list[str]) -> object:
    """The value of a small dataset, or None when it is large, empty or not plain data (read once)."""
    if not node.value_read:
        node.value = _read_value(node, warnings)
        node.value_read = True
    return node.value


def _read_value(node: Node, warnings: list[str]) -> object:
    dataset = node.dataset_id
    if dataset is None:
        return None
    try:
        if dataset.get_storage_size() > MAX_VALUE_BYTES:
            return None
        type_id = dataset.get_type()
        dtype = numpy_type(type_id)
        if dtype is None:
            return None
        count = math.prod(node.shape)
        if count == 0 or count * max(dtype.itemsize, 8) > MAX_VALUE_BYTES:
            return None
        array = np.empty(node.shape, dtype=dtype)
        dataset.read(h5s.ALL, h5s.ALL, array, mtype=_memory_type(type_id))
    except (OSError, TypeError, ValueError, KeyError, RuntimeError) as error:
        warnings.append(f"{node.path}: unreadable value ({short_error(error)})")
        return None
    value = python_value(array, node.path, warnings)
    if _text_size(value) > MAX_VALUE_BYTES:
        warnings.append(f"{node.path}: text value larger than {MAX_VALUE_BYTES} bytes skipped")
        return None
    return value


def _layout(dataset: h5d.DatasetID, path: str, shape) -> ArrayRecord:
    dtype_name = _dtype_name(dataset.dtype)
    plist = dataset.get_create_plist()
    kind = plist.get_layout()
    filters = []
    for index in range(plist.get_nfilters()):
        code = plist.get_filter(index)[0]
        filters.append(_FILTER_NAMES.get(code, f"filter-{code}"))
    chunks = tuple(plist.get_chunk()) if kind == h5d.CHUNKED else None
    names = {h5d.CONTIGUOUS: "contiguous", h5d.CHUNKED: "chunked", h5d.COMPACT: "compact"}
    layout = ArrayRecord(path, tuple(shape), dtype_name, chunks, filters, names.get(kind, "virtual"))
    if kind == getattr(h5d, "VIRTUAL", -1):
        layout.layout = "virtual"
        for index in range(plist.get_virtual_count()):
            layout.virtual_sources.append(
                (plist.get_virtual_filename(index), plist.get_virtual_dsetname(index))
            )
    return layout


def _dtype_name(dtype: np.dtype) -> str:
    if h5py.check_string_dtype(dtype) is not None or dtype.kind in "SU":
        return "string"
    return str(dtype)


def open_file(path: str) -> h5f.FileID:
    try:
        return h5f.open(os.fsencode(path), h5f.ACC_RDONLY)
    except OSError as error:
        if not _has_signature(path):
            raise NotHDF5("not an HDF5 file (no HDF5 signature)") from None
        raise NotHDF5(f"unreadable HDF5 file, truncated or corrupt ({short_error(error)})") from None


def _has_signature(path: str) -> bool:
    # The superblock may follow a user block of 512, 1024, 2048... bytes.
    signature = b"\x89HDF\r\n\x1a\n"
    with open(path, "rb") as handle:
        offset = 0
        while True:
            handle.seek(offset)
            head = handle.read(8)
            if len(head) < 8:
                return False
            if head == signature:
                return True
            offset = 512 if offset == 0 else offset * 2


def short_error(error: Exception) -> str:
    text = str(error)
    return text if len(text) < 200 else text[:200] + "…"


def walk(fid: h5f.FileID, file_dir: str) -> Tree:
    """Every object of the file once, with its interesting attributes and array layouts."""
    warnings: list[str] = []
    nodes: dict[str, Node] = {}
    soft: dict[str, str] = {}
    external: dict[str, tuple[str, str]] = {}
    arrays: list[ArrayRecord] = []
    first_path: dict[int, str] = {}
    tree = Tree(nodes, soft, {}, external, arrays, warnings)

    root = h5o.open(fid, b"/")
    first_path[h5o.get_info(root).addr] = "/"
    # Breadth first, in link order: an object reachable by several hard links is
    # known by its shallowest path, as a reader of the file would name it.
    pending = deque([("/", root)])
    while pending:
        path, gid = pending.popleft()
        node = Node(path, True, _attrs_of(gid, path, warnings, _ROOT_ATTRS if path == "/" else INTERESTING_ATTRS))
        nodes[path] = node
        links: list[tuple[bytes, int, int]] = []
        # A hard link's info carries the object's address: aliases are known without opening them.
        gid.links.iterate(lambda name, info: links.append((name, info.type, info.u)), info=True)
        prefix = "" if path == "/" else path
        for raw_name, link_type, address in links:
            name = decode_text(raw_name, path, warnings)
            child_path = f"{prefix}/{name}"
            node.children.append(name)
            if link_type == h5l.TYPE_SOFT:
                soft[child_path] = decode_text(gid.links.get_val(raw_name), child_path, warnings)
                continue
            if link_type == h5l.TYPE_EXTERNAL:
                target_file, target_path = gid.links.get_val(raw_name)
                external[child_path] = (
                    decode_text(target_file, child_path, warnings),
                    decode_text(target_path, child_path, warnings),
                )
                continue
            if link_type != h5l.TYPE_HARD:
                continue
            if len(nodes) + len(pending) > MAX_OBJECTS:
                warnings.append(f"more than {MAX_OBJECTS} objects: the rest of the file is not catalogued")
                pending.clear()
                break
            if address in first_path:
                tree.aliases[child_path] = first_path[address]
                continue
            try:
                child = h5o.open(gid, raw_name)
            except (KeyError, OSError) as error:
                warnings.append(f"{child_path}: cannot be opened ({short_error(error)})")
                continue
            first_path[address] = child_path
            if isinstance(child, h5py.h5g.GroupID):
                pending.append((child_path, child))
            elif isinstance(child, h5d.DatasetID):
                _visit_dataset(tree, child, child_path)
    _check_links(tree, file_dir)
    return tree


def _visit_dataset(tree: Tree, dataset: h5d.DatasetID, path: str) -> None:
    try:
        space = dataset.get_space()
        empty = space.get_simple_extent_type() == h5s.NULL  # h5py.Empty: a dataset with no value at all
        shape = () if empty else space.shape
    except (OSError, TypeError, ValueError, RuntimeError) as error:
        tree.warnings.append(f"{path}: unreadable dataset header ({short_error(error)})")
        return
    tree.nodes[path] = Node(path, False, shape=shape, dataset_id=None if empty else dataset)
    if empty:
        return
    size = math.prod(shape)
    if size > 1:  # arrays are data; scalars and 1-element fields are metadata
        tree.arrays_total += 1
        if len(tree.arrays) < 1000:
            try:
                tree.arrays.append(_layout(dataset, path, shape))
            except (OSError, TypeError, ValueError) as error:
                tree.warnings.append(f"{path}: unreadable dataset layout ({short_error(error)})")


def _check_links(tree: Tree, file_dir: str) -> None:
    for path, target in tree.soft_links.items():
        if _resolve(tree, target) is None:
            tree.warnings.append(f"dangling soft link {path} -> {target}")
    for path, (target_file, target_path) in tree.external_links.items():
        if not os.path.exists(os.path.join(file_dir, target_file)):
            tree.warnings.append(f"broken external link {path} -> {target_file}:{target_path} (file missing)")
    for array in tree.arrays:
        missing = [
            f"{source_file}:{source_path}"
            for source_file, source_path in array.virtual_sources
            if not _virtual_source_exists(tree, file_dir, source_file, source_path)
        ]
        if missing:
            tree.warnings.append(
                f"virtual dataset {array.path}: {len(missing)} of {len(array.virtual_sources)} "
                f"source(s) missing ({', '.join(missing[:3])}{'…' if len(missing) > 3 else ''})"
            )


def _virtual_source_exists(tree: Tree, file_dir: str, source_file: str, source_path: str) -> bool:
    if source_file == ".":
        target = _resolve(tree, source_path)
        if target is None:
            return False
        if target in tree.external_links:
            linked_file, _ = tree.external_links[target]
            return os.path.exists(os.path.join(file_dir, linked_file))
        return True
    return os.path.exists(os.path.join(file_dir, source_file))


def _resolve(tree: Tree, path: str, depth: int = 0) -> str | None:
    """The node path a link path lands on, following soft links at any level, or None."""
    if depth > 16:
        return None
    current = ""
    for part in (part for part in path.split("/") if part):
        candidate = f"{current}/{part}"
        link = tree.soft_links.get(candidate) or tree.aliases.get(candidate)
        if link is not None:
            target = _resolve(tree, link, depth + 1)
            if target is None:
                return None
            candidate = target
        elif candidate not in tree.nodes and candidate not in tree.external_links:
            return None
        current = "" if candidate == "/" else candidate
    return current or "/"


def resolve(tree: Tree, path: str) -> Node | None:
    """The group or dataset a path names, through soft links."""
    target = _resolve(tree, path)
    return tree.nodes.get(target) if target else None
