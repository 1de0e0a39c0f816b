"""The catalogue the access matrix runs over (tests/auth/test_access_matrix.py).

Real HDF5 files under a data root, ingested, with proposals (and their member lists) from the
user office's export, so every reader of the application — the API, the portal, the files, the
viewer, the ZIP downloads — has something real to read or to refuse:

- three *targets*, each a dataset of its own file, on its own instrument, in its own year, with its
  own sample formula, in its own proposal, with a word only its title holds (and another only its
  proposal's title holds):
  ``public`` (old data, open to anyone), ``embargoed`` (recent data; its proposal names the member,
  its instrument is the instrument scientist's) and ``unrelated`` (recent data of somebody else's
  proposal on another instrument: only a data manager sees it);
- a public *hub*: a dataset derived from every target, in every target's proposal, sharing its
  sample with every target, whose file links to each target's file (HDF5 external links and virtual
  datasets); a public publication citing every target; and a local contact (with her affiliation)
  on every proposal — the places where something public points at something that may not be.

Every title shares the words "lysozyme crystal", so a text search for them scores public records
against corpus statistics that an embargoed record could shift.

The callers (accounts with an API token and a portal session each): ``other`` (signed in, no
membership; their account carries the member's e-mail address, *unverified*), ``member`` (by ORCID
and verified e-mail on the embargoed proposal's member list), ``scientist`` (instrument scientist
of the embargoed dataset's instrument) and ``manager`` (data manager).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import h5py
import numpy as np
from sqlalchemy import Engine, delete, insert, select

from pancommons.accounts import sessions, store, tokens
from pancommons.accounts.store import Identity
from pancommons.catalogue import text_index
from pancommons.config import Settings
from pancommons.db import tables as t
from pancommons.ingest.pipeline import ingest
from pancommons.ingest.proposals import import_proposals
from pancommons.nexus.synth import orcid_checksum

SHARED_WORDS = "lysozyme crystal"
ROLES = ("anonymous", "other", "member", "scientist", "manager")
TARGETS = ("public", "embargoed", "unrelated")
# Who may see each target (the policy of catalogue/policy.py, written out by hand).
MAY_SEE = {
    "public": frozenset(ROLES),
    "embargoed": frozenset({"member", "scientist", "manager"}),
    "unrelated": frozenset({"manager"}),
}


def _orcid(base15: str) -> str:
    digits = base15 + orcid_checksum(base15)
    return "-".join(digits[i : i + 4] for i in range(0, 16, 4))


MEMBER_ORCID = _orcid("000000021234567")
MEMBER_EMAIL = "mia.member@example.org"
OTHER_ORCID = _orcid("000000027654321")
# The facility's local contact, on every proposal: a person through whom a public record's relations
# (member → person → members → document) reach every proposal.
LOCAL_CONTACT = {"name": "Lena Local", "orcid": _orcid("000000035555555"), "role": "local_contact",
                 "affiliation": "Matrix Facility", "affiliation_city": "Matrixville", "affiliation_country": "Nowhere"}


@dataclass(frozen=True)
class TargetSpec:
    name: str
    word: str  # in the dataset's title, nowhere else
    proposal_word: str  # in its proposal's title, nowhere else
    instrument: str
    formula: str
    started: datetime
    proposal: str
    release: datetime
    member: dict


def _specs(now: datetime) -> dict[str, TargetSpec]:
    return {
        "public": TargetSpec(
            "public", "tasmanite", "numbatian", "PUBBL", "NaCl", datetime(2015, 3, 2, 10, tzinfo=UTC), "MX-PUB",
            datetime(2018, 3, 6, tzinfo=UTC),
            {"name": "Paula Public", "orcid": _orcid("000000011111111"), "role": "principal_investigator"}),
        "embargoed": TargetSpec(
            "embargoed", "zanzibarite", "quollish", "ZANBL", "Fe2O3", now - timedelta(days=10), "MX-ZAN",
            now + timedelta(days=3 * 365),
            {"name": "Mia Member", "orcid": MEMBER_ORCID, "email": MEMBER_EMAIL, "role": "principal_investigator"}),
        "unrelated": TargetSpec(
            "unrelated", "kalaharite", "dugongish", "KALBL", "CuSO4", now - timedelta(days=400), "MX-KAL",
            now + timedelta(days=2 * 365),
            {"name": "Karl Kal", "orcid": _orcid("000000013333333"), "email": "karl@example.org",
             "role": "principal_investigator"}),
    }


def _nx(parent, name: str, nx_class: str):
    group = parent.create_group(name)
    group.attrs["NX_class"] = nx_class
    return group


def _write_file(path: Path, *, title: str, instrument: str, started: datetime, proposal: str | None, formula: str,
                seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs["default"] = "entry"
        entry = _nx(f, "entry", "NXentry")
        entry.attrs["default"] = "data"
        entry["title"] = title
        entry["definition"] = "NXmx"
        entry["start_time"] = started.strftime("%Y-%m-%dT%H:%M:%SZ")
        if proposal:
            entry["experiment_identifier"] = proposal
        inst = _nx(entry, "instrument", "NXinstrument")
        inst["name"] = instrument
        source = _nx(inst, "source", "NXsource")
        source["name"] = "Matrix Light Source"
        source["probe"] = "x-ray"
        beam = _nx(inst, "beam", "NXbeam")
        beam["incident_wavelength"] = 0.9 + seed / 100
        beam["incident_wavelength"].attrs["units"] = "angstrom"
        sample = _nx(entry, "sample", "NXsample")
        sample["name"] = f"{title} sample"
        sample["chemical_formula"] = formula
        data = _nx(entry, "data", "NXdata")
        data.attrs["signal"] = "counts"
        data.create_dataset("counts", data=np.arange(16, dtype="int32") + 1000 * seed)
        data["counts"].attrs["long_name"] = f"counts of {title}"


@dataclass
class Target:
    name: str
    word: str  # only in the dataset's title
    proposal_word: str  # only in its proposal's title
    pid: str  # the dataset's
    proposal: str  # the pid of its proposal (a document)
    instrument: str  # the pid of its instrument
    file_id: int
    file_name: str
    file_bytes: bytes = field(repr=False)
    year: int
    formula: str
    counts: list[int] = field(repr=False)  # /entry/data/counts
    leader: str = ""  # the name of its proposal's principal investigator
    leader_orcid: str = ""


@dataclass
class Built:
    targets: dict[str, Target]
    hub_pid: str  # the public dataset derived from every target
    hub_file_id: int
    publication: str  # the public document citing every target
    dataset_pids: dict[str, str] = field(default_factory=dict)  # every dataset: name → pid
    document_pids: dict[str, str] = field(default_factory=dict)  # every document: name → pid


def write_files(facility: str, data_root: Path, work: Path, now: datetime | None = None) -> None:
    """The HDF5 files under ``data_root`` and the user office's export (``work/proposals.json``)."""
    now = now or datetime.now(UTC)
    specs = _specs(now)
    for seed, spec in enumerate(specs.values(), 1):
        _write_file(data_root / spec.name / f"{spec.name}.nxs", title=f"{spec.word} {SHARED_WORDS} {spec.name}",
                    instrument=spec.instrument, started=spec.started, proposal=spec.proposal, formula=spec.formula,
                    seed=seed)
    hub = data_root / "hub" / "hub.nxs"
    _write_file(hub, title=f"hub {SHARED_WORDS} assembly", instrument="HUBBL",
                started=datetime(2016, 5, 4, 9, tzinfo=UTC), proposal=None, formula="H2O", seed=9)
    with h5py.File(hub, "a") as f:
        entry = f["entry"]
        for spec in specs.values():
            entry[f"link_{spec.name}"] = h5py.ExternalLink(f"../{spec.name}/{spec.name}.nxs", "/entry/data/counts")
            layout = h5py.VirtualLayout(shape=(16,), dtype="int32")
            layout[:] = h5py.VirtualSource(f"../{spec.name}/{spec.name}.nxs", "/entry/data/counts", shape=(16,))
            entry.create_virtual_dataset(f"virtual_{spec.name}", layout)
    (work / "proposals.json").write_text(json.dumps({"facility": facility, "proposals": [
        {"proposal_number": spec.proposal, "title": f"{spec.proposal_word} proposal of the {spec.name} target",
         "abstract": f"The {spec.name} target's proposal.", "start_date": spec.started.isoformat(),
         "end_date": spec.started.isoformat(), "release_date": spec.release.isoformat(),
         "members": [spec.member, LOCAL_CONTACT]}
        for spec in specs.values()
    ]}), encoding="utf-8")
    (work / "now").write_text(now.isoformat())


def load(settings: Settings, engine: Engine, data_root: Path, work: Path) -> Built:
    """Import the proposals, ingest the files, and link the hub to every target."""
    now = datetime.fromisoformat((work / "now").read_text())
    specs = _specs(now)
    imported = import_proposals(work / "proposals.json", settings, engine)
    assert imported.failed == [], imported.failed
    report = ingest([str(data_root)], settings, engine, workers=1)
    assert not report.failed, report.failed

    with engine.begin() as connection:
        rows = {
            row.path: row
            for row in connection.execute(
                select(t.DataFile.path, t.DataFile.id.label("file_id"), t.DataFile.name, t.Dataset.id, t.Dataset.pid,
                       t.Dataset.is_public, t.Dataset.embargo_until, t.Instrument.pid.label("instrument"))
                .join(t.Dataset, t.Dataset.source_file_id == t.DataFile.id)
                .join(t.Instrument, t.Instrument.id == t.Dataset.instrument_id)
            )
        }
        documents = dict(connection.execute(select(t.Document.proposal_number, t.Document.pid)).all())
        hub_row = rows["hub/hub.nxs"]
        publication = f"{settings.facility}/publication/matrix-hub"
        publication_id = connection.execute(insert(t.Document).values(
            pid=publication, type="publication", title=f"hub publication on {SHARED_WORDS} data",
            summary="A paper citing every target.", is_public=True, release_date=datetime(2019, 1, 1, tzinfo=UTC),
            keywords=[],
        ).returning(t.Document.id)).scalar_one()
        hub_sample = connection.execute(
            select(t.DatasetSample.sample_id).where(t.DatasetSample.dataset_id == hub_row.id)).scalar_one()
        targets = {}
        for seed, spec in enumerate(specs.values(), 1):
            row = rows[f"{spec.name}/{spec.name}.nxs"]
            public = spec.name == "public"
            assert bool(row.is_public) == public and (row.embargo_until <= now) == public, (spec.name, row)
            connection.execute(insert(t.DocumentDataset).values(document_id=publication_id, dataset_id=row.id))
            # the public hub dataset also belongs to every target's proposal (documents → a hidden proposal)
            proposal_id = connection.execute(
                select(t.Document.id).where(t.Document.pid == documents[spec.proposal])).scalar_one()
            connection.execute(insert(t.DocumentDataset).values(document_id=proposal_id, dataset_id=hub_row.id))
            # a sample the hub shares with every target (sample → datasets leads from one to the other)
            connection.execute(insert(t.DatasetSample).values(dataset_id=row.id, sample_id=hub_sample))
            connection.execute(insert(t.DatasetDerivation).values(
                dataset_id=hub_row.id, source_path=row.path, source_entry="/entry", source_dataset_id=row.id))
            targets[spec.name] = Target(
                spec.name, spec.word, spec.proposal_word, row.pid, documents[spec.proposal], row.instrument, row.file_id, row.name,
                (data_root / row.path).read_bytes(), spec.started.year, spec.formula,
                [value + 1000 * seed for value in range(16)], spec.member["name"], spec.member["orcid"])
        text_index.rebuild(connection)
    assert len({target.year for target in targets.values()}) == len(targets)
    return Built(targets, hub_row.pid, hub_row.file_id, publication,
                 dataset_pids={name: rows[f"{name}/{name}.nxs"].pid for name in specs} | {"hub": hub_row.pid},
                 document_pids={spec.name: documents[spec.proposal] for spec in specs.values()}
                 | {"publication": publication})


def keep_only(engine: Engine, built: Built, visible: frozenset[str]) -> None:
    """A reference catalogue: delete the targets (datasets and proposals) outside ``visible``, so what
    is left is what a caller who sees ``visible`` sees — their answers must equal those given here."""
    gone = [name for name in TARGETS if name not in visible]
    with engine.begin() as connection:
        connection.execute(delete(t.Dataset).where(t.Dataset.pid.in_([built.targets[n].pid for n in gone])))
        connection.execute(delete(t.Document).where(t.Document.pid.in_([built.targets[n].proposal for n in gone])))
        text_index.rebuild(connection)


@dataclass(frozen=True)
class Account:
    role: str
    username: str
    account_id: int | None = None
    token: str | None = None  # a personal API token (Authorization: Bearer …)
    cookie: str | None = None  # a portal session (sessions.COOKIE)


def accounts(engine: Engine, built: Built, roles: tuple[str, ...] = ROLES) -> dict[str, Account]:
    """The callers of the matrix (or of ``roles``), each with a token and a session."""
    made = {"anonymous": Account("anonymous", "")}
    identities = {
        "other": Identity("Olga Other", email=MEMBER_EMAIL, email_verified=False, orcid=OTHER_ORCID),
        "member": Identity("Mia Member", email=MEMBER_EMAIL, email_verified=True, orcid=MEMBER_ORCID),
        "scientist": Identity("Sam Scientist", email="sam@facility.example", email_verified=True),
        "manager": Identity("Dana Manager", email="dana@facility.example", email_verified=True),
    }
    for role, identity in identities.items():
        if role not in roles:
            continue
        username = f"matrix-{role}"
        account_id = store.create_local(engine, username, "matrix-password", identity)
        if role == "scientist":
            store.grant(engine, username, "instrument-scientist", instrument=built.targets["embargoed"].instrument)
        if role == "manager":
            store.grant(engine, username, "data-manager")
        secret, _ = tokens.create(engine, account_id, "access matrix", 2, actor=username)
        made[role] = Account(role, username, account_id, secret, sessions.start(engine, account_id, 2))
    return made
