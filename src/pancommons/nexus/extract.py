"""NeXus metadata for the catalogue: one EntryRecord per NXentry of a file.

What is read and what it means follows the table in the project's
reference (nexus-hdf5.md): titles, times, proposal, definition,
instrument/source/probe, wavelength/energy, sample, users, detector, the
default plot, and bounded extra parameters.  Values are read only from
small fields; arrays contribute their header (shape, dtype, filters).
Choice documented for users: **one catalogue dataset per NXentry** (a file
with two entries gives two datasets sharing the file).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from pancommons.model import (
    DatasetKind,
    EntryRecord,
    FileRecord,
    ParameterValue,
    PersonRecord,
    SampleRecord,
)
from pancommons.nexus import hdf5_tree
from pancommons.nexus.hdf5_tree import Node, Tree, dataset_attr, read_small, resolve
from pancommons.techniques import TechniqueHint, techniques_for
from pancommons.times import parse_time
from pancommons.units import expected_dimension, normalise

# Definitions of reduced (processed) data; an NXprocess group also marks processed data.
PROCESSED_DEFINITIONS = {"nxcansas", "nxiqproc", "nxxasproc", "nxsqom", "nxtomoproc", "nxmxproc"}
_TEMPLATE = re.compile(r"\{[^{}\n]{1,64}\}")
_MAX_TITLE = 500
_MAX_TEXT = 2000


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    zone: str = "UTC"
    default_facility: str = ""
    hints: tuple[TechniqueHint, ...] = ()
    max_parameters: int = 64
    checksum_algorithm: str = "sha256"


class ExtractionError(Exception):
    """The file cannot be catalogued; the message says why, for the ingest report."""


def extract_file(path: str | os.PathLike, options: ExtractOptions) -> FileRecord:
    path = os.fspath(path)
    try:
        stat = os.stat(path)
        checksum = _checksum(path, options.checksum_algorithm)
    except PermissionError:
        raise ExtractionError("permission denied") from None
    except FileNotFoundError:
        raise ExtractionError("file vanished before it could be read") from None
    except OSError as error:
        raise ExtractionError(f"unreadable ({error.strerror or error})") from None
    try:
        fid = hdf5_tree.open_file(path)
    except hdf5_tree.NotHDF5 as error:
        raise ExtractionError(str(error)) from None
    try:
        tree = hdf5_tree.walk(fid, os.path.dirname(path))
        record = FileRecord(
            path=path,
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            checksum=checksum,
            checksum_algorithm=options.checksum_algorithm,
            arrays=tree.arrays,
            arrays_total=tree.arrays_total,
            filters=sorted({name for array in tree.arrays for name in array.filters}),
        )
        entries = [node for node in _children(tree, tree.nodes["/"]) if _nx_class(node) == "NXentry"]
        if not entries:
            raise ExtractionError("no NXentry group: not a NeXus file")
        file_name = os.path.basename(path)
        for entry in sorted(entries, key=lambda node: node.path):
            record.entries.append(_entry(tree, entry, file_name, len(entries) > 1, stat.st_mtime_ns, options))
        record.warnings = tree.warnings
        return record
    except OSError as error:
        raise ExtractionError(f"HDF5 error while reading ({hdf5_tree.short_error(error)})") from None
    finally:
        fid.close()


def _checksum(path: str, algorithm: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


# --- navigation --------------------------------------------------------------


def _name_attr(value: object) -> str | None:
    """An attribute naming something (NX_class, units, default), stored as text or a 1-element array."""
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) and value else None


def _nx_class(node: Node | None) -> str | None:
    return _name_attr(node.attrs.get("NX_class")) if node is not None else None


def _children(tree: Tree, group: Node) -> list[Node]:
    """A group's members, soft links and aliases resolved; computed once per group."""
    found = tree.member_cache.get(group.path)
    if found is None:
        prefix = "" if group.path == "/" else group.path
        found = [node for name in group.children if (node := resolve(tree, f"{prefix}/{name}")) is not None]
        tree.member_cache[group.path] = found
    return found


def _groups_of_class(tree: Tree, group: Node, nx_class: str, depth: int = 3) -> list[Node]:
    """Groups of a NeXus class below ``group``, shallowest first, at most ``depth`` levels down."""
    found: list[Node] = []
    seen: set[str] = set()
    level = [group]
    for _ in range(depth):
        next_level: list[Node] = []
        for parent in level:
            for child in _children(tree, parent):
                if child.is_group and child.path not in seen:
                    seen.add(child.path)
                    if _nx_class(child) == nx_class:
                        found.append(child)
                    next_level.append(child)
        level = next_level
    return found


def _field(tree: Tree, group: Node | None, *names: str) -> Node | None:
    if group is None:
        return None
    for name in names:
        if name in group.children:
            node = resolve(tree, f"{group.path.rstrip('/')}/{name}")
            if node is not None and not node.is_group:
                return node
    return None


def _text(tree: Tree, group: Node | None, *names: str) -> str | None:
    node = _field(tree, group, *names)
    if node is None:
        return None
    value = read_small(node, tree.warnings)
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else " ".join(str(item) for item in value)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    text = " ".join(str(value).split())
    return text[:_MAX_TEXT] or None


def _number(tree: Tree, node: Node | None) -> float | None:
    if node is None:
        return None
    value = read_small(node, tree.warnings)
    if isinstance(value, list):
        numbers = [item for item in value if isinstance(item, (int, float)) and not isinstance(item, bool)]
        finite = [item for item in numbers if math.isfinite(item)]
        if not finite or len(numbers) != len(value):
            return None
        value = sum(finite) / len(finite)  # a logged quantity: its mean stands for the run
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _unit(tree: Tree, node: Node) -> str | None:
    return _name_attr(dataset_attr(node, "units", tree.warnings))


# --- one entry ---------------------------------------------------------------


def _entry(
    tree: Tree, entry: Node, file_name: str, several: bool, mtime_ns: int, options: ExtractOptions
) -> EntryRecord:
    record = EntryRecord(entry_path=entry.path, title="")
    record.title = _title(tree, entry, file_name, several)
    _times(tree, entry, record, mtime_ns, options.zone)
    record.definition = _definition(tree, entry)
    record.proposal_id = _text(tree, entry, "experiment_identifier", "collection_identifier", "proposal_id")
    _instrument(tree, entry, record, options.default_facility)
    record.default_plot = default_plot(tree, entry)
    taken: set[str] = set()
    _beam(tree, entry, record, taken)
    _samples(tree, entry, record, taken)
    _detector(tree, entry, record, taken)
    record.users = _users(tree, entry)
    _derivation(tree, entry, record)
    _extra_parameters(tree, entry, record, taken, options.max_parameters)
    record.techniques = techniques_for(options.hints, record.definition, record.probe, record.instrument_name)
    return record


def _title(tree: Tree, entry: Node, file_name: str, several: bool) -> str:
    entry_name = entry.path.rsplit("/", 1)[-1]
    fallback = f"{file_name} ({entry_name})" if several else file_name
    raw = _text(tree, entry, "title")
    if raw is None:
        return fallback
    # Unfilled template fields from acquisition software ("{experiment-type}")
    # say nothing about the data.
    cleaned = " ".join(_TEMPLATE.sub(" ", raw).split()).strip(" -:;,")
    if cleaned != raw:
        tree.warnings.append(f"{entry.path}/title holds unfilled template text {raw!r}")
    if not cleaned:
        return fallback
    return cleaned[:_MAX_TITLE]


def _times(tree: Tree, entry: Node, record: EntryRecord, mtime_ns: int, zone: str) -> None:
    for name in ("start_time", "date", "end_time"):
        text = _text(tree, entry, name)
        if text is None:
            continue
        parsed = parse_time(text, zone)
        if parsed.value is None:
            record.time_raw = record.time_raw or parsed.raw
            tree.warnings.append(f"{entry.path}/{name}: time {parsed.raw[:64]!r} is not a date")
            continue
        if record.start_time is None:
            record.start_time, record.time_source = parsed.value, name
            record.time_raw = parsed.raw
    end_text = _text(tree, entry, "end_time")
    if end_text:
        record.end_time = parse_time(end_text, zone).value
    if record.start_time is None:
        root_time = tree.nodes["/"].attrs.get("file_time")
        parsed = parse_time(root_time, zone) if isinstance(root_time, str) else None
        if parsed is not None and parsed.value is not None:
            record.start_time, record.time_source = parsed.value, "file_time"
        else:
            record.start_time = datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC)
            record.time_source = "file modification time"


def _definition(tree: Tree, entry: Node) -> str | None:
    definition = _text(tree, entry, "definition")
    if definition is None:
        for sub in _groups_of_class(tree, entry, "NXsubentry", depth=1):
            definition = _text(tree, sub, "definition")
            if definition:
                break
    if definition and definition.lower() == "nxentry":
        return None  # the base class named as if it were an application definition
    return definition


_PROBE_WORDS = (("neutron", "neutron"), ("muon", "muon"), ("x-ray", "x-ray"), ("xray", "x-ray"),
                ("synchrotron", "x-ray"), ("free-electron", "x-ray"), ("free electron", "x-ray"),
                ("electron", "electron"), ("laser", "photon"))


def probe_from_text(text: str | None) -> str | None:
    if not text:
        return None
    lowered = text.lower()
    for word, probe in _PROBE_WORDS:
        if word in lowered:
            return probe
    return None


def _instrument(tree: Tree, entry: Node, record: EntryRecord, default_facility: str) -> None:
    instruments = _groups_of_class(tree, entry, "NXinstrument", depth=1)
    instrument = instruments[0] if instruments else None
    name_node = _field(tree, instrument, "name")
    name = _text(tree, instrument, "name")
    short_name = dataset_attr(name_node, "short_name", tree.warnings) if name_node is not None else None
    if isinstance(short_name, str) and short_name:
        name = short_name
    if name is None and instrument is not None and isinstance(instrument.attrs.get("short_name"), str):
        name = instrument.attrs["short_name"]
    if name is None and isinstance(tree.nodes["/"].attrs.get("instrument"), str):
        name = tree.nodes["/"].attrs["instrument"]
    record.instrument_name = name
    sources = _groups_of_class(tree, instrument, "NXsource", depth=2) if instrument else []
    source = sources[0] if sources else None
    source_name_node = _field(tree, source, "name")
    record.source_name = _text(tree, source, "name")
    record.source_type = _text(tree, source, "type")
    short = dataset_attr(source_name_node, "short_name", tree.warnings) if source_name_node is not None else None
    record.facility = (
        _text(tree, source, "facility_name")
        or (short if isinstance(short, str) and short else None)
        or record.source_name
        or default_facility
        or None
    )
    written_probe = _text(tree, source, "probe")
    record.probe = (
        (written_probe.lower() if written_probe else None)
        or probe_from_text(record.source_type)
        or probe_from_text(_text(tree, source, "radiation"))
    )


def default_plot(tree: Tree, entry: Node) -> str | None:
    """The NXdata group a viewer should open first, following @default chains."""
    node: Node | None = entry
    for _ in range(8):
        if node is None:
            break
        if _nx_class(node) == "NXdata":
            return node.path
        name = _name_attr(node.attrs.get("default"))
        if name is None:
            break
        node = resolve(tree, f"{node.path.rstrip('/')}/{name}")
    data_groups = _groups_of_class(tree, entry, "NXdata", depth=2)
    return data_groups[0].path if data_groups else None


def _add_measured(
    tree: Tree, record: EntryRecord, taken: set[str], name: str, node: Node | None, expect: str | None,
    expect_from_name: bool = False,
) -> bool:
    if name in taken or node is None:
        return False
    value = _number(tree, node)
    if value is None:
        return False
    unit = _unit(tree, node)
    si = normalise(value, unit, expect)
    if si is None and expect_from_name:
        # the name only suggested the quantity (a "temperature_ramp_rate" is K/min): the unit decides
        si, expect = normalise(value, unit, None), None
    if unit and si is None and expect:
        tree.warnings.append(f"{node.path}: unit {unit!r} is not a {expect}; kept without SI value")
    record.parameters.append(
        ParameterValue(name, value, unit, si.si_value if si else None, si.si_unit if si else None, node.path)
    )
    taken.add(name)
    return True


def _add_text(record: EntryRecord, taken: set[str], name: str, value: str | None, source: str | None) -> None:
    if value and name not in taken:
        record.parameters.append(ParameterValue(name, value[:_MAX_TEXT], source=source))
        taken.add(name)


def _beam(tree: Tree, entry: Node, record: EntryRecord, taken: set[str]) -> None:
    energy_name = "incident_energy" if record.probe == "neutron" else "incident_photon_energy"
    instruments = _groups_of_class(tree, entry, "NXinstrument", depth=1)
    places: list[Node] = []
    for instrument in instruments:
        places += _groups_of_class(tree, instrument, "NXbeam", depth=2)
        places += _groups_of_class(tree, instrument, "NXmonochromator", depth=2)
        places += _groups_of_class(tree, instrument, "NXchopper", depth=2)
        places += _groups_of_class(tree, instrument, "NXsource", depth=2)
    places += _groups_of_class(tree, entry, "NXbeam", depth=1)
    for place in places:
        _add_measured(tree, record, taken, "incident_wavelength",
                      _field(tree, place, "incident_wavelength", "wavelength"), "length")
        _add_measured(tree, record, taken, energy_name,
                      _field(tree, place, "incident_energy", "energy"), "energy")


def _samples(tree: Tree, entry: Node, record: EntryRecord, taken: set[str]) -> None:
    for sample in _groups_of_class(tree, entry, "NXsample", depth=1):
        name = _text(tree, sample, "name", "short_title", "ID", "sample_name")
        formula = _text(tree, sample, "chemical_formula")
        description = _text(tree, sample, "description", "details")
        if name or formula:
            record.samples.append(SampleRecord(name or formula or "", formula, description))
        _add_text(record, taken, "sample_chemical_formula", formula, f"{sample.path}/chemical_formula")
        _add_measured(tree, record, taken, "sample_temperature", _temperature_node(tree, sample), "temperature")
        _add_measured(tree, record, taken, "sample_pressure", _field(tree, sample, "pressure"), "pressure")
    if not record.samples:
        name = _text(tree, entry, "Sample_Name", "sample_name")
        if name:
            record.samples.append(SampleRecord(name))


def _temperature_node(tree: Tree, sample: Node) -> Node | None:
    node = _field(tree, sample, "temperature")
    if node is not None:
        return node
    # An NXlog of the temperature holds it in value, with the units there.
    for name in ("temperature", "temperature_log", "temperature_env"):
        group = resolve(tree, f"{sample.path}/{name}")
        if group is not None and group.is_group:
            return _field(tree, group, "value", "average_value")
    return None


def _detector(tree: Tree, entry: Node, record: EntryRecord, taken: set[str]) -> None:
    detectors: list[Node] = []
    for instrument in _groups_of_class(tree, entry, "NXinstrument", depth=1):
        detectors += _groups_of_class(tree, instrument, "NXdetector", depth=2)
    if not detectors:
        return
    detector = detectors[0]
    _add_text(record, taken, "detector_description",
              _text(tree, detector, "description", "detector_name", "local_name", "name"), detector.path)
    _add_text(record, taken, "detector_type", _text(tree, detector, "type"), f"{detector.path}/type")
    _add_measured(tree, record, taken, "detector_distance",
                  _field(tree, detector, "distance", "detector_distance", "SDD"), "length")
    _add_measured(tree, record, taken, "detector_x_pixel_size", _field(tree, detector, "x_pixel_size"), "length")
    _add_measured(tree, record, taken, "detector_y_pixel_size", _field(tree, detector, "y_pixel_size"), "length")
    _add_measured(tree, record, taken, "detector_count_time", _field(tree, detector, "count_time"), "time")


def _users(tree: Tree, entry: Node) -> list[PersonRecord]:
    users = []
    for group in _groups_of_class(tree, entry, "NXuser", depth=1):
        username = _text(tree, group, "facility_user_id", "username")
        email = _text(tree, group, "email")
        if username and "@" in username:  # some facilities log users in by e-mail: personal data
            email, username = email or username, None
        name = _text(tree, group, "name") or username
        if not name:
            continue
        users.append(
            PersonRecord(
                full_name=name,
                orcid=_text(tree, group, "ORCID", "orcid"),
                email=email,
                facility_user_id=username,
                affiliation=_text(tree, group, "affiliation"),
                role=_text(tree, group, "role"),
            )
        )
    return users


def _derivation(tree: Tree, entry: Node, record: EntryRecord) -> None:
    processes = _groups_of_class(tree, entry, "NXprocess", depth=2)
    definition = (record.definition or "").lower()
    if processes or definition in PROCESSED_DEFINITIONS:
        record.kind = DatasetKind.PROCESSED
    for process in processes:
        raw_file = _text(tree, process, "raw_file", "input_file", "source_file")
        if raw_file:
            record.derived_from.append((raw_file, _text(tree, process, "raw_entry", "input_entry")))


def _extra_parameters(tree: Tree, entry: Node, record: EntryRecord, taken: set[str], limit: int) -> None:
    """Other numeric fields with units under the instrument and the sample, bounded."""
    if limit <= 0:
        return
    used_sources = {parameter.source for parameter in record.parameters}
    roots = _groups_of_class(tree, entry, "NXinstrument", depth=1) + _groups_of_class(tree, entry, "NXsample", depth=1)
    prefix = entry.path.rstrip("/") + "/"
    level = roots
    added = 0
    for _ in range(3):  # shallow fields first: they are the ones people search by
        next_level: list[Node] = []
        for group in level:
            for child in _children(tree, group):
                if child.is_group:
                    next_level.append(child)
                    continue
                if added >= limit:
                    return
                if child.path in used_sources or child.shape not in ((), (1,)):
                    continue
                if dataset_attr(child, "units", tree.warnings) is None:
                    continue
                name = child.path.removeprefix(prefix)
                if _add_measured(tree, record, taken, name, child, expected_dimension(name), expect_from_name=True):
                    added += 1
        level = next_level
