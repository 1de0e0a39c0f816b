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
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import httpx

from pancommons.client.errors import (
    ChecksumMismatch,
    CommonsError,
    DownloadInterrupted,
    LocalCopyDiffers,
    error_for,
)

if TYPE_CHECKING:
    from pancommons.client.connection import Connection
    from pancommons.client.records import Dataset, File

CHUNK = 1024 * 1024
DIGESTS = {"sha-512": "sha512", "sha-256": "sha256", "sha": "sha1", "md5": "md5"}  # RFC 9530 → hashlib, strongest first


def download_file(file: File, target: Path, *, progress: bool, overwrite: bool, retries: int) -> Path:
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


def inside(directory: Path, relative: str) -> Path:
    """``directory / relative``, refusing a server-given path that would land outside ``directory``."""
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts or any(":" in part for part in parts[:1]):
        raise CommonsError(f"the server named a file path {relative!r} that would not stay under {directory}")
    return directory.joinpath(*parts)


def fetch(connection: Connection, url: str, target: Path, bar: _Bar, *, overwrite: bool, retries: int, label: str,
          whole: bool = True) -> Path:
    head = connection.request("HEAD", url)
    size = int(head.headers.get("content-length", 0))
    etag = head.headers.get("etag")
    expected = parse_digest(head.headers.get("repr-digest"))
    if whole:
        bar.begin(label, size)
    else:
        bar.describe(label)

    if target.exists():
        if _is_copy(target, size, expected):
            bar.advance(size)
            return target  # a good copy is already there: nothing to fetch, nothing to overwrite
        if not overwrite:
            raise LocalCopyDiffers(f"{target} exists and is not the file at {url}; it is left alone "
                                   f"(move it away, or pass overwrite=True to replace it)")

    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    note = target.with_name(target.name + ".part.json")
    identity = {"url": url, "etag": etag, "size": size}
    if not (part.exists() and note.exists() and _read_note(note) == identity and part.stat().st_size <= size):
        part.write_bytes(b"")  # a part of some other file, or of this one before it changed: start over
        note.write_text(json.dumps(identity))
    already = part.stat().st_size
    bar.advance(min(already, size))

    for attempt in range(retries + 1):
        try:
            _continue(connection, url, part, etag, size, bar)
            break
        except httpx.TransportError as error:
            if attempt == retries:
                kept = part.stat().st_size
                raise DownloadInterrupted(
                    f"{label}: the connection broke ({error or type(error).__name__}) after {kept} of {size} bytes; "
                    f"they are kept in {part} and the next download() resumes from there", url=url) from None
            time.sleep(min(0.5 * 2**attempt, 5.0))

    if part.stat().st_size != size:
        raise DownloadInterrupted(f"{label}: {part.stat().st_size} of {size} bytes arrived; call download() again to resume",
                                  url=url)
    if expected is not None:
        algorithm, digest = expected
        if _hash(part, algorithm) != digest:
            part.unlink()
            note.unlink(missing_ok=True)
            raise ChecksumMismatch(f"{label}: the bytes received do not have the {algorithm} checksum the commons "
                                   f"catalogued; nothing was kept (the file may have changed on the facility's storage)",
                                   url=url)
    os.replace(part, target)
    note.unlink(missing_ok=True)
    return target


def _continue(connection: Connection, url: str, part: Path, etag: str | None, size: int, bar: _Bar) -> None:
    """Fetch what ``part`` lacks and append it."""
    offset = part.stat().st_size
    if offset >= size and size:
        return
    headers = dict(connection.authorization(url))
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if etag:
            headers["If-Range"] = etag  # the bytes after ours, only if the file is still the one they follow
    with connection.http.stream("GET", url, headers=headers) as response:
        if response.status_code >= 400:
            response.read()
            raise error_for(response, connection.signed_in(url))
        if offset and response.status_code != 206:  # the file changed (or no ranges here): the whole again
            bar.advance(-offset)
            offset = 0
        elif offset and not response.headers.get("content-range", "").startswith(f"bytes {offset}-"):
            raise CommonsError(f"{url} answered a range that does not start at byte {offset}")
        with open(part, "r+b" if offset else "wb") as out:
            out.seek(offset)
            out.truncate()
            for chunk in response.iter_bytes(CHUNK):
                out.write(chunk)
                bar.advance(len(chunk))


def parse_digest(field: str | None) -> tuple[str, bytes] | None:
    """The strongest digest of a ``Repr-Digest`` field we can compute: (hashlib name, digest bytes)."""
    if not field:
        return None
    offered: dict[str, bytes] = {}
    for member in field.split(","):
        name, _, value = member.strip().partition("=")
        value = value.strip()
        if name.strip().lower() in DIGESTS and value.startswith(":") and value.endswith(":"):
            try:
                offered[name.strip().lower()] = base64.b64decode(value[1:-1], validate=True)
            except ValueError:
                continue
    for name, algorithm in DIGESTS.items():
        if name in offered:
            return algorithm, offered[name]
    return None


def _is_copy(path: Path, size: int, expected: tuple[str, bytes] | None) -> bool:
    if path.stat().st_size != size:
        return False
    if expected is None:
        return True  # the node catalogued no checksum: the same size is all there is to compare
    algorithm, digest = expected
    return _hash(path, algorithm) == digest


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
