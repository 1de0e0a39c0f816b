"""Downloads that survive a broken connection and prove they got the right bytes.

The bytes go to ``<name>.part`` beside the target; ``<name>.part.json`` notes
which file (URL, ETag, size) they are the start of.  A broken connection is
retried from where it stopped (``Range`` with ``If-Range``, so a file that
changed on the server meanwhile starts over rather than being spliced); a
call after an interruption resumes the same way.  When every byte is there,
the whole is hashed and compared with the checksum the node catalogued
(``Repr-Digest``, RFC 9530); only then is the part renamed onto the target.
So a good local copy is never overwritten, and a bad download never takes
its place.
"""

from __future__ import annotations

import base64
import filecmp
import hashlib
import json
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import httpx

from pancommons.client.errors import (
    ChecksumMismatch,
    CommonsError,
    DownloadInterrupted,
    LocalCopyDiffers,
    UnverifiedDownload,
    error_for,
)

if TYPE_CHECKING:
    from pancommons.client.connection import Connection
    from pancommons.client.records import Dataset, File

DIGESTS = {"sha-512": "sha512", "sha-256": "sha256", "sha": "sha1", "md5": "md5"}  # RFC 9530 → hashlib, strongest first


def download_file(file: File, to: str | Path, *, progress: bool, overwrite: bool, retries: int) -> Path:
    """``to`` is a directory (the file keeps its name there; a path ending in / names one to make)
    or the file's new path."""
    target = Path(to)
    if target.is_dir() or str(to).endswith(("/", "\\")):
        target = inside(target, file.name, bare=True)
    connection = file.dataset._commons._connection
    with _progress(progress) as bar:
        return fetch(connection, file.url, target, bar, overwrite=overwrite, retries=retries, label=file.name)


def download_dataset(dataset: Dataset, to: Path, *, progress: bool, overwrite: bool, retries: int) -> list[Path]:
    """Every file under ``to`` at its catalogued path; a file that fails does not stop the others,
    and the error at the end names each one (a second call fetches only what is missing)."""
    files = dataset.files
    targets = [inside(to, file.path or file.name) for file in files]
    connection = dataset._commons._connection
    failed: dict[str, str] = {}
    with _progress(progress, total=sum(file.size or 0 for file in files), label=f"{dataset.pid} ({len(files)} files)") as bar:
        for file, target in zip(files, targets):
            try:
                fetch(connection, file.url, target, bar, overwrite=overwrite, retries=retries, label=file.name, whole=False)
            except (CommonsError, OSError) as error:
                failed[file.name] = str(error)
    if failed:
        listed = "; ".join(f"{name}: {reason}" for name, reason in failed.items())
        raise CommonsError(f"{len(failed)} of {len(files)} files of {dataset.pid} did not arrive: {listed}")
    return targets


def inside(directory: Path, relative: str, bare: bool = False) -> Path:
    """``directory / relative``, refusing a server-given path that would land outside ``directory``
    (or, with ``bare``, anything but a plain file name)."""
    path = PurePosixPath(relative.replace("\\", "/"))
    parts = path.parts
    if (not parts or path.is_absolute() or ".." in parts or ":" in parts[0] or (bare and len(parts) != 1)
            or not (directory / Path(*parts)).resolve().is_relative_to(directory.resolve())):
        raise CommonsError(f"the server named a file {relative!r} that would not stay under {directory}")
    return directory.joinpath(*parts)


@dataclass
class _Remote:
    """What the node says of the file: from HEAD, or from the GET where HEAD did not say."""

    size: int | None
    etag: str | None
    digest: tuple[str, bytes] | None

    def learn(self, response: httpx.Response) -> None:
        if self.digest is None:
            self.digest = parse_digest(response.headers.get("repr-digest"))
        if self.size is None:
            total = response.headers.get("content-range", "").rpartition("/")[2]
            length = total if response.status_code == 206 else response.headers.get("content-length", "")
            self.size = int(length) if length.isdigit() else None


def _describe(connection: Connection, url: str) -> _Remote:
    try:
        head = connection.request("HEAD", url)
    except CommonsError as refused:
        if refused.status in (405, 501):  # no HEAD here: the GET will tell
            return _Remote(None, None, None)
        raise
    length = head.headers.get("content-length", "")
    return _Remote(int(length) if length.isdigit() else None, head.headers.get("etag"),
                   parse_digest(head.headers.get("repr-digest")))


def fetch(connection: Connection, url: str, target: Path, bar: _Bar, *, overwrite: bool, retries: int, label: str,
          whole: bool = True) -> Path:
    remote = _describe(connection, url)
    if whole:
        bar.begin(label, remote.size)
    else:
        bar.describe(label)
    if target.is_dir():
        raise CommonsError(f"{target} is a directory; name the file, or download into that directory")

    had_copy = target.exists()
    if had_copy and remote.digest is not None and remote.size is not None:
        if _is_copy(target, remote.size, remote.digest):
            bar.advance(remote.size)
            return target  # a good copy is already there: nothing to fetch, nothing to overwrite
        if not overwrite:
            raise _differs(target, url)

    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    note = target.with_name(target.name + ".part.json")
    identity = {"url": url, "etag": remote.etag, "size": remote.size}
    resumable = remote.etag is not None and part.exists() and _read_note(note) == identity
    if not (resumable and (remote.size is None or part.stat().st_size <= remote.size)):
        part.write_bytes(b"")  # a part of some other file, or of this one before it changed: start over
        note.write_text(json.dumps(identity))
    bar.advance(part.stat().st_size)

    for attempt in range(retries + 1):
        try:
            _continue(connection, url, part, remote, bar)
            break
        except httpx.TransportError as error:
            if attempt == retries:
                kept = part.stat().st_size
                raise DownloadInterrupted(
                    f"{label}: the connection broke ({error or type(error).__name__}) after {kept} of "
                    f"{remote.size if remote.size is not None else '?'} bytes; they are kept in {part} and the next "
                    f"download() resumes from there", url=url) from None
            time.sleep(min(0.5 * 2**attempt, 5.0))
        except httpx.HTTPError as error:  # too many redirects, an undecodable answer …
            raise CommonsError(f"{label}: {url} could not be read: {error or type(error).__name__}", url=url) from None

    received = part.stat().st_size
    if remote.size is not None and received != remote.size:
        _discard(part, note)
        raise CommonsError(f"{label}: {received} bytes arrived where the node announced {remote.size} (the file changed "
                           f"while it was sent?); nothing was kept, the next download() starts over", url=url)
    _verify(part, note, remote, label, url)
    if had_copy and not overwrite:  # a copy we could not check by checksum: the bytes themselves decide
        same = filecmp.cmp(part, target, shallow=False)
        _discard(part, note)
        if same:
            return target
        raise _differs(target, url)
    os.replace(part, target)
    note.unlink(missing_ok=True)
    return target


def _differs(target: Path, url: str) -> LocalCopyDiffers:
    return LocalCopyDiffers(f"{target} exists and is not the file at {url}; it is left alone "
                            f"(move it away, or pass overwrite=True to replace it)")


def _verify(part: Path, note: Path, remote: _Remote, label: str, url: str) -> None:
    if remote.digest is None:
        warnings.warn(f"{label}: the commons catalogued no checksum it could send for this file; only its size "
                      f"was checked", UnverifiedDownload, stacklevel=4)
        return
    algorithm, digest = remote.digest
    if _hash(part, algorithm) != digest:
        _discard(part, note)
        raise ChecksumMismatch(f"{label}: the bytes received do not have the {algorithm} checksum the commons "
                               f"catalogued; nothing was kept (the file may have changed on the facility's storage)",
                               url=url)


def _discard(part: Path, note: Path) -> None:
    part.unlink(missing_ok=True)
    note.unlink(missing_ok=True)


def _continue(connection: Connection, url: str, part: Path, remote: _Remote, bar: _Bar) -> None:
    """Fetch what ``part`` lacks and append it."""
    offset = part.stat().st_size
    if remote.size is not None and offset >= remote.size:
        return
    # identity: the bytes as stored, so that ranges count the file's bytes, not a compressed stream's
    headers = {**connection.authorization(url), "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if remote.etag:
            headers["If-Range"] = remote.etag  # the bytes after ours, only if the file is still the one they follow
    with connection.http.stream("GET", url, headers=headers) as response:
        if response.status_code >= 400:
            response.read()
            raise error_for(response, connection.signed_in(url))
        if offset and response.status_code != 206:  # the file changed (or no ranges here): the whole again
            bar.advance(-offset)
            offset = 0
        elif offset and not response.headers.get("content-range", "").startswith(f"bytes {offset}-"):
            raise CommonsError(f"{url} answered a range that does not start at byte {offset}")
        remote.learn(response)
        with open(part, "r+b" if offset else "wb") as out:
            out.seek(offset)
            out.truncate()
            for chunk in response.iter_raw():  # written as it arrives: a break loses nothing received
                out.write(chunk)
                bar.advance(len(chunk))


def parse_digest(field: str | None) -> tuple[str, bytes] | None:
    """The strongest digest of a ``Repr-Digest`` field we can compute: (hashlib name, digest bytes).

    RFC 9530's registered names first (sha-512, sha-256, then the deprecated sha and md5); then any
    other name hashlib knows (a node whose catalogue uses sha3_256 or blake2b sends that name)."""
    if not field:
        return None
    offered: dict[str, bytes] = {}
    for member in field.split(","):
        name, _, value = member.strip().partition("=")
        name, value = name.strip().lower(), value.strip()
        if value.startswith(":") and value.endswith(":"):
            try:
                offered[name] = base64.b64decode(value[1:-1], validate=True)
            except ValueError:
                continue
    for name, algorithm in DIGESTS.items():
        if name in offered:
            return algorithm, offered[name]
    for name, digest in offered.items():
        if name in hashlib.algorithms_available and not name.startswith("shake"):
            return name, digest
    return None


def _is_copy(path: Path, size: int, expected: tuple[str, bytes]) -> bool:
    algorithm, digest = expected
    return path.stat().st_size == size and _hash(path, algorithm) == digest


def _hash(path: Path, algorithm: str) -> bytes:
    with open(path, "rb") as source:
        return hashlib.file_digest(source, algorithm).digest()


def _read_note(note: Path) -> dict | None:
    try:
        return json.loads(note.read_text())
    except (OSError, ValueError):
        return None


class _Bar:
    """A rich progress bar (in a terminal or a notebook), or nothing; counts what arrived either way."""

    def __init__(self, progress, total: int | None, label: str):
        self._progress = progress
        self._task = progress.add_task(label, total=total) if progress is not None else None
        self.label = label
        self.received = 0

    def begin(self, label: str, total: int) -> None:
        self.label = label
        if self._progress is not None:
            self._progress.update(self._task, description=label, total=total, completed=0)

    def describe(self, label: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=label)

    def advance(self, amount: int) -> None:
        self.received += amount
        if self._progress is not None and amount:
            self._progress.advance(self._task, amount)


@contextmanager
def _progress(shown: bool, total: int | None = None, label: str = "") -> Iterator[_Bar]:
    if not shown:
        yield _Bar(None, None, label)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    if Console().is_jupyter and not _has_widgets():
        # rich draws a live bar in Jupyter only through ipywidgets; without them, one line at the end
        # rather than its warning in every cell.
        started, bar = time.monotonic(), _Bar(None, None, label)
        yield bar
        print(f"{bar.label}: {bar.received / 1e6:.1f} MB in {time.monotonic() - started:.1f} s")
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn()) as progress:
        yield _Bar(progress, total, label)


def _has_widgets() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True
