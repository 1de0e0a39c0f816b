"""Case-insensitive collection paths, shared by a node's API and the federation's."""

from __future__ import annotations

import re

COLLECTIONS = {"Datasets": "Dataset", "Documents": "Document", "Instruments": "Instrument"}

_CANONICAL = {name.lower(): name for name in COLLECTIONS}
_COLLECTION_PATH = re.compile(r"^/api/([A-Za-z]+)(?=/|$)")
_WORD_ENDINGS = re.compile(r"^(/count|/facets|/corpus)$", re.IGNORECASE)
_FILE_ENDINGS = re.compile(r"(/files(/count)?)$", re.IGNORECASE)


class CaseInsensitiveCollections:
    """ASGI middleware: /api/datasets, /api/DATASETS … reach /api/Datasets (pids keep their case)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            path = scope["path"]
            match = _COLLECTION_PATH.match(path)
            if match and match.group(1).lower() in _CANONICAL:
                canonical = _CANONICAL[match.group(1).lower()]
                rest = path[match.end():]
                rest = _WORD_ENDINGS.sub(lambda m: m.group(1).lower(), rest)
                rest = _FILE_ENDINGS.sub(lambda m: m.group(1).lower(), rest)
                scope = dict(scope, path=f"/api/{canonical}{rest}")
        await self.app(scope, receive, send)
