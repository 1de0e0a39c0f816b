"""What a catalogue holds, in numbers: for ``pancommons demo`` and ``pancommons status``."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, case, func, select

from pancommons.db.tables import (
    DataFile,
    Dataset,
    DatasetTechnique,
    Document,
    Instrument,
    Technique,
)


@dataclass
class CatalogueSummary:
    datasets: int = 0
    raw: int = 0
    processed: int = 0
    public: int = 0
    embargoed: int = 0
    proposals: int = 0
    datasets_with_proposal: int = 0
    files: int = 0
    missing_files: int = 0
    bytes: int = 0
    by_facility: list[tuple[str, int]] = field(default_factory=list)
    by_instrument: list[tuple[str, str, int]] = field(default_factory=list)
    by_technique: list[tuple[str, int]] = field(default_factory=list)


def summarise(engine: Engine) -> CatalogueSummary:
    summary = CatalogueSummary()
    with engine.connect() as connection:
        row = connection.execute(
            select(
                func.count(Dataset.id),
                func.sum(case((Dataset.kind == "raw", 1), else_=0)),
                func.sum(case((Dataset.is_public.is_(True), 1), else_=0)),
                func.sum(case((Dataset.proposal_number.is_not(None), 1), else_=0)),
            )
        ).one()
        summary.datasets = row[0] or 0
        summary.raw = row[1] or 0
        summary.processed = summary.datasets - summary.raw
        summary.public = row[2] or 0
        summary.embargoed = summary.datasets - summary.public
        summary.datasets_with_proposal = row[3] or 0
        summary.proposals = connection.execute(
            select(func.count(Document.id)).where(Document.type == "proposal")
        ).scalar_one()
        files = connection.execute(
            select(
                func.count(DataFile.id),
                func.coalesce(func.sum(DataFile.size), 0),
                func.sum(case((DataFile.state == "missing", 1), else_=0)),
            )
        ).one()
        summary.files, summary.bytes, summary.missing_files = files[0], int(files[1]), files[2] or 0
        summary.by_facility = [
            (facility or "(unknown)", count)
            for facility, count in connection.execute(
                select(Dataset.facility, func.count(Dataset.id)).group_by(Dataset.facility).order_by(Dataset.facility)
            )
        ]
        summary.by_instrument = [
            tuple(row)
            for row in connection.execute(
                select(Instrument.facility, Instrument.name, func.count(Dataset.id))
                .join(Dataset, Dataset.instrument_id == Instrument.id)
                .group_by(Instrument.facility, Instrument.name)
                .order_by(Instrument.facility, Instrument.name)
            )
        ]
        summary.by_technique = [
            tuple(row)
            for row in connection.execute(
                select(Technique.name, func.count(DatasetTechnique.dataset_id))
                .join(DatasetTechnique, DatasetTechnique.technique_id == Technique.id)
                .group_by(Technique.name)
                .order_by(func.count(DatasetTechnique.dataset_id).desc(), Technique.name)
            )
        ]
    return summary
