"""The user-office export: JSON and CSV, validated per proposal, idempotent, linked to datasets."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from pancommons.db.tables import Affiliation, Dataset, Document, DocumentDataset, Member, Person
from pancommons.ingest.pipeline import ingest
from pancommons.ingest.proposals import ProposalFileError, import_proposals
from tests import nexus_files as nx

ADA = {
    "name": "Ada Lovelace",
    "orcid": "https://orcid.org/0000-0002-1825-0097",
    "affiliation": "University of Tromsø",
    "affiliation_city": "Tromsø",
    "affiliation_country": "Norway",
    "role": "Principal Investigator",
    "facility_user_id": "u10042",
    "email": "ada@example.org",
}
PROPOSALS = {
    "facility": "NLS",
    "proposals": [
        {
            "proposal_number": "P-2020-001",
            "title": "Cryo-structures of lysozyme",
            "abstract": "We propose to measure ...",
            "start_date": "2020-05-01",
            "end_date": "2020-05-03",
            "keywords": ["lysozyme", "MX"],
            "members": [ADA, {"name": "Charles Babbage", "role": "co-investigator", "email": "cb@example.org"}],
        },
        {"proposal_number": "P-2024-777", "title": "Still under embargo", "end_date": "2099-01-01"},
    ],
}


def write_json(path, data) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def test_json_import_is_idempotent_and_updates_in_place(settings, engine, tmp_path):
    export = tmp_path / "proposals.json"
    write_json(export, PROPOSALS)
    report = import_proposals(export, settings, engine)
    assert (report.created, report.updated, report.unchanged, report.failed) == (2, 0, 0, [])
    with engine.connect() as c:
        document = c.execute(select(Document).where(Document.proposal_number == "P-2020-001")).one()
        members = c.execute(
            select(Person.full_name, Person.orcid, Person.email, Member.role, Affiliation.city)
            .join(Member, Member.person_id == Person.id)
            .outerjoin(Affiliation, Affiliation.id == Member.affiliation_id)
            .where(Member.document_id == document.id)
            .order_by(Person.full_name)
        ).all()
        embargoed = c.execute(select(Document.is_public).where(Document.proposal_number == "P-2024-777")).scalar_one()
    assert document.summary == "We propose to measure ..." and document.keywords == ["lysozyme", "MX"]
    assert document.facility == "NLS" and document.type == "proposal"
    assert document.release_date == datetime(2023, 5, 3, tzinfo=timezone.utc)  # end + 3 years
    assert document.is_public is True and embargoed is False
    assert [tuple(m) for m in members] == [
        ("Ada Lovelace", "0000-0002-1825-0097", "ada@example.org", "principal_investigator", "Tromsø"),
        ("Charles Babbage", None, "cb@example.org", "co_investigator", None),
    ]

    again = import_proposals(export, settings, engine)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)

    changed = json.loads(json.dumps(PROPOSALS))
    changed["proposals"][0]["title"] = "Cryo-structures of lysozyme mutants"
    changed["proposals"][0]["members"] = [ADA]
    write_json(export, changed)
    third = import_proposals(export, settings, engine)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 1)
    with engine.connect() as c:
        assert c.execute(select(func.count(Member.id)).where(Member.document_id == document.id)).scalar_one() == 1
        assert c.execute(select(func.count(Document.id))).scalar_one() == 2


def test_csv_export_one_row_per_member(settings, engine, tmp_path):
    export = tmp_path / "proposals.csv"
    export.write_text(
        "proposal_number,title,end_date,keywords,member_name,member_orcid,member_role,member_email\n"
        "P-1,Powder study,2019-01-01,powder;neutron,Ada Lovelace,0000-0002-1825-0097,PI,ada@example.org\n"
        "P-1,Powder study,2019-01-01,powder;neutron,Charles Babbage,,local contact,\n"
        "P-2,No members,,,,,,\n",
        encoding="utf-8",
    )
    report = import_proposals(export, settings, engine)
    assert (report.created, report.failed) == (2, [])
    with engine.connect() as c:
        roles = c.execute(
            select(Member.role).join(Document, Document.id == Member.document_id)
            .where(Document.proposal_number == "P-1").order_by(Member.role)
        ).scalars().all()
        keywords = c.execute(select(Document.keywords).where(Document.proposal_number == "P-1")).scalar_one()
    assert roles == ["local_contact", "pi"] and keywords == ["powder", "neutron"]


def test_bad_proposals_are_reported_and_the_others_land(settings, engine, tmp_path):
    export = tmp_path / "proposals.json"
    write_json(export, [
        {"proposal_number": "OK-1", "title": "fine"},
        {"title": "no number"},
        {"proposal_number": "BAD-ORCID", "title": "x", "members": [{"name": "X", "orcid": "0000-0002-1825-0098"}]},
        {"proposal_number": "BAD-DATE", "title": "x", "end_date": "next tuesday"},
        {"proposal_number": "OK-1", "title": "duplicate"},
        {"proposal_number": "EXTRA", "title": "x", "budget": 12},
    ])
    report = import_proposals(export, settings, engine)
    assert report.created == 1
    reasons = dict(report.failed)
    assert set(reasons) == {"proposal #2", "proposal #3", "proposal #4", "proposal #5", "proposal #6"}
    assert "proposal_number: Field required" in reasons["proposal #2"]
    assert "members.0.orcid" in reasons["proposal #3"] and "checksum" in reasons["proposal #3"]
    assert "end_date" in reasons["proposal #4"]
    assert "appears twice" in reasons["proposal #5"]
    assert "budget: Extra inputs are not permitted" in reasons["proposal #6"]


@pytest.mark.parametrize(
    "content, suffix, message",
    [
        ("{not json", ".json", "invalid JSON at line 1"),
        ('{"items": []}', ".json", "expected a list of proposals"),
        ("title\nx\n", ".csv", "missing column(s) proposal_number"),
        ("proposal_number,title,colour\n1,x,red\n", ".csv", "unknown column(s) colour"),
        ("a;b", ".xlsx", "unknown format .xlsx"),
    ],
)
def test_unreadable_exports_name_the_file_and_reason(settings, engine, tmp_path, content, suffix, message):
    export = tmp_path / f"export{suffix}"
    export.write_text(content)
    with pytest.raises(ProposalFileError, match=f"{export}.*") as error:
        import_proposals(export, settings, engine)
    assert message in str(error.value)


@pytest.mark.parametrize("proposals_first", [True, False])
def test_datasets_link_to_proposals_whichever_comes_first(settings, engine, data_root, tmp_path, proposals_first):
    export = tmp_path / "proposals.json"
    write_json(export, PROPOSALS)
    nx.write_nexus(data_root / "a.nxs", proposal="P-2020-001")
    nx.write_nexus(data_root / "b.nxs", proposal="P-2020-001", title="second")
    nx.write_nexus(data_root / "c.nxs", proposal="UNKNOWN-9")
    steps = [lambda: import_proposals(export, settings, engine), lambda: ingest([str(data_root)], settings, engine, workers=1)]
    for step in steps if proposals_first else reversed(steps):
        step()
    steps[0]()  # a second import adds no duplicate links
    with engine.connect() as c:
        linked = c.execute(
            select(Document.proposal_number, Dataset.title)
            .join(DocumentDataset, DocumentDataset.document_id == Document.id)
            .join(Dataset, Dataset.id == DocumentDataset.dataset_id)
            .order_by(Dataset.title)
        ).all()
    assert [tuple(row) for row in linked] == [("P-2020-001", "Lysozyme crystal 1"), ("P-2020-001", "second")]


def test_visit_identifiers_map_to_proposals_with_the_facility_pattern(settings, engine, data_root, tmp_path):
    settings = settings.model_copy(update={"proposal_id_pattern": r"^(?P<proposal>[a-z]{2}\d+)-\d+$"})
    write_json(tmp_path / "p.json", [{"proposal_number": "mt9396", "title": "Mapping"}])
    import_proposals(tmp_path / "p.json", settings, engine)
    nx.write_nexus(data_root / "visit.nxs", proposal="mt9396-1")
    ingest([str(data_root)], settings, engine, workers=1)
    with engine.connect() as c:
        assert c.execute(select(Dataset.proposal_number)).scalar_one() == "mt9396"
        assert c.execute(select(func.count()).select_from(DocumentDataset)).scalar_one() == 1


def test_a_person_named_by_file_and_proposal_is_one_person_and_the_address_stays_private(settings, engine, data_root, tmp_path):
    from sqlalchemy import MetaData, String, Text

    write_json(tmp_path / "p.json", [{"proposal_number": "P-2020-001", "title": "t", "members": [
        {"name": "Ada Lovelace", "orcid": "0000-0002-1825-0097", "facility_user_id": "u1", "email": "ada@example.org"}]}])
    # the file knows her only by her facility user id; another user only by an e-mail login
    nx.write_nexus(data_root / "a.nxs", users=[{"name": "A. Lovelace", "facility_user_id": "u1"},
                                               {"name": "Bob", "username": "bob@example.org"}])
    ingest([str(data_root)], settings, engine, workers=1)
    import_proposals(tmp_path / "p.json", settings, engine)
    with engine.connect() as c:
        people = c.execute(select(Person.id, Person.full_name, Person.orcid, Person.email).order_by(Person.id)).all()
        addresses_elsewhere = []
        metadata = MetaData()
        metadata.reflect(c)
        for table in metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, (String, Text)) and not (table.name == "persons" and column.name == "email"):
                    hits = c.execute(select(column).where(column.like("%@example.org%"))).scalars().all()
                    addresses_elsewhere += [(table.name, column.name, hit) for hit in hits]
    assert [(p.full_name, p.orcid, p.email) for p in people] == [
        ("A. Lovelace", "0000-0002-1825-0097", "ada@example.org"),  # the file's row, completed by the proposal
        ("Bob", None, "bob@example.org"),
    ]
    assert addresses_elsewhere == []


def test_nul_bytes_and_numeric_numbers_are_accepted(settings, engine, tmp_path):
    export = tmp_path / "p.json"
    write_json(export, [{"proposal_number": 20230042, "title": "with a NUL \u0000 inside"},
                        {"proposal_number": "P-5", "title": "innocent"}])
    report = import_proposals(export, settings, engine)
    assert (report.created, report.failed) == (2, [])
    with engine.connect() as c:
        titles = dict(c.execute(select(Document.proposal_number, Document.title)).all())
    assert titles == {"20230042": "with a NUL  inside", "P-5": "innocent"}


def test_people_named_several_times_in_one_batch_are_one_person_each(settings, engine, data_root):
    ada_full = {"name": "Ada Lovelace", "ORCID": "0000-0002-1825-0097", "facility_user_id": "u1"}
    ada_short = {"name": "A. Lovelace", "facility_user_id": "u1"}  # shares only the user id
    bob = {"name": "Bob", "email": "bob@example.org"}
    nx.write_nexus(data_root / "a.nxs", users=[ada_full, bob])
    nx.write_nexus(data_root / "b.nxs", users=[ada_short, bob])
    nx.write_nexus(data_root / "c.nxs", users=[{"name": "Jan"}, {"name": "Jan"}])  # a name, nothing else
    ingest([str(data_root)], settings, engine, workers=1)  # one batch
    with engine.connect() as c:
        people = c.execute(select(Person.full_name, Person.orcid, Person.facility_user_id).order_by(Person.full_name)).all()
        members = c.execute(select(func.count(Member.id))).scalar_one()
    assert [tuple(p) for p in people] == [
        ("Ada Lovelace", "0000-0002-1825-0097", "u1"),
        ("Bob", None, None),
        ("Jan", None, None),
    ]
    assert members == 6


def test_a_shared_mailbox_does_not_merge_people_and_facilities_do_not_split_them(settings, engine, data_root):
    mailbox = "bl13-users@example.org"
    nx.write_nexus(data_root / "a.nxs", users=[
        {"name": "Ada Lovelace", "ORCID": "0000-0002-1825-0097", "email": mailbox},
        {"name": "Bob Babbage", "ORCID": "0000-0001-5109-3700", "email": mailbox},
    ])
    ingest([str(data_root)], settings.model_copy(update={"facility": ""}), engine, workers=1)
    # the same Ada with user ids at two facilities: still one person
    from pancommons.ingest.shared_rows import SharedRows
    from pancommons.model import PersonRecord

    rows = SharedRows(settings.model_copy(update={"facility": ""}))
    with engine.begin() as c:
        first = rows.person_id(c, PersonRecord("Ada Lovelace", orcid="0000-0002-1825-0097", facility_user_id="u1"), "NLS")
        second = rows.person_id(c, PersonRecord("Ada Lovelace", orcid="0000-0002-1825-0097", facility_user_id="u9"), "KNS")
        names = c.execute(select(Person.full_name).order_by(Person.full_name)).scalars().all()
    assert first == second
    assert names == ["Ada Lovelace", "Bob Babbage"]


def test_what_a_later_record_adds_is_kept_within_one_batch(settings, engine, data_root):
    nx.write_nexus(data_root / "a.nxs", users=[{"name": "Ada", "facility_user_id": "u1"}])
    nx.write_nexus(data_root / "b.nxs", users=[{"name": "Ada", "facility_user_id": "u1", "ORCID": "0000-0002-1825-0097",
                                                "email": "ada@example.org"}])
    ingest([str(data_root)], settings, engine, workers=1)  # both files in one batch
    with engine.connect() as c:
        people = c.execute(select(Person.orcid, Person.email)).all()
    assert [tuple(p) for p in people] == [("0000-0002-1825-0097", "ada@example.org")]


def test_placeholder_dates_reject_that_proposal_only(settings, engine, tmp_path):
    export = tmp_path / "p.json"
    write_json(export, [{"proposal_number": "OLD", "title": "t", "start_date": "0001-01-01"},
                        {"proposal_number": "REL", "title": "t", "release_date": "0001-01-01"},
                        {"proposal_number": "OK", "title": "t", "end_date": "2020-01-01"}])
    settings = settings.model_copy(update={"facility_timezone": "Europe/Berlin"})
    report = import_proposals(export, settings, engine)
    assert report.created == 1
    assert {position for position, _ in report.failed} == {"proposal #1", "proposal #2"}
    assert all("placeholder" in reason for _, reason in report.failed)
