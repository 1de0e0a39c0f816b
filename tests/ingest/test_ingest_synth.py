"""The synthetic facilities ingest cleanly: a check on the writer and the reader together."""

from __future__ import annotations

from sqlalchemy import func, select

from pancommons.db.tables import Dataset, DatasetDerivation, DatasetTechnique, DocumentDataset, Parameter
from pancommons.ingest.pipeline import ingest
from pancommons.ingest.proposals import import_proposals
from pancommons.nexus.synth import write_corpus


def test_synthetic_corpus_ingests_without_failures_or_warnings(settings, engine, data_root):
    summary = write_corpus(data_root, 90, seed=11)
    report = ingest([str(data_root)], settings, engine, workers=2)
    assert (report.new, report.failed) == (summary.files, [])
    assert report.warnings == []
    proposals = import_proposals(data_root / "proposals.json", settings, engine)
    assert proposals.failed == [] and proposals.created == summary.proposals
    with engine.connect() as c:
        facilities = set(c.execute(select(Dataset.facility)).scalars())
        without_technique = c.execute(
            select(func.count(Dataset.id)).where(~Dataset.id.in_(select(DatasetTechnique.dataset_id)))
        ).scalar_one()
        unlinked = c.execute(
            select(func.count(Dataset.id)).where(~Dataset.id.in_(select(DocumentDataset.dataset_id)))
        ).scalar_one()
        unresolved = c.execute(
            select(func.count()).select_from(DatasetDerivation).where(DatasetDerivation.source_dataset_id.is_(None))
        ).scalar_one()
        si_units = dict(
            c.execute(select(Parameter.name, func.min(Parameter.si_unit)).where(
                Parameter.name.in_(["incident_wavelength", "sample_temperature", "incident_photon_energy"])
            ).group_by(Parameter.name)).all()
        )
        no_si = c.execute(
            select(func.count(Parameter.id)).where(
                Parameter.name.in_(["incident_wavelength", "sample_temperature", "incident_photon_energy", "incident_energy"]),
                Parameter.si_value.is_(None),
            )
        ).scalar_one()
    assert facilities == {"NLS", "KNS", "OXF"}
    assert without_technique == summary.by_technique.get("powder", 0)  # DIFF3 writes no definition
    assert unlinked == 0 and unresolved == 0
    assert si_units == {"incident_wavelength": "m", "sample_temperature": "K", "incident_photon_energy": "J"}
    assert no_si == 0  # every unit spelling of the writer is understood
