"""Small real NeXus/HDF5 files written with h5py for tests: good ones and broken ones."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np


def nx_group(parent, name: str, nx_class: str):
    group = parent.create_group(name)
    group.attrs["NX_class"] = nx_class
    return group


def write_nexus(
    path: Path,
    *,
    title: str = "Lysozyme crystal 1",
    definition: str = "NXmx",
    proposal: str | None = "P-2020-001",
    start_time: str = "2020-05-01T10:00:00+02:00",
    wavelength: tuple[float, str] | None = (0.98, "angstrom"),
    temperature: tuple[float, str] | None = (100.0, "K"),
    sample: str = "lysozyme",
    formula: str = "C613H959N193O185S10",
    entries: int = 1,
    users: list[dict] | None = None,
    probe: str = "x-ray",
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs["default"] = "entry"
        for index in range(entries):
            name = "entry" if index == 0 else f"entry{index + 1}"
            entry = nx_group(f, name, "NXentry")
            entry.attrs["default"] = "data"
            entry["title"] = title if index == 0 else f"{title} ({name})"
            entry["definition"] = definition
            entry["start_time"] = start_time
            if proposal:
                entry["experiment_identifier"] = proposal
            instrument = nx_group(entry, "instrument", "NXinstrument")
            instrument["name"] = "BL1"
            source = nx_group(instrument, "source", "NXsource")
            source["name"] = "Test Light Source"
            source["probe"] = probe
            if wavelength:
                beam = nx_group(instrument, "beam", "NXbeam")
                beam["incident_wavelength"] = wavelength[0]
                beam["incident_wavelength"].attrs["units"] = wavelength[1]
            sample_group = nx_group(entry, "sample", "NXsample")
            sample_group["name"] = sample
            sample_group["chemical_formula"] = formula
            if temperature:
                sample_group["temperature"] = temperature[0]
                sample_group["temperature"].attrs["units"] = temperature[1]
            for number, user in enumerate(users or []):
                group = nx_group(entry, f"user_{number}", "NXuser")
                for key, value in user.items():
                    group[key] = value
            data = nx_group(entry, "data", "NXdata")
            data.attrs["signal"] = "counts"
            data["counts"] = np.arange(20, dtype="int32")
    return path


def write_not_hdf5(path: Path) -> Path:
    path.write_text("this is a log file, not HDF5\n")
    return path


def write_truncated(path: Path) -> Path:
    write_nexus(path)
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size // 2)
    return path


def write_without_entry(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(10)
        f.attrs["creator"] = "a plain HDF5 writer"
    return path


def write_virtual_with_missing_sources(path: Path) -> Path:
    write_nexus(path, title="VDS stack")
    layout = h5py.VirtualLayout(shape=(4, 8, 8), dtype="uint16")
    for frame in range(4):
        layout[frame] = h5py.VirtualSource(f"frames_{frame:03d}.h5", "/data", shape=(8, 8))
    with h5py.File(path, "a") as f:
        f["entry/instrument"].create_group("detector").attrs["NX_class"] = "NXdetector"
        f["entry/instrument/detector"].create_virtual_dataset("data", layout, fillvalue=0)
    return path


def write_broken_external_link(path: Path) -> Path:
    write_nexus(path, title="External frames")
    with h5py.File(path, "a") as f:
        f["entry/data/frames"] = h5py.ExternalLink("does_not_exist_master.h5", "/entry/data")
    return path


def write_non_utf8(path: Path) -> Path:
    write_nexus(path, title="placeholder")
    with h5py.File(path, "a") as f:
        del f["entry/title"]
        f["entry/title"] = np.bytes_("Mesure à 20 K".encode("latin-1"))
        f["entry/instrument/beam/incident_wavelength"].attrs["units"] = np.bytes_(b"\xc5")  # Latin-1 Å
    return path


def write_huge_attribute(path: Path, megabytes: int = 10) -> Path:
    write_nexus(path, title="Huge note")
    with h5py.File(path, "a") as f:
        # one on an attribute the catalogue reads, one it has no reason to read
        f["entry/instrument/beam/incident_wavelength"].attrs["units"] = "x" * (megabytes * 1024 * 1024)
        f["entry"].attrs["notes"] = "y" * (megabytes * 1024 * 1024)
    return path


def touch_later(path: Path) -> None:
    """Move a file's modification time forward, as a rewrite would."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
