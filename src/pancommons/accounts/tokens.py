"""Personal API tokens for scripts and notebooks: shown once when made, kept as a hash,
expiring, revocable.  ``Authorization: Bearer pct_…`` on any API call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from pancommons.accounts import audit
from pancommons.accounts.secrets import API_TOKEN_PREFIX, digest, new_secret
from pancommons.accounts.store import AccountError
from pancommons.db.account_tables import Account, ApiToken

MAX_DAYS = 366
MAX_ACTIVE = 50  # per account: enough for every notebook, few enough to review
USED_PRECISION = timedelta(minutes=5)  # last use is written at most this often (a busy script writes little)


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    hint: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= datetime.now(UTC) else "active"


def create(engine: Engine, account_id: int, name: str, days: int, actor: str) -> tuple[str, TokenView]:
    """A new token (its text, to show once, and its record)."""
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= 100:
        raise AccountError("token name: 1–100 characters, so you can tell your tokens apart")
    if not 1 <= days <= MAX_DAYS:
        raise AccountError(f"token lifetime: 1–{MAX_DAYS} days")
    secret = new_secret(API_TOKEN_PREFIX)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        active = connection.execute(select(ApiToken.id).where(
            ApiToken.account_id == account_id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)).all()
        if len(active) >= MAX_ACTIVE:
            raise AccountError(f"you have {MAX_ACTIVE} active tokens: revoke one first")
        values = {"account_id": account_id, "name": name, "token_hash": digest(secret),
                  "hint": secret[: len(API_TOKEN_PREFIX) + 4], "created_at": now, "expires_at": now + timedelta(days=days)}
        token_id = connection.execute(insert(ApiToken).values(**values)).inserted_primary_key[0]
        audit.record(connection, actor, "token-created", name, token=token_id, expires=values["expires_at"].isoformat())
    return secret, TokenView(token_id, name, values["hint"], now, values["expires_at"], None, None)


def account_of(engine: Engine, secret: str, writer: Engine | None = None) -> int | None:
    """The active account a token belongs to, if the token is known, unexpired and not revoked
    (looked up on ``engine``; its last use written through ``writer``, when given, else ``engine``)."""
    now = datetime.now(UTC)
    with engine.connect() as connection:
        row = connection.execute(
            select(ApiToken.id, ApiToken.account_id, ApiToken.last_used_at)
            .join(Account, Account.id == ApiToken.account_id)
            .where(ApiToken.token_hash == digest(secret), ApiToken.revoked_at.is_(None), ApiToken.expires_at > now,
                   Account.active.is_(True))
        ).first()
    if row is None:
        return None
    if row.last_used_at is None or now - row.last_used_at > USED_PRECISION:
        with (writer or engine).begin() as connection:
            connection.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return row.account_id


def of_account(engine: Engine, account_id: int) -> list[TokenView]:
    with engine.connect() as connection:
        return [
            TokenView(row.id, row.name, row.hint, row.created_at, row.expires_at, row.revoked_at, row.last_used_at)
            for row in connection.execute(
                select(ApiToken.__table__).where(ApiToken.account_id == account_id)
                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
            )
        ]


def revoke(engine: Engine, account_id: int | None, token_id: int, actor: str) -> None:
    """Revoke one of an account's tokens (``account_id`` None: any account's, for an administrator)."""
    with engine.begin() as connection:
        statement = update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        if account_id is not None:
            statement = statement.where(ApiToken.account_id == account_id)
        done = connection.execute(statement.values(revoked_at=datetime.now(UTC)))
        if not done.rowcount:
            raise AccountError(f"there is no active token {token_id} of yours")
        audit.record(connection, actor, "token-revoked", str(token_id), token=token_id)
