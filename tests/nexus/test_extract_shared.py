"""Extraction from the real beamline files in ../shared/data/nexus (skipped where absent)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pancommons.model import DatasetKind
from pancommons.nexus.extract import ExtractOptions, extract_file
from pancommons.techniques import load_hints
from tests.conftest import SHARED_NEXUS, shared_nexus

OPTIONS = ExtractOptions(zone="UTC", hints=load_hints())


def extract(name: str):
    return extract_file(shared_nexus(name), OPTIONS)


def parameter(entry, name):
    found = [p for p in entry.parameters if p.name == name]
    assert found, f"no parameter {name}; have {[p.name for p in entry.parameters]}"
    return found[0]


def test_chopper_keeps_the_time_zone_of_its_start_time():
    entry = extract("chopper.nxs").entries[0]
    assert entry.start_time.utcoffset() == timedelta(hours=-6)
    assert entry.start_time.astimezone(timezone.utc) == datetime(2001, 2, 7, 14, 54, 21, tzinfo=timezone.utc)
    assert entry.end_time.astimezone(timezone.utc) == datetime(2001, 2, 9, 20, 12, 53, tzinfo=timezone.utc)
    assert entry.title == "MgB2 PDOS 43.37g 8K 120meV E0@240Hz T0@120Hz"
    assert entry.probe == "neutron"  # from "Spallation Neutron Source"
    energy = parameter(entry, "incident_energy")
    assert (energy.value, energy.unit) == (130.0, "meV")
    assert energy.si_value == pytest.approx(130e-3 * 1.602176634e-19)
    assert energy.si_unit == "J"
    pressure = parameter(entry, "instrument/detector/gas_pressure")
    assert pressure.unit == "bars" and pressure.si_value == pytest.approx(6e5) and pressure.si_unit == "Pa"


def test_nxmx_wavelength_unit_and_missing_virtual_sources():
    record = extract("DLS_i03_i04_NXmx_Therm_6_2.nxs")
    entry = record.entries[0]
    assert entry.definition == "NXmx"
    assert entry.techniques == [("http://purl.org/pan-science/PaNET/PaNET01164", "macromolecular crystallography")]
    wavelength = parameter(entry, "incident_wavelength")
    assert wavelength.unit == "angstrom"
    assert wavelength.value == pytest.approx(0.98027356)
    assert wavelength.si_value == pytest.approx(0.98027356e-10) and wavelength.si_unit == "m"
    assert entry.instrument_name == "I04" and entry.facility == "DLS"
    assert parameter(entry, "detector_description").value == "Eiger 16M"
    assert parameter(entry, "detector_distance").si_value == pytest.approx(0.213959, rel=1e-5)
    # The 488-frame virtual stack points at a file that is not there: metadata still read, the gap reported.
    stack = next(array for array in record.arrays if array.path == "/entry/data/data")
    assert stack.layout == "virtual" and stack.shape == (488, 4362, 4148)
    assert any("virtual dataset /entry/data/data" in w and "missing" in w for w in record.warnings)
    assert any("broken external link /entry/data/data_000001" in w for w in record.warnings)


def test_saxs_non_iso_date_and_bitshuffle_filter():
    record = extract("S2p5min_00070_00001.h5")
    entry = record.entries[0]
    # "04/19/2022 14:41:59": month first, no zone, read in the facility zone (UTC here)
    assert entry.start_time == datetime(2022, 4, 19, 14, 41, 59, tzinfo=timezone.utc)
    assert entry.time_raw == "04/19/2022 14:41:59"
    image = next(array for array in record.arrays if array.path == "/entry/data/data")
    assert image.shape == (3262, 3108) and image.dtype == "uint32"
    assert image.filters == ["bitshuffle"]
    assert record.filters == ["bitshuffle"]
    assert entry.facility == "APS" and entry.instrument_name == "SAXS/GISAXS" and entry.probe == "x-ray"
    # The sample temperature is NaN in the file: no parameter rather than a NaN one.
    assert not [p for p in entry.parameters if p.name == "sample_temperature"]
    assert all(sample.name != "nan" for sample in entry.samples)


def test_mapping_file_gives_one_dataset_per_entry():
    record = extract("example_mapping.nxs")
    assert [entry.entry_path for entry in record.entries] == ["/entry1", "/entry_micro"]
    first, micro = record.entries
    assert first.title == "Example Mapping Scan" and micro.title == "White image of scan"
    assert first.default_plot == "/entry1/data" and micro.default_plot == "/entry_micro/data"
    # entry_micro shares the experiment identifier through a hard link: found under both entries
    assert first.proposal_id == "mt9396-1" == micro.proposal_id


def test_template_title_of_scan101_falls_back_to_the_file_name():
    record = extract("scan101.nxs")
    entry = record.entries[0]
    assert entry.entry_path == "/com_05551"
    assert "{" not in entry.title and entry.title == "scan101.nxs"
    assert any("unfilled template" in warning for warning in record.warnings)
    assert entry.start_time.utcoffset() == timedelta(hours=1)
    assert entry.proposal_id == "com_05551_time_scan_00001"
    # KeV and a Latin-1 "Å" as written by the beamline, both understood
    assert parameter(entry, "incident_photon_energy").si_value == pytest.approx(12.0002 * 1.602176634e-16, rel=1e-4)
    wavelength = parameter(entry, "incident_wavelength")
    assert wavelength.unit == "Å" and wavelength.si_value == pytest.approx(1.03318e-10, rel=1e-4)
    assert any("not UTF-8" in warning for warning in record.warnings)
    # the user's e-mail is read (to recognise members) but lives only in the private person record
    assert entry.users[0].email == "yves.garreau@synchrotron-soleil.fr"
    assert len(entry.parameters) <= OPTIONS.max_parameters + 10  # bounded despite ~200 positioners


def test_cansas_file_with_several_entries_is_processed_sas():
    record = extract("1998spheres.h5")
    assert [entry.entry_path for entry in record.entries] == ["/sasentry_0", "/sasentry_1"]
    entry = record.entries[0]
    assert entry.kind == DatasetKind.PROCESSED
    assert entry.title == "255 nm PS spheres"
    assert entry.default_plot == "/sasentry_0/sasdata"
    assert entry.probe == "x-ray"  # from the canSAS radiation "synchrotron X-ray"
    assert ("http://purl.org/pan-science/PaNET/PaNET01188", "small angle x-ray scattering") in entry.techniques
    assert entry.samples[0].name == "ps255nm"
    assert parameter(entry, "detector_distance").si_value == pytest.approx(0.3)


def test_spec_file_title_and_date():
    entry = extract("33id_spec_22_2D.hdf5").entries[0]
    assert entry.definition == "NXspecdata"
    assert entry.start_time == datetime(2003, 7, 17, 3, 30, 31, tzinfo=timezone.utc)
    assert entry.time_source == "date"
    assert entry.default_plot == "/S22/data"


def test_usaxs_without_definition_still_has_beam_parameters():
    entry = extract("USAXS_flyScan_GC_M4_NewD_15.h5").entries[0]
    assert entry.definition is None and entry.techniques == []
    assert parameter(entry, "incident_wavelength").unit == "Angstrom"
    assert parameter(entry, "incident_wavelength").si_value == pytest.approx(0.5166e-10, rel=1e-3)
    assert parameter(entry, "incident_photon_energy").unit == "keV"
    assert entry.default_plot == "/entry/flyScan"


def test_compression_file_records_gzip_and_shuffle():
    record = extract("compression.h5")
    filters = {array.path: array.filters for array in record.arrays}
    assert filters["/SASentry/SASdata/I"] == ["shuffle", "gzip"]
    assert {array.chunks for array in record.arrays} == {(32, 32)}


@pytest.mark.skipif(not SHARED_NEXUS.exists(), reason="../shared/data/nexus is absent")
def test_every_shared_file_is_extracted():
    for path in sorted(SHARED_NEXUS.iterdir()):
        record = extract_file(path, OPTIONS)
        assert record.entries, path.name
        assert all(entry.title for entry in record.entries)
        assert all(entry.start_time is not None and entry.start_time.tzinfo for entry in record.entries)
        assert all(entry.default_plot for entry in record.entries), path.name


def test_fixed_length_utf8_text_is_read(tmp_path):
    """Names like 'Mateo Horváth' stored as fixed-length UTF-8 strings, in values and attributes."""
    import h5py
    import numpy as np

    from tests.nexus_files import write_nexus

    path = write_nexus(tmp_path / "utf8.nxs")
    utf8 = h5py.string_dtype("utf-8", 32)
    with h5py.File(path, "a") as f:
        user = f["entry"].create_group("user_9")
        user.attrs.create("NX_class", np.array("NXuser".encode(), dtype=h5py.string_dtype("utf-8", 6)))
        user.create_dataset("name", data=np.array("Mateo Horváth".encode(), dtype=utf8))
        user.create_dataset("affiliation", data=np.array("ETH Zürich".encode(), dtype=utf8))
        f["entry/sample/temperature"].attrs.create("units", np.array("°C".encode(), dtype=h5py.string_dtype("utf-8", 3)))
    record = extract_file(path, OPTIONS)
    entry = record.entries[0]
    assert [(u.full_name, u.affiliation) for u in entry.users] == [("Mateo Horváth", "ETH Zürich")]
    assert parameter(entry, "sample_temperature").si_value == pytest.approx(373.15)
    assert record.warnings == []
