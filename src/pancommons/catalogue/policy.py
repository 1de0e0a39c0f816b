"""Who may see what: the one place that decides.

Every reader of the catalogue — API lists, counts, scores, facets, included
relations, files, the viewer, downloads, the portal, exports — asks this
module, through the ``Visibility`` it returns, which dataset and document
rows the caller may see.

- Anyone, signed in or not, sees public records: those marked public, and
  those whose embargo (dataset) or release date (document) has passed — the
  date is checked at query time, so data opens on the day without a job.
- A proposal's members (matched by ORCID, facility user id or verified
  e-mail against the proposal's member list, see accounts/store.py caller_for) see the
  proposal and its datasets under embargo.
- An instrument scientist sees the datasets measured on their instruments,
  and the proposals those datasets belong to.
- Data managers and administrators see everything.

Who a request comes from is decided in api/auth.py; what it may see is
decided here and nowhere else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    ColumnElement,
    FromClause,
    and_,
    exists,
    false,
    not_,
    or_,
    select,
    true,
)

from pancommons.db import tables as t


class Role(StrEnum):
    DATA_MANAGER = "data-manager"
    ADMINISTRATOR = "administrator"
    INSTRUMENT_SCIENTIST = "instrument-scientist"  # of one instrument


STAFF_ROLES = frozenset({Role.DATA_MANAGER, Role.ADMINISTRATOR})


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, with what follows from it: the proposals they are a member of, the
    instruments they are scientist of, and their roles."""

    name: str | None = None  # the account's username; None for an anonymous caller
    account_id: int | None = None
    roles: frozenset[str] = frozenset()
    proposals: frozenset[int] = frozenset()  # document ids whose member list names this person
    instruments: frozenset[int] = frozenset()  # instrument ids this person is instrument scientist of
    principal_of: frozenset[int] = frozenset()  # proposals they lead (principal investigator)

    @property
    def staff(self) -> bool:
        """Data managers and administrators see everything."""
        return bool(self.roles & STAFF_ROLES)

    def may_release(self, document_id: int | None) -> bool:
        """Early release of a proposal's data: its principal investigator, or a data manager."""
        return self.staff or (document_id is not None and document_id in self.principal_of)

    @property
    def signed_in(self) -> bool:
        return self.account_id is not None

    @property
    def grants(self) -> bool:
        """Whether this caller sees some records beyond the public ones, and not all of them."""
        return not self.staff and bool(self.proposals or self.instruments)

    @property
    def cache_key(self) -> str:
        """Callers with the same key see the same records (for cached statistics and facets)."""
        if self.staff:
            return "staff"
        if not self.grants:
            return "public"
        granted = ",".join(map(str, sorted(self.proposals))) + "|" + ",".join(map(str, sorted(self.instruments)))
        return "grants:" + hashlib.sha256(granted.encode()).hexdigest()[:24]


ANONYMOUS = Caller()
SYSTEM = Caller("system", roles=frozenset({Role.ADMINISTRATOR}))  # the command line and scheduled jobs


@dataclass(frozen=True, slots=True)
class Visibility:
    caller: Caller
    now: datetime

    def dataset_public(self, alias: FromClause) -> ColumnElement[bool]:
        return or_(alias.c.is_public.is_(True), and_(alias.c.embargo_until.is_not(None), alias.c.embargo_until <= self.now))

    def document_public(self, alias: FromClause) -> ColumnElement[bool]:
        return or_(alias.c.is_public.is_(True), and_(alias.c.release_date.is_not(None), alias.c.release_date <= self.now))

    def datasets(self, alias: FromClause) -> ColumnElement[bool]:
        if self.caller.staff:
            return true()
        granted = self.datasets_granted(alias)
        public = self.dataset_public(alias)
        return public if granted is None else or_(public, granted)

    def datasets_granted(self, alias: FromClause) -> ColumnElement[bool] | None:
        """The datasets this caller sees for who they are (member, instrument scientist), public or
        not; None when that is none beyond the public ones."""
        caller = self.caller
        if not caller.grants:
            return None
        parts = []
        if caller.proposals:
            parts.append(alias.c.id.in_(
                select(t.DocumentDataset.dataset_id).where(t.DocumentDataset.document_id.in_(sorted(caller.proposals)))
            ))
        if caller.instruments:
            # "IS NOT NULL" first: NOT (NULL IN (…)) is NULL, which hid a dataset without instrument
            # from ``datasets_opened_since`` of an instrument scientist
            parts.append(and_(alias.c.instrument_id.is_not(None), alias.c.instrument_id.in_(sorted(caller.instruments))))
        return or_(*parts)

    # ``datasets`` split in disjoint parts, for summaries (Catalogue.whole_catalogue): what the
    # flags alone show, which changes only when the catalogue is written; what this caller sees
    # beyond the flags for who they are, which is theirs alone but also changes only with the
    # catalogue; and what time has opened since the flags were set — the few embargoes that
    # passed since release_embargoed last ran — counted on every request.

    def datasets_by_flag(self, alias: FromClause) -> ColumnElement[bool]:
        return true() if self.caller.staff else alias.c.is_public == true()

    def datasets_granted_beyond_flag(self, alias: FromClause) -> ColumnElement[bool] | None:
        granted = self.datasets_granted(alias)
        return None if granted is None else and_(granted, alias.c.is_public == false())

    def datasets_opened_since(self, alias: FromClause) -> ColumnElement[bool] | None:
        """None when the parts above show everything this caller sees."""
        if self.caller.staff:
            return None
        opened = and_(alias.c.is_public == false(), alias.c.embargo_until <= self.now)
        granted = self.datasets_granted(alias)
        return opened if granted is None else and_(opened, not_(granted))

    def dataset_summaries(self, alias: FromClause, facility_shows_embargoed: bool) -> ColumnElement[bool]:
        """Datasets whose summary (title, facility, instrument, proposal, release date — no files, no
        values, no people) this caller may see: those they see, and, where the facility chose to show
        what it holds (``embargoed_metadata_visible``), every other one too."""
        return true() if facility_shows_embargoed else self.datasets(alias)

    def documents(self, alias: FromClause) -> ColumnElement[bool]:
        caller = self.caller
        if caller.staff:
            return true()
        public = self.document_public(alias)
        if not caller.grants:
            return public
        parts = [public]
        if caller.proposals:
            parts.append(alias.c.id.in_(sorted(caller.proposals)))
        if caller.instruments:  # the proposals of the datasets measured on their instruments
            parts.append(exists(
                select(1).select_from(t.DocumentDataset.__table__)
                .join(t.Dataset.__table__, t.Dataset.id == t.DocumentDataset.dataset_id)
                .where(t.DocumentDataset.document_id == alias.c.id, t.Dataset.instrument_id.in_(sorted(caller.instruments)))
            ))
        return or_(*parts)


def visibility_for(caller: Caller, now: datetime) -> Visibility:
    return Visibility(caller, now)


def is_public_dataset(is_public: bool, embargo_until: datetime | None, now: datetime) -> bool:
    """The row-level twin of ``Visibility.dataset_public``, for what the API shows as isPublic."""
    return bool(is_public) or (embargo_until is not None and embargo_until <= now)


def is_public_document(is_public: bool, release_date: datetime | None, now: datetime) -> bool:
    return bool(is_public) or (release_date is not None and release_date <= now)
