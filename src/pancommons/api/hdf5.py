"""The h5grove protocol H5Web speaks, served per catalogued file.

``file`` is the catalogue's file id, never a path (``<id>/<file name>`` is
read as ``<id>``: the viewer sends the name along because H5Web shows the last
part of ``file`` as the file's name). The access policy says
whether the caller may read it (catalogue/files.py), the data root says
where it is, and nexus/browse.py finds the entity without letting HDF5
follow links out of the data root.  Answers and errors are h5grove's:
404 for a file or path that is not there (an embargoed file is "not there"),
422 for a malformed argument, as ``{"message": ...}``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import h5py
import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from h5grove.content import (
    DatasetContent,
    GroupContent,
    ResolvedEntityContent,
    create_content,
)
from h5grove.encoders import encode
from h5grove.utils import LinkResolution, NotFoundError, QueryArgumentError, parse_slice

from pancommons.api.auth import CallerDep
from pancommons.catalogue.files import FileRefused, readable_file, readable_path
from pancommons.catalogue.policy import Caller
from pancommons.catalogue.search import Catalogue
from pancommons.nexus.browse import (
    Allowed,
    NotInFile,
    OpenFiles,
    Session,
    check_sources,
    locate,
)

router = APIRouter(prefix="/h5grove", tags=["HDF5 viewer (h5grove protocol)"])

MAX_SELECTION_BYTES = 512 * 1024 * 1024  # one binary answer; a viewer asks frame by frame
MAX_TEXT_BYTES = 16 * 1024 * 1024  # one JSON/CSV answer or statistics: text is 3-10x the binary size
VLEN_GUESS = 256  # bytes counted per variable-length value
FORMATS = ("json", "bin", "npy", "csv", "tiff")
DTYPES = ("origin", "safe")


class Refused(Exception):
    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message


async def _catalogue(request: Request) -> Catalogue:
    return request.app.state.catalogue


async def _files(request: Request) -> OpenFiles:
    return request.app.state.open_files


FileId = Annotated[str, Query(description="the catalogue's id of the file (as on a dataset's landing page), optionally followed by /<file name>")]
EntityPath = Annotated[str, Query(description="HDF5 path inside the file")]
CatalogueDep = Annotated[Catalogue, Depends(_catalogue)]
FilesDep = Annotated[OpenFiles, Depends(_files)]


@dataclass
class Viewing:
    """What one request reads: the entity, the data root it must stay in, and who may read what."""

    content: object
    root: Path
    session: Session
    allowed: Allowed


def _entity(request: Request, store: Catalogue, who: Caller, session: Session, file: str, path: str) -> Viewing:
    """``path`` in catalogued file ``file``, for this caller."""
    file_id = file.partition("/")[0]  # what follows the id is the name shown, not what is read
    if not (file_id.isascii() and file_id.isdigit()) or len(file_id) > 18:
        raise Refused(422, "file: expected a catalogue file id (a whole number), optionally followed by /<file name>")
    roots = request.app.state.settings.data_roots
    try:
        on_disk = readable_file(store, int(file_id), who, roots).path
    except FileRefused as refused:
        raise Refused(404, str(refused)) from None
    root = next(root.resolve() for root in roots if on_disk.is_relative_to(root.resolve()))

    def allowed(other: Path) -> bool:  # a file a link or a source leads into: catalogued, and open to this caller
        return readable_path(store, other, who, roots)

    try:
        found = locate(session, on_disk, root, path, allowed)
        # Links below the entity stay links (NONE): HDF5 must not follow them by itself; the
        # viewer asks for them by path and locate() follows them, under the same rules.
        return Viewing(create_content(found.file, found.path, LinkResolution.NONE), root, session, allowed)
    except (NotInFile, NotFoundError) as missing:
        raise Refused(404, str(missing)) from None
    except (OSError, RuntimeError, KeyError) as error:  # a path HDF5 itself rejects (a NUL in it …)
        raise Refused(404, f"cannot read {path[:200]!r} in this file: {str(error).splitlines()[0][:200]}") from None


def _answer(content, format: str = "json") -> Response:
    encoded = encode(content, format)
    return Response(content=encoded.content, headers=encoded.headers)


def _error(status: int, message: str) -> Response:
    return Response(content=encode({"message": message}, "json").content, status_code=status, media_type="application/json")


def _guarded(handler):
    """h5grove's error shape for our refusals and for arguments h5grove or h5py reject."""

    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except Refused as refused:
            return _error(refused.status, refused.message)
        except KeyError as missing:  # an attribute the entity does not have
            return _error(404, f"not found: {str(missing)[:300]}")
        except (QueryArgumentError, ValueError, IndexError, TypeError, RuntimeError) as bad:  # a malformed selection …
            return _error(422, str(bad)[:300])

    return wrapped


@router.get("/meta")
@_guarded
def meta(request: Request, store: CatalogueDep, who: CallerDep, files: FilesDep, file: FileId, path: EntityPath = "/",
         resolve_links: str = "only_valid"):
    if resolve_links not in ("none", "only_valid", "all"):
        raise Refused(422, "resolve_links: expected none, only_valid or all")
    with files.session() as session:
        viewing = _entity(request, store, who, session, file, path)
        if isinstance(viewing.content, GroupContent):
            return _answer(_group_metadata(viewing))
        return _answer(viewing.content.metadata())


@router.get("/attr")
@_guarded
def attr(request: Request, store: CatalogueDep, who: CallerDep, files: FilesDep, file: FileId, path: EntityPath = "/",
         attr_keys: Annotated[list[str] | None, Query()] = None):
    with files.session() as session:
        content = _entity(request, store, who, session, file, path).content
        if not isinstance(content, ResolvedEntityContent):
            raise Refused(422, f"{path} is a link, not an entity with attributes")
        return _answer(content.attributes(attr_keys))


@router.get("/data")
@_guarded
def data(request: Request, store: CatalogueDep, who: CallerDep, files: FilesDep, file: FileId, path: EntityPath = "/",
         selection: str | None = None, format: str = "json", dtype: str = "origin", flatten: bool = False):
    if format not in FORMATS:
        raise Refused(422, f"format: expected one of {', '.join(FORMATS)}")
    if dtype not in DTYPES:
        raise Refused(422, f"dtype: expected one of {', '.join(DTYPES)}")
    with files.session() as session:
        viewing = _entity(request, store, who, session, file, path)
        dataset = _readable_dataset(viewing, path)
        _check_size(dataset, selection, MAX_SELECTION_BYTES if format in ("bin", "npy", "tiff") else MAX_TEXT_BYTES)
        values = viewing.content.data(selection, flatten, dtype)
    if format == "bin" and isinstance(values, np.ndarray) and values.dtype.kind in "biufc":
        # The array's own buffer goes out as it is: h5grove's encoder copies it to bytes first, which
        # costs twice the read for a detector frame.
        return Response(content=memoryview(np.ascontiguousarray(values)).cast("B"), media_type="application/octet-stream")
    return _answer(values, format)


@router.get("/stats")
@_guarded
def stats(request: Request, store: CatalogueDep, who: CallerDep, files: FilesDep, file: FileId, path: EntityPath = "/",
          selection: str | None = None):
    with files.session() as session:
        viewing = _entity(request, store, who, session, file, path)
        _check_size(_readable_dataset(viewing, path), selection, MAX_TEXT_BYTES)
        return _answer(viewing.content.data_stats(selection))


@router.get("/paths")
@_guarded
def paths(request: Request, store: CatalogueDep, who: CallerDep, files: FilesDep, file: FileId, path: EntityPath = "/"):
    with files.session() as session:
        content = _entity(request, store, who, session, file, path).content
        if not isinstance(content, GroupContent):
            raise Refused(422, f"{path} is not a group")
        base = content.path.rstrip("/")
        found = [content.path]
        content._h5py_entity.id.links.visit(lambda name: found.append(f"{base}/{name.decode()}"))  # links, never followed
        return _answer(found)


def _readable_dataset(viewing: Viewing, path: str) -> h5py.Dataset:
    """The dataset, once it is sure HDF5 reads nothing the caller may not read to fill it."""
    if not isinstance(viewing.content, DatasetContent):
        raise Refused(422, f"{path} is not a dataset")
    dataset = viewing.content._h5py_entity
    try:
        check_sources(viewing.session, dataset, viewing.root, viewing.allowed)
    except NotInFile as outside:
        raise Refused(404, str(outside)) from None
    return dataset


def _group_metadata(viewing: Viewing) -> dict:
    """A group and its children, each child's link followed by locate() (under the same rules) so the
    viewer sees datasets where NeXus keeps soft links (an NXdata's signal), as h5grove's only_valid does."""
    content = viewing.content
    described = content.metadata(depth=0)
    group = content._h5py_entity
    children = []
    for name in group:
        child_path = f"{content.path.rstrip('/')}/{name}"
        try:
            found = locate(viewing.session, Path(group.file.filename), viewing.root, child_path, viewing.allowed)
            child = create_content(found.file, found.path, LinkResolution.NONE).metadata(0)
            child["name"] = name
        except (NotInFile, OSError, NotFoundError):
            child = create_content(group.file, child_path, LinkResolution.NONE).metadata(0)  # an unresolved link
        children.append(child)
    described["children"] = children
    return described


def _check_size(dataset: h5py.Dataset, selection: str | None, limit: int) -> None:
    """Refuse, before reading, a selection larger than one answer may be."""
    shape = dataset.shape or ()
    if selection is None:
        counts = list(shape)
    else:
        members = parse_slice(selection)
        if len(members) > len(shape):
            raise ValueError(f"{selection} has too many members to slice a {len(shape)}D dataset")
        counts = []
        for member, size in zip(list(members) + [slice(None)] * (len(shape) - len(members)), shape):
            if isinstance(member, int):
                if not -size <= member < size:
                    raise IndexError(f"index {member} is out of range for an axis of {size}")
                counts.append(1)
            else:
                counts.append(len(range(*member.indices(size))))
    # Variable-length values (strings, ragged arrays) are counted at a generous guess of their size.
    itemsize = VLEN_GUESS if dataset.dtype.kind == "O" else np.dtype(dataset.dtype).itemsize
    nbytes = math.prod(counts) * itemsize
    if nbytes > limit:
        raise Refused(422, f"selection: {nbytes / 2**20:.0f} MiB is more than one answer in this format carries "
                           f"({limit // 2**20} MiB); select a slice")
