"""Who uses the commons: accounts, their roles, portal sessions, personal API tokens, and the
audit log of everything that changes access.

An account is a person as the commons knows them: signed in through the
facility's OpenID provider (issuer + subject) or, for the embedded default,
with a local password.  What they may see is not stored here: it follows
from the proposals' member lists (by ORCID, facility user id or verified
e-mail) and the roles below, decided in catalogue/policy.py.  Secrets are
stored as hashes only: a session cookie, an API token or a password cannot
be read back from the database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pancommons.db.tables import Base, UTCDateTime, utcnow


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)  # local login, or derived from the provider's
    display_name: Mapped[str] = mapped_column(String(500), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    # Membership by e-mail only counts for an address the provider (or an administrator) vouched for.
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    orcid: Mapped[str | None] = mapped_column(String(19))
    facility_user_id: Mapped[str | None] = mapped_column(String(255))
    issuer: Mapped[str | None] = mapped_column(String(1024))  # None: a local account
    subject: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AccountRole(Base):
    """A role given to an account: ``data-manager``, ``administrator``, or ``instrument-scientist``
    of one instrument."""

    __tablename__ = "account_roles"
    __table_args__ = (UniqueConstraint("account_id", "role", "instrument_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"))


class PortalSession(Base):
    __tablename__ = "portal_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the cookie's value
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A personal API token for scripts and notebooks: shown once, stored hashed, expiring, revocable."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))  # the token's first characters, to tell tokens apart in a list
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Something that changed who may see what, or a download of data still under embargo."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255))  # an account's username, or "system"
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(1024), default="")  # a pid, a username, a token's name …
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
