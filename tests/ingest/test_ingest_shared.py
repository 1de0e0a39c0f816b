"""Every real beamline file in ../shared/data/nexus ingested into the catalogue (both backends)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from pancommons.db.tables import DataFile, Dataset, Instrument, Parameter, Technique, DatasetTechnique
from pancommons.ingest.pipeline import ingest
from tests.conftest import SHARED_NEXUS

pytestmark = pytest.mark.skipif(not SHARED_NEXUS.exists(), reason=f"{SHARED_NEXUS} is absent (a fresh clone without ../shared)")


@pytest.fixture
def shared_settings(settings):
    return settings.model_copy(update={"data_roots": [SHARED_NEXUS]})


def test_every_shared_file_lands_with_its_facts(shared_settings, engine):
    report = ingest([str(SHARED_NEXUS)], shared_settings, engine, workers=2)
    assert report.failed == [] and report.new == 12
    with engine.connect() as c:
        datasets = {
            (row.path, row.entry_path): row
            for row in c.execute(
                select(DataFile.path, DataFile.filters, Dataset.entry_path, Dataset.title, Dataset.creation_date,
                       Dataset.kind, Dataset.definition, Dataset.default_plot, Dataset.proposal_number, Dataset.facility)
                .join(Dataset, Dataset.source_file_id == DataFile.id)
            )
        }
        wavelength = c.execute(
            select(Parameter.value_number, Parameter.unit, Parameter.si_value)
            .join(Dataset, Dataset.id == Parameter.dataset_id)
            .join(DataFile, DataFile.id == Dataset.source_file_id)
            .where(DataFile.path == "DLS_i03_i04_NXmx_Therm_6_2.nxs", Parameter.name == "incident_wavelength")
        ).one()
        instrument = c.execute(
            select(Instrument.name, Instrument.facility).join(Dataset, Dataset.instrument_id == Instrument.id)
            .join(DataFile, DataFile.id == Dataset.source_file_id).where(DataFile.path == "chopper.nxs")
        ).one()
        mx_techniques = c.execute(
            select(Technique.name).join(DatasetTechnique, DatasetTechnique.technique_id == Technique.id)
            .join(Dataset, Dataset.id == DatasetTechnique.dataset_id)
            .join(DataFile, DataFile.id == Dataset.source_file_id).where(DataFile.path == "DLS_i03_i04_NXmx_Therm_6_2.nxs")
        ).scalars().all()
    assert len(datasets) == 14  # twelve files; 1998spheres and example_mapping hold two entries each
    chopper = datasets[("chopper.nxs", "/entry")]
    assert chopper.creation_date == datetime(2001, 2, 7, 14, 54, 21, tzinfo=timezone.utc)  # -0600 honoured
    assert tuple(instrument) == ("LRMECS", "IPNS")
    saxs = datasets[("S2p5min_00070_00001.h5", "/entry")]
    assert saxs.filters == ["bitshuffle"]
    assert saxs.creation_date == datetime(2022, 4, 19, 14, 41, 59, tzinfo=timezone.utc)
    assert tuple(wavelength)[:2] == (pytest.approx(0.98027356), "angstrom")
    assert wavelength.si_value == pytest.approx(0.98027356e-10)
    assert mx_techniques == ["macromolecular crystallography"]
    assert datasets[("scan101.nxs", "/com_05551")].title == "scan101.nxs"
    assert {entry for path, entry in datasets if path == "example_mapping.nxs"} == {"/entry1", "/entry_micro"}
    assert datasets[("1998spheres.h5", "/sasentry_1")].kind == "processed"
    assert all(row.default_plot for row in datasets.values())

    again = ingest([str(SHARED_NEXUS)], shared_settings, engine, workers=1)
    assert (again.new, again.updated, again.unchanged, again.failed_count) == (0, 0, 12, 0)
