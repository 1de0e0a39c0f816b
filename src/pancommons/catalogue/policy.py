"""Who may see what: the one place that decides.

Every reader of the catalogue — API lists, counts, scores, facets, included
relations, files, the portal, exports — asks this module, through the
``Visibility`` it returns, which dataset and document rows the caller may
see.  An anonymous caller sees public records: those marked public, and
those whose embargo (dataset) or release date (document) has passed — the
date is checked at query time, so data opens on the day without a job.

Accounts (their own issue) extend ``Caller`` and ``visibility_for``; nothing
else needs to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, FromClause, and_, false, or_, true


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking. ``staff`` sees everything (facility data managers)."""

    name: str | None = None
    staff: bool = False

    @property
    def cache_key(self) -> str:
        """Callers with the same key see the same records (for cached statistics)."""
        return "staff" if self.staff else "public"


ANONYMOUS = Caller()


@dataclass(frozen=True, slots=True)
class Visibility:
    caller: Caller
    now: datetime

    def dataset_public(self, alias: FromClause) -> ColumnElement[bool]:
        return or_(alias.c.is_public.is_(True), and_(alias.c.embargo_until.is_not(None), alias.c.embargo_until <= self.now))

    def document_public(self, alias: FromClause) -> ColumnElement[bool]:
        return or_(alias.c.is_public.is_(True), and_(alias.c.release_date.is_not(None), alias.c.release_date <= self.now))

    def datasets(self, alias: FromClause) -> ColumnElement[bool]:
        return true() if self.caller.staff else self.dataset_public(alias)

    # ``datasets`` split in two disjoint parts, for summaries (Catalogue.whole_catalogue): what the
    # flags alone show, which changes only when the catalogue is written, and what time has opened
    # since the flags were set — the few embargoes that passed since release_embargoed last ran.

    def datasets_by_flag(self, alias: FromClause) -> ColumnElement[bool]:
        return true() if self.caller.staff else alias.c.is_public == true()

    def datasets_opened_since(self, alias: FromClause) -> ColumnElement[bool] | None:
        """None when the flags show everything this caller sees."""
        if self.caller.staff:
            return None
        return and_(alias.c.is_public == false(), alias.c.embargo_until <= self.now)

    def documents(self, alias: FromClause) -> ColumnElement[bool]:
        return true() if self.caller.staff else self.document_public(alias)


def visibility_for(caller: Caller, now: datetime) -> Visibility:
    return Visibility(caller, now)


def is_public_dataset(is_public: bool, embargo_until: datetime | None, now: datetime) -> bool:
    """The row-level twin of ``Visibility.dataset_public``, for what the API shows as isPublic."""
    return bool(is_public) or (embargo_until is not None and embargo_until <= now)


def is_public_document(is_public: bool, release_date: datetime | None, now: datetime) -> bool:
    return bool(is_public) or (release_date is not None and release_date <= now)
