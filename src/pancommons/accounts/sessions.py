"""Portal sessions: a random cookie value whose hash names a row, so signing out (or an
administrator deactivating the account) ends the session on the server, not just in the browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, select

from pancommons.accounts.secrets import digest, new_secret
from pancommons.db.account_tables import Account, PortalSession

COOKIE = "pancommons_session"


def start(engine: Engine, account_id: int, hours: float) -> str:
    """A new session (its cookie value); sessions that ended are swept away on the way."""
    secret = new_secret()
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(delete(PortalSession).where(PortalSession.expires_at <= now))
        connection.execute(insert(PortalSession).values(
            token_hash=digest(secret), account_id=account_id, created_at=now, expires_at=now + timedelta(hours=hours)))
    return secret


def account_of(engine: Engine, secret: str | None) -> int | None:
    if not secret or len(secret) > 100:
        return None
    with engine.connect() as connection:
        return connection.execute(
            select(PortalSession.account_id).join(Account, Account.id == PortalSession.account_id)
            .where(PortalSession.token_hash == digest(secret), PortalSession.expires_at > datetime.now(UTC),
                   Account.active.is_(True))
        ).scalar()


def end(engine: Engine, secret: str | None) -> None:
    if secret:
        with engine.begin() as connection:
            connection.execute(delete(PortalSession).where(PortalSession.token_hash == digest(secret)))
