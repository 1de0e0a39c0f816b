"""Load PaNET from a path or URL, classify it once, and cache the classified result.

The project must not ship PaNET's text (CC BY 4.0, and it changes with each
release), so a deployment points at the table or OWL file by path or URL.
Classifying takes tens of milliseconds and reading the cache a few, so the
cache mostly matters for URLs: the API should still start when the release
server is unreachable.

Cache layout, in ``cache_dir``:

* ``panet-<hash>.json`` — the classified ontology, keyed by a hash of the
  source *bytes* (plus the cache format version), so an edited table is
  re-classified and a moved but unchanged file is not;
* ``downloads/<hash of URL><suffix>`` — the bytes last fetched from a URL.  If
  the URL is unreachable later and such a copy exists, it is used and a
  warning is logged; with no copy the load fails with an :class:`OntologyError`
  naming the URL.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from pancommons.panet.ontology import Ontology, OntologyError
from pancommons.panet.owl import ontology_from_owl
from pancommons.panet.table import ontology_from_table

log = logging.getLogger(__name__)

# Part of every cache key: bump it when classification or the JSON form changes meaning,
# so caches written by an older version are not trusted.
CACHE_VERSION = "panet-cache/1"
FETCH_TIMEOUT_SECONDS = 30.0
TABLE_SUFFIXES = {".csv"}
OWL_SUFFIXES = {".owl", ".rdf", ".xml"}


def load_ontology(source: str, cache_dir: Path) -> Ontology:
    """The classified ontology from ``source`` (a filesystem path or an http(s) URL).

    ``.csv`` is read as PaNET's ROBOT table and classified; ``.owl``/``.rdf``/
    ``.xml`` as a reasoned RDF/XML file; anything else by looking at its bytes.
    Raises :class:`OntologyError` naming the source when it cannot be read.
    """
    cache_dir = Path(cache_dir)
    data = _read_source(str(source), cache_dir)
    kind = _kind(str(source), data)
    cache_file = cache_dir / f"panet-{_digest(CACHE_VERSION.encode(), kind.encode(), data)[:32]}.json"
    cached = _read_cache(cache_file)
    if cached is not None:
        cached.source = str(source)
        return cached
    ontology = _classify(kind, data, str(source))
    for warning in ontology.warnings:
        log.warning("PaNET %s: %s", source, warning)
    _write_atomically(cache_file, json.dumps(ontology.to_json(), separators=(",", ":")).encode())
    return ontology


# -- reading the source ----------------------------------------------------------------


def _is_url(source: str) -> bool:
    return urlparse(source).scheme in ("http", "https")


def _read_source(source: str, cache_dir: Path) -> bytes:
    if _is_url(source):
        return _fetch_with_fallback(source, cache_dir)
    path = Path(unquote(urlparse(source).path)) if source.startswith("file://") else Path(source)
    try:
        return path.expanduser().read_bytes()
    except OSError as error:
        raise OntologyError(f"PaNET ontology file {path} cannot be read: {error.strerror or error}") from error


def _fetch_with_fallback(url: str, cache_dir: Path) -> bytes:
    """Fetch ``url``; remember the bytes so that a later offline start can still use them."""
    suffix = Path(urlparse(url).path).suffix.lower()
    copy = cache_dir / "downloads" / f"{_digest(url.encode())[:24]}{suffix}"
    try:
        data = _fetch(url)
    except OntologyError as error:
        if not copy.is_file():
            raise
        log.warning("%s; using the copy downloaded earlier, %s", error, copy)
        return copy.read_bytes()
    _write_atomically(copy, data)
    return data


def _fetch(url: str) -> bytes:
    try:
        import httpx
    except ImportError as error:
        raise OntologyError(f"cannot fetch PaNET ontology from {url}: httpx is missing (pip install httpx)") from error
    try:
        response = httpx.get(url, timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPStatusError as error:
        raise OntologyError(f"cannot fetch PaNET ontology from {url}: HTTP {error.response.status_code}") from error
    except httpx.HTTPError as error:
        reason = str(error) or type(error).__name__
        raise OntologyError(f"cannot fetch PaNET ontology from {url}: {reason}") from error
    return response.content


def _kind(source: str, data: bytes) -> str:
    """``table`` or ``owl``: by suffix, else by content (a URL may end in ``/download``)."""
    suffix = Path(urlparse(source).path if _is_url(source) else source).suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return "table"
    if suffix in OWL_SUFFIXES:
        return "owl"
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return "owl"
    if b"\x00" not in head and b"," in head:
        return "table"
    raise OntologyError(f"{source}: neither a CSV table nor an RDF/XML ontology")


def _classify(kind: str, data: bytes, source: str) -> Ontology:
    if kind == "owl":
        return ontology_from_owl(data, source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise OntologyError(f"{source}: not a UTF-8 text table ({error.reason} at byte {error.start})") from error
    return ontology_from_table(text, source)


# -- the cache -------------------------------------------------------------------------


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: parts cannot run together
        digest.update(part)
    return digest.hexdigest()


def _read_cache(path: Path) -> Ontology | None:
    """The cached ontology, or None to classify afresh (absent, unreadable or stale cache)."""
    try:
        return Ontology.from_json(json.loads(path.read_bytes()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:  # JSONDecodeError and OntologyError are ValueErrors
        log.warning("PaNET cache %s is unusable (%s); classifying again", path, error)
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so a concurrent reader never sees half a file.
    A cache that cannot be written costs speed, not correctness: warn and go on."""
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False) as file:
            temporary = file.name
            file.write(data)
        os.replace(temporary, path)
    except OSError as error:
        log.warning("cannot write PaNET cache %s: %s", path, error)
        if temporary:
            Path(temporary).unlink(missing_ok=True)
