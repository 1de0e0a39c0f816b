"""The demo node: two fictional facilities, catalogued as a real node would be.

It lives in ``$PANCOMMONS_HOME/demo`` with its own ``pancommons.toml``, so
every command works on it with ``PANCOMMONS_HOME=<that directory>``.
Running the demo again reuses the files it wrote (same count and seed) and
re-ingests them, which changes nothing: the same path a facility's nightly
ingest takes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pancommons.config import PANET_RELEASE, Settings
from pancommons.db.engine import make_engine
from pancommons.db.migrate import upgrade
from pancommons.ingest.pipeline import IngestReport, ingest
from pancommons.ingest.proposals import ImportReport, import_proposals

DEMO_FACILITIES = ["NLS", "KNS"]

# The demo facility's own knowledge of its beamlines: the powder
# diffractometer writes no application definition, so its technique comes
# from the instrument, the way a facility extends the built-in table.
DEMO_TECHNIQUE_HINTS = """definition,probe,instrument,panet_iri,name
,neutron,DIFF3,http://purl.org/pan-science/PaNET/PaNET01100,neutron powder diffraction
"""

Progress = Callable[[str, int, int | None], None]


def shared_panet_table() -> Path | None:
    """The PaNET table beside a checkout (``../shared/data/panet/PaNET.csv``), if there is one.

    The demo prefers it to the public URL so it works offline; the project
    itself never ships the ontology.
    """
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        candidate = base.parent / "shared" / "data" / "panet" / "PaNET.csv"
        if candidate.is_file():
            return candidate
    return None


def _panet_source() -> str:
    local = shared_panet_table()
    return str(local) if local else PANET_RELEASE


def demo_settings(home: Path, pid_prefix: str = "demo") -> Settings:
    return Settings(
        panet_source=_panet_source(),
        home=home,
        database_url=f"sqlite:///{home / 'catalogue.db'}",
        data_roots=[home / "data"],
        facility="",
        pid_prefix=pid_prefix,
        facility_timezone="Europe/Oslo",
        technique_hints=home / "technique_hints.csv",
    )


def _write_config(home: Path, pid_prefix: str) -> None:
    (home / "technique_hints.csv").write_text(DEMO_TECHNIQUE_HINTS, encoding="utf-8")
    (home / "pancommons.toml").write_text(
        "# Settings of the demo node written by `pancommons demo`.\n"
        f'data_roots = ["{home / "data"}"]\n'
        f'pid_prefix = "{pid_prefix}"\n'
        'facility_timezone = "Europe/Oslo"\n'
        f'technique_hints = "{home / "technique_hints.csv"}"\n'
        f'panet_source = "{_panet_source()}"\n',
        encoding="utf-8",
    )


def prepare_demo(
    base: Settings, count: int, seed: int, progress: Progress | None = None,
    facilities: list[str] = DEMO_FACILITIES, name: str = "demo", pid_prefix: str = "demo",
) -> tuple[Settings, IngestReport, ImportReport]:
    """Write (once) and catalogue the demo files of ``facilities`` in ``base.home / name``."""
    from pancommons.nexus.synth import write_corpus

    tell = progress or (lambda label, done, total: None)
    home = base.home / name
    data = home / "data"
    marker = data / ".demo-corpus.json"
    wanted = {"count": count, "seed": seed, "facilities": facilities}
    if not marker.exists() or json.loads(marker.read_text()) != wanted:
        if data.exists():
            shutil.rmtree(data)
        data.mkdir(parents=True)
        written = 0

        def advance(n: int) -> None:
            nonlocal written
            written += n
            tell("writing demo files", written, count)

        write_corpus(data, count, seed, workers=min(2, os.cpu_count() or 1), facilities=facilities, progress=advance)
        marker.write_text(json.dumps(wanted))
    home.mkdir(parents=True, exist_ok=True)
    _write_config(home, pid_prefix)
    settings = demo_settings(home, pid_prefix)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    proposals = import_proposals(data / "proposals.json", settings, engine)
    done = 0

    def ingested(n: int) -> None:
        nonlocal done
        done += n
        tell("cataloguing", done, count)

    report = ingest([str(data)], settings, engine, workers=min(2, os.cpu_count() or 1), progress=ingested)
    engine.dispose()
    return settings, report, proposals


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    proposal: str | None  # pid of the embargoed proposal the demo user leads
    release_date: datetime | None


def demo_login(engine) -> DemoLogin:
    """The demo's local account ``demo``, with a fresh password: the principal investigator of an
    embargoed proposal (by their ORCID), so signing in shows what only a team sees."""
    from sqlalchemy import select

    from pancommons.accounts import store
    from pancommons.db import tables as t

    with engine.connect() as connection:
        found = connection.execute(
            select(t.Document.pid, t.Document.release_date, t.Person.orcid, t.Person.full_name)
            .join(t.Member, t.Member.document_id == t.Document.id).join(t.Person, t.Person.id == t.Member.person_id)
            .where(t.Document.release_date > datetime.now(UTC), t.Person.orcid.is_not(None),
                   t.Member.role == "principal_investigator")
            .order_by(t.Document.pid).limit(1)
        ).first()
    password = secrets.token_urlsafe(9)
    try:
        store.create_local(engine, "demo", password, store.Identity(
            display_name=found.full_name if found else "Demo user", orcid=found.orcid if found else None))
    except store.AccountError:  # made by an earlier demo run: a new password, the same person
        store.set_password(engine, "demo", password)
    return DemoLogin("demo", password, found.pid if found else None, found.release_date if found else None)


def prepare_federated_demo(base: Settings, count: int, seed: int, progress: Progress | None = None):
    """One demo node per facility (``base.home/demo-federated/<facility>``), ``count`` files shared out.

    Returns (facility, settings, ingest report, proposal report) per node.
    """
    nodes = []
    for number, facility in enumerate(DEMO_FACILITIES):
        share = count // len(DEMO_FACILITIES) + (1 if number < count % len(DEMO_FACILITIES) else 0)
        nodes.append((facility, *prepare_demo(
            base, share, seed, progress, facilities=[facility], name=f"demo-federated/{facility.lower()}",
            pid_prefix=f"demo-{facility.lower()}",
        )))
    return nodes
