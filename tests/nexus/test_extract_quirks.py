"""HDF5 as real writers produce it: empty attributes, odd types, padded names, placeholder dates."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from pancommons.nexus.extract import ExtractOptions, extract_file
from pancommons.techniques import load_hints
from tests.nexus_files import write_nexus

OPTIONS = ExtractOptions(zone="UTC", hints=load_hints())


def test_empty_attributes_and_non_plain_types_are_passed_over(tmp_path):
    path = write_nexus(tmp_path / "odd.nxs")
    with h5py.File(path, "a") as f:
        f["entry"].attrs["default"] = h5py.Empty("S10")  # an attribute with no value
        f["entry/instrument/name"].attrs["short_name"] = h5py.Empty("S1")
        f["entry/sample/temperature"].attrs["units"] = np.array([], dtype="S1")  # zero-length
        f["entry/sample"]["in_beam"] = True  # h5py writes booleans as HDF5 enums
        f["entry/sample"]["state"] = np.array((1, 2.5), dtype=[("a", "i4"), ("b", "f8")])  # compound
        f["entry/sample"]["notes"] = h5py.Empty("S10")  # a dataset with no value
        del f["entry/title"]
        f["entry/title"] = h5py.Empty("S10")
    record = extract_file(path, OPTIONS)
    entry = record.entries[0]
    assert entry.title == "odd.nxs"  # an empty title falls back to the file name, never garbage
    assert entry.default_plot == "/entry/data"
    temperature = [p for p in entry.parameters if p.name == "sample_temperature"][0]
    assert (temperature.value, temperature.unit, temperature.si_value) == (100.0, None, None)


def test_space_padded_names_are_understood(tmp_path):
    path = write_nexus(tmp_path / "padded.nxs")
    padded = h5py.h5t.C_S1.copy()
    padded.set_size(12)
    padded.set_strpad(h5py.h5t.STR_SPACEPAD)
    with h5py.File(path, "a") as f:
        entry = f["entry"]
        del entry.attrs["NX_class"]
        attribute = h5py.h5a.create(entry.id, b"NX_class", padded, h5py.h5s.create(h5py.h5s.SCALAR))
        attribute.write(np.array(b"NXentry     ", dtype="S12"))
    record = extract_file(path, OPTIONS)
    assert [entry.entry_path for entry in record.entries] == ["/entry"]


@pytest.mark.parametrize("placeholder", ["9999-12-31T23:59:59", "0001-01-01T00:00:00", "1601-01-01"])
def test_placeholder_dates_are_not_acquisition_times(tmp_path, placeholder):
    path = write_nexus(tmp_path / "dated.nxs", start_time=placeholder)
    entry = extract_file(path, OPTIONS).entries[0]
    assert entry.time_source == "file modification time"
    assert entry.time_raw == placeholder


def test_a_name_only_suggests_what_a_field_measures(tmp_path):
    path = write_nexus(tmp_path / "ramp.nxs")
    with h5py.File(path, "a") as f:
        f["entry/sample/temperature_ramp_rate"] = 2.0
        f["entry/sample/temperature_ramp_rate"].attrs["units"] = "K/min"
        f["entry/sample/temperature_setpoint"] = 20.0
        f["entry/sample/temperature_setpoint"].attrs["units"] = "C"  # Celsius, read as such by the name
    record = extract_file(path, OPTIONS)
    found = {p.name: p for p in record.entries[0].parameters}
    assert found["sample/temperature_ramp_rate"].si_value == pytest.approx(2.0 / 60)
    assert found["sample/temperature_setpoint"].si_value == pytest.approx(293.15)
    assert not [w for w in record.warnings if "ramp" in w]
