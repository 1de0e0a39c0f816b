"""The audit log: everything that changes who may see what — releases, embargo dates, roles,
tokens, accounts — and every download of data still under embargo, with who and when.

Written in the same transaction as the change it records, so a change
without its record (or the other way round) cannot happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, insert, select

from pancommons.db.account_tables import AuditEvent


@dataclass(frozen=True)
class Event:
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict


def record(connection: Connection, actor: str | None, action: str, target: str = "", **detail) -> None:
    connection.execute(insert(AuditEvent).values(
        at=datetime.now(UTC), actor=actor or "system", action=action, target=target[:1024], detail=detail,
    ))


def recent(engine: Engine, limit: int = 100, action: str | None = None, target: str | None = None) -> list[Event]:
    statement = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if action:
        statement = statement.where(AuditEvent.action == action)
    if target:
        statement = statement.where(AuditEvent.target == target)
    with engine.connect() as connection:
        return [Event(row.at, row.actor, row.action, row.target, row.detail or {})
                for row in connection.execute(statement).mappings()]
