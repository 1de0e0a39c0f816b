"""The PaNOSC reference fixture (LoopBack memory-connector JSON) into the catalogue:
concrete rows, idempotent re-import, updates in place, bad input reported per record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pancommons.db import tables as t
from pancommons.ingest.panosc_import import (
    IMPORTED_DATA_ROOT,
    PanoscImportError,
    Problem,
    import_panosc,
    imported_file_path,
)

FIXTURE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "panosc-reference" / "db.json"
ELECTRONVOLT = 1.602176634e-19  # J, exact since the 2019 SI


@pytest.fixture
def fixture_file() -> Path:
    if not FIXTURE.exists():
        pytest.skip(f"the PaNOSC reference fixture {FIXTURE} is absent (a fresh clone without ../shared)")
    return FIXTURE


def write_dump(path: Path, models: dict[str, list[dict | str]]) -> Path:
    """A LoopBack memory-connector file: each record a JSON string under a key of its own."""
    path.write_text(
        json.dumps(
            {
                "ids": {name: len(records) + 1 for name, records in models.items()},
                "models": {
                    name: {
                        str(index + 1): record if isinstance(record, str) else json.dumps(record)
                        for index, record in enumerate(records)
                    }
                    for name, records in models.items()
                },
            }
        ),
        encoding="utf-8",
    )
    return path


def small_dump(**changes: list[dict | str]) -> dict[str, list[dict | str]]:
    """One instrument, dataset, document and what hangs off them; ``changes`` replace models."""
    models: dict[str, list[dict | str]] = {
        "Instrument": [{"pid": "inst/1", "name": "LoKI", "facility": "ESS"}],
        "Technique": [
            {"pid": "tech/1", "name": "small-angle neutron scattering", "panetId": "http://purl.org/pan-science/PaNET/PaNET01189"},
            {"pid": "http://purl.org/pan-science/PaNET/PaNET01216", "name": "x-ray diffraction"},
        ],
        "Sample": [{"pid": "sample/1", "name": "lysozyme crystal", "description": "hen egg white"}],
        "Affiliation": [{"id": 7, "name": "ESS", "city": "Lund", "country": "Sweden"}],
        "Person": [{"id": "p1", "fullName": "Lise Meitner", "orcid": "0000-0002-1825-0097"}],
        "Dataset": [
            {"pid": "ds/1", "title": "Lysozyme at 20 C", "isPublic": True, "creationDate": "2021-03-04T05:06:07.891Z", "size": 1024, "instrumentId": "inst/1"}
        ],
        "Document": [
            {"pid": "doc/1", "isPublic": True, "type": "proposal", "title": "Hydration shells", "keywords": ["protein"], "startDate": "2021-03-01"}
        ],
        "File": [{"id": 1, "name": "run-0042.nxs", "path": "raw/2021", "size": 2048, "datasetId": "ds/1"}],
        "Parameter": [{"id": 1, "name": "sample_temperature", "value": 20, "unit": "celsius", "datasetId": "ds/1"}],
        "Member": [{"id": 1, "role": "Principal Investigator", "documentId": "doc/1", "personId": "p1", "affiliationId": 7}],
        "DatasetSample": [{"id": 1, "datasetId": "ds/1", "sampleId": "sample/1"}],
        "DatasetTechnique": [{"id": 1, "datasetId": "ds/1", "techniqueId": "tech/1"}],
        "DocumentDataset": [{"id": 1, "datasetId": "ds/1", "documentId": "doc/1"}],
    }
    models.update(changes)
    return models


def dump_tables(engine) -> dict[str, list[tuple]]:
    """Every row of every catalogue table, in a stable order."""
    with engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(row) for row in connection.execute(select(table))), key=lambda row: tuple(map(repr, row))
            )
            for table in t.Base.metadata.sorted_tables
        }


def counts(report) -> dict[str, tuple[int, int, int]]:
    return {
        model: (c.created, c.updated, c.unchanged)
        for model, c in report.counts.items()
        if c.created or c.updated or c.unchanged
    }


# --- the reference fixture -------------------------------------------------------------------


def test_reference_fixture_lands_as_concrete_rows(engine, fixture_file):
    report = import_panosc(fixture_file, engine)
    assert report.problems == []
    assert counts(report) == {
        "Instrument": (15, 0, 0),
        "Technique": (2, 0, 0),
        "Sample": (1, 0, 0),
        "Affiliation": (1, 0, 0),
        "Person": (2, 0, 0),
        "Dataset": (4, 0, 0),
        "Document": (2, 0, 0),
        "File": (4, 0, 0),
        "Parameter": (6, 0, 0),
        "Member": (4, 0, 0),
        "DatasetSample": (4, 0, 0),  # every record's own id is 1: the keys and the pairs differ
        "DatasetTechnique": (4, 0, 0),
        "DocumentDataset": (4, 0, 0),
    }
    with engine.connect() as c:
        datasets = c.execute(
            select(t.Dataset.pid, t.Dataset.title, t.Dataset.is_public, t.Dataset.creation_date, t.Dataset.kind, t.Dataset.facility, t.Instrument.name)
            .join(t.Instrument, t.Instrument.id == t.Dataset.instrument_id)
            .order_by(t.Dataset.pid)
        ).all()
        instruments = c.execute(select(t.Instrument.name, t.Instrument.facility).order_by(t.Instrument.name)).all()
        documents = c.execute(select(t.Document.pid, t.Document.type, t.Document.title, t.Document.is_public).order_by(t.Document.pid)).all()
        techniques = c.execute(select(t.Technique.pid, t.Technique.name, t.Technique.panet_id).order_by(t.Technique.pid)).all()
        parameters = {
            (row.owner, row.name): row
            for row in c.execute(
                select(
                    func.coalesce(t.Dataset.pid, t.Document.pid).label("owner"),
                    t.Parameter.name,
                    t.Parameter.value_number,
                    t.Parameter.value_string,
                    t.Parameter.unit,
                    t.Parameter.si_value,
                    t.Parameter.si_unit,
                )
                .outerjoin(t.Dataset, t.Dataset.id == t.Parameter.dataset_id)
                .outerjoin(t.Document, t.Document.id == t.Parameter.document_id)
            )
        }
        members = c.execute(
            select(t.Document.pid, t.Person.pid, t.Person.full_name, t.Member.role, t.Affiliation.name, t.Affiliation.city)
            .join(t.Document, t.Document.id == t.Member.document_id)
            .join(t.Person, t.Person.id == t.Member.person_id)
            .join(t.Affiliation, t.Affiliation.id == t.Member.affiliation_id)
            .order_by(t.Document.pid, t.Member.role)
        ).all()
        identifiers = c.execute(select(t.PersonIdentifier.key).order_by(t.PersonIdentifier.key)).scalars().all()
        sample_of = c.execute(
            select(t.Dataset.pid, t.Sample.pid, t.Sample.name)
            .join(t.DatasetSample, t.DatasetSample.dataset_id == t.Dataset.id)
            .join(t.Sample, t.Sample.id == t.DatasetSample.sample_id)
            .order_by(t.Dataset.pid)
        ).all()
        technique_of = dict(
            c.execute(
                select(t.Dataset.pid, t.Technique.name)
                .join(t.DatasetTechnique, t.DatasetTechnique.dataset_id == t.Dataset.id)
                .join(t.Technique, t.Technique.id == t.DatasetTechnique.technique_id)
            ).all()
        )
        document_of = dict(
            c.execute(
                select(t.Dataset.pid, t.Document.pid)
                .join(t.DocumentDataset, t.DocumentDataset.dataset_id == t.Dataset.id)
                .join(t.Document, t.Document.id == t.DocumentDataset.document_id)
            ).all()
        )
        files = c.execute(
            select(t.Dataset.pid, t.DataFile.data_root, t.DataFile.path, t.DataFile.name, t.DataFile.size, t.DataFile.state)
            .join(t.DatasetFile, t.DatasetFile.file_id == t.DataFile.id)
            .join(t.Dataset, t.Dataset.id == t.DatasetFile.dataset_id)
            .order_by(t.DataFile.name)
        ).all()
        dataset_text = c.execute(select(func.count()).select_from(t.DatasetText)).scalar_one()
        document_text = c.execute(select(func.count()).select_from(t.DocumentText)).scalar_one()
        chadwick_text = c.execute(
            select(t.Document.pid)
            .join(t.DocumentText, t.DocumentText.document_id == t.Document.id)
            .where(t.DocumentText.body.contains(" chadwick "))
            .order_by(t.Document.pid)
        ).scalars().all()

    created = datetime(2020, 5, 5, 15, 1, 2, 341000, tzinfo=UTC)
    assert [tuple(row) for row in datasets] == [
        ("20.500.12269/panosc-dataset1", "PaNOSC Test Dataset 1", True, created, "raw", "ESS", "LoKI"),
        ("20.500.12269/panosc-dataset2", "PaNOSC Test Dataset 2", True, created, "raw", "ESS", "ODIN"),
        ("20.500.12269/panosc-dataset3", "PaNOSC Test Dataset 3", True, created, "raw", "ESS", "FREIA"),
        ("20.500.12269/panosc-dataset4", "PaNOSC Test Dataset 4", True, created, "raw", "ESS", "HEIMDAL"),
    ]
    assert len(instruments) == 15 and {facility for _, facility in instruments} == {"ESS"}
    assert {"LoKI", "DREAM", "VESPA", "T-REX"} <= {name for name, _ in instruments}
    assert [tuple(row) for row in documents] == [
        ("10.5072/panosc-document1", "publication", "PaNOSC Test Publication", True),
        ("10.5072/panosc-document2", "proposal", "PaNOSC Test Proposal", True),
    ]
    assert [tuple(row) for row in techniques] == [
        ("20.500.12269/panosc-tech1", "small-angle neutron scattering", "http://purl.org/pan-science/PaNET/PaNET01189"),
        ("20.500.12269/panosc-tech2", "x-ray absorption", "http://purl.org/pan-science/PaNET/PaNET01227"),
    ]
    assert technique_of == {
        "20.500.12269/panosc-dataset1": "small-angle neutron scattering",
        "20.500.12269/panosc-dataset2": "small-angle neutron scattering",
        "20.500.12269/panosc-dataset3": "x-ray absorption",
        "20.500.12269/panosc-dataset4": "x-ray absorption",
    }

    assert len(parameters) == 6
    formula = parameters[("20.500.12269/panosc-dataset1", "chemical_formula")]
    assert (formula.value_number, formula.value_string, formula.unit, formula.si_value) == (None, "Cu", "", None)
    assert parameters[("20.500.12269/panosc-dataset1", "sample_state")].value_string == "solid"
    energy = parameters[("20.500.12269/panosc-dataset2", "photon_energy")]
    assert (energy.value_number, energy.unit, energy.si_unit) == (930, "eV", "J")
    assert energy.si_value == pytest.approx(930 * ELECTRONVOLT, rel=1e-12)
    temperature = parameters[("20.500.12269/panosc-dataset3", "temperature")]
    assert (temperature.value_number, temperature.unit, temperature.si_unit) == (20, "celsius", "K")
    assert temperature.si_value == pytest.approx(293.15, abs=1e-9)  # an offset unit, exact enough to give 20 back
    for owner in ("20.500.12269/panosc-dataset4", "10.5072/panosc-document1"):  # the last one: a document's parameter
        wavelength = parameters[(owner, "wavelength")]
        assert (wavelength.value_number, wavelength.unit, wavelength.si_unit) == (1064, "nm", "m")
        assert wavelength.si_value == pytest.approx(1.064e-6, rel=1e-12)

    assert [tuple(row) for row in members] == [
        ("10.5072/panosc-document1", "panosc-person2", "James Chadwick", "owner", "ESS", "Lund"),
        ("10.5072/panosc-document1", "panosc-person1", "John Smith", "principal_investigator", "ESS", "Lund"),
        ("10.5072/panosc-document2", "panosc-person1", "John Smith", "owner", "ESS", "Lund"),
        ("10.5072/panosc-document2", "panosc-person2", "James Chadwick", "principal_investigator", "ESS", "Lund"),
    ]
    assert identifiers == ["panosc:panosc-person1", "panosc:panosc-person2"]
    assert [tuple(row) for row in sample_of] == [
        (f"20.500.12269/panosc-dataset{n}", "20.500.12269/panosc-sample1", "solid copper cylinder") for n in range(1, 5)
    ]
    assert document_of == {
        "20.500.12269/panosc-dataset1": "10.5072/panosc-document1",
        "20.500.12269/panosc-dataset2": "10.5072/panosc-document1",
        "20.500.12269/panosc-dataset3": "10.5072/panosc-document2",
        "20.500.12269/panosc-dataset4": "10.5072/panosc-document2",
    }
    assert [tuple(row) for row in files] == [
        (f"20.500.12269/panosc-dataset{n}", IMPORTED_DATA_ROOT, f"20.500.12269/panosc-dataset{n}/panosc-file{n}.hdf", f"panosc-file{n}.hdf", 0, "present")
        for n in range(1, 5)
    ]
    # the text index was refreshed through pancommons.catalogue.text_index
    assert (dataset_text, document_text) == (4, 2)
    assert chadwick_text == ["10.5072/panosc-document1", "10.5072/panosc-document2"]


def test_reimporting_the_fixture_changes_nothing(engine, fixture_file):
    import_panosc(fixture_file, engine)
    before = dump_tables(engine)
    again = import_panosc(fixture_file, engine)
    assert dump_tables(engine) == before  # no new rows, no changed value, no touched updated_at
    assert (again.created, again.updated, again.unchanged, again.problems) == (0, 0, 53, [])


# --- a changed dump updates in place ---------------------------------------------------------


def test_a_changed_dump_updates_in_place_and_refreshes_the_text(engine, tmp_path):
    path = write_dump(tmp_path / "db.json", small_dump())
    first = import_panosc(path, engine)
    assert first.problems == [] and first.created == 14
    with engine.connect() as c:
        ids = {table.__tablename__: c.execute(select(table.id)).scalars().all() for table in (t.Dataset, t.Parameter, t.Member, t.DataFile, t.Person)}
        member = c.execute(select(t.Person.pid, t.Person.orcid, t.Member.role).join(t.Member, t.Member.person_id == t.Person.id)).one()
        keys = c.execute(select(t.PersonIdentifier.key).order_by(t.PersonIdentifier.key)).scalars().all()
        file_row = c.execute(select(t.DataFile.path, t.DataFile.size, t.DataFile.checksum, t.DataFile.mtime_ns)).one()
        panet_ids = c.execute(select(t.Technique.panet_id).order_by(t.Technique.panet_id)).scalars().all()
    assert tuple(member) == ("p1", "0000-0002-1825-0097", "principal_investigator")
    assert keys == ["orcid:0000-0002-1825-0097", "panosc:p1"]
    assert tuple(file_row) == ("ds/1/raw/2021/run-0042.nxs", 2048, "", 0)
    assert panet_ids == ["http://purl.org/pan-science/PaNET/PaNET01189", "http://purl.org/pan-science/PaNET/PaNET01216"]

    changed = small_dump(
        Instrument=[{"pid": "inst/1", "name": "LoKI-2", "facility": "ESS"}],
        Dataset=[{"pid": "ds/1", "title": "Lysozyme at 25 C", "isPublic": False, "creationDate": "2021-03-04T05:06:07.891Z", "size": 1024, "instrumentId": "inst/1"}],
        Parameter=[{"id": 1, "name": "sample_temperature", "value": 25, "unit": "celsius", "datasetId": "ds/1"}],
        File=[{"id": 1, "name": "run-0042.nxs", "path": "raw/2021", "size": 4096, "datasetId": "ds/1"}],
        Affiliation=[{"id": 7, "name": "European Spallation Source", "city": "Lund", "country": "Sweden"}],
    )
    write_dump(path, changed)
    second = import_panosc(path, engine)
    assert second.problems == []
    assert {model: c for model, c in counts(second).items() if c[1]} == {
        "Instrument": (0, 1, 0),
        "Affiliation": (0, 1, 0),
        "Dataset": (0, 1, 0),
        "File": (0, 1, 0),
        "Parameter": (0, 1, 0),
    }
    assert second.created == 0
    with engine.connect() as c:
        assert {table.__tablename__: c.execute(select(table.id)).scalars().all() for table in (t.Dataset, t.Parameter, t.Member, t.DataFile, t.Person)} == ids
        dataset = c.execute(select(t.Dataset.title, t.Dataset.is_public)).one()
        parameter = c.execute(select(t.Parameter.value_number, t.Parameter.si_value)).one()
        size = c.execute(select(t.DataFile.size)).scalar_one()
        body = c.execute(select(t.DatasetText.body)).scalar_one()
    assert tuple(dataset) == ("Lysozyme at 25 C", False)
    assert parameter.value_number == 25 and parameter.si_value == pytest.approx(298.15, abs=1e-9)
    assert size == 4096
    assert " 25 " in body and " loki  2 " in body  # the renamed instrument reached the dataset's text


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "invalid JSON at line 1 column 2"),
        ("[1, 2]", "not a LoopBack memory-connector file"),
        ('{"ids": {}}', "not a LoopBack memory-connector file"),
        ('{"models": {"Dataset": ["x"]}}', "model 'Dataset' is not an object of records"),
    ],
)
def test_a_file_that_is_not_a_dump_is_refused_naming_the_file(engine, tmp_path, content, reason):
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PanoscImportError, match=reason) as raised:
        import_panosc(path, engine)
    assert str(path) in str(raised.value)


def test_a_missing_or_binary_file_is_refused_naming_the_file(engine, tmp_path):
    with pytest.raises(PanoscImportError, match="no such file") as raised:
        import_panosc(tmp_path / "absent.json", engine)
    assert "absent.json" in str(raised.value)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(PanoscImportError, match="not UTF-8"):
        import_panosc(binary, engine)


def test_bad_records_are_reported_and_skipped_the_rest_lands(engine, tmp_path):
    good = {"pid": "ds/ok", "title": "Fine", "isPublic": True, "creationDate": "2021-01-01T00:00:00Z"}
    models = small_dump(
        Dataset=[
            good,
            '{"pid": "ds/broken", "title": ',  # not JSON
            {"pid": "ds/undated", "title": "No date", "isPublic": True},  # a required field missing
            {"pid": "ds/nowhere", "title": "Lost", "isPublic": True, "creationDate": "2021-01-01", "instrumentId": "inst/none"},
            "[1, 2]",  # JSON, but not a record
        ],
        Parameter=[
            {"name": "sample_temperature", "value": 4, "unit": "K", "datasetId": "ds/ok"},
            {"name": "flag", "value": True, "datasetId": "ds/ok"},
            {"name": "both", "value": 1, "datasetId": "ds/ok", "documentId": "doc/1"},
            {"name": "orphan", "value": 1, "datasetId": "ds/undated"},  # its dataset was refused
            {"name": "sample_temperature", "value": 5, "unit": "K", "datasetId": "ds/ok"},  # the same parameter twice
        ],
        Person=[{"id": "p1", "fullName": "Lise Meitner", "orcid": "0000-0002-1825-0098"}],  # bad checksum
        File=[{"id": 1, "name": "a.nxs", "datasetId": "ds/ok"}, {"id": 2, "datasetId": "ds/ok"}],
        DatasetSample=[{"id": 1, "datasetId": "ds/ok", "sampleId": "sample/none"}],
        DatasetTechnique=[{"id": 1, "datasetId": "ds/ok", "techniqueId": "tech/1"}],
        DocumentDataset=[{"id": 1, "datasetId": "ds/ok", "documentId": "doc/1"}],
        Spaceship=[{"id": 1}],
    )
    report = import_panosc(write_dump(tmp_path / "db.json", models), engine)
    problems = {(problem.model, problem.key): problem.reason for problem in report.problems}
    assert all(isinstance(problem, Problem) for problem in report.problems)
    assert problems.pop(("Dataset", "2")).startswith("not valid JSON")
    assert problems.pop(("Dataset", "3")) == "creationDate: Field required"
    assert problems.pop(("Dataset", "4")) == "instrumentId 'inst/none': no Instrument with this pid"
    assert problems.pop(("Dataset", "5")) == "a record is a JSON object, not list"
    assert problems.pop(("Parameter", "2")) == "value: Value error, must be a number or a string"
    assert "exactly one of datasetId and documentId" in problems.pop(("Parameter", "3"))
    assert problems.pop(("Parameter", "4")) == "datasetId 'ds/undated': no Dataset with this pid"
    assert problems.pop(("Parameter", "5")).startswith("repeats record '1'")
    assert "not a valid ORCID iD" in problems.pop(("Person", "1"))
    assert problems.pop(("Member", "1")) == "personId 'p1': no Person with this id"
    assert problems.pop(("File", "2")) == "name: Field required"
    assert problems.pop(("DatasetSample", "1")) == "sampleId 'sample/none': no Sample with this pid"
    assert problems.pop(("Spaceship", "")) == "not a PaNOSC model; its records are ignored"
    assert problems == {}
    with engine.connect() as c:
        assert c.execute(select(t.Dataset.pid)).scalars().all() == ["ds/ok"]
        assert c.execute(select(t.Parameter.name, t.Parameter.si_value)).all() == [("sample_temperature", 4.0)]
        assert c.execute(select(t.DataFile.path)).scalars().all() == ["ds/ok/a.nxs"]
        assert c.execute(select(func.count()).select_from(t.Instrument)).scalar_one() == 1
        assert c.execute(select(func.count()).select_from(t.DatasetTechnique)).scalar_one() == 1
        assert c.execute(select(t.DatasetText.body)).scalar_one().startswith(" fine ")


def test_pids_this_catalogue_owns_are_not_overwritten(engine, tmp_path):
    with engine.begin() as c:
        file_id = c.execute(
            t.DataFile.__table__.insert()
            .values(data_root="/data", path="a.nxs", name="a.nxs", size=1, mtime_ns=1, checksum="x", checksum_algorithm="sha256")
            .returning(t.DataFile.id)
        ).scalar_one()
        c.execute(
            t.Dataset.__table__.insert().values(
                pid="ds/1", title="From the file", creation_date=datetime(2020, 1, 1, tzinfo=UTC), source_file_id=file_id
            )
        )
        c.execute(t.Document.__table__.insert().values(pid="doc/1", title="From the user office", proposal_number="P-1"))
    report = import_panosc(write_dump(tmp_path / "db.json", small_dump()), engine)
    reasons = {(problem.model, problem.key): problem.reason for problem in report.problems}
    assert "ingested from its own files" in reasons[("Dataset", "1")]
    assert "user office" in reasons[("Document", "1")]
    with engine.connect() as c:
        assert c.execute(select(t.Dataset.title)).scalar_one() == "From the file"
        assert c.execute(select(t.Document.title)).scalar_one() == "From the user office"


def test_known_instruments_and_people_are_met_not_duplicated(engine, tmp_path):
    """An instrument ingestion made (same facility and name, its own pid) and a person it
    knows by ORCID iD: the dump's records link to them instead of making twins."""
    with engine.begin() as c:
        c.execute(t.Instrument.__table__.insert().values(pid="node/instrument/ess-loki", name="LoKI", facility="ESS"))
        person_id = c.execute(
            t.Person.__table__.insert().values(full_name="L. Meitner", email="lise@example.org").returning(t.Person.id)
        ).scalar_one()
        c.execute(t.PersonIdentifier.__table__.insert().values(key="orcid:0000-0002-1825-0097", person_id=person_id))
    path = write_dump(tmp_path / "db.json", small_dump())
    report = import_panosc(path, engine)
    assert [(problem.model, problem.key) for problem in report.problems] == [("Instrument", "1")]
    assert "'node/instrument/ess-loki'" in report.problems[0].reason
    with engine.connect() as c:
        instrument = c.execute(
            select(t.Instrument.pid).join(t.Dataset, t.Dataset.instrument_id == t.Instrument.id)
        ).scalar_one()
        person = c.execute(select(t.Person.id, t.Person.pid, t.Person.full_name, t.Person.email)).all()
        keys = c.execute(select(t.PersonIdentifier.key, t.PersonIdentifier.person_id).order_by(t.PersonIdentifier.key)).all()
    assert instrument == "node/instrument/ess-loki"
    assert [tuple(row) for row in person] == [(person_id, "p1", "Lise Meitner", "lise@example.org")]
    assert [tuple(row) for row in keys] == [("orcid:0000-0002-1825-0097", person_id), ("panosc:p1", person_id)]
    before = dump_tables(engine)
    again = import_panosc(path, engine)
    assert dump_tables(engine) == before and again.created == again.updated == 0


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (None, "ds/1/run.nxs"),
        ("raw/2021", "ds/1/raw/2021/run.nxs"),
        ("/raw/2021/run.nxs", "ds/1/raw/2021/run.nxs"),
        ("raw\\2021\\", "ds/1/raw/2021/run.nxs"),
        ("../other/./raw", "ds/1/other/raw/run.nxs"),
    ],
)
def test_imported_files_live_under_their_dataset_pid(path, expected):
    assert imported_file_path("ds/1", path, "run.nxs") == expected
    assert imported_file_path("ds/1", None, ".hidden") == "ds/1/.hidden"
