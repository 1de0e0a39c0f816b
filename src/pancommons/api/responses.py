"""JSON answers encoded by orjson: a page of records with their nested includes encodes 3-5x faster
than with the standard library, a visible share of a nested query's time."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # what orjson refuses (an integer beyond 64 bits …): the standard encoder
            return super().render(content)
