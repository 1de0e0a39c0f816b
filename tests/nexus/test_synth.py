"""Tests for the synthetic NeXus corpus writer (pancommons.nexus.synth)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401  (registers the bitshuffle/LZ4 filter for reading)
import numpy as np
import pytest

from pancommons.nexus.synth import CorpusSummary, write_corpus, write_nxmx_like

COUNT = 60
SEED = 11
BITSHUFFLE = 32008


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #

def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".nxs", ".h5"))


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _text(value) -> str:
    """Decode a string read from a field or attribute (fixed, vlen, boxed)."""
    if isinstance(value, np.ndarray):
        value = value.flat[0]
    return value.decode() if isinstance(value, bytes) else str(value)


def _field(group: h5py.Group, name: str) -> str:
    return _text(group[name][()])


def _scalar(ds: h5py.Dataset) -> float:
    return float(np.asarray(ds[()]).reshape(-1)[0])


def _nx_class(obj) -> str:
    return _text(obj.attrs.get("NX_class", b""))


def _entries(f: h5py.File) -> list[h5py.Group]:
    return [g for g in f.values() if isinstance(g, h5py.Group) and _nx_class(g) == "NXentry"]


def _children(group: h5py.Group, nx_class: str) -> list[h5py.Group]:
    found = []
    group.visititems(lambda name, obj: found.append(obj)
                     if isinstance(obj, h5py.Group) and _nx_class(obj) == nx_class else None)
    return found


def _orcid_ok(orcid: str) -> bool:
    orcid = orcid.removeprefix("https://orcid.org/")
    if not re.fullmatch(r"\d{4}-\d{4}-\d{4}-\d{3}[\dX]", orcid):
        return False
    digits = orcid.replace("-", "")
    total = 0
    for ch in digits[:-1]:
        total = (total + int(ch)) * 2
    check = (12 - total % 11) % 11
    return digits[-1] == ("X" if check == 10 else str(check))


# --------------------------------------------------------------------------- #
# fixtures: a few small corpora, written once per module
# --------------------------------------------------------------------------- #

@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, tuple[Path, CorpusSummary, list[int]]]:
    out = {}
    for label, seed, workers in (("a", SEED, 1), ("b", SEED, 1), ("w2", SEED, 2),
                                 ("other", SEED + 1, 1)):
        root = tmp_path_factory.mktemp(f"corpus_{label}")
        ticks: list[int] = []
        summary = write_corpus(root, COUNT, seed, workers=workers, progress=ticks.append)
        out[label] = (root, summary, ticks)
    return out


@pytest.fixture(scope="module")
def corpus(corpora) -> Path:
    return corpora["a"][0]


@pytest.fixture(scope="module")
def proposals(corpus) -> dict[str, dict]:
    doc = json.loads((corpus / "proposals.json").read_text(encoding="utf-8"))
    return {p["proposal_number"]: p for p in doc["proposals"]}


# --------------------------------------------------------------------------- #
# determinism
# --------------------------------------------------------------------------- #

def test_same_seed_gives_identical_bytes(corpora):
    a, b = _snapshot(corpora["a"][0]), _snapshot(corpora["b"][0])
    assert "proposals.json" in a
    assert len(a) == COUNT + 1
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_workers_give_identical_bytes(corpora):
    a, w2 = _snapshot(corpora["a"][0]), _snapshot(corpora["w2"][0])
    assert a.keys() == w2.keys()
    assert [k for k in a if a[k] != w2[k]] == []
    assert corpora["a"][1] == CorpusSummary(**{**vars(corpora["w2"][1]),
                                               "outdir": corpora["a"][0]})


def test_different_seed_gives_different_content(corpora):
    a, other = _snapshot(corpora["a"][0]), _snapshot(corpora["other"][0])
    assert a["proposals.json"] != other["proposals.json"]
    assert sorted(a.values()) != sorted(other.values())


def test_no_object_timestamps(corpus):
    for path in _files(corpus)[:15]:
        with h5py.File(path) as f:
            infos = [h5py.h5o.get_info(f.id)]
            f.visit(lambda name: infos.append(h5py.h5o.get_info(f[name].id)))
            assert all(i.ctime == 0 and i.mtime == 0 for i in infos), path


def test_summary_and_progress(corpora):
    root, summary, ticks = corpora["a"]
    assert summary.files == COUNT
    assert sum(ticks) == COUNT and sum(corpora["w2"][2]) == COUNT
    assert sum(summary.by_technique.values()) == COUNT
    assert sum(summary.by_facility.values()) == COUNT
    assert summary.bytes == sum(p.stat().st_size for p in _files(root))
    assert summary.processed == len([p for p in _files(root) if p.parent.name == "processed"])
    assert summary.proposals == len(json.loads((root / "proposals.json").read_text())["proposals"])


# --------------------------------------------------------------------------- #
# every file is readable NeXus with a plottable default
# --------------------------------------------------------------------------- #

def _check_default_plot(f: h5py.File, path: Path) -> None:
    entry = f[_text(f.attrs["default"])]
    assert _nx_class(entry) == "NXentry", path
    data = entry[_text(entry.attrs["default"])]
    assert _nx_class(data) == "NXdata", path
    signal = data[_text(data.attrs["signal"])]
    values = signal[()]
    assert isinstance(signal, h5py.Dataset) and values.size > 0, path
    assert np.isfinite(values.astype(float)).all(), path
    if "axes" in data.attrs:
        axes = data.attrs["axes"]
        axes = [axes] if isinstance(axes, (str, bytes)) else list(axes)
        for dim, axis in enumerate(_text(a) for a in axes):
            if axis != ".":
                assert axis in data, (path, axis)
                assert len(data[axis]) in (signal.shape[dim], signal.shape[dim] + 1), path


def test_every_file_opens_and_default_plot_resolves(corpus):
    paths = _files(corpus)
    assert len(paths) == COUNT
    for path in paths:
        with h5py.File(path) as f:
            assert len(_entries(f)) >= 1, path
            _check_default_plot(f, path)


def test_layout_and_core_metadata(corpus):
    raw = re.compile(r"(NLS|KNS|OXF)/([A-Z0-9]+)/((NLS|KNS|OXF)-20\d\d-\d{4})/run_\d{6}\.nxs")
    red = re.compile(r"(NLS|KNS)/(SAXS3|SANS1)/((NLS|KNS)-20\d\d-\d{4})/processed/"
                     r"run_\d{6}_reduced\.h5")
    for path in _files(corpus):
        rel = path.relative_to(corpus).as_posix()
        m = raw.fullmatch(rel) or red.fullmatch(rel)
        assert m, rel
        facility, instrument, proposal = m.group(1), m.group(2), m.group(3)
        with h5py.File(path) as f:
            entry = _entries(f)[0]
            assert _field(entry, "experiment_identifier") == proposal
            assert _field(entry, "title")
            year = int(re.search(r"20\d\d", _field(entry, "start_time")).group())
            assert 2015 <= year <= 2026
            inst = _children(entry, "NXinstrument")[0]
            assert _field(inst, "name") == instrument
            source = _children(inst, "NXsource")[0]
            assert _text(source["name"].attrs["short_name"]) == facility
            assert _field(source, "probe") in ("x-ray", "neutron")
            sample = _children(entry, "NXsample")[0]
            assert _field(sample, "name")
            assert sample["temperature"].attrs["units"] in ("K", "degC", b"K", b"degC")
            assert _children(entry, "NXuser"), rel


def test_time_formats(corpus):
    zoned = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
    naive = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
    us = re.compile(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d")
    seen = set()
    for path in _files(corpus):
        with h5py.File(path) as f:
            entry = _entries(f)[0]
            for key in ("start_time", "end_time"):
                value = _field(entry, key)
                kind = next((k for k, rx in (("zoned", zoned), ("naive", naive), ("us", us))
                             if rx.fullmatch(value)), None)
                assert kind, (path, value)
                seen.add(kind)
    assert "zoned" in seen and len(seen) >= 2


# --------------------------------------------------------------------------- #
# coverage of techniques, compression, processed files
# --------------------------------------------------------------------------- #

def test_corpus_covers_every_technique_and_compression(corpus):
    definitions, sas_probes, classes, filters = set(), set(), set(), set()
    no_definition = 0
    for path in _files(corpus):
        with h5py.File(path) as f:
            entry = _entries(f)[0]
            if "definition" in entry:
                definition = _field(entry, "definition")
                definitions.add(definition)
                if definition in ("NXsas", "NXcanSAS"):
                    source = _children(entry, "NXsource")[0]
                    sas_probes.add((definition, _field(source, "probe")))
            else:
                no_definition += 1

            def visit(name, obj):
                if isinstance(obj, h5py.Group):
                    classes.add(_nx_class(obj))
                elif obj.ndim >= 2:
                    plist = obj.id.get_create_plist()
                    ids = {plist.get_filter(k)[0] for k in range(plist.get_nfilters())}
                    filters.add(BITSHUFFLE if BITSHUFFLE in ids
                                else "gzip" if h5py.h5z.FILTER_DEFLATE in ids else None)
            f.visititems(visit)
    assert definitions == {"NXmx", "NXtomo", "NXsas", "NXcanSAS", "NXxas", "NXarpes",
                           "NXdirecttof"}
    assert no_definition > 0  # DIFF3 powder diffraction
    assert {("NXsas", "x-ray"), ("NXsas", "neutron"),
            ("NXcanSAS", "x-ray"), ("NXcanSAS", "neutron")} <= sas_probes
    assert {"NXfermi_chopper", "NXmonitor", "NXprocess", "NXtransformations",
            "NXmonochromator", "NXbeam", "NXdetector", "NXuser"} <= classes
    assert {BITSHUFFLE, "gzip", None} <= filters


def test_bitshuffle_data_reads_back(corpus):
    checked = 0
    for path in _files(corpus):
        with h5py.File(path) as f:
            def visit(name, obj):
                nonlocal checked
                if isinstance(obj, h5py.Dataset) and obj.chunks:
                    plist = obj.id.get_create_plist()
                    if plist.get_nfilters() and plist.get_filter(0)[0] == BITSHUFFLE:
                        assert obj[()].max() > 0
                        checked += 1
            f.visititems(visit)
    assert checked > 0


def test_processed_files_point_at_existing_raw_files(corpus):
    processed = [p for p in _files(corpus) if p.parent.name == "processed"]
    assert processed
    for path in processed:
        with h5py.File(path) as f:
            entry = f["entry"]
            assert _field(entry, "definition") == "NXcanSAS"
            reduction = entry["reduction"]
            assert _nx_class(reduction) == "NXprocess"
            assert _field(reduction, "program") and _field(reduction, "version")
            raw_file = _field(reduction, "raw_file")
            assert not Path(raw_file).is_absolute() and raw_file.startswith("../")
            raw_path = (path.parent / raw_file).resolve()
            assert raw_path.is_file(), raw_file
            assert raw_path.name == path.name.replace("_reduced.h5", ".nxs")
            raw_entry = _field(reduction, "raw_entry")
            with h5py.File(raw_path) as raw:
                assert _nx_class(raw[raw_entry]) == "NXentry"
                assert (_field(raw[raw_entry], "experiment_identifier")
                        == _field(entry, "experiment_identifier"))
            sasdata = entry["sasdata"]
            assert _text(sasdata.attrs["signal"]) == "I"
            assert sasdata["Q"].shape == sasdata["I"].shape


def test_processed_share_is_about_one_in_six(tmp_path):
    # planning only: writing 600 files is not needed to check the proportion
    from pancommons.nexus import synth

    runs = synth._plan(600, 3, list(synth.INSTRUMENTS), synth._proposals(3))
    share = sum(r.raw_relpath is not None for r in runs) / len(runs)
    assert 0.10 < share < 0.25
    assert {r.instrument for r in runs if r.raw_relpath} == {"SAXS3", "SANS1"}


# --------------------------------------------------------------------------- #
# proposals.json
# --------------------------------------------------------------------------- #

def test_proposals_json_matches_files(corpus, proposals):
    assert proposals
    for prop in proposals.values():
        assert prop["title"] and prop["facility"] in ("NLS", "KNS", "OXF")
        assert prop["proposal_number"].startswith(prop["facility"] + "-")
        assert prop["start_date"] <= prop["end_date"]
        roles = [m["role"] for m in prop["members"]]
        assert roles.count("principal_investigator") == 1 and "local_contact" in roles
        for member in prop["members"]:
            assert member["name"] == f"{member['first_name']} {member['last_name']}"
            assert re.fullmatch(r"u\d{5}", member["facility_user_id"])
            assert "@" in member["email"]
            assert member["orcid"] is None or _orcid_ok(member["orcid"]), member["orcid"]
    referenced = set()
    for path in _files(corpus):
        with h5py.File(path) as f:
            entry = _entries(f)[0]
            number = _field(entry, "experiment_identifier")
            referenced.add(number)
            assert number in proposals, (path, number)
            members = {(m["name"], m["email"], m["role"]) for m in proposals[number]["members"]}
            for user in _children(entry, "NXuser"):
                key = (_field(user, "name"), _field(user, "email"), _field(user, "role"))
                assert key in members, (path, key)
                if "ORCID" in user:
                    assert _orcid_ok(_field(user, "ORCID"))
    assert referenced == set(proposals)  # the export holds exactly the referenced proposals


def test_orcids_are_checked_correctly():
    assert _orcid_ok("0000-0002-1825-0097")  # ORCID's documented example
    assert not _orcid_ok("0000-0002-1825-0098")


def test_facilities_filter(tmp_path):
    summary = write_corpus(tmp_path, 8, 5, facilities=["OXF"])
    assert summary.by_facility == {"OXF": 8}
    doc = json.loads((tmp_path / "proposals.json").read_text())
    assert doc["facility"] == "OXF"
    assert {p["facility"] for p in doc["proposals"]} == {"OXF"}
    assert all(p.relative_to(tmp_path).parts[:2] == ("OXF", "SFX1") for p in _files(tmp_path))
    with pytest.raises(ValueError):
        write_corpus(tmp_path / "x", 3, 5, facilities=["XYZ"])


# --------------------------------------------------------------------------- #
# write_nxmx_like
# --------------------------------------------------------------------------- #

def test_write_nxmx_like(tmp_path):
    path = tmp_path / "mx.nxs"
    write_nxmx_like(path, 42)
    with h5py.File(path) as f:
        names: list[str] = []
        f.visit(names.append)
        assert 45 <= len(names) <= 70
        assert _text(f.attrs["default"]) == "entry"
        entry = f["entry"]
        for key in ("definition", "title", "start_time", "end_time", "experiment_identifier"):
            assert _field(entry, key)
        assert _field(entry, "definition") == "NXmx"
        inst = entry["instrument"]
        assert _field(inst, "name") == "MX1"
        assert [_field(inst["source"], k) for k in ("name", "type", "probe")] == [
            "Nordlys Synchrotron", "Synchrotron X-ray Source", "x-ray"]
        wavelength = inst["beam/incident_wavelength"]
        assert _text(wavelength.attrs["units"]) in ("angstrom", "Angstrom", "nm")
        det = inst["detector"]
        for key in ("description", "type", "distance", "x_pixel_size", "y_pixel_size",
                    "count_time", "sensor_material", "sensor_thickness", "saturation_value",
                    "beam_center_x", "beam_center_y", "depends_on", "data"):
            assert key in det, key
        for key in ("distance", "x_pixel_size", "count_time", "sensor_thickness"):
            assert "units" in det[key].attrs, key
        data = det["data"]
        assert data.shape == (4, 64, 64) and data.dtype == np.uint16
        assert data.id.get_create_plist().get_filter(0)[0] == BITSHUFFLE
        frames = data[()]
        assert frames.max() > 0
        # the depends_on chain of the detector and of the sample resolves
        for start in (_field(det, "depends_on"), _field(entry["sample"], "depends_on")):
            target, hops = start, 0
            while target != ".":
                axis = f[target]
                assert _text(axis.attrs["transformation_type"]) in ("rotation", "translation")
                assert np.linalg.norm(axis.attrs["vector"]) > 0 and "units" in axis.attrs
                target, hops = _text(axis.attrs["depends_on"]), hops + 1
            assert hops >= 1
        sample = entry["sample"]
        for key in ("name", "chemical_formula", "temperature", "depends_on"):
            assert key in sample, key
        assert len(_children(entry, "NXuser")) >= 1
        plot = entry[_text(entry.attrs["default"])]
        assert _text(plot.attrs["signal"]) == "data"
        assert np.array_equal(plot["data"][()], frames)  # hard link to the detector data
        assert [_text(a) for a in plot.attrs["axes"]] == ["omega", ".", "."]
        assert plot["omega"].shape == (4,)


def test_write_nxmx_like_is_deterministic(tmp_path):
    paths = [tmp_path / d / "mx.nxs" for d in ("a", "b", "c")]  # root @file_name is the name
    for path, seed in zip(paths, (7, 7, 8)):
        path.parent.mkdir()
        write_nxmx_like(path, seed)
    a, b, c = (p.read_bytes() for p in paths)
    assert a == b
    assert a != c
