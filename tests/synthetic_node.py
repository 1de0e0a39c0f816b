"""A node's catalogue made the way a facility makes one: synthetic NeXus files and their proposals,
written under the settings' first data root and ingested."""

from __future__ import annotations

from sqlalchemy import Engine

from pancommons.config import Settings
from pancommons.db.engine import make_engine
from pancommons.db.migrate import upgrade
from pancommons.ingest.pipeline import ingest
from pancommons.ingest.proposals import import_proposals
from pancommons.nexus.synth import write_corpus


def ingested_catalogue(settings: Settings, count: int, seed: int, facilities: list[str] | None = None,
                       before_ingest=None) -> Engine:
    """The catalogue's engine; ``before_ingest(data)`` adds files of a test's own first."""
    data = settings.data_roots[0]
    write_corpus(data, count, seed=seed, facilities=facilities)
    if before_ingest is not None:
        before_ingest(data)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    import_proposals(data / "proposals.json", settings, engine)
    assert ingest([str(data)], settings, engine, workers=1).failed == []
    return engine
