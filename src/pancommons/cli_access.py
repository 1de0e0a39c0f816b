"""``pancommons`` commands about who may see what: accounts and roles, personal API tokens,
releases and embargo dates, and the audit log.  They act as the node's administrator ("system"),
or as ``--as USER`` where a person's own rights should be checked (early release by a PI)."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from pancommons.accounts.store import AccountError
from pancommons.cli_common import (
    CliError,
    catalogue_engine,
    friendly_errors,
    node_settings,
    out,
)

accounts_app = typer.Typer(help="Accounts of people and services, and their roles.", no_args_is_help=True)
tokens_app = typer.Typer(help="Personal API tokens (Authorization: Bearer …) for scripts and notebooks.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(accounts_app, name="accounts")
    app.add_typer(tokens_app, name="tokens")
    app.command()(release)
    app.command()(audit)


@accounts_app.command("add")
def add_account(
    username: Annotated[str, typer.Argument(help="login name")],
    name: Annotated[str, typer.Option(help="display name")] = "",
    email: Annotated[str | None, typer.Option(help="e-mail address, trusted as verified (membership by e-mail)")] = None,
    orcid: Annotated[str | None, typer.Option(help="ORCID iD (membership by ORCID)")] = None,
    facility_user_id: Annotated[str | None, typer.Option(help="id in the facility's user office")] = None,
    password: Annotated[bool, typer.Option("--password/--no-password", help="ask for a password (a local login)")] = True,
    role: Annotated[list[str] | None, typer.Option(help="data-manager, administrator (repeatable)")] = None,
) -> None:
    """Make a local account (the embedded default's logins, or a service account for tokens)."""
    from pancommons.accounts import store

    with friendly_errors(AccountError):
        engine = catalogue_engine(node_settings())
        secret = _new_password() if password else None
        store.create_local(engine, username, secret, store.Identity(name, email, bool(email), orcid, facility_user_id))
        for given in role or []:
            store.grant(engine, username, given)
        out.print(f"account {username} made" + (" with a password" if secret else " (tokens only)"))


def _new_password() -> str:
    given = os.environ.get("PANCOMMONS_NEW_PASSWORD")  # for scripts; typed otherwise, never an argument
    if given:
        return given
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise CliError("the two passwords differ")
    return first


@accounts_app.command("list")
def list_accounts() -> None:
    """Every account with its roles."""
    from pancommons.accounts import store

    with friendly_errors(AccountError):
        table = Table("username", "name", "kind", "ORCID", "roles", "active")
        for account in store.list_accounts(catalogue_engine(node_settings())):
            table.add_row(account.username, account.display_name, "local" if account.local else "provider",
                          account.orcid or "", ", ".join(account.roles), "yes" if account.active else "no")
        out.print(table)


@accounts_app.command("grant")
def grant(
    username: str,
    role: Annotated[str, typer.Argument(help="data-manager, administrator or instrument-scientist")],
    instrument: Annotated[str | None, typer.Option(help="the instrument (pid or name) of an instrument scientist")] = None,
) -> None:
    """Give an account a role."""
    from pancommons.accounts import store

    with friendly_errors(AccountError):
        store.grant(catalogue_engine(node_settings()), username, role, instrument)
        out.print(f"{username} is {role}" + (f" of {instrument}" if instrument else ""))


@accounts_app.command("revoke")
def revoke_role(
    username: str,
    role: str,
    instrument: Annotated[str | None, typer.Option(help="the instrument of an instrument scientist")] = None,
) -> None:
    """Take a role away from an account."""
    from pancommons.accounts import store

    with friendly_errors(AccountError):
        store.revoke(catalogue_engine(node_settings()), username, role, instrument)
        out.print(f"{username} is no longer {role}")


@accounts_app.command("deactivate")
def deactivate(username: str) -> None:
    """Stop an account: its sessions and tokens stop working at once."""
    from pancommons.accounts import store

    with friendly_errors(AccountError):
        store.set_active(catalogue_engine(node_settings()), username, False)
        out.print(f"{username} deactivated")


@accounts_app.command("password")
def password(username: str) -> None:
    """Set a local account's password."""
    from pancommons.accounts import store

    with friendly_errors(AccountError):
        store.set_password(catalogue_engine(node_settings()), username, _new_password())
        out.print(f"password of {username} set")


@tokens_app.command("create")
def create_token(
    username: str,
    name: Annotated[str, typer.Option(help="what the token is for")] = "command line",
    days: Annotated[int | None, typer.Option(min=1, max=366, help="lifetime; default: the node's api_token_days")] = None,
) -> None:
    """Make a personal API token for an account and print it (once: only its hash is kept)."""
    from pancommons.accounts import tokens

    with friendly_errors(AccountError):
        settings = node_settings()
        engine = catalogue_engine(settings)
        account = _account_id(engine, username)
        secret, view = tokens.create(engine, account, name, days or settings.api_token_days, actor="system")
        out.print(secret, highlight=False)
        typer.echo(f"token {view.id} for {username}, valid until {view.expires_at:%Y-%m-%d}: shown once", err=True)


@tokens_app.command("list")
def list_tokens(username: str) -> None:
    """An account's tokens (never their text)."""
    from pancommons.accounts import tokens

    with friendly_errors(AccountError):
        engine = catalogue_engine(node_settings())
        table = Table("id", "name", "starts with", "expires", "last used", "state")
        for token in tokens.of_account(engine, _account_id(engine, username)):
            table.add_row(str(token.id), token.name, token.hint + "…", f"{token.expires_at:%Y-%m-%d}",
                          f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never", token.state)
        out.print(table)


@tokens_app.command("revoke")
def revoke_token(token_id: int) -> None:
    """Revoke a token (any account's)."""
    from pancommons.accounts import tokens

    with friendly_errors(AccountError):
        tokens.revoke(catalogue_engine(node_settings()), None, token_id, actor="system")
        out.print(f"token {token_id} revoked")


def _account_id(engine, username: str) -> int:
    from sqlalchemy import select

    from pancommons.db.account_tables import Account

    with engine.connect() as connection:
        found = connection.execute(select(Account.id).where(Account.username == username)).scalar()
    if found is None:
        raise CliError(f"there is no account {username!r}")
    return found


def release(
    proposal: Annotated[str | None, typer.Option(help="release this proposal's data (its pid)")] = None,
    dataset: Annotated[str | None, typer.Option(help="release this one dataset (its pid)")] = None,
    until: Annotated[str | None, typer.Option(help="instead of now: the new release date (YYYY-MM-DD), later or earlier")] = None,
    as_user: Annotated[str | None, typer.Option("--as", help="act as this account (its rights are checked)")] = None,
) -> None:
    """Open what is due (run it daily; `serve` runs it hourly), or release a proposal or dataset early,
    or set its release date."""
    from pancommons.accounts import store
    from pancommons.catalogue import embargo, policy
    from pancommons.catalogue.release import release_embargoed

    with friendly_errors(embargo.NotAllowed, embargo.UnknownRecord, ValueError):
        engine = catalogue_engine(node_settings())
        if proposal is None and dataset is None:
            if until or as_user:
                raise CliError("--until and --as need --proposal or --dataset")
            released = release_embargoed(engine)
            out.print(f"released: {released.datasets} dataset(s), {released.documents} document(s)")
            return
        if proposal and dataset:
            raise CliError("give --proposal or --dataset, not both")
        caller = policy.SYSTEM
        if as_user:
            caller = store.caller_for(engine, _account_id(engine, as_user))
            if caller is None:
                raise CliError(f"account {as_user!r} is deactivated")
        if until:
            change = embargo.set_release_date(engine, caller, _date(until), proposal=proposal, dataset=dataset)
        else:
            change = embargo.release_now(engine, caller, proposal=proposal, dataset=dataset)
        when = "now open" if change.release_date <= datetime.now(UTC) else f"opens {change.release_date:%Y-%m-%d}"
        out.print(f"{change.target}: {when}" + (f" ({change.datasets} dataset(s) with it)" if proposal else ""))


def _date(text: str) -> datetime:
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--until {text!r}: write a date as YYYY-MM-DD") from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def audit(
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="events to show, newest first")] = 50,
    action: Annotated[str | None, typer.Option(help="only this action (released, released-early, "
                                               "embargoed-download, role-granted, token-created …)")] = None,
    target: Annotated[str | None, typer.Option(help="only events about this pid, username or token")] = None,
) -> None:
    """The audit log: changes of access, and downloads of embargoed data."""
    from pancommons.accounts import audit as log

    with friendly_errors():
        table = Table("when (UTC)", "who", "action", "target", "detail")
        for event in log.recent(catalogue_engine(node_settings()), limit, action, target):
            detail = ", ".join(f"{key}={value}" for key, value in event.detail.items() if value is not None)
            table.add_row(f"{event.at:%Y-%m-%d %H:%M:%S}", event.actor, event.action, event.target, detail)
        out.print(table)
