"""An API over a catalogue on each backend, queried through HTTP (httpx over ASGI)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pancommons.api.app import create_app, load_techniques
from pancommons.catalogue.search import Catalogue
from pancommons.db.engine import make_engine
from pancommons.ingest.panosc_import import import_panosc
from tests.conftest import SHARED_PANET, SHARED_REFERENCE


@pytest.fixture(scope="session")
def ontology(tmp_path_factory):
    if not SHARED_PANET.is_file():
        pytest.skip(f"PaNET table not found at {SHARED_PANET}")
    from pancommons.config import Settings

    return load_techniques(Settings(home=tmp_path_factory.mktemp("panet"), panet_source=str(SHARED_PANET)))


@contextmanager
def api_client(settings, techniques, **client_options) -> Iterator[TestClient]:
    """The API (and portal) over a catalogue; its reader connections are closed at the end, so the
    suite's many PostgreSQL catalogues never hold more connections than the server allows."""
    reader = make_engine(settings.resolved_database_url, reader=True)
    app = create_app(settings, Catalogue(reader, techniques))
    try:
        with TestClient(app, **client_options) as client:
            yield client
    finally:
        reader.dispose()
        app.state.auth.engine.dispose()


@pytest.fixture
def reference_api(engine, settings, ontology):
    """The API over the reference implementation's fixture, loaded with import-panosc."""
    if not SHARED_REFERENCE.is_file():
        pytest.skip(f"reference fixture not found at {SHARED_REFERENCE}")
    report = import_panosc(SHARED_REFERENCE, engine)
    assert not report.problems
    with api_client(settings, ontology) as client:
        yield client


def get(client: TestClient, path: str, **arguments):
    """GET with JSON arguments encoded as the portal does; returns (status, body)."""
    params = {name: value if isinstance(value, str) else json.dumps(value) for name, value in arguments.items()}
    response = client.get(path, params=params)
    return response.status_code, response.json()


def write_dump(path: Path, **models) -> Path:
    """A LoopBack dump (the reference implementation's db.json shape) of the given records.

    ``models`` maps a model name to a list of records; each record is stored
    as a JSON string under its pid or id, as LoopBack does.
    """
    dump = {"ids": {}, "models": {}}
    for model, records in models.items():
        stored = {}
        for number, record in enumerate(records, 1):
            key = str(record.get("pid", record.get("id", number)))
            stored[key] = json.dumps(record)
        dump["models"][model] = stored
        dump["ids"][model] = len(records) + 1
    path.write_text(json.dumps(dump), encoding="utf-8")
    return path
