"""Fixtures of the federation tests."""

from __future__ import annotations

import pytest

from pancommons.db.engine import make_engine
from pancommons.db.migrate import upgrade


@pytest.fixture(scope="module")
def empty_catalogue(tmp_path_factory):
    """A migrated, empty SQLite catalogue to copy (migrating once, not per node or example)."""
    path = tmp_path_factory.mktemp("template") / "catalogue.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path
