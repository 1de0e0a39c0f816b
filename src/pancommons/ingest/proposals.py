"""``pancommons import-proposals``: the user office's export into the catalogue.

The format (JSON or CSV) is documented in docs/proposals-format.md.  Each
proposal is validated on its own: a bad one is reported with its position
and reason and skipped, the rest land in one transaction.  Proposals are
matched by proposal number, so importing the same export twice changes
nothing and a newer export updates in place.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from pancommons.catalogue import text_index
from pancommons.catalogue.embargo import follow_proposals
from pancommons.config import Settings
from pancommons.db.engine import database_reason
from pancommons.db.tables import Document, Member, utcnow
from pancommons.ingest.links import link_proposals
from pancommons.ingest.shared_rows import SharedRows, checked_orcid, fit
from pancommons.ingest.writer import add_years
from pancommons.model import PersonRecord
from pancommons.times import facility_zone, plausible


class ProposalFileError(ValueError):
    """The file as a whole cannot be read (the message names the file and the reason)."""


def _without_nul(value):
    return value.replace("\x00", "") if isinstance(value, str) else value


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, coerce_numbers_to_str=True)

    _clean = field_validator("*", mode="before")(classmethod(lambda cls, value: _without_nul(value)))

    name: str = Field(min_length=1, max_length=500)
    first_name: str | None = None
    last_name: str | None = None
    orcid: str | None = None
    affiliation: str | None = None
    affiliation_city: str | None = None
    affiliation_country: str | None = None
    role: str | None = None
    facility_user_id: str | None = None
    email: str | None = None

    _valid_orcid = field_validator("orcid")(classmethod(lambda cls, value: checked_orcid(value)))

    @field_validator("role")
    @classmethod
    def _snake_role(cls, value: str | None) -> str | None:
        if not value:
            return None
        return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_") or None

    @field_validator("email")
    @classmethod
    def _plausible_email(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, coerce_numbers_to_str=True)

    _clean = field_validator("*", mode="before")(classmethod(lambda cls, value: _without_nul(value)))

    @field_validator("start_date", "end_date", "release_date")
    @classmethod
    def _plausible_date(cls, value):
        if value is not None:
            moment = value if isinstance(value, datetime) else datetime.combine(value, time(0, 0))
            if not plausible(moment):
                raise ValueError(f"{value.isoformat()} is a placeholder, not a date of this proposal")
        return value

    proposal_number: str = Field(min_length=1, max_length=255)
    title: str = Field(min_length=1)
    abstract: str | None = None
    start_date: datetime | date | None = None
    end_date: datetime | date | None = None
    release_date: datetime | date | None = None
    keywords: list[str] = Field(default_factory=list)
    doi: str | None = None
    facility: str | None = None
    members: list[MemberIn] = Field(default_factory=list)


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary_line(self) -> str:
        return (
            f"created: {self.created}, updated: {self.updated}, unchanged: {self.unchanged}, "
            f"failed: {len(self.failed)}"
        )


def read_export_text(path: Path, error_class: type[ValueError]) -> str:
    """A UTF-8 export file's text (a BOM is dropped), or ``error_class`` naming the file and the reason.

    Shared by the proposal and the PaNOSC imports: both read a file someone else wrote."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise error_class(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise error_class(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise error_class(f"{path}: cannot read ({error.strerror or error})") from None


def read_export(path: Path) -> tuple[list[tuple[str, dict]], str | None]:
    """(position, raw proposal) pairs and the file's default facility."""
    text = read_export_text(path, ProposalFileError)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _read_json(text, path)
    if suffix == ".csv":
        return _read_csv(text, path), None
    raise ProposalFileError(f"{path}: unknown format {suffix or '(no suffix)'}; use .json or .csv")


def _read_json(text: str, path: Path) -> tuple[list[tuple[str, dict]], str | None]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProposalFileError(f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    facility = None
    if isinstance(data, dict):
        facility = data.get("facility")
        data = data.get("proposals")
    if not isinstance(data, list):
        raise ProposalFileError(f"{path}: expected a list of proposals or an object with a 'proposals' list")
    return [(f"proposal #{index + 1}", item) for index, item in enumerate(data)], facility


_MEMBER_COLUMNS = {
    "member_name": "name",
    "member_first_name": "first_name",
    "member_last_name": "last_name",
    "member_orcid": "orcid",
    "member_affiliation": "affiliation",
    "member_affiliation_city": "affiliation_city",
    "member_affiliation_country": "affiliation_country",
    "member_role": "role",
    "member_facility_user_id": "facility_user_id",
    "member_email": "email",
}
_PROPOSAL_COLUMNS = ("proposal_number", "title", "abstract", "start_date", "end_date", "release_date", "keywords", "doi", "facility")


def _read_csv(text: str, path: Path) -> list[tuple[str, dict]]:
    reader = csv.DictReader(io.StringIO(text))
    columns = set(reader.fieldnames or [])
    missing = {"proposal_number", "title"} - columns
    if missing:
        raise ProposalFileError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    unknown = columns - set(_PROPOSAL_COLUMNS) - set(_MEMBER_COLUMNS)
    if unknown:
        raise ProposalFileError(f"{path}: unknown column(s) {', '.join(sorted(unknown))}")
    proposals: dict[str, tuple[str, dict]] = {}
    for line, row in enumerate(reader, start=2):
        number = (row.get("proposal_number") or "").strip()
        if number not in proposals:
            proposal = {key: row[key] for key in _PROPOSAL_COLUMNS if row.get(key)}
            if "keywords" in proposal:
                proposal["keywords"] = [word.strip() for word in proposal["keywords"].split(";") if word.strip()]
            proposal["members"] = []
            proposals[number] = (f"line {line}", proposal)
        member = {field_name: row[column] for column, field_name in _MEMBER_COLUMNS.items() if row.get(column)}
        if member:
            proposals[number][1]["members"].append(member)
    return list(proposals.values())


def _moment(value: datetime | date | None, zone: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0, 0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=facility_zone(zone))
    return value.astimezone(UTC)


def import_proposals(path: Path, settings: Settings, engine: Engine) -> ImportReport:
    raw, file_facility = read_export(path)
    report = ImportReport()
    valid: list[tuple[str, ProposalIn]] = []
    seen_numbers: set[str] = set()
    for position, item in raw:
        try:
            proposal = ProposalIn.model_validate(item)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in problem['loc']) or 'proposal'}: {problem['msg']}"
                for problem in error.errors()
            )
            report.failed.append((position, problems))
            continue
        if proposal.proposal_number in seen_numbers:
            report.failed.append((position, f"proposal_number {proposal.proposal_number!r} appears twice"))
            continue
        seen_numbers.add(proposal.proposal_number)
        valid.append((position, proposal))
    rows = SharedRows(settings)
    with engine.begin() as connection:
        touched: list[int] = []
        for position, proposal in valid:
            try:
                with connection.begin_nested():  # one proposal the database refuses costs only itself
                    outcome, document_id = _upsert(connection, rows, proposal, file_facility, settings)
            except (OperationalError, InterfaceError):
                raise
            except (SQLAlchemyError, ValueError, OverflowError) as error:
                rows.forget()
                report.failed.append((position, f"the catalogue could not store it: {database_reason(error)}"))
                continue
            setattr(report, outcome, getattr(report, outcome) + 1)
            if outcome != "unchanged":
                touched.append(document_id)
        link_proposals(connection, document_ids=touched)
        follow_proposals(connection, document_ids=touched)
        text_index.refresh_documents_with_datasets(connection, touched)
    return report


def _upsert(connection, rows: SharedRows, proposal: ProposalIn, file_facility: str | None, settings: Settings):
    zone = settings.facility_timezone
    facility = proposal.facility or file_facility or settings.facility or None
    end = _moment(proposal.end_date, zone)
    release = _moment(proposal.release_date, zone) or (add_years(end, settings.embargo_years) if end else None)
    values = fit(Document, {
        "type": "proposal",
        "proposal_number": proposal.proposal_number,
        "title": proposal.title,
        "summary": proposal.abstract,
        "doi": proposal.doi,
        "facility": facility,
        "start_date": _moment(proposal.start_date, zone),
        "end_date": end,
        "release_date": release,
        "license": settings.default_license,
        "keywords": proposal.keywords,
        "is_public": bool(release and release <= datetime.now(UTC)),
    })
    members = [
        (
            rows.person_id(
                connection,
                PersonRecord(
                    full_name=member.name,
                    first_name=member.first_name,
                    last_name=member.last_name,
                    orcid=member.orcid,
                    email=member.email,
                    facility_user_id=member.facility_user_id,
                ),
                facility,
            ),
            rows.affiliation_id(connection, member.affiliation, member.affiliation_city, member.affiliation_country),
            member.role,
        )
        for member in proposal.members
    ]
    existing = connection.execute(
        select(Document).where(Document.proposal_number == proposal.proposal_number)
    ).one_or_none()
    if existing is None:
        document_id = connection.execute(
            insert(Document)
            .values(pid=f"{rows.prefix}/proposal/{proposal.proposal_number}", **values)
            .returning(Document.id)
        ).scalar_one()
        _replace_members(connection, document_id, members)
        return "created", document_id
    current_members = [
        (row.person_id, row.affiliation_id, row.role)
        for row in connection.execute(select(Member).where(Member.document_id == existing.id))
    ]
    if existing.release_decided:  # a person moved this proposal's date (early release): the export does not move it back
        values.pop("release_date")
        values.pop("is_public")
    same = all(getattr(existing, key) == value for key, value in values.items()) and sorted(
        current_members, key=_member_order
    ) == sorted(members, key=_member_order)
    if same:
        return "unchanged", existing.id
    connection.execute(update(Document).where(Document.id == existing.id).values(**values, updated_at=utcnow()))
    _replace_members(connection, existing.id, members)
    return "updated", existing.id


def _member_order(member: tuple) -> tuple:
    person, affiliation, role = member
    return person, affiliation or 0, role or ""


def _replace_members(connection, document_id: int, members) -> None:
    connection.execute(delete(Member).where(Member.document_id == document_id))
    if members:
        connection.execute(
            insert(Member),
            [
                fit(Member, {"document_id": document_id, "person_id": person, "affiliation_id": affiliation, "role": role})
                for person, affiliation, role in members
            ],
        )
