"""Technique writers for the synthetic NeXus corpus (see :mod:`pancommons.nexus.synth`).

This module holds

* :class:`NxFile`, a thin and fast wrapper over h5py's low-level API that
  creates groups (with ``NX_class``), fields (with ``units``), chunked and
  compressed data, attributes and hard links. Every dataset is created with
  ``track_times=False`` so that the same input always gives the same bytes;
* the data model a writer receives (:class:`Facility`, :class:`Sample`,
  :class:`Run`);
* one writer per technique (``write_mx``, ``write_tomo``, ``write_sas``,
  ``write_cansas``, ``write_xas``, ``write_arpes``, ``write_tof``,
  ``write_powder``) and the per-technique value pools and distributions
  (:data:`TECHNIQUES`) the planner in :mod:`~pancommons.nexus.synth` draws from.

Writers draw payloads (images, spectra, detector geometry) from the run's own
``numpy.random.Generator``; everything the catalogue extracts (title, sample,
times, beam, users) is drawn by the planner and arrives in the :class:`Run`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import h5py
import hdf5plugin
import numpy as np
from h5py import h5a, h5d, h5f, h5g, h5p, h5s, h5t, h5z

HC_KEV_ANGSTROM = 12.398419843320026  # lambda[A] = HC / E[keV]

_BSLZ4 = hdf5plugin.Bitshuffle(cname="lz4")


# --------------------------------------------------------------------------- #
# Low-level HDF5 helper
# --------------------------------------------------------------------------- #

def _no_times(kind):
    plist = h5p.create(kind)
    plist.set_obj_track_times(False)  # no creation/modification times: same bytes every run
    return plist


def _plain_dcpl() -> h5p.PropDCID:
    return _no_times(h5p.DATASET_CREATE)


def _compact_dcpl() -> h5p.PropDCID:
    plist = _plain_dcpl()
    plist.set_layout(h5d.COMPACT)  # small fields live in the object header: fewer writes
    plist.set_fill_time(h5d.FILL_TIME_NEVER)
    return plist


def _file_access() -> h5p.PropFAID:
    plist = h5p.create(h5p.FILE_ACCESS)
    plist.set_fclose_degree(h5f.CLOSE_STRONG)
    return plist


_DCPL = _plain_dcpl()
_COMPACT = _compact_dcpl()
_COMPACT_MAX = 16384  # bytes; larger fields are contiguous
_FAPL = _file_access()
_FCPL = _no_times(h5p.FILE_CREATE)  # the root group
_GCPL = _no_times(h5p.GROUP_CREATE)
_SCALAR = h5s.create(h5s.SCALAR)
_SPACES: dict[tuple[int, ...], h5s.SpaceID] = {}
_NUMTYPES: dict[np.dtype, h5t.TypeID] = {}
_STRTYPES: dict[tuple[int, bool], h5t.TypeID] = {}
_VLEN_STR = h5t.py_create(h5py.string_dtype("utf-8"), logical=True)  # in the file
_VLEN_MEM = h5t.py_create(h5py.string_dtype("utf-8"))  # Python str objects in memory


def _space(shape: tuple[int, ...]) -> h5s.SpaceID:
    if shape == ():
        return _SCALAR
    space = _SPACES.get(shape)
    if space is None:
        space = _SPACES[shape] = h5s.create_simple(shape)
    return space


def _fixed_str_type(size: int, utf8: bool) -> h5t.TypeID:
    key = (size, utf8)
    tid = _STRTYPES.get(key)
    if tid is None:
        tid = h5t.C_S1.copy()
        tid.set_size(size)
        tid.set_strpad(h5t.STR_NULLTERM)
        if utf8:
            tid.set_cset(h5t.CSET_UTF8)
        _STRTYPES[key] = tid
    return tid


def _num_type(dtype: np.dtype) -> h5t.TypeID:
    tid = _NUMTYPES.get(dtype)
    if tid is None:
        tid = _NUMTYPES[dtype] = h5t.py_create(dtype)
    return tid


_F64 = _num_type(np.dtype(np.float64))


def _mtype(tid: h5t.TypeID) -> h5t.TypeID:
    return _VLEN_MEM if tid is _VLEN_STR else tid


class NxFile:
    """Write one NeXus file through h5py's low-level API (fast, deterministic).

    ``vlen`` stores strings as variable-length UTF-8 (h5py's default) instead
    of fixed-length NUL-terminated bytes (the NeXus API's way); ``boxed``
    stores scalar fields as 1-element arrays, as the old NeXus API did.
    """

    def __init__(self, path, *, vlen: bool = False, boxed: bool = False):
        self.root = h5f.create(str(path).encode(), h5f.ACC_TRUNC, fapl=_FAPL, fcpl=_FCPL)
        self.vlen = vlen
        self.boxed = boxed

    def close(self) -> None:
        self.root.close()  # CLOSE_STRONG: also closes every object still open

    def __enter__(self) -> NxFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # values ---------------------------------------------------------------
    def _encode(self, value) -> tuple[np.ndarray, h5t.TypeID]:
        """Value -> (array to write, HDF5 type); vlen strings need ``_mtype``."""
        if type(value) is float:  # the commonest case first
            return np.array(value), _F64
        if isinstance(value, str):
            if self.vlen:
                return np.array(value, dtype=object), _VLEN_STR
            raw = value.encode()
            size = len(raw) + 1
            return np.array(raw, dtype=f"S{size}"), _fixed_str_type(size, not raw.isascii())
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
            if self.vlen:
                return np.array(value, dtype=object), _VLEN_STR
            raws = [v.encode() for v in value]
            size = max(len(r) for r in raws) + 1
            utf8 = not all(r.isascii() for r in raws)
            return np.array(raws, dtype=f"S{size}"), _fixed_str_type(size, utf8)
        arr = np.asarray(value)  # keeps 0-d scalars 0-d (ascontiguousarray would not)
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        return arr, _num_type(arr.dtype)

    def attr(self, obj, name: str, value) -> None:
        arr, tid = self._encode(value)
        attr = h5a.create(obj, name.encode(), tid, _space(arr.shape))
        attr.write(arr, mtype=_mtype(tid))

    def attrs(self, obj, **attrs) -> None:
        for name, value in attrs.items():
            if value is not None:
                self.attr(obj, name, value)

    # objects --------------------------------------------------------------
    def group(self, parent, name: str, nx_class: str, **attrs) -> h5g.GroupID:
        """Create a group and set its ``NX_class`` (and any other attributes)."""
        gid = h5g.create(parent, name.encode(), gcpl=_GCPL)
        self.attr(gid, "NX_class", nx_class)
        if attrs:
            self.attrs(gid, **attrs)
        return gid

    def field(self, parent, name: str, value, units: str | None = None, **attrs):
        """Create a small field (compact layout), with a ``units`` attribute if given."""
        if value is None:
            return None
        arr, tid = self._encode(value)
        if self.boxed and arr.shape == ():
            arr = arr.reshape(1)
        # compact layout with no fill value cannot hold variable-length strings
        dcpl = _COMPACT if arr.nbytes <= _COMPACT_MAX and tid is not _VLEN_STR else _DCPL
        dsid = h5d.create(parent, name.encode(), tid, _space(arr.shape), dcpl=dcpl)
        dsid.write(h5s.ALL, h5s.ALL, arr, mtype=_mtype(tid))
        if units is not None:
            self.attr(dsid, "units", units)
        if attrs:
            self.attrs(dsid, **attrs)
        return dsid

    def quantity(self, parent, name: str, q: tuple[float, str] | None, **attrs):
        """Write a ``(value, units)`` pair as a field (nothing when ``q`` is None)."""
        if q is None:
            return None
        return self.field(parent, name, float(q[0]), units=q[1], **attrs)

    def data(self, parent, name: str, arr: np.ndarray, compression: str | None = None,
             units: str | None = None, **attrs):
        """Create detector data: chunked per frame with ``"bslz4"`` or ``"gzip"``, else contiguous."""
        arr = np.ascontiguousarray(arr)  # detector data: always >= 1-d
        plist = _plain_dcpl()
        if arr.ndim >= 1 and compression:
            chunks = (1,) * (arr.ndim - 2) + arr.shape[-2:] if arr.ndim > 2 else arr.shape
            plist.set_chunk(chunks)
            if compression == "bslz4":
                plist.set_filter(_BSLZ4.filter_id, h5z.FLAG_OPTIONAL, _BSLZ4.filter_options)
            else:
                plist.set_shuffle()
                plist.set_deflate(4)
        tid = _num_type(arr.dtype)
        dsid = h5d.create(parent, name.encode(), tid, _space(arr.shape), dcpl=plist)
        dsid.write(h5s.ALL, h5s.ALL, arr, mtype=tid)
        if units is not None:
            self.attr(dsid, "units", units)
        self.attrs(dsid, **attrs)
        return dsid

    def link(self, parent, name: str, target: str) -> None:
        """Hard link ``parent/name`` to the absolute path ``target``."""
        parent.links.create_hard(name.encode(), self.root, target.encode())


# --------------------------------------------------------------------------- #
# Data model handed to the writers
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class Facility:
    short_name: str
    name: str
    source_type: str
    probe: str
    city: str
    country: str
    utc_offset: int | None  # fixed offset in hours; None = central European rules
    creator: str            # acquisition software, written in the root @creator
    vlen: bool = False      # string storage style of the facility's writers
    boxed: bool = False     # scalars as 1-element arrays


@dataclass(frozen=True)
class Sample:
    name: str
    formula: str | None
    temperature: tuple[float, str]
    pressure: tuple[float, str] | None = None
    description: str | None = None


@dataclass
class Run:
    """Everything needed to write one file; built by the planner in ``synth``."""

    index: int
    kind: str                       # key into TECHNIQUES
    facility: Facility
    instrument: str
    relpath: str                    # POSIX path relative to the corpus root
    entry_name: str
    proposal_number: str
    users: tuple[dict, ...]         # NXuser contents
    title: str
    sample: Sample
    start_time: str
    end_time: str
    beam: tuple[float, str] | None  # primary beam quantity (wavelength or energy)
    compression: str | None
    run_number: int
    rng: np.random.Generator
    raw_relpath: str | None = None  # processed files: raw file, relative to own dir
    raw_entry: str | None = None
    reduced_on: str | None = None
    started: datetime | None = None  # local time, orders run numbers

    def path(self, *parts: str) -> str:
        return "/" + "/".join((self.entry_name,) + parts)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * rng.random()


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.random() * len(seq))]


def _temperature_k(run: Run) -> float:
    value, unit = run.sample.temperature
    return value + 273.15 if unit == "degC" else value


def _length(rng: np.random.Generator, metres: float) -> tuple[float, str]:
    """A length in a randomly chosen but realistic spelling."""
    unit = _pick(rng, ("m", "m", "mm", "mm", "um"))
    factor = {"m": 1.0, "mm": 1e3, "um": 1e6}[unit]
    return round(metres * factor, 6), unit


def _count_time(rng: np.random.Generator, seconds: float) -> tuple[float, str]:
    if rng.random() < 0.25:
        return round(seconds * 1e3, 3), "ms"
    return round(seconds, 6), "s"


# --------------------------------------------------------------------------- #
# Shared blocks: entry header, instrument, source, sample, users, NXdata
# --------------------------------------------------------------------------- #

def _entry(nx: NxFile, run: Run, definition: str | None, default: str = "data"):
    nx.attrs(nx.root, default=run.entry_name, creator=run.facility.creator,
             file_name=run.relpath.rsplit("/", 1)[-1])
    entry = nx.group(nx.root, run.entry_name, "NXentry", default=default)
    nx.field(entry, "title", run.title)
    if definition is not None:
        nx.field(entry, "definition", definition)
    nx.field(entry, "start_time", run.start_time)
    nx.field(entry, "end_time", run.end_time)
    nx.field(entry, "experiment_identifier", run.proposal_number)
    return entry


def _instrument(nx: NxFile, entry, run: Run, name: str = "instrument",
                source: str = "source", canSAS: bool = False):
    """NXinstrument with its name and NXsource; returns (instrument, source)."""
    inst = nx.group(entry, name, "NXinstrument",
                    canSAS_class="SASinstrument" if canSAS else None)
    nx.field(inst, "name", run.instrument)
    src = nx.group(inst, source, "NXsource", canSAS_class="SASsource" if canSAS else None)
    nx.field(src, "name", run.facility.name, short_name=run.facility.short_name)
    nx.field(src, "type", run.facility.source_type)
    nx.field(src, "probe", run.facility.probe)
    return inst, src


def _sample(nx: NxFile, entry, run: Run, name: str = "sample", **attrs):
    s = run.sample
    grp = nx.group(entry, name, "NXsample", **attrs)
    nx.field(grp, "name", s.name)
    nx.field(grp, "chemical_formula", s.formula)
    nx.quantity(grp, "temperature", s.temperature)
    nx.quantity(grp, "pressure", s.pressure)
    nx.field(grp, "description", s.description)
    return grp


def _users(nx: NxFile, entry, run: Run) -> None:
    for k, user in enumerate(run.users, start=1):
        grp = nx.group(entry, f"user_{k}", "NXuser")
        for key in ("name", "role", "affiliation", "ORCID", "email", "facility_user_id"):
            nx.field(grp, key, user.get(key))


def _nxdata(nx: NxFile, entry, run: Run, signal: str, axes: list[str] | None = None,
            links: dict[str, str] | None = None, name: str = "data", **attrs):
    grp = nx.group(entry, name, "NXdata", signal=signal, axes=axes, **attrs)
    for child, target in (links or {}).items():
        nx.link(grp, child, target)
    return grp


def _detector_common(nx: NxFile, det, rng: np.random.Generator, *, description: str,
                     det_type: str, distance_m: float | None, pixel_m: float | None,
                     count_s: float) -> None:
    nx.field(det, "description", description)
    nx.field(det, "type", det_type)
    if distance_m is not None:
        nx.quantity(det, "distance", _length(rng, distance_m))
    if pixel_m is not None:
        px = _length(rng, pixel_m)
        nx.quantity(det, "x_pixel_size", px)
        nx.quantity(det, "y_pixel_size", px)
    nx.quantity(det, "count_time", _count_time(rng, count_s))


# --------------------------------------------------------------------------- #
# Payload generators (small and cheap)
# --------------------------------------------------------------------------- #

def _spots(rng: np.random.Generator, frames: np.ndarray, n: int, peak: int) -> None:
    """Add ``n`` Bragg-like spots per frame, in place, saturating at the dtype's max."""
    nf, ny, nx_ = frames.shape
    fs = np.repeat(np.arange(nf), n)
    ys = rng.integers(1, ny - 1, nf * n)
    xs = rng.integers(1, nx_ - 1, nf * n)
    amp = rng.integers(peak // 10, peak, nf * n)
    top = np.iinfo(frames.dtype).max
    for dy, dx, w in ((0, 0, 1.0), (-1, 0, 0.4), (1, 0, 0.4), (0, -1, 0.4), (0, 1, 0.4)):
        idx = (fs, ys + dy, xs + dx)
        frames[idx] = np.minimum(frames[idx] + (amp * w).astype(np.int64), top)


_YY, _XX = np.mgrid[0:64, 0:64].astype(np.float32)


def _radial(cy: float, cx: float) -> np.ndarray:
    return np.hypot(_YY - cy, _XX - cx)


# --------------------------------------------------------------------------- #
# Technique writers
# --------------------------------------------------------------------------- #

_MX_DETECTORS = {  # (description, pixel, material, thickness m, saturation)
    "old": ("Pilatus3 6M", 172e-6, "Silicon", 1000e-6, 1048575),
    "new": ("Eiger2 X 16M", 75e-6, "Silicon", 450e-6, 60000),
    "sfx": ("Jungfrau 4M", 75e-6, "Silicon", 320e-6, 120000),
}


def write_mx(nx: NxFile, run: Run, rng: np.random.Generator, *, lean: bool = False) -> None:
    """NXmx: rotation (MX1) or serial still (SFX1) crystallography, ~65 objects.

    ``lean`` leaves out the NXdetector_module and the flux (~55 objects), for
    the ingestion benchmark's :func:`~pancommons.nexus.synth.write_nxmx_like`.
    """
    serial = run.kind == "sfx"
    year = int(run.proposal_number.split("-")[1])
    detkey = "sfx" if serial else ("old" if year < 2020 else "new")
    desc, pixel, material, thickness, saturation = _MX_DETECTORS[detkey]
    nframes = 6 if serial else 4
    dtype = np.uint16 if detkey == "new" else np.int32  # Eiger: 16 bit, others: 32 bit
    frames = rng.integers(0, 4, (nframes, 64, 64), dtype=dtype)
    _spots(rng, frames, 10, 150000 if serial else 70000)

    entry = _entry(nx, run, "NXmx")
    inst, _ = _instrument(nx, entry, run)
    beam = nx.group(inst, "beam", "NXbeam")
    nx.quantity(beam, "incident_wavelength", run.beam)
    if serial:
        wl = run.beam[0] * (10.0 if run.beam[1] == "nm" else 1.0)
        nx.field(beam, "incident_energy", round(HC_KEV_ANGSTROM / wl, 4), units="keV")
        nx.field(beam, "pulse_energy", round(_u(rng, 0.5, 3.0), 3), units="mJ")
    elif not lean:
        nx.field(beam, "total_flux", float(f"{_u(rng, 1e11, 5e12):.4g}"), units="Hz")

    det = nx.group(inst, "detector", "NXdetector")
    distance = _u(rng, 0.12, 0.5)
    _detector_common(nx, det, rng, description=desc, det_type="Pixel", distance_m=distance,
                     pixel_m=pixel, count_s=_pick(rng, (0.01, 0.02, 0.05, 0.1)))
    nx.field(det, "sensor_material", material)
    nx.field(det, "sensor_thickness", thickness, units="m")
    nx.field(det, "saturation_value", np.int64(saturation))
    nx.field(det, "beam_center_x", round(_u(rng, 29, 35), 2), units="pixels")
    nx.field(det, "beam_center_y", round(_u(rng, 29, 35), 2), units="pixels")
    nx.field(det, "depends_on", run.path("instrument", "detector", "transformations", "det_z"))
    nx.data(det, "data", frames, compression=run.compression)
    dtr = nx.group(det, "transformations", "NXtransformations")
    nx.field(dtr, "det_z", round(distance * 1e3, 3), units="mm", depends_on=".",
             transformation_type="translation", vector=np.array([0.0, 0.0, 1.0]))
    if not lean:
        _mx_module(nx, det, run, pixel)

    smp = _sample(nx, entry, run)
    strans = nx.group(smp, "transformations", "NXtransformations")
    tpath = lambda axis: run.path("sample", "transformations", axis)
    if serial:
        nx.field(smp, "depends_on", tpath("injector_x"))
        nx.field(strans, "injector_x", round(_u(rng, -0.2, 0.2), 4), units="mm",
                 depends_on=".", transformation_type="translation",
                 vector=np.array([1.0, 0.0, 0.0]))
    else:
        inc = _pick(rng, (0.1, 0.1, 0.2, 0.5))
        omega = np.round(round(_u(rng, 0, 360), 1) + inc * np.arange(nframes), 4)
        nx.field(smp, "depends_on", tpath("phi"))
        nx.field(strans, "omega", omega, units="deg", depends_on=".",
                 transformation_type="rotation", vector=np.array([-1.0, 0.0, 0.0]))
        nx.field(strans, "omega_end", omega + inc, units="deg")
        nx.field(strans, "omega_increment_set", inc, units="deg")
        nx.field(strans, "chi", 0.0, units="deg", depends_on=tpath("omega"),
                 transformation_type="rotation", vector=np.array([0.0, 0.0, 1.0]))
        nx.field(strans, "phi", round(_u(rng, 0, 360), 2), units="deg", depends_on=tpath("chi"),
                 transformation_type="rotation", vector=np.array([-1.0, 0.0, 0.0]))
    _users(nx, entry, run)
    links = {"data": run.path("instrument", "detector", "data")}
    if serial:
        _nxdata(nx, entry, run, "data", links=links)
    else:
        links["omega"] = tpath("omega")
        _nxdata(nx, entry, run, "data", axes=["omega", ".", "."], links=links,
                omega_indices=np.int32(0))


def _mx_module(nx: NxFile, det, run: Run, pixel: float) -> None:
    mod = nx.group(det, "module", "NXdetector_module")
    nx.field(mod, "data_origin", np.array([0, 0], dtype=np.int32))
    nx.field(mod, "data_size", np.array([64, 64], dtype=np.int32))
    nx.field(mod, "data_stride", np.array([1, 1], dtype=np.int32))
    base = run.path("instrument", "detector", "module", "module_offset")
    nx.field(mod, "module_offset", 0.0, units="mm", transformation_type="translation",
             depends_on=run.path("instrument", "detector", "transformations", "det_z"),
             vector=np.array([1.0, 0.0, 0.0]), offset=np.array([0.0, 0.0, 0.0]))
    for name, vec in (("fast_pixel_direction", (-1.0, 0.0, 0.0)),
                      ("slow_pixel_direction", (0.0, -1.0, 0.0))):
        nx.field(mod, name, pixel * 1e3, units="mm", transformation_type="translation",
                 depends_on=base, vector=np.array(vec), offset=np.array([0.0, 0.0, 0.0]))


def write_tomo(nx: NxFile, run: Run, rng: np.random.Generator) -> None:
    """NXtomo: darks, flats and projections of a cylinder, with image_key."""
    keys = np.array([2, 2, 1, 1] + [0] * 8, dtype=np.uint8)
    angles = np.concatenate([np.zeros(4), np.linspace(0.0, 180.0, 8, endpoint=False)])
    flat = 20000.0 * np.exp(-((_XX - 32) ** 2) / 3000.0)
    radius = _u(rng, 12, 24)
    path_len = 2 * np.sqrt(np.clip(radius ** 2 - (_XX - 32 + _u(rng, -3, 3)) ** 2, 0, None))
    proj = flat * np.exp(-_u(rng, 0.02, 0.08) * path_len)
    frames = np.empty((12, 64, 64), dtype=np.uint16)
    frames[:2] = 100
    frames[2:4] = flat
    frames[4:] = proj
    frames += rng.integers(0, 50, frames.shape, dtype=np.uint16)

    entry = _entry(nx, run, "NXtomo")
    inst, _ = _instrument(nx, entry, run)
    mono = nx.group(inst, "monochromator", "NXmonochromator")
    nx.quantity(mono, "energy", run.beam)
    det = nx.group(inst, "detector", "NXdetector")
    _detector_common(nx, det, rng, description="PCO.edge 5.5 with LuAG:Ce scintillator",
                     det_type="sCMOS", distance_m=_u(rng, 0.05, 0.3),
                     pixel_m=_pick(rng, (0.65e-6, 1.3e-6, 3.25e-6)),
                     count_s=_pick(rng, (0.005, 0.01, 0.05, 0.2)))
    nx.data(det, "data", frames, compression=run.compression)
    nx.field(det, "image_key", keys)
    smp = _sample(nx, entry, run)
    nx.field(smp, "rotation_angle", angles, units="degree")
    nx.field(smp, "x_translation", round(_u(rng, -1, 1), 3), units="mm")
    ctl = nx.group(entry, "control", "NXmonitor")
    nx.field(ctl, "data", np.round(_u(rng, 180, 200) + rng.random(12), 3), units="mA")
    _users(nx, entry, run)
    _nxdata(nx, entry, run, "data", axes=["rotation_angle", ".", "."],
            links={"data": run.path("instrument", "detector", "data"),
                   "rotation_angle": run.path("sample", "rotation_angle"),
                   "image_key": run.path("instrument", "detector", "image_key")},
            rotation_angle_indices=np.int32(0))


def _sas_image(rng: np.random.Generator, neutron: bool) -> np.ndarray:
    cy, cx = _u(rng, 28, 36), _u(rng, 28, 36)
    r = _radial(cy, cx) + 1.0
    scale = _u(rng, 2e3, 5e4)
    img = scale * (r ** -_u(rng, 2.0, 4.0)) * 50 + _u(rng, 1, 5)
    counts = (img + rng.integers(0, 3, img.shape)).astype(np.int32)
    counts[r < 3.5] = 0  # beam stop
    if not neutron:
        counts[40:42, :] = -1  # Pilatus module gap
    return counts


def write_sas(nx: NxFile, run: Run, rng: np.random.Generator) -> None:
    """NXsas raw 2-D detector image, x-ray (SAXS3) or neutron (SANS1)."""
    neutron = run.kind == "sans"
    entry = _entry(nx, run, "NXsas")
    inst, _ = _instrument(nx, entry, run)
    mono = nx.group(inst, "monochromator", "NXmonochromator",
                    **({"type": "velocity selector"} if neutron else {}))
    nx.quantity(mono, "wavelength", run.beam)
    nx.field(mono, "wavelength_spread", 0.1 if neutron else 1e-4)
    coll = nx.group(inst, "collimator", "NXcollimator")
    nx.field(coll, "length", round(_pick(rng, (2.0, 4.0, 8.0, 12.0)) if neutron else 1.2, 2),
             units="m")
    det = nx.group(inst, "detector", "NXdetector")
    _detector_common(
        nx, det, rng,
        description="3He multi-tube detector" if neutron else "Pilatus3 1M",
        det_type="He3 tubes" if neutron else "Pixel",
        distance_m=_u(rng, 1.5, 20.0) if neutron else _u(rng, 1.0, 8.0),
        pixel_m=8e-3 if neutron else 172e-6,
        count_s=_pick(rng, (300.0, 600.0, 1200.0) if neutron else (0.5, 1.0, 10.0)))
    nx.field(det, "beam_center_x", round(_u(rng, 28, 36), 2), units="pixels")
    nx.field(det, "beam_center_y", round(_u(rng, 28, 36), 2), units="pixels")
    nx.data(det, "data", _sas_image(rng, neutron), compression=run.compression, units="counts")
    smp = _sample(nx, entry, run)
    nx.field(smp, "thickness", _pick(rng, (1.0, 1.5, 2.0)), units="mm")
    ctl = nx.group(entry, "control", "NXmonitor")
    nx.field(ctl, "mode", "timer")
    nx.field(ctl, "preset", 600.0 if neutron else 1.0, units="s")
    nx.field(ctl, "integral", float(int(_u(rng, 1e5, 1e7))), units="counts")
    _users(nx, entry, run)
    _nxdata(nx, entry, run, "data", links={"data": run.path("instrument", "detector", "data")})


def write_cansas(nx: NxFile, run: Run, rng: np.random.Generator) -> None:
    """NXcanSAS reduced I(Q), with an NXprocess pointing at its raw file."""
    neutron = run.kind == "sans-reduced"
    q_unit = _pick(rng, ("1/angstrom", "1/angstrom", "1/nm"))
    q = np.geomspace(0.002 if neutron else 0.005, 0.4 if neutron else 0.5, 200)
    rg = _u(rng, 15, 120)
    intensity = _u(rng, 0.5, 50) * np.exp(-(q * rg) ** 2 / 3) + _u(rng, 1e-3, 0.05) + 1e-4 / q
    intensity *= 1 + 0.02 * rng.standard_normal(q.size)
    if q_unit == "1/nm":
        q = q * 10
    entry = _entry(nx, run, "NXcanSAS", default="sasdata")
    nx.attrs(entry, canSAS_class="SASentry", version="1.1")
    nx.field(entry, "run", run.raw_relpath.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    dat = nx.group(entry, "sasdata", "NXdata", canSAS_class="SASdata", signal="I",
                   I_axes="Q", Q_indices=np.int32(0), axes="Q")
    nx.field(dat, "Q", q, units=q_unit, resolutions="Qdev")
    nx.field(dat, "I", intensity, units="1/cm", uncertainties="Idev")
    nx.field(dat, "Idev", np.abs(intensity) * 0.03, units="1/cm")
    nx.field(dat, "Qdev", q * 0.05, units=q_unit)
    inst, src = _instrument(nx, entry, run, name="sasinstrument", source="sassource",
                            canSAS=True)
    nx.quantity(src, "incident_wavelength", run.beam)
    nx.field(src, "radiation",
             "Spallation Neutron Source" if neutron else "Synchrotron X-ray Source")
    nx.group(inst, "sascollimation", "NXcollimator", canSAS_class="SAScollimation")
    det = nx.group(inst, "sasdetector", "NXdetector", canSAS_class="SASdetector")
    nx.field(det, "name", "3He multi-tube detector" if neutron else "Pilatus3 1M")
    nx.field(det, "SDD", round(_u(rng, 1.5, 20.0) if neutron else _u(rng, 1.0, 8.0), 3), units="m")
    _sample(nx, entry, run, name="sassample", canSAS_class="SASsample")
    proc = nx.group(entry, "reduction", "NXprocess", canSAS_class="SASprocess")
    program = "mantid" if neutron else "pyFAI"
    nx.field(proc, "name", program)
    nx.field(proc, "program", program)
    nx.field(proc, "version", _pick(rng, ("6.8.0", "6.9.1", "6.10.0") if neutron
                                    else ("2023.9.0", "2024.5.0", "2025.1.0")))
    nx.field(proc, "date", run.reduced_on)
    nx.field(proc, "raw_file", run.raw_relpath)
    nx.field(proc, "raw_entry", run.raw_entry)
    _users(nx, entry, run)


def write_xas(nx: NxFile, run: Run, rng: np.random.Generator) -> None:
    """NXxas transmission scan across an absorption edge (the beam is the edge)."""
    edge, unit = run.beam
    n = int(rng.integers(200, 501))
    rel = np.linspace(-0.15, 0.6, n) if unit == "keV" else np.linspace(-150, 600, n)
    energy = np.round(edge + rel, 5)
    x = rel * (1000.0 if unit == "keV" else 1.0)
    k = np.sqrt(np.clip(x, 0, None) * 0.2625)
    mu = (0.5 + np.arctan(x / 3.0) / np.pi + 0.3 * np.exp(-((x - 8) / 6) ** 2)
          + 0.05 * np.sin(2 * 2.2 * k) * np.exp(-0.02 * k ** 2) * (x > 0))
    mu = mu * _u(rng, 0.8, 2.5) + 0.2 + 0.003 * rng.standard_normal(n)
    i0 = (1e6 * (1 + 0.01 * rng.standard_normal(n))).round()
    i1 = (i0 * np.exp(-mu)).round()

    entry = _entry(nx, run, "NXxas")
    inst, _ = _instrument(nx, entry, run)
    mono = nx.group(inst, "monochromator", "NXmonochromator")
    nx.field(mono, "energy", energy, units=unit)
    nx.field(mono, "crystal", _pick(rng, ("Si(111)", "Si(311)")))
    for name, arr in (("incoming_beam", i0), ("absorbed_beam", i1)):
        det = nx.group(inst, name, "NXdetector")
        label = "I0" if name == "incoming_beam" else "I1"
        _detector_common(nx, det, rng, description=f"ionisation chamber {label}",
                         det_type="ionization chamber", distance_m=None, pixel_m=None,
                         count_s=_pick(rng, (0.5, 1.0, 2.0)))
        nx.field(det, "data", arr.astype(np.int64), units="counts")
    _sample(nx, entry, run)
    mon = nx.group(entry, "monitor", "NXmonitor")
    nx.field(mon, "mode", "timer")
    nx.field(mon, "preset", 1.0, units="s")
    nx.link(mon, "data", run.path("instrument", "incoming_beam", "data"))
    _users(nx, entry, run)
    grp = _nxdata(nx, entry, run, "mu", axes=["energy"],
                  links={"energy": run.path("instrument", "monochromator", "energy"),
                         "absorbed_beam": run.path("instrument", "absorbed_beam", "data")})
    nx.field(grp, "mu", mu, long_name="ln(I0/I1)")


def write_arpes(nx: NxFile, run: Run, rng: np.random.Generator) -> None:
    """NXarpes angle x kinetic-energy image with a Fermi edge and a band."""
    hv = run.beam[0] * (1000.0 if run.beam[1] == "keV" else 1.0)
    ef = hv - 4.4
    energies = np.linspace(ef - 1.0, ef + 0.15, 128)
    angles = np.linspace(-15.0, 15.0, 64)
    kt = 8.617e-5 * _temperature_k(run)
    fermi = 1.0 / (np.exp((energies - ef) / max(kt, 1e-3)) + 1.0)
    band = ef - 0.8 + 0.6 * (angles / 15.0) ** 2 * _u(rng, 0.5, 1.5)
    spec = np.exp(-((energies[None, :] - band[:, None]) / 0.03) ** 2) + 0.1
    img = (spec * fermi[None, :] * 1e3 + rng.random((64, 128)) * 20).astype(np.float32)

    entry = _entry(nx, run, "NXarpes")
    inst, _ = _instrument(nx, entry, run)
    mono = nx.group(inst, "monochromator", "NXmonochromator")
    nx.quantity(mono, "energy", run.beam)
    ana = nx.group(inst, "analyser", "NXdetector")
    _detector_common(nx, ana, rng, description="Scienta Omicron DA30-L",
                     det_type="hemispherical electron analyser", distance_m=None,
                     pixel_m=None, count_s=_pick(rng, (0.1, 0.2, 0.5)))
    nx.field(ana, "lens_mode", _pick(rng, ("Angular30", "Angular14", "Transmission")))
    nx.field(ana, "acquisition_mode", _pick(rng, ("swept", "fixed")))
    nx.field(ana, "entrance_slit_shape", "curved")
    nx.field(ana, "entrance_slit_size", _pick(rng, (0.2, 0.3, 0.5)), units="mm")
    nx.field(ana, "pass_energy", float(_pick(rng, (2, 5, 10, 20))), units="eV")
    nx.field(ana, "angles", angles, units="degrees")
    nx.field(ana, "energies", np.round(energies, 5), units="eV")
    nx.data(ana, "data", img, compression=run.compression, units="counts")
    _sample(nx, entry, run)
    _users(nx, entry, run)
    _nxdata(nx, entry, run, "data", axes=["angles", "energies"],
            links={k: run.path("instrument", "analyser", k) for k in ("data", "angles", "energies")})


def write_tof(nx: NxFile, run: Run, rng: np.random.Generator) -> None:
    """NXdirecttof: Fermi chopper, monitors and counts(polar_angle, time_of_flight)."""
    ei = run.beam[0]
    ndet, ntof = 32, 256
    l1, l2 = 11.8, 3.5
    v = 437.4 * np.sqrt(ei)  # m/s for E in meV
    t_el = (l1 + l2) / v * 1e6
    tof = np.linspace(0.6 * t_el, 1.8 * t_el, ntof + 1)
    centres = 0.5 * (tof[1:] + tof[:-1])
    polar = np.linspace(5.0, 135.0, ndet)
    width = t_el * 0.01
    line = np.exp(-((centres - t_el) / width) ** 2) * 500 + 2
    inel = 30 * np.exp(-((centres - t_el * _u(rng, 0.75, 0.9)) / (3 * width)) ** 2)
    counts = line[None, :] + inel[None, :] * (1 + (polar[:, None] / 90.0) ** 2)
    counts = (counts + rng.integers(0, 5, (ndet, ntof))).astype(np.int32)

    entry = _entry(nx, run, "NXdirecttof")
    nx.field(entry, "run_number", np.int32(run.run_number))
    inst, src = _instrument(nx, entry, run)
    nx.field(src, "frequency", 14.0, units="Hz")
    fc = nx.group(inst, "fermi_chopper", "NXfermi_chopper")
    nx.field(fc, "type", "Fermi")
    nx.field(fc, "energy", float(ei), units="meV")
    nx.field(fc, "rotation_speed", float(_pick(rng, (120, 240, 360, 480, 600))), units="Hz")
    nx.field(fc, "distance", -1.8, units="m")
    dc = nx.group(inst, "t0_chopper", "NXdisk_chopper")
    nx.field(dc, "rotation_speed", 14.0, units="Hz")
    nx.field(dc, "distance", -6.2, units="m")
    beam = nx.group(inst, "beam", "NXbeam")
    nx.quantity(beam, "incident_energy", run.beam)
    det = nx.group(inst, "detector", "NXdetector")
    _detector_common(nx, det, rng, description="3He position-sensitive tubes",
                     det_type="He3 gas cylinder", distance_m=l2, pixel_m=25.4e-3,
                     count_s=_pick(rng, (1800.0, 3600.0, 7200.0)))
    nx.data(det, "data", counts, compression=run.compression, units="counts")
    nx.field(det, "time_of_flight", tof.astype(np.float32), units="microsecond")
    nx.field(det, "polar_angle", polar.astype(np.float32), units="degree")
    for k, dist in ((1, -0.48), (2, 3.26)):
        mon = nx.group(entry, f"monitor{k}", "NXmonitor")
        mt = np.linspace(0.5 * t_el, 1.5 * t_el, 201).astype(np.float32)
        nx.field(mon, "mode", "monitor")
        nx.field(mon, "distance", dist, units="m")
        nx.field(mon, "time_of_flight", mt, units="microsecond")
        nx.field(mon, "data", rng.integers(100, 200, 200).astype(np.int32), units="counts")
    _sample(nx, entry, run)
    _users(nx, entry, run)
    det_path = lambda k: run.path("instrument", "detector", k)
    _nxdata(nx, entry, run, "data", axes=["polar_angle", "time_of_flight"],
            links={k: det_path(k) for k in ("data", "polar_angle", "time_of_flight")})


def write_powder(nx: NxFile, run: Run, rng: np.random.Generator) -> None:
    """Neutron powder diffraction, no application definition: counts(d_spacing)."""
    d = np.linspace(0.5, 4.0, 400)
    a = _u(rng, 3.8, 6.5)
    peaks = np.zeros_like(d)
    for h, k, l in ((1, 0, 0), (1, 1, 0), (1, 1, 1), (2, 0, 0), (2, 1, 0), (2, 1, 1),
                    (2, 2, 0), (3, 1, 0), (2, 2, 2), (3, 2, 1)):
        dhkl = a / np.sqrt(h * h + k * k + l * l)
        peaks += _u(rng, 50, 800) * np.exp(-((d - dhkl) / (0.004 * dhkl)) ** 2)
    counts = (peaks + 40 + rng.integers(0, 12, d.size)).astype(np.int32)
    banks = np.stack([counts, counts * 2 // 3, counts // 2]).astype(np.int32)

    entry = _entry(nx, run, None)
    nx.field(entry, "run_number", np.int32(run.run_number))
    inst, _ = _instrument(nx, entry, run)
    det = nx.group(inst, "detector", "NXdetector")
    _detector_common(nx, det, rng, description="ZnS/6LiF scintillator banks",
                     det_type="scintillator", distance_m=_u(rng, 1.0, 2.0), pixel_m=None,
                     count_s=_pick(rng, (600.0, 1800.0, 3600.0)))
    nx.field(det, "polar_angle", np.array([30.0, 90.0, 150.0]), units="degree")
    nx.data(det, "counts", banks, compression=run.compression, units="counts")
    smp = _sample(nx, entry, run)
    nx.field(smp, "container", _pick(rng, ("vanadium can 6 mm", "vanadium can 8 mm",
                                           "TiZr pressure cell")))
    mon = nx.group(entry, "monitor_1", "NXmonitor")
    nx.field(mon, "integral", float(int(_u(rng, 1e6, 1e8))), units="counts")
    _users(nx, entry, run)
    grp = _nxdata(nx, entry, run, "counts", axes=["d_spacing"])
    nx.field(grp, "counts", counts, units="counts")
    nx.field(grp, "d_spacing", np.round(d, 5), units="Angstrom")


# --------------------------------------------------------------------------- #
# Technique profiles: what the planner draws for each kind of run
# --------------------------------------------------------------------------- #

def _wavelength(rng: np.random.Generator, lo: float, hi: float) -> tuple[float, str]:
    value = _u(rng, lo, hi)
    unit = _pick(rng, ("angstrom",) * 9 + ("Angstrom",) * 8 + ("nm",) * 3)
    return (round(value / 10, 6), "nm") if unit == "nm" else (round(value, 5), unit)


def _xray_energy(rng: np.random.Generator, kev: float) -> tuple[float, str]:
    return (round(kev * 1e3, 2), "eV") if rng.random() < 0.3 else (round(kev, 5), "keV")


_XAS_EDGES = {  # sample -> (absorption edge, edge energy in keV)
    "Fe2O3": ("Fe K", 7.112), "LiFePO4": ("Fe K", 7.112), "CuO": ("Cu K", 8.979),
    "NiO": ("Ni K", 8.333), "ZnO": ("Zn K", 9.659), "Co3O4": ("Co K", 7.709),
    "MnO2": ("Mn K", 6.539), "Pt/C catalyst": ("Pt L3", 11.564), "MoS2": ("Mo K", 20.0),
    "PdO": ("Pd K", 24.35),
}


def edge_of(sample_name: str) -> tuple[str, float]:
    return _XAS_EDGES.get(sample_name, ("", 0.0))


@dataclass(frozen=True)
class Technique:
    key: str
    definition: str | None
    writer: Callable[[NxFile, Run, np.random.Generator], None]
    samples: tuple[tuple[str, str | None], ...]  # (name, chemical formula)
    beam: Callable[[np.random.Generator, str], tuple[float, str] | None]  # (rng, sample)
    temperature: Callable[[np.random.Generator], float]  # kelvin
    duration: tuple[float, float]  # seconds
    titles: tuple[str, ...]  # {sample} {Sample} {k} {T} {beam} {edge}
    proposal_titles: tuple[str, ...]
    keywords: tuple[str, ...]
    bslz4: float = 0.15  # probability of bitshuffle/LZ4 for detector data


def _room(rng):
    return 293.0 + 5.0 * rng.random()


def _mx_temp(rng):
    return 293.0 + 5.0 * rng.random() if rng.random() < 0.15 else 100.0 + 1.5 * rng.standard_normal()


_PROTEINS = (("lysozyme", "C613H959N193O185S10"), ("thaumatin", None),
             ("insulin", "C257H383N65O77S6"), ("proteinase K", None),
             ("glucose isomerase", None), ("thermolysin", None), ("myoglobin", None))

TECHNIQUES: dict[str, Technique] = {t.key: t for t in (
    Technique("mx", "NXmx", write_mx, _PROTEINS,
              lambda r, s: _wavelength(r, 0.7, 1.8), _mx_temp, (30, 300),
              ("{Sample} crystal {k}, {T:.0f} K", "{sample}_x{k}_1", "{Sample} soak {k} dataset 1",
               "{Sample} apo form crystal {k}"),
              ("Cryo-structures of {sample} mutants", "Ligand binding to {sample}",
               "Fragment screening on {sample}"),
              ("crystallography", "protein structure"), bslz4=0.8),
    Technique("sfx", "NXmx", write_mx, _PROTEINS + (("photosystem II", None),),
              lambda r, s: _wavelength(r, 1.0, 1.8), _room, (600, 3600),
              ("SFX {sample} microcrystals run {k}", "{Sample} serial still shots, injector {k}"),
              ("Time-resolved serial crystallography of {sample}",
               "Radiation-damage-free structure of {sample}"),
              ("serial femtosecond crystallography", "XFEL"), bslz4=0.8),
    Technique("tomo", "NXtomo", write_tomo,
              (("LiFePO4 cathode", "LiFePO4"), ("SiO2 glass foam", "SiO2"),
               ("Fe2O3 pellet", "Fe2O3"), ("AlSi10Mg lattice", None),
               ("Sandstone core", "SiO2"), ("Hydroxyapatite scaffold", "Ca5(PO4)3OH")),
              lambda r, s: _xray_energy(r, _u(r, 15, 60)), _room, (300, 2400),
              ("{Sample} operando scan {k}", "{Sample} tomography {k}", "{sample} pos{k} 180deg"),
              ("3-D imaging of {sample} degradation", "Operando tomography of {sample}"),
              ("tomography", "imaging")),
    Technique("saxs", "NXsas", write_sas,
              (("Polystyrene latex", "C8H8"), ("Silica nanoparticles", "SiO2"),
               ("Gold nanoparticles", "Au"), ("DPPC vesicles", "C40H80NO8P"),
               ("SDS micelles", "C12H25NaO4S"), ("Glassy carbon", "C")),
              lambda r, s: _wavelength(r, 0.95, 1.05), lambda r: _u(r, 288, 333), (1, 600),
              ("{Sample} {k} mg/ml, {T:.0f} K", "SAXS {sample} capillary {k}",
               "{Sample} concentration series {k}"),
              ("Self-assembly of {sample}", "Nanostructure of {sample} dispersions"),
              ("small-angle scattering", "SAXS")),
    Technique("sans", "NXsas", write_sas,
              (("D2O buffer", "D2O"), ("Polystyrene-d8 in toluene", "C8D8"),
               ("SDS micelles in D2O", "C12H25NaO4S"), ("Apoferritin in D2O", None),
               ("MgB2 vortex lattice", "MgB2"), ("Silica in D2O", "SiO2")),
              lambda r, s: _wavelength(r, 4.0, 12.0), lambda r: _u(r, 283, 353), (300, 3600),
              ("{Sample}, {T:.0f} K", "SANS {sample} contrast {k}",
               "{Sample} detector distance {k}"),
              ("Contrast-variation SANS of {sample}", "Mesoscale structure of {sample}"),
              ("small-angle neutron scattering", "SANS"), bslz4=0.1),
    Technique("xas", "NXxas", write_xas,
              (("Fe2O3", "Fe2O3"), ("LiFePO4", "LiFePO4"), ("CuO", "CuO"), ("NiO", "NiO"),
               ("ZnO", "ZnO"), ("Co3O4", "Co3O4"), ("MnO2", "MnO2"), ("Pt/C catalyst", "Pt"),
               ("MoS2", "MoS2"), ("PdO", "PdO")),
              lambda r, s: _xray_energy(r, edge_of(s)[1]), _room, (120, 1800),
              ("{edge}-edge XANES {sample} scan {k}", "{Sample} {edge} EXAFS {k}",
               "{Sample} operando XAS {T:.0f} K"),
              ("Oxidation states in {sample} catalysts", "Local structure of {sample}"),
              ("x-ray absorption spectroscopy", "XANES", "EXAFS")),
    Technique("arpes", "NXarpes", write_arpes,
              (("Bi2Se3", "Bi2Se3"), ("graphene", "C"), ("YBa2Cu3O7", "YBa2Cu3O7"),
               ("Bi2Sr2CaCu2O8", "Bi2Sr2CaCu2O8"), ("WTe2", "WTe2"), ("Sr2RuO4", "Sr2RuO4"),
               ("1T-TaS2", "TaS2")),
              lambda r, s: (round(_u(r, 20, 150), 2), "eV"), lambda r: _u(r, 8, 30), (60, 900),
              ("{Sample} Fermi surface map hv={beam:.0f} eV", "{Sample} cut {k} along Gamma-M",
               "{sample} band map {k}, {T:.0f} K"),
              ("Electronic structure of {sample}", "Surface states of {sample}"),
              ("ARPES", "electronic structure")),
    Technique("tof", "NXdirecttof", write_tof,
              (("MgB2", "MgB2"), ("Vanadium calibration", "V"), ("La2CuO4", "La2CuO4"),
               ("Water", "H2O"), ("CeO2", "CeO2"), ("Benzene", "C6H6")),
              lambda r, s: (round(_u(r, 5, 150), 2), "meV"), lambda r: _u(r, 5, 300), (1800, 14400),
              ("{Sample} Ei={beam:.0f} meV {T:.0f}K", "{Sample} PDOS run {k}",
               "{sample} inelastic {T:.0f} K"),
              ("Phonons in {sample}", "Magnetic excitations in {sample}"),
              ("inelastic neutron scattering", "time-of-flight"), bslz4=0.1),
    Technique("powder", None, write_powder,
              (("CeO2", "CeO2"), ("Y2O3", "Y2O3"), ("LiFePO4", "LiFePO4"), ("Fe2O3", "Fe2O3"),
               ("MgB2", "MgB2"), ("Na2Ca3Al2F14", "Na2Ca3Al2F14"), ("Si standard", "Si")),
              lambda r, s: None, lambda r: _u(r, 1.5, 300), (600, 7200),
              ("{Sample} {T:.0f} K", "{Sample} powder, run {k}", "{sample} in V can {k}"),
              ("Magnetic structure of {sample}", "Thermal expansion of {sample}"),
              ("neutron powder diffraction",), bslz4=0.1),
    # processed kinds: planned from a raw run, never drawn directly
    Technique("saxs-reduced", "NXcanSAS", write_cansas, (), lambda r, s: None, _room, (1, 2),
              (), (), ()),
    Technique("sans-reduced", "NXcanSAS", write_cansas, (), lambda r, s: None, _room, (1, 2),
              (), (), ()),
)}


def write_run(path, run: Run, **options) -> None:
    """Write ``run`` to ``path`` with its technique's writer."""
    with NxFile(path, vlen=run.facility.vlen, boxed=run.facility.boxed) as nx:
        TECHNIQUES[run.kind].writer(nx, run, run.rng, **options)
