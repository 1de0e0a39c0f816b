"""Shared fixtures: one catalogue per test on SQLite and on PostgreSQL.

PostgreSQL comes from ``PANCOMMONS_TEST_POSTGRES_URL`` or the server on
127.0.0.1:5432 (trust auth); each test run creates a throwaway database and
drops it at the end.  Where no server answers the PostgreSQL variants skip
with the reason — unless ``PANCOMMONS_TEST_REQUIRE_POSTGRES=1`` (set by
``.ci/run``), where they fail: CI must not pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pancommons.config import Settings
from pancommons.db.engine import make_engine
from pancommons.db.migrate import upgrade

SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_PANET = SHARED / "data" / "panet" / "PaNET.csv"
SHARED_REFERENCE = SHARED / "data" / "panosc-reference" / "db.json"
SHARED_NEXUS = Path(os.environ.get("PANCOMMONS_SHARED_NEXUS", SHARED / "data" / "nexus"))
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def shared_nexus(name: str) -> Path:
    path = SHARED_NEXUS / name
    if not path.exists():
        pytest.skip(f"shared sample file {path} is absent (a fresh clone without ../shared)")
    return path


def _postgres_admin_url() -> str | None:
    url = os.environ.get("PANCOMMONS_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@pytest.fixture(scope="session")
def postgres_server():
    """An admin URL of a reachable PostgreSQL server and a throwaway database on it."""
    url = _postgres_admin_url()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        reason = "psycopg is not installed (pip install '.[test]')"
        if os.environ.get("PANCOMMONS_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    admin = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as error:  # noqa: BLE001 - any failure means "no server here"
        reason = f"no PostgreSQL server at {make_url(url).render_as_string()}: {str(error).splitlines()[0]}"
        if os.environ.get("PANCOMMONS_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    created: list[str] = []

    def new_database() -> str:
        name = f"pancommons_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return make_url(url).set(database=name).render_as_string(hide_password=False)

    yield new_database
    with admin.connect() as connection:
        for name in created:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """A fresh, empty catalogue database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalogue.db'}"
    return request.getfixturevalue("postgres_server")()


@pytest.fixture
def data_root(tmp_path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    return root


@pytest.fixture
def settings(tmp_path, database_url, data_root) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        data_roots=[data_root],
        facility="TESTFAC",
        facility_timezone="UTC",
        ingest_batch_size=50,
        # Tests never fetch the ontology from the internet: the shared table, or none.
        panet_source=str(SHARED_PANET) if SHARED_PANET.is_file() else "",
    )


@pytest.fixture
def engine(settings):
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    """No test reads the developer's own settings or catalogue."""
    for name in list(os.environ):
        if name.startswith("PANCOMMONS_") and not name.startswith("PANCOMMONS_TEST_") and name != "PANCOMMONS_SHARED_NEXUS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PANCOMMONS_HOME", str(tmp_path / "home"))
