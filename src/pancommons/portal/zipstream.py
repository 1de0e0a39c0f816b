"""A dataset's files as one ZIP, written while it is sent: constant memory, whatever the size.

The standard library's zipfile writes to a stream it cannot seek (sizes
and checksums go in data descriptors after each member), so the archive is
produced a megabyte at a time.  Members are stored, not deflated: NeXus
files are already compressed where it pays.  A manifest of the catalogue's
checksums goes in as the last member, to verify the unpacked files with.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

CHUNK = 1024 * 1024


class _Outbox:
    """The write end zipfile sees; the response reads what was written since the last time."""

    def __init__(self):
        self._parts: list[bytes] = []
        self._written = 0

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def zipped(members: list[tuple[Path, str]], manifest: str) -> Iterator[bytes]:
    """The bytes of a ZIP holding each (file on disk, name in the archive), then ``manifest``."""
    outbox = _Outbox()
    with zipfile.ZipFile(outbox, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for path, name in members:
            info = zipfile.ZipInfo(name, time.gmtime(path.stat().st_mtime)[:6])
            with path.open("rb") as source, archive.open(info, "w", force_zip64=True) as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    yield outbox.take()
            yield outbox.take()
        archive.writestr("MANIFEST.txt", manifest)
    yield outbox.take()
