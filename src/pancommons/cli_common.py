"""What every ``pancommons`` command shares: its consoles, one-line errors, the settings and the
catalogue's engine (made or upgraded on the way), and the progress bar of long work."""

from __future__ import annotations

from contextlib import contextmanager

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from pancommons.config import Settings, load_settings

out = Console(soft_wrap=True)  # one line per file: greppable, never wrapped mid-path
err = Console(stderr=True, soft_wrap=True)


class CliError(Exception):
    """A problem to tell the user in one line, then exit non-zero."""


@contextmanager
def friendly_errors(*refusals: type[Exception]):
    """One line instead of a trace: for CliError, the database's refusals, and ``refusals`` — a
    service's own errors whose message already says what is wrong (an unknown account …)."""
    try:
        yield
    except (CliError, *refusals) as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(1) from None
    except OperationalError as error:
        err.print(f"[red]error:[/red] cannot use the catalogue database: {error.orig}", highlight=False)
        raise typer.Exit(1) from None
    except SQLAlchemyError as error:
        from pancommons.db.engine import database_reason

        err.print(f"[red]error:[/red] the catalogue database refused the change: {database_reason(error)}", highlight=False)
        raise typer.Exit(1) from None


def node_settings(**overrides) -> Settings:
    try:
        return load_settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}" for problem in error.errors()
        )
        raise CliError(f"invalid settings ({problems})") from None
    except (OSError, ValueError) as error:  # unreadable or malformed TOML file
        raise CliError(f"cannot read settings: {error}") from None


def catalogue_engine(settings: Settings) -> Engine:
    from pancommons.db.engine import DatabaseUrlError, make_engine
    from pancommons.db.migrate import upgrade

    try:
        engine = make_engine(settings.resolved_database_url)
    except (DatabaseUrlError, ModuleNotFoundError) as error:
        raise CliError(str(error)) from None
    try:
        upgrade(engine)
    except SQLAlchemyError as error:
        raise CliError(f"cannot open the catalogue at {engine.url.render_as_string()}: {getattr(error, 'orig', error)}") from None
    return engine


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
