"""Ingestion against a real catalogue (SQLite and PostgreSQL): idempotent, updating, reporting."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from sqlalchemy import func, select

from pancommons.db.tables import (
    DataFile,
    Dataset,
    DatasetDerivation,
    DatasetFile,
    DatasetSample,
    DatasetTechnique,
    IngestRun,
    Instrument,
    Member,
    Parameter,
    Person,
)
from pancommons.ingest.pipeline import NothingToDo, ingest
from tests import nexus_files as nx


def snapshot(engine) -> dict:
    """Everything ingestion owns, without timestamps: equal snapshots mean nothing changed."""
    with engine.connect() as c:
        return {
            "datasets": sorted(
                tuple(row)
                for row in c.execute(
                    select(Dataset.id, Dataset.pid, Dataset.title, Dataset.creation_date, Dataset.proposal_number,
                           Dataset.kind, Dataset.embargo_until, Dataset.is_public, Dataset.instrument_id)
                )
            ),
            "files": sorted(tuple(r) for r in c.execute(select(DataFile.id, DataFile.path, DataFile.checksum, DataFile.state))),
            "parameters": sorted(
                tuple(r) for r in c.execute(
                    select(Parameter.dataset_id, Parameter.name, Parameter.value_number, Parameter.value_string,
                           Parameter.unit, Parameter.si_value, Parameter.si_unit)
                )
            ),
            "links": sorted(tuple(r) for r in c.execute(select(DatasetFile.dataset_id, DatasetFile.file_id))),
            "techniques": sorted(tuple(r) for r in c.execute(select(DatasetTechnique.dataset_id, DatasetTechnique.technique_id))),
            "samples": sorted(tuple(r) for r in c.execute(select(DatasetSample.dataset_id, DatasetSample.sample_id))),
            "members": sorted(tuple(r) for r in c.execute(select(Member.dataset_id, Member.person_id, Member.role))),
        }


def count(engine, table) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture
def corpus(data_root: Path) -> list[Path]:
    users = [{"name": "Ada Lovelace", "email": "ada@example.org", "ORCID": "0000-0002-1825-0097", "role": "PI"}]
    files = [
        nx.write_nexus(data_root / "mx" / f"run_{i:03d}.nxs", title=f"Lysozyme crystal {i}", users=users)
        for i in range(4)
    ]
    files.append(nx.write_nexus(data_root / "saxs" / "two_entries.h5", title="SAXS of spheres", definition="NXsas", entries=2,
                                wavelength=(0.1, "nm"), temperature=(25.0, "degC")))
    return files


def test_ingest_catalogues_every_entry_and_a_second_run_changes_nothing(settings, engine, corpus, data_root):
    report = ingest([str(data_root)], settings, engine, workers=1)
    assert (report.new, report.updated, report.unchanged, report.failed_count) == (5, 0, 0, 0)
    assert count(engine, Dataset) == 6  # the SAXS file has two entries
    with engine.connect() as c:
        wavelengths = c.execute(
            select(Parameter.value_number, Parameter.unit, Parameter.si_value).where(Parameter.name == "incident_wavelength")
        ).all()
        saxs_titles = c.execute(select(Dataset.title).where(Dataset.title.like("SAXS%")).order_by(Dataset.title)).scalars().all()
        paths = {row.path for row in c.execute(select(DataFile.path))}
        email = c.execute(select(Person.email)).scalar_one()
    assert sorted(set(wavelengths)) == [(0.1, "nm", pytest.approx(1e-10)), (0.98, "angstrom", pytest.approx(0.98e-10))]
    assert saxs_titles == ["SAXS of spheres", "SAXS of spheres (entry2)"]
    assert paths == {"mx/run_000.nxs", "mx/run_001.nxs", "mx/run_002.nxs", "mx/run_003.nxs", "saxs/two_entries.h5"}
    assert email == "ada@example.org"  # kept privately for access matching

    before = snapshot(engine)
    again = ingest([str(data_root)], settings, engine, workers=1)
    assert (again.new, again.updated, again.unchanged, again.failed_count, again.deleted_count) == (0, 0, 5, 0, 0)
    assert snapshot(engine) == before


def test_offset_units_are_stored_exactly(settings, engine, data_root):
    nx.write_nexus(data_root / "warm.nxs", temperature=(25.0, "degC"))
    ingest([str(data_root)], settings, engine, workers=1)
    with engine.connect() as c:
        row = c.execute(select(Parameter.value_number, Parameter.unit, Parameter.si_value, Parameter.si_unit)
                        .where(Parameter.name == "sample_temperature")).one()
    assert tuple(row) == (25.0, "degC", pytest.approx(298.15), "K")


def test_modified_file_updates_in_place_and_touch_changes_nothing(settings, engine, corpus, data_root):
    ingest([str(data_root)], settings, engine, workers=1)
    with engine.connect() as c:
        original = c.execute(select(Dataset.id, Dataset.pid).where(Dataset.title == "Lysozyme crystal 2")).one()

    nx.write_nexus(corpus[2], title="Lysozyme crystal 2, re-processed", wavelength=(1.2, "angstrom"))
    nx.touch_later(corpus[2])
    report = ingest([str(data_root)], settings, engine, workers=1)
    assert (report.new, report.updated, report.unchanged) == (0, 1, 4)
    with engine.connect() as c:
        updated = c.execute(select(Dataset.id, Dataset.pid, Dataset.title).where(Dataset.id == original.id)).one()
        wavelengths = c.execute(
            select(Parameter.value_number).where(Parameter.dataset_id == original.id, Parameter.name == "incident_wavelength")
        ).scalars().all()
    assert (updated.id, updated.pid) == (original.id, original.pid)  # same row, same pid
    assert updated.title == "Lysozyme crystal 2, re-processed"
    assert wavelengths == [1.2]  # old parameters replaced, not duplicated

    before = snapshot(engine)
    nx.touch_later(corpus[0])  # newer mtime, same bytes
    report = ingest([str(data_root)], settings, engine, workers=1)
    assert (report.new, report.updated, report.unchanged) == (0, 0, 5)
    assert snapshot(engine) == before


def test_deleted_file_is_reported_and_comes_back(settings, engine, corpus, data_root):
    ingest([str(data_root)], settings, engine, workers=1)
    kept = corpus[1].read_bytes()
    corpus[1].unlink()
    report = ingest([str(data_root)], settings, engine, workers=1)
    assert report.deleted_count == 1 and report.deleted == [f"{data_root}/mx/run_001.nxs"]
    with engine.connect() as c:
        assert c.execute(select(DataFile.state).where(DataFile.path == "mx/run_001.nxs")).scalar_one() == "missing"
    # a scan of another directory does not call the rest deleted
    assert ingest([str(data_root / "saxs")], settings, engine, workers=1).deleted_count == 0
    corpus[1].write_bytes(kept)
    report = ingest([str(data_root)], settings, engine, workers=1)
    assert report.deleted_count == 0 and report.unchanged == 5
    with engine.connect() as c:
        assert c.execute(select(DataFile.state).where(DataFile.path == "mx/run_001.nxs")).scalar_one() == "present"


def test_entry_removed_from_a_file_removes_its_dataset(settings, engine, data_root):
    path = nx.write_nexus(data_root / "multi.nxs", entries=2)
    ingest([str(data_root)], settings, engine, workers=1)
    assert count(engine, Dataset) == 2
    with h5py.File(path, "a") as f:
        del f["entry2"]
    nx.touch_later(path)
    assert ingest([str(data_root)], settings, engine, workers=1).updated == 1
    assert count(engine, Dataset) == 1


def test_bad_files_are_reported_and_the_rest_of_the_batch_lands(settings, engine, data_root):
    good = [nx.write_nexus(data_root / f"good_{i}.nxs", title=f"good {i}") for i in range(3)]
    nx.write_not_hdf5(data_root / "notes.h5")
    nx.write_truncated(data_root / "truncated.nxs")
    nx.write_without_entry(data_root / "plain.h5")
    vds = nx.write_virtual_with_missing_sources(data_root / "vds.nxs")
    external = nx.write_broken_external_link(data_root / "external.nxs")
    latin = nx.write_non_utf8(data_root / "latin1.nxs")
    huge = nx.write_huge_attribute(data_root / "huge.nxs")
    (data_root / "dangling.nxs").symlink_to(data_root / "gone.nxs")

    report = ingest([str(data_root)], settings, engine, workers=1)
    failures = {Path(path).name: reason for path, reason in report.failed}
    assert failures == {
        "notes.h5": "not an HDF5 file (no HDF5 signature)",
        "truncated.nxs": failures["truncated.nxs"],
        "plain.h5": "no NXentry group: not a NeXus file",
        "dangling.nxs": "broken symbolic link",
    }
    assert failures["truncated.nxs"].startswith("unreadable HDF5 file, truncated or corrupt")
    assert report.new == len(good) + 4  # vds, external, latin1, huge all catalogued
    warnings = {(Path(path).name, message) for path, message in report.warnings}
    assert any(name == vds.name and "4 of 4 source(s) missing" in message for name, message in warnings)
    assert any(name == external.name and "broken external link /entry/data/frames" in message for name, message in warnings)
    assert any(name == latin.name and "not UTF-8" in message for name, message in warnings)
    assert any(name == huge.name and "attribute larger than" in message for name, message in warnings)
    with engine.connect() as c:
        titles = set(c.execute(select(Dataset.title)).scalars())
        latin_unit = c.execute(select(Parameter.unit, Parameter.si_value).where(
            Parameter.name == "incident_wavelength", Parameter.dataset_id.in_(
                select(Dataset.id).where(Dataset.title == "Mesure à 20 K")))).one()
        run = c.execute(select(IngestRun.summary).where(IngestRun.id == report.run_id)).scalar_one()
    assert {"good 0", "good 1", "good 2", "VDS stack", "External frames", "Mesure à 20 K", "Huge note"} == titles
    assert latin_unit.unit == "Å" and latin_unit.si_value == pytest.approx(0.98e-10)
    with engine.connect() as c:
        huge_unit = c.execute(select(Parameter.unit, Parameter.si_value).where(
            Parameter.name == "incident_wavelength", Parameter.dataset_id.in_(
                select(Dataset.id).where(Dataset.title == "Huge note")))).one()
    assert tuple(huge_unit) == (None, None)  # the 10 MB "unit" was skipped, the value kept
    assert run["failed"] == 4 and {f["path"].rsplit("/", 1)[-1] for f in run["failures"]} == set(failures)

    # safe to re-run: failures are retried and reported again, nothing else changes
    again = ingest([str(data_root)], settings, engine, workers=1)
    assert (again.new, again.updated, again.failed_count) == (0, 0, 4)


def test_unreadable_file_is_reported(settings, engine, data_root):
    """A file the ingest process may not read.  As root, who reads everything, the
    ingest runs in a forked child that drops to the unprivileged user 'nobody'."""
    if os.geteuid() != 0:
        nx.write_nexus(data_root / "readable.nxs")
        nx.write_nexus(data_root / "secret.nxs").chmod(0)
        report = ingest([str(data_root)], settings, engine, workers=1)
        assert ("secret.nxs", "permission denied") in {(Path(p).name, r) for p, r in report.failed}
        assert report.new == 1
        return
    if engine.url.get_backend_name() != "sqlite":
        pytest.skip("the privilege drop is exercised once, with the SQLite catalogue")
    import tempfile

    from pancommons.config import Settings
    from pancommons.db.engine import make_engine
    from pancommons.db.migrate import upgrade

    shared = Path(tempfile.mkdtemp(prefix="pancommons-unreadable-"))  # pytest's tmp is root-only
    try:
        shared.chmod(0o777)
        root = shared / "data"
        nx.write_nexus(root / "readable.nxs")
        nx.write_nexus(root / "secret.nxs", title="secret").chmod(0)
        for path in (root, root / "readable.nxs"):
            path.chmod(0o777 if path.is_dir() else 0o644)
        child_settings = Settings(**{**settings.model_dump(), "data_roots": [root],
                                     "database_url": f"sqlite:///{shared / 'catalogue.db'}"})
        child_engine = make_engine(child_settings.resolved_database_url)
        upgrade(child_engine)
        child_engine.dispose()
        for path in shared.glob("catalogue.db*"):
            path.chmod(0o666)
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            try:
                os.close(read)
                os.setgid(65534)
                os.setuid(65534)
                report = ingest([str(root)], child_settings, make_engine(child_settings.resolved_database_url), workers=1)
                os.write(write, repr(([(Path(p).name, r) for p, r in report.failed], report.new)).encode())
            except BaseException as error:  # noqa: BLE001 - reported to the parent
                os.write(write, repr(([("error", repr(error))], -1)).encode())
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read) as pipe:
            failed, new = eval(pipe.read() or "([], -2)")  # noqa: S307 - our own child's repr
        os.waitpid(child, 0)
        assert failed == [("secret.nxs", "permission denied")]
        assert new == 1
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_parallel_workers_catalogue_the_same_as_one_process(settings, engine, corpus, data_root, tmp_path):
    from pancommons.config import Settings
    from pancommons.db.engine import make_engine
    from pancommons.db.migrate import upgrade

    ingest([str(data_root)], settings, engine, workers=1)
    other = Settings(**{**settings.model_dump(), "database_url": f"sqlite:///{tmp_path / 'parallel.db'}"})
    other_engine = make_engine(other.resolved_database_url)
    upgrade(other_engine)
    report = ingest([str(data_root)], other, other_engine, workers=2)
    assert report.new == 5
    project = lambda snap: sorted((row[1], row[2], row[4]) for row in snap["datasets"])  # noqa: E731
    assert project(snapshot(other_engine)) == project(snapshot(engine))
    other_engine.dispose()


def test_paths_outside_the_data_roots_are_refused(settings, engine, tmp_path, data_root):
    elsewhere = nx.write_nexus(tmp_path / "elsewhere" / "x.nxs")
    with pytest.raises(NothingToDo, match="not under a data root"):
        ingest([str(elsewhere.parent)], settings, engine, workers=1)
    with pytest.raises(NothingToDo, match="no such file"):
        ingest([str(data_root / "typo")], settings, engine, workers=1)
    # a link inside the root that leads out of it is not catalogued
    (data_root / "escape.nxs").symlink_to(elsewhere)
    nx.write_nexus(data_root / "inside.nxs")
    report = ingest([str(data_root)], settings, engine, workers=1)
    assert report.new == 1
    assert [(Path(p).name, r) for p, r in report.failed] == [("escape.nxs", "symbolic link leads outside the data roots")]


def test_processed_file_links_to_its_raw_dataset(settings, engine, data_root):
    nx.write_nexus(data_root / "p1" / "processed" / "run_1_reduced.h5", definition="NXcanSAS", title="reduced")
    with h5py.File(data_root / "p1" / "processed" / "run_1_reduced.h5", "a") as f:
        process = nx.nx_group(f["entry"], "reduction", "NXprocess")
        process["raw_file"] = "../run_1.nxs"
        process["raw_entry"] = "/entry"
    # processed first, raw second: the link is made once both are catalogued
    ingest([str(data_root / "p1" / "processed")], settings, engine, workers=1)
    nx.write_nexus(data_root / "p1" / "run_1.nxs", definition="NXsas", title="raw")
    ingest([str(data_root)], settings, engine, workers=1)
    with engine.connect() as c:
        processed = c.execute(select(Dataset.id, Dataset.kind).where(Dataset.title == "reduced")).one()
        raw_id = c.execute(select(Dataset.id).where(Dataset.title == "raw")).scalar_one()
        link = c.execute(select(DatasetDerivation.source_path, DatasetDerivation.source_dataset_id)).one()
    assert processed.kind == "processed"
    assert tuple(link) == ("p1/run_1.nxs", raw_id)


def test_copied_catalogue_tree_gets_distinct_pids_per_path(settings, engine, corpus, data_root):
    shutil.copytree(data_root / "mx", data_root / "mx_copy")
    ingest([str(data_root)], settings, engine, workers=1)
    with engine.connect() as c:
        pids = c.execute(select(Dataset.pid)).scalars().all()
    assert len(pids) == len(set(pids)) == 10
    assert all(pid.startswith("testfac/") for pid in pids)


def test_text_the_database_would_refuse_is_made_to_fit(settings, engine, data_root):
    """NUL bytes and over-long names: SQLite stores them, PostgreSQL refuses them.
    Either way the file is catalogued, with clean, clipped text."""
    with h5py.File(nx.write_nexus(data_root / "nul.nxs", title="placeholder"), "a") as f:
        del f["entry/title"]
        f["entry/title"] = np.bytes_(b"before\x00after")  # fixed-length text keeps the NUL
    with h5py.File(nx.write_nexus(data_root / "long.nxs", title="long names"), "a") as f:
        del f["entry/instrument/name"], f["entry/experiment_identifier"]
        f["entry/instrument/name"] = "I" * 300
        f["entry/experiment_identifier"] = "P" * 300
    nx.write_nexus(data_root / "fine.nxs", title="fine")
    report = ingest([str(data_root)], settings, engine, workers=1)
    assert (report.new, report.failed_count) == (3, 0)
    again = ingest([str(data_root)], settings, engine, workers=1)
    assert (again.new, again.unchanged, again.failed_count) == (0, 3, 0)
    with engine.connect() as c:
        titles = set(c.execute(select(Dataset.title)).scalars())
        instruments = c.execute(select(func.length(Instrument.name))).scalars().all()
    assert titles == {"beforeafter", "long names", "fine"}
    assert sorted(instruments) == [3, 255]


def test_a_row_the_database_refuses_fails_that_file_only(settings, engine, data_root, monkeypatch):
    from pancommons.ingest import writer as writer_module

    for index in range(5):
        nx.write_nexus(data_root / f"f{index}.nxs", title=f"file {index}")
    original = writer_module.CatalogueWriter._dataset_values

    def refuse_file_2(self, connection, located, record, entry, file_id):
        values = original(self, connection, located, record, entry, file_id)
        if located.relative == "f2.nxs":
            values["creation_date"] = None  # violates NOT NULL on every backend
        return values

    monkeypatch.setattr(writer_module.CatalogueWriter, "_dataset_values", refuse_file_2)
    report = ingest([str(data_root)], settings, engine, workers=1)
    assert report.new == 4
    assert [(Path(p).name, r.split(":")[0]) for p, r in report.failed] == [("f2.nxs", "the catalogue could not store it")]
    assert count(engine, DataFile) == 4 and count(engine, Dataset) == 4  # nothing of f2 half-written


def test_processed_data_links_to_raw_data_in_its_own_data_root(settings, engine, tmp_path):
    roots = [tmp_path / "beamline_a", tmp_path / "beamline_b"]
    for root in roots:  # the same relative raw path under both roots
        nx.write_nexus(root / "p1" / "run_1.nxs", title=f"raw in {root.name}", definition="NXsas")
    reduced = nx.write_nexus(roots[1] / "p1" / "processed" / "run_1_reduced.h5", definition="NXcanSAS", title="reduced")
    with h5py.File(reduced, "a") as f:
        nx.nx_group(f["entry"], "reduction", "NXprocess")["raw_file"] = "../run_1.nxs"
    two_roots = settings.model_copy(update={"data_roots": roots})
    ingest([str(root) for root in roots], two_roots, engine, workers=1)
    with engine.connect() as c:
        source = c.execute(
            select(Dataset.title).join(DatasetDerivation, DatasetDerivation.source_dataset_id == Dataset.id)
        ).scalar_one()
    assert source == "raw in beamline_b"


def test_placeholder_end_time_neither_stops_the_run_nor_moves_the_embargo(settings, engine, data_root):
    from datetime import datetime, timezone

    nx.write_nexus(data_root / "good.nxs", title="good")
    odd = nx.write_nexus(data_root / "odd.nxs", title="odd", start_time="2020-05-01T10:00:00+00:00")
    with h5py.File(odd, "a") as f:
        f["entry/end_time"] = "9999-12-31T23:59:59"
    report = ingest([str(data_root)], settings, engine, workers=1)
    assert (report.new, report.failed) == (2, [])
    with engine.connect() as c:
        embargo = c.execute(select(Dataset.embargo_until).where(Dataset.title == "odd")).scalar_one()
    assert embargo == datetime(2023, 5, 1, 10, tzinfo=timezone.utc)  # start + 3 years


def test_each_file_is_counted_once_however_it_is_reached(settings, engine, data_root):
    run = nx.write_nexus(data_root / "beamtime" / "run_0042.nxs")
    (data_root / "beamtime" / "latest.nxs").symlink_to(run)  # an alias the beamline keeps current
    report = ingest([str(data_root), str(data_root / "beamtime"), str(run)], settings, engine, workers=1)
    assert (report.new, report.unchanged, report.failed) == (1, 0, [])
    again = ingest([str(data_root)], settings, engine, workers=1)
    assert (again.new, again.unchanged) == (0, 1)


def test_a_vanished_path_among_several_does_not_stop_the_run(settings, engine, data_root):
    nx.write_nexus(data_root / "a" / "x.nxs")
    gone = data_root / "b"
    nx.write_nexus(gone / "y.nxs")
    ingest([str(data_root)], settings, engine, workers=1)
    shutil.rmtree(gone)
    report = ingest([str(data_root / "a"), str(gone)], settings, engine, workers=1)
    assert report.unchanged == 1
    assert [(Path(p).name, r) for p, r in report.failed] == [("b", "no such file or directory")]
    assert report.deleted == [f"{data_root}/b/y.nxs"]  # the directory went, and its files with it


def test_unlistable_directory_is_not_reported_deleted(settings, engine, data_root, monkeypatch):
    nx.write_nexus(data_root / "beamtime1" / "x.nxs")
    nx.write_nexus(data_root / "beamtime2" / "y.nxs")
    ingest([str(data_root)], settings, engine, workers=1)
    real_scandir = os.scandir

    def stale_mount(path):
        if str(path).endswith("beamtime1"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", stale_mount)
    report = ingest([str(data_root)], settings, engine, workers=1)
    assert report.deleted_count == 0
    assert [(Path(p).name, r) for p, r in report.failed] == [("beamtime1", "cannot list directory (Permission denied)")]


def test_deletion_scope_is_exact_whatever_the_collation(settings, engine, data_root):
    """Neighbours of a scanned directory ('sub#2', 'sub+1', 'SUB', 'sub~old') are never in its scope."""
    for name in ("sub/a.nxs", "sub#2/b.nxs", "sub+1/c.nxs", "sub~old/d.nxs", "SUB/e.nxs", "sub.nxs"):
        nx.write_nexus(data_root / name)
    ingest([str(data_root)], settings, engine, workers=1)
    (data_root / "sub" / "a.nxs").unlink()
    report = ingest([str(data_root / "sub")], settings, engine, workers=1)
    assert report.deleted == [f"{data_root}/sub/a.nxs"]


@pytest.mark.parametrize("reference, entry", [("ABSOLUTE", "entry"), ("../run_1.nxs", "/entry")])
def test_derivation_references_absolute_or_relative_with_or_without_slash(settings, engine, data_root, reference, entry):
    raw = nx.write_nexus(data_root / "p1" / "run_1.nxs", definition="NXsas", title="raw")
    reduced = nx.write_nexus(data_root / "p1" / "processed" / "r.h5", definition="NXcanSAS", title="reduced")
    with h5py.File(reduced, "a") as f:
        process = nx.nx_group(f["entry"], "reduction", "NXprocess")
        process["raw_file"] = str(raw) if reference == "ABSOLUTE" else reference
        process["raw_entry"] = entry
    ingest([str(data_root)], settings, engine, workers=1)
    with engine.connect() as c:
        link = c.execute(select(DatasetDerivation.source_path, DatasetDerivation.source_entry, Dataset.title)
                         .join(Dataset, Dataset.id == DatasetDerivation.source_dataset_id)).one()
    assert tuple(link) == ("p1/run_1.nxs", "/entry", "raw")


def test_a_file_that_changes_its_proposal_changes_its_link(settings, engine, data_root, tmp_path):
    import json

    from pancommons.db.tables import Document, DocumentDataset
    from pancommons.ingest.proposals import import_proposals

    (tmp_path / "p.json").write_text(json.dumps([{"proposal_number": "P-1", "title": "one"},
                                                  {"proposal_number": "P-2", "title": "two"}]))
    import_proposals(tmp_path / "p.json", settings, engine)
    path = nx.write_nexus(data_root / "x.nxs", proposal="P-1")
    ingest([str(data_root)], settings, engine, workers=1)
    nx.write_nexus(path, proposal="P-2")  # the beamline corrected the experiment identifier
    nx.touch_later(path)
    ingest([str(data_root)], settings, engine, workers=1)
    with engine.connect() as c:
        linked = c.execute(select(Document.proposal_number).join(DocumentDataset)).scalars().all()
    assert linked == ["P-2"]


def test_a_renamed_file_keeps_its_dataset(settings, engine, data_root):
    path = nx.write_nexus(data_root / "x.nxs", title="renamed later")
    nx.write_nexus(data_root / "copy_source.nxs", title="copied later")
    ingest([str(data_root)], settings, engine, workers=1)
    with engine.connect() as c:
        before = c.execute(select(Dataset.id, Dataset.pid).where(Dataset.title == "renamed later")).one()
    path.rename(data_root / "x_renamed.nxs")
    shutil.copy(data_root / "copy_source.nxs", data_root / "copy.nxs")  # a copy is a new file
    report = ingest([str(data_root)], settings, engine, workers=1)
    assert (report.new, report.updated, report.deleted_count) == (1, 1, 0)
    with engine.connect() as c:
        after = c.execute(select(Dataset.id, Dataset.pid, DataFile.path).join(DataFile, DataFile.id == Dataset.source_file_id)
                          .where(Dataset.title == "renamed later")).all()
    assert [tuple(row) for row in after] == [(before.id, before.pid, "x_renamed.nxs")]
    assert count(engine, Dataset) == 3
    # and when the moved file later changes, it is still the same dataset
    nx.write_nexus(data_root / "x_renamed.nxs", title="renamed, then edited")
    nx.touch_later(data_root / "x_renamed.nxs")
    assert ingest([str(data_root)], settings, engine, workers=1).updated == 1
    with engine.connect() as c:
        edited = c.execute(select(Dataset.id, Dataset.pid).where(Dataset.title == "renamed, then edited")).one()
    assert tuple(edited) == (before.id, before.pid)


def test_a_new_file_at_a_moved_files_old_path_is_catalogued(settings, engine, data_root):
    run = nx.write_nexus(data_root / "run.nxs", title="first")
    ingest([str(data_root)], settings, engine, workers=1)
    run.rename(data_root / "run_old.nxs")
    assert ingest([str(data_root)], settings, engine, workers=1).updated == 1
    nx.write_nexus(data_root / "run.nxs", title="second")  # the beamline reuses the name
    report = ingest([str(data_root)], settings, engine, workers=1)
    assert (report.new, report.failed) == (1, [])
    with engine.connect() as c:
        pids = dict(c.execute(select(Dataset.title, Dataset.pid)).all())
    assert set(pids) == {"first", "second"} and pids["first"] != pids["second"]


def test_a_named_file_the_walk_would_not_pick_up_is_kept(settings, engine, data_root):
    special = nx.write_nexus(data_root / "special.dat")  # not an ingest suffix
    nx.write_nexus(data_root / "x.nxs")
    assert ingest([str(special)], settings, engine, workers=1).new == 1
    report = ingest([str(data_root), str(special)], settings, engine, workers=1)
    assert (report.new, report.unchanged, report.deleted_count) == (1, 1, 0)


def test_a_path_that_cannot_be_looked_at_is_not_gone(settings, engine, data_root, monkeypatch):
    nx.write_nexus(data_root / "other" / "x.nxs")
    nx.write_nexus(data_root / "proj" / "run1" / "a.nxs")
    ingest([str(data_root)], settings, engine, workers=1)
    real_lstat = os.lstat

    def no_permission(path, *args, **kwargs):
        if "proj" in str(path):
            raise PermissionError(13, "Permission denied")
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", no_permission)
    report = ingest([str(data_root / "other"), str(data_root / "proj" / "run1")], settings, engine, workers=1)
    assert report.deleted_count == 0
    assert [(Path(p).name, r) for p, r in report.failed] == [("run1", "cannot read (Permission denied)")]


def test_raw_reference_through_a_link_to_the_storage(settings, engine, tmp_path):
    storage = tmp_path / "gpfs" / "data"
    (tmp_path / "data_link").symlink_to(storage, target_is_directory=True)
    raw = nx.write_nexus(storage / "p1" / "run_1.nxs", definition="NXsas", title="raw")
    reduced = nx.write_nexus(storage / "p1" / "processed" / "r.h5", definition="NXcanSAS", title="reduced")
    with h5py.File(reduced, "a") as f:  # the beamline names the raw file by the linked path
        nx.nx_group(f["entry"], "reduction", "NXprocess")["raw_file"] = str(tmp_path / "data_link" / "p1" / raw.name)
    linked = settings.model_copy(update={"data_roots": [tmp_path / "data_link"]})
    ingest([str(tmp_path / "data_link")], linked, engine, workers=1)
    with engine.connect() as c:
        source = c.execute(select(Dataset.title).join(DatasetDerivation, DatasetDerivation.source_dataset_id == Dataset.id)).scalar_one()
    assert source == "raw"
