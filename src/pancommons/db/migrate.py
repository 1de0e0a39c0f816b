"""Bring a catalogue database to the current schema with Alembic."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def is_declared_name(name: str | None, type_: str, _parent_names: dict) -> bool:
    """Alembic's view of the schema: SQLite's FTS5 indexes (virtual tables and their
    shadow tables) are made by hand in migrations, not declared in tables.py."""
    return not (type_ == "table" and name is not None and "_fts" in name)


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("pancommons.db") / "migrations"))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
        config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema; cheap when it is already current."""
    if current_revision(engine) == head_revision():
        return
    command.upgrade(alembic_config(engine), "head")
