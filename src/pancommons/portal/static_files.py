"""The portal's static files, gzipped once for the browsers that accept it.

Starlette's GZipMiddleware compresses every answer anew, on the event loop (32 ms for the
1.4 MB viewer bundle), and leaves the file's ETag on both encodings, which HTTP forbids: a
cache, or a download resumed with If-Range, could then splice gzip bytes onto plain ones.
Here each version of a file (path, size, modification time) is compressed once, in a thread,
kept in memory, and named by an ETag of its own.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import anyio
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

COMPRESSIBLE = {".js", ".css", ".svg", ".txt", ".json", ".html"}
MINIMUM_SIZE = 1024  # below this the gzip header and a round of CPU buy nothing


class CompressedStaticFiles(StaticFiles):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._gzipped: dict[str, tuple[tuple[int, int], bytes]] = {}  # path → ((size, mtime), gzip bytes)

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if not _compressible(response):
            return response
        response.headers["vary"] = "Accept-Encoding"  # the plain answer too: caches must keep both apart
        request = Headers(scope=scope)
        if response.status_code != 200 or "range" in request or not _accepts_gzip(request.get("accept-encoding", "")):
            return response
        etag = _gzip_etag(response.headers["etag"])
        headers = {"etag": etag, "vary": "Accept-Encoding", "last-modified": response.headers["last-modified"]}
        if etag in {tag.strip() for tag in request.get("if-none-match", "").split(",")}:
            return Response(status_code=304, headers=headers)
        body = await self._gzip(str(response.path), response.stat_result)
        headers |= {"content-encoding": "gzip", "content-type": response.headers["content-type"],
                    "content-length": str(len(body))}
        return Response(b"" if scope["method"] == "HEAD" else body, headers=headers)

    async def _gzip(self, path: str, stat: os.stat_result) -> bytes:
        version = (stat.st_size, stat.st_mtime_ns)
        known = self._gzipped.get(path)
        if known is None or known[0] != version:
            # mtime=0: the same file gives the same bytes in every process behind a balancer
            body = await anyio.to_thread.run_sync(lambda: gzip.compress(Path(path).read_bytes(), compresslevel=6, mtime=0))
            known = self._gzipped[path] = (version, body)
        return known[1]


def _compressible(response: Response) -> bool:
    if response.status_code == 304:
        return True  # a revalidation says Vary as the answer it confirms did
    return (isinstance(response, FileResponse) and response.status_code == 200 and response.stat_result is not None
            and os.path.splitext(str(response.path))[1].lower() in COMPRESSIBLE
            and response.stat_result.st_size >= MINIMUM_SIZE)


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``Accept-Encoding`` admits gzip, by name or as ``*`` (RFC 9110: q=0 refuses)."""
    qualities: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        coding, _, parameters = part.partition(";")
        quality = parameters.strip().removeprefix("q=")
        try:
            qualities[coding.strip()] = float(quality) if quality else 1.0
        except ValueError:
            qualities[coding.strip()] = 0.0
    return qualities.get("gzip", qualities.get("*", 0.0)) > 0


def _gzip_etag(etag: str) -> str:
    """The file's ETag, marked as the gzip form's (a weak tag stays weak)."""
    weak = etag.startswith("W/")
    return ("W/" if weak else "") + '"' + etag.removeprefix("W/").strip('"') + '-gzip"'
