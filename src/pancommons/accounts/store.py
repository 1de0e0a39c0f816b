"""Accounts and their roles: made by an administrator (local accounts, the command line) or on
first sign-in through the OpenID provider, and who each one is to the catalogue (``caller_for``)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from pancommons.accounts import audit
from pancommons.accounts.secrets import hash_password, verify_password
from pancommons.catalogue.policy import Caller, Role
from pancommons.db import tables as t
from pancommons.db.account_tables import Account, AccountRole
from pancommons.ingest.shared_rows import checked_orcid

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
RESERVED = frozenset({"system", "anonymous", "admin", "root"})  # names the audit log uses for no person
PRINCIPAL_ROLES = frozenset({"principal_investigator", "pi", "main_proposer", "proposer"})  # may release early


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why."""


@dataclass(frozen=True)
class Identity:
    """What an OpenID provider (or an administrator) says about a person."""

    display_name: str = ""
    email: str | None = None
    email_verified: bool = False
    orcid: str | None = None
    facility_user_id: str | None = None


def checked_username(username: str) -> str:
    if not USERNAME.fullmatch(username or ""):
        raise AccountError(f"username {username!r}: use 1–64 letters, digits and . _ @ + - (starting with a letter or digit)")
    if username.lower() in RESERVED:
        raise AccountError(f"username {username!r} is reserved")
    return username


def create_local(engine: Engine, username: str, password: str | None, identity: Identity, actor: str = "system") -> int:
    """A local account (the embedded default, or a service account); its id."""
    checked_username(username)
    if password is not None and len(password) < 8:
        raise AccountError("password: at least 8 characters")
    orcid = _orcid(identity.orcid)
    try:
        with engine.begin() as connection:
            account_id = connection.execute(insert(Account).values(
                username=username, display_name=identity.display_name or username, email=identity.email,
                email_verified=bool(identity.email and identity.email_verified), orcid=orcid,
                facility_user_id=identity.facility_user_id,
                password_hash=hash_password(password) if password else None, active=True,
                created_at=datetime.now(UTC),
            )).inserted_primary_key[0]
            audit.record(connection, actor, "account-created", username, kind="local")
    except IntegrityError:
        raise AccountError(f"username {username!r} is taken") from None
    return account_id


def set_password(engine: Engine, username: str, password: str, actor: str = "system") -> None:
    if len(password) < 8:
        raise AccountError("password: at least 8 characters")
    with engine.begin() as connection:
        done = connection.execute(update(Account).where(Account.username == username).values(
            password_hash=hash_password(password)))
        if not done.rowcount:
            raise AccountError(f"there is no account {username!r}")
        audit.record(connection, actor, "password-set", username)


def authenticate_local(engine: Engine, username: str, password: str) -> int | None:
    """The id of the active local account with this username and password, else None."""
    with engine.connect() as connection:
        row = connection.execute(
            select(Account.id, Account.password_hash).where(Account.username == username, Account.active.is_(True))
        ).first()
    if not verify_password(password, row.password_hash if row else None):
        return None
    _signed_in(engine, row.id)
    return row.id


def has_local_accounts(engine: Engine) -> bool:
    """Whether the login page offers the username and password form."""
    with engine.connect() as connection:
        return connection.execute(select(Account.id).where(Account.password_hash.is_not(None)).limit(1)).first() is not None


def sign_in_from_provider(engine: Engine, issuer: str, subject: str, identity: Identity, preferred: str | None) -> int | None:
    """The account of the person the provider vouched for, made on their first sign-in and brought up
    to date on every one (a new ORCID or e-mail at the provider changes what they see here).
    None when the account was deactivated."""
    values = {"display_name": identity.display_name or preferred or subject, "email": identity.email,
              "email_verified": bool(identity.email and identity.email_verified),
              "orcid": _orcid(identity.orcid), "facility_user_id": identity.facility_user_id,
              "last_login_at": datetime.now(UTC)}
    with engine.begin() as connection:
        row = connection.execute(
            select(Account.id, Account.active).where(Account.issuer == issuer, Account.subject == subject)
        ).first()
        if row is not None:
            connection.execute(update(Account).where(Account.id == row.id).values(**values))
            return row.id if row.active else None
        username = _free_username(connection, preferred or (identity.email or "").split("@")[0] or subject)
        account_id = connection.execute(insert(Account).values(
            username=username, issuer=issuer, subject=subject, active=True, created_at=datetime.now(UTC), **values,
        )).inserted_primary_key[0]
        audit.record(connection, username, "account-created", username, kind="openid", issuer=issuer)
    return account_id


def account_for_subject(engine: Engine, issuer: str, subject: str) -> int | None:
    """The account of an API caller bearing the provider's token (None: none yet, or deactivated)."""
    with engine.connect() as connection:
        row = connection.execute(
            select(Account.id, Account.active).where(Account.issuer == issuer, Account.subject == subject)
        ).first()
    if row is not None:
        return row.id if row.active else None
    return None


def grant(engine: Engine, username: str, role: str, instrument: str | None = None, actor: str = "system") -> None:
    role = _role(role, instrument)
    with engine.begin() as connection:
        account_id = _account_id(connection, username)
        instrument_id = _instrument_id(connection, instrument) if role == Role.INSTRUMENT_SCIENTIST else None
        held = connection.execute(select(AccountRole.id).where(
            AccountRole.account_id == account_id, AccountRole.role == role.value,
            AccountRole.instrument_id.is_(None) if instrument_id is None else AccountRole.instrument_id == instrument_id,
        )).first()
        if held is None:
            connection.execute(insert(AccountRole).values(account_id=account_id, role=role.value, instrument_id=instrument_id))
            audit.record(connection, actor, "role-granted", username, role=role.value, instrument=instrument)


def revoke(engine: Engine, username: str, role: str, instrument: str | None = None, actor: str = "system") -> None:
    role = _role(role, instrument)
    with engine.begin() as connection:
        account_id = _account_id(connection, username)
        instrument_id = _instrument_id(connection, instrument) if role == Role.INSTRUMENT_SCIENTIST else None
        done = connection.execute(delete(AccountRole).where(
            AccountRole.account_id == account_id, AccountRole.role == role.value,
            AccountRole.instrument_id.is_(None) if instrument_id is None else AccountRole.instrument_id == instrument_id,
        ))
        if not done.rowcount:
            raise AccountError(f"{username} does not hold {role.value}" + (f" of {instrument}" if instrument else ""))
        audit.record(connection, actor, "role-revoked", username, role=role.value, instrument=instrument)


def set_active(engine: Engine, username: str, active: bool, actor: str = "system") -> None:
    """Deactivate (or reactivate) an account: its sessions and tokens stop working at once."""
    with engine.begin() as connection:
        account_id = _account_id(connection, username)
        connection.execute(update(Account).where(Account.id == account_id).values(active=active))
        audit.record(connection, actor, "account-activated" if active else "account-deactivated", username)


@dataclass(frozen=True)
class AccountView:
    username: str
    display_name: str
    email: str | None
    orcid: str | None
    facility_user_id: str | None
    local: bool
    active: bool
    roles: tuple[str, ...]


def list_accounts(engine: Engine) -> list[AccountView]:
    with engine.connect() as connection:
        roles: dict[int, list[str]] = {}
        for account_id, role, instrument in connection.execute(
            select(AccountRole.account_id, AccountRole.role, t.Instrument.pid)
            .outerjoin(t.Instrument, t.Instrument.id == AccountRole.instrument_id)
        ):
            roles.setdefault(account_id, []).append(f"{role}:{instrument}" if instrument else role)
        return [
            AccountView(row.username, row.display_name, row.email, row.orcid, row.facility_user_id,
                        row.issuer is None, row.active, tuple(sorted(roles.get(row.id, []))))
            for row in connection.execute(select(Account).order_by(Account.username)).mappings()
        ]


def caller_for(engine: Engine, account_id: int) -> Caller | None:
    """Who an account is to the catalogue: its roles, the proposals whose member list names the
    person, and the instruments they are scientist of.  None for an unknown or inactive account.

    A person is recognised by their ORCID, their facility user id, or an e-mail address the
    provider verified — never by name, and never by an address nobody vouched for (anyone can
    type someone else's address into an account at an open identity provider).
    """
    with engine.connect() as connection:
        account = connection.execute(select(Account).where(Account.id == account_id)).mappings().first()
        if account is None or not account["active"]:
            return None
        roles, instruments = set(), set()
        for role, instrument_id in connection.execute(
            select(AccountRole.role, AccountRole.instrument_id).where(AccountRole.account_id == account_id)
        ):
            roles.add(role)
            if role == Role.INSTRUMENT_SCIENTIST and instrument_id is not None:
                instruments.add(instrument_id)
        matches = []
        if account["orcid"]:
            matches.append(t.Person.orcid == account["orcid"])
        if account["facility_user_id"]:
            matches.append(t.Person.facility_user_id == account["facility_user_id"])
        if account["email"] and account["email_verified"]:
            key = "email-sha256:" + hashlib.sha256(account["email"].strip().lower().encode()).hexdigest()
            matches.append(t.Person.id.in_(select(t.PersonIdentifier.person_id).where(t.PersonIdentifier.key == key)))
        proposals, principal_of = set(), set()
        if matches:
            for document_id, role in connection.execute(
                select(t.Member.document_id, t.Member.role)
                .join(t.Person, t.Person.id == t.Member.person_id)
                .where(or_(*matches), t.Member.document_id.is_not(None))
            ):
                proposals.add(document_id)
                if (role or "").lower() in PRINCIPAL_ROLES:
                    principal_of.add(document_id)
    return Caller(account["username"], account_id, frozenset(roles), frozenset(proposals), frozenset(instruments),
                  frozenset(principal_of))


def _signed_in(engine: Engine, account_id: int) -> None:
    with engine.begin() as connection:
        connection.execute(update(Account).where(Account.id == account_id).values(last_login_at=datetime.now(UTC)))


def _orcid(value: str | None) -> str | None:
    try:
        return checked_orcid(value)  # the canonical form the proposals' members are stored in
    except ValueError as reason:
        raise AccountError(str(reason)) from None


def _role(role: str, instrument: str | None) -> Role:
    try:
        found = Role(role)
    except ValueError:
        raise AccountError(f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}") from None
    if (found == Role.INSTRUMENT_SCIENTIST) != bool(instrument):
        raise AccountError("an instrument scientist is of one instrument: give --instrument (and only for that role)")
    return found


def _account_id(connection: Connection, username: str) -> int:
    found = connection.execute(select(Account.id).where(Account.username == username)).scalar()
    if found is None:
        raise AccountError(f"there is no account {username!r}")
    return found


def _instrument_id(connection: Connection, instrument: str | None) -> int:
    found = connection.execute(
        select(t.Instrument.id).where(or_(t.Instrument.pid == instrument, t.Instrument.name == instrument))
        .order_by(t.Instrument.id).limit(2)
    ).scalars().all()
    if len(found) != 1:
        raise AccountError(f"instrument {instrument!r}: " + ("no such instrument" if not found else
                                                             "several instruments have that name; give its pid"))
    return found[0]


def _free_username(connection: Connection, wanted: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._@+-]+", "-", str(wanted)).strip("-._")[:56] or "user"
    if not base[0].isalnum():
        base = "u" + base
    if base.lower() in RESERVED:
        base = f"{base}-user"
    candidate, number = base, 1
    while connection.execute(select(Account.id).where(Account.username == candidate)).first() is not None:
        number += 1
        candidate = f"{base}-{number}"
    return candidate
