"""Synthetic NeXus/HDF5 corpus: fictional facilities, proposals and files.

Every always-run test, the demo and the benchmarks use this writer instead of
real beamline data. :func:`write_corpus` writes ``count`` files and the user
office's export of the proposals they belong to::

    outdir/
      proposals.json                                   # docs/proposals-format.md
      <FACILITY>/<INSTRUMENT>/<proposal_number>/
        run_000123.nxs                                 # raw file
        processed/run_000123_reduced.h5                # NXcanSAS, SAXS3 and SANS1 only

Facilities and instruments (names fixed so the demo and docs agree):

* ``NLS`` Nordlys Synchrotron: ``MX1`` (NXmx), ``TOMO2`` (NXtomo), ``SAXS3``
  (NXsas, x-ray), ``XAS4`` (NXxas), ``ARPES5`` (NXarpes);
* ``KNS`` Kestrel Neutron Source: ``SANS1`` (NXsas, neutron), ``TOF2``
  (NXdirecttof), ``DIFF3`` (powder diffraction, no definition field);
* ``OXF`` Osprey X-ray Free-Electron Laser: ``SFX1`` (NXmx, serial).

About one file in six is a processed NXcanSAS file. Its ``entry/reduction``
(NXprocess) holds ``raw_file``, the raw file's path relative to the processed
file's directory (``../run_000123.nxs``) and ``raw_entry`` (``/entry`` or
``/raw_data_1``); the raw file is always part of the same corpus.

Run numbers count up in time per instrument (``run_000001`` is the oldest).
``entry/experiment_identifier`` is always the proposal number, and the
directory the file sits in.

Facilities write differently, as real ones do: NLS stores fixed-length
strings and scalar fields; KNS (old NeXus-API style) stores 1-element arrays
and names the entry of SANS1/DIFF3 files ``raw_data_1``; OXF and the
reduction software store variable-length UTF-8 strings. Times are ISO 8601
with the facility's UTC offset (~85 %), without zone (~10 %) or in the US
form ``03/02/2023 14:05:11`` (~5 %). Units are spelt as beamlines spell them:
``angstrom``/``Angstrom``/``nm``, ``keV``/``eV``/``meV``, ``K``/``degC``,
``Pa``/``bar``/``kPa``, ``m``/``mm``/``um``, ``s``/``ms``.

Determinism: proposals and people come from RNGs seeded by ``(seed, stream,
...)``; file ``i`` draws only from ``numpy.random.default_rng([seed, i])``
(its run number is its rank in time among the planned raw runs); no
wall-clock time is used and no object (root, group, dataset) stores creation
or modification times (``track_times=False``). The same ``seed``, ``count``
and ``facilities`` therefore give byte-identical files and ``proposals.json``
whatever ``workers`` is.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .synth_techniques import (
    _PROTEINS,
    TECHNIQUES,
    Facility,
    Run,
    Sample,
    edge_of,
    write_run,
)

__all__ = [
    "FACILITIES",
    "INSTRUMENTS",
    "CorpusSummary",
    "orcid_checksum",
    "write_corpus",
    "write_nxmx_like",
]

# RNG stream tags (so that people, proposals and files never share a stream)
_PEOPLE, _PROPOSALS, _NXMX = 0x50454F50, 0x50524F50, 0x4E584D58

FACILITIES: dict[str, Facility] = {f.short_name: f for f in (
    Facility("NLS", "Nordlys Synchrotron", "Synchrotron X-ray Source", "x-ray",
             "Tromsø", "Norway", None, "nlsdaq 3.2"),
    Facility("KNS", "Kestrel Neutron Source", "Spallation Neutron Source", "neutron",
             "Luleå", "Sweden", None, "kestrel-nexus-writer 1.4", boxed=True),
    Facility("OXF", "Osprey X-ray Free-Electron Laser", "Free-Electron Laser", "x-ray",
             "Pohang", "South Korea", 9, "osprey-daq 0.9", vlen=True),
)}


@dataclass(frozen=True)
class Instrument:
    name: str
    facility: str
    kind: str                  # key into TECHNIQUES
    weight: int                # relative share of the corpus
    entry_name: str = "entry"
    processed: str | None = None


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("MX1", "NLS", "mx", 3),
    Instrument("TOMO2", "NLS", "tomo", 1),
    Instrument("SAXS3", "NLS", "saxs", 3, processed="saxs-reduced"),
    Instrument("XAS4", "NLS", "xas", 1),
    Instrument("ARPES5", "NLS", "arpes", 1),
    Instrument("SANS1", "KNS", "sans", 2, entry_name="raw_data_1", processed="sans-reduced"),
    Instrument("TOF2", "KNS", "tof", 1),
    Instrument("DIFF3", "KNS", "powder", 1, entry_name="raw_data_1"),
    Instrument("SFX1", "OXF", "sfx", 1),
)

PROPOSALS_PER_INSTRUMENT = 10
P_PROCESSED = 0.5  # chance a SAXS3/SANS1 file is a reduction (when a raw file is free)

_FIRST = ("Ada", "Søren", "Ingrid", "Mikael", "Aino", "Lukas", "Marta", "Kenji", "Yuki",
          "Priya", "Arjun", "Chloé", "Mateo", "Lucía", "Olga", "Tomasz", "Zoë", "Hamid",
          "Amara", "Nia", "Erik", "Freya", "Jonas", "Elif", "Emre", "Sana", "Wei", "Mei",
          "Jae-won", "Min-ji", "Thabo", "Ayesha", "Diego", "Isabela", "Pierre", "Camille",
          "Henrik", "Sofie", "Liam", "Grace")
_LAST = ("Andersen", "Nilsson", "Virtanen", "Kowalski", "Øvergaard", "Müller", "Tanaka",
         "Sato", "Sharma", "Iyer", "Dubois", "Martínez", "García", "Ivanova", "Nowak",
         "Fischer", "Rahimi", "Okafor", "Mensah", "Lindqvist", "Johansson", "Berg", "Yılmaz",
         "Kaya", "Khan", "Chen", "Wang", "Kim", "Park", "Nkosi", "Silva", "Costa", "Moreau",
         "Lefèvre", "Halvorsen", "Eriksen", "O'Brien", "Walsh", "Novak", "Horváth")
_AFFILIATIONS = (  # (name, city, country, e-mail domain)
    ("University of Tromsø", "Tromsø", "Norway", "uit.example.org"),
    ("Lund University", "Lund", "Sweden", "lu.example.org"),
    ("Technical University of Denmark", "Kongens Lyngby", "Denmark", "dtu.example.org"),
    ("University of Helsinki", "Helsinki", "Finland", "helsinki.example.org"),
    ("ETH Zürich", "Zürich", "Switzerland", "ethz.example.org"),
    ("Université Grenoble Alpes", "Grenoble", "France", "uga.example.org"),
    ("University of Cambridge", "Cambridge", "United Kingdom", "cam.example.org"),
    ("Universidad Autónoma de Madrid", "Madrid", "Spain", "uam.example.org"),
    ("Jagiellonian University", "Kraków", "Poland", "uj.example.org"),
    ("Universität Hamburg", "Hamburg", "Germany", "uni-hamburg.example.org"),
    ("Kyoto University", "Kyoto", "Japan", "kyoto-u.example.org"),
    ("Seoul National University", "Seoul", "South Korea", "snu.example.org"),
    ("University of Toronto", "Toronto", "Canada", "utoronto.example.org"),
    ("Monash University", "Melbourne", "Australia", "monash.example.org"),
    ("University of Cape Town", "Cape Town", "South Africa", "uct.example.org"),
    ("Universidade de São Paulo", "São Paulo", "Brazil", "usp.example.org"),
    ("Indian Institute of Science", "Bengaluru", "India", "iisc.example.org"),
    ("Charles University", "Prague", "Czech Republic", "cuni.example.org"),
    ("University of Oslo", "Oslo", "Norway", "uio.example.org"),
    ("Uppsala University", "Uppsala", "Sweden", "uu.example.org"),
)
_DESCRIPTIONS = {
    "mx": ("mounted in 0.2 mm nylon loop", "mounted in MiTeGen micromesh"),
    "sfx": ("liquid jet, 50 um nozzle", "fixed-target chip"),
    "tomo": ("cylinder 2 mm diameter", "pouch cell, operando"),
    "saxs": ("1.5 mm quartz capillary", "flow cell"),
    "sans": ("1 mm Hellma cell", "2 mm Hellma cell"),
    "xas": ("pellet diluted in BN", "in situ reaction cell"),
    "arpes": ("cleaved in situ at 20 K",),
    "tof": ("aluminium flat can",),
    "powder": ("loose powder",),
}
_FIRST_DAY, _LAST_DAY = date(2015, 1, 5), date(2026, 6, 30)


@dataclass
class CorpusSummary:
    """What :func:`write_corpus` wrote."""

    outdir: Path
    files: int = 0
    processed: int = 0
    proposals: int = 0
    bytes: int = 0
    by_technique: dict[str, int] = field(default_factory=dict)
    by_facility: dict[str, int] = field(default_factory=dict)
    by_instrument: dict[str, int] = field(default_factory=dict)


def _seed(seed: int) -> int:
    """numpy seeds must be >= 0: fold negative seeds onto 64-bit words."""
    return int(seed) % 2**64


# --------------------------------------------------------------------------- #
# People and proposals
# --------------------------------------------------------------------------- #

def orcid_checksum(base15: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 15 ORCID digits."""
    total = 0
    for ch in base15:
        total = (total + int(ch)) * 2
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def _orcid(rng: np.random.Generator) -> str:
    base = f"0000000{1 + int(rng.random() * 3)}{int(rng.random() * 10**7):07d}"
    full = base + orcid_checksum(base)
    return "-".join(full[i:i + 4] for i in range(0, 16, 4))


def _ascii(text: str) -> str:
    text = text.translate(str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "ı": "i", "æ": "ae",
                                         "ß": "ss", "'": ""}))
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _person(rng: np.random.Generator, first: str, last: str, user_id: int,
            affiliation: tuple[str, str, str, str]) -> dict:
    aff, city, country, domain = affiliation
    return {
        "name": f"{first} {last}", "first_name": first, "last_name": last,
        "orcid": _orcid(rng) if rng.random() < 0.85 else None,
        "affiliation": aff, "affiliation_city": city, "affiliation_country": country,
        "facility_user_id": f"u{user_id}",
        "email": f"{_ascii(first)}.{_ascii(last)}@{domain}".lower().replace(" ", ""),
    }


def _people(seed: int) -> tuple[list[dict], dict[str, list[dict]]]:
    """External users and two staff scientists per instrument, all distinct."""
    rng = np.random.default_rng([seed, _PEOPLE])
    names = rng.permutation(len(_FIRST) * len(_LAST))[:150 + 2 * len(INSTRUMENTS)]
    ids = 10000 + rng.permutation(90000)[:names.size]
    people = []
    for n, uid in zip(names.tolist(), ids.tolist()):
        first, last = _FIRST[n // len(_LAST)], _LAST[n % len(_LAST)]
        people.append((first, last, uid))
    users = [_person(rng, f, l, uid, _AFFILIATIONS[int(rng.random() * len(_AFFILIATIONS))])
             for f, l, uid in people[:150]]
    staff: dict[str, list[dict]] = {}
    for k, inst in enumerate(INSTRUMENTS):
        fac = FACILITIES[inst.facility]
        aff = (fac.name, fac.city, fac.country, f"{fac.short_name.lower()}.example.org")
        staff[inst.name] = [_person(rng, *people[150 + 2 * k + j], aff) for j in range(2)]
    return users, staff


@dataclass
class _Proposal:
    record: dict                   # the proposals.json entry
    instrument: Instrument
    samples: list[tuple[str, str | None]]
    start: datetime                # local time, start of beamtime
    days: int


def _proposals(seed: int) -> dict[str, list[_Proposal]]:
    """A fixed number of proposals per instrument, stable under facility filters."""
    users, staff = _people(seed)
    out: dict[str, list[_Proposal]] = {}
    span = (_LAST_DAY - _FIRST_DAY).days
    for fidx, fac in enumerate(FACILITIES):
        rng = np.random.default_rng([seed, _PROPOSALS, fidx])
        taken: set[str] = set()
        for inst in (i for i in INSTRUMENTS if i.facility == fac):
            tech = TECHNIQUES[inst.kind]
            out[inst.name] = []
            for _ in range(PROPOSALS_PER_INSTRUMENT):
                start = _FIRST_DAY + timedelta(days=int(rng.random() * span))
                number = f"{fac}-{start.year}-{1 + int(rng.random() * 999):04d}"
                while number in taken:
                    number = f"{fac}-{start.year}-{1 + int(rng.random() * 999):04d}"
                taken.add(number)
                out[inst.name].append(_proposal(rng, number, start, inst, tech, users,
                                                staff[inst.name]))
    return out


def _proposal(rng, number, start, inst, tech, users, staff) -> _Proposal:
    days = 1 + int(rng.random() * 5)
    picks = rng.permutation(len(tech.samples))[:1 + int(rng.random() * 3)]
    samples = [tech.samples[i] for i in picks.tolist()]
    main = samples[0][0]
    who = rng.permutation(len(users))[:1 + int(rng.random() * 4)].tolist()
    members = [dict(users[who[0]], role="principal_investigator")]
    members += [dict(users[i], role="co_investigator") for i in who[1:]]
    members.append(dict(staff[int(rng.random() * len(staff))], role="local_contact"))
    title = tech.proposal_titles[int(rng.random() * len(tech.proposal_titles))].format(sample=main)
    end = start + timedelta(days=days)
    record = {
        "proposal_number": number,
        "title": title,
        "abstract": (f"We propose to use {inst.name} at {FACILITIES[inst.facility].name} "
                     f"to study {', '.join(s for s, _ in samples)}. {title}."),
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "release_date": ((end + timedelta(days=365 * 3)).isoformat()
                         if rng.random() < 0.2 else None),
        "keywords": list(tech.keywords) + [s for s, _ in samples],
        "doi": (f"10.5072/{number.lower()}" if rng.random() < 0.3 else None),
        "facility": inst.facility,
        "members": [_member_record(m) for m in members],
    }
    return _Proposal(record, inst, samples, datetime(start.year, start.month, start.day), days)


_MEMBER_KEYS = ("name", "first_name", "last_name", "orcid", "affiliation", "affiliation_city",
                "affiliation_country", "role", "facility_user_id", "email")


def _member_record(m: dict) -> dict:
    return {k: m[k] for k in _MEMBER_KEYS}


def _nxusers(rng: np.random.Generator, members: list[dict], all_members: bool) -> tuple[dict, ...]:
    """NXuser contents: the PI, the local contact and most co-investigators."""
    out = []
    for m in members:
        if m["role"] == "co_investigator" and not all_members and rng.random() > 0.6:
            continue
        orcid = m["orcid"]
        if orcid and rng.random() < 0.2:
            orcid = "https://orcid.org/" + orcid
        out.append({"name": m["name"], "role": m["role"], "affiliation": m["affiliation"],
                    "ORCID": orcid, "email": m["email"],
                    "facility_user_id": m["facility_user_id"]})
    return tuple(out)


# --------------------------------------------------------------------------- #
# Times
# --------------------------------------------------------------------------- #

def _last_sunday(year: int, month: int) -> datetime:
    day = datetime(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _utc_offset(fac: Facility, local: datetime) -> int:
    if fac.utc_offset is not None:
        return fac.utc_offset
    summer = (_last_sunday(local.year, 3) + timedelta(hours=2) <= local
              < _last_sunday(local.year, 10) + timedelta(hours=3))
    return 2 if summer else 1


def _format_time(local: datetime, fac: Facility, style: str) -> str:
    if style == "us":  # what APS areaDetector writes
        return local.strftime("%m/%d/%Y %H:%M:%S")
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    return text if style == "naive" else f"{text}{_utc_offset(fac, local):+03d}:00"


def _time_style(rng: np.random.Generator) -> str:
    r = rng.random()
    return "us" if r < 0.05 else "naive" if r < 0.15 else "zoned"


# --------------------------------------------------------------------------- #
# Planning: one Run per file
# --------------------------------------------------------------------------- #

def _draw_sample(rng, kind: str, samples, temperature_k: float) -> Sample:
    name, formula = samples[int(rng.random() * len(samples))]
    if temperature_k > 250 and rng.random() < 0.15:
        temperature = (round(temperature_k - 273.15, 2), "degC")
    else:
        temperature = (round(temperature_k, 2), "K")
    pressure = None
    if rng.random() < 0.25:
        unit = ("Pa", "bar", "kPa")[int(rng.random() * 3)]
        bar = 1.01325 if rng.random() < 0.85 else round(5 + rng.random() * 1995, 1)
        bar *= 1 + 0.002 * (rng.random() - 0.5)
        pressure = (round(bar * {"Pa": 1e5, "bar": 1.0, "kPa": 100.0}[unit], 3), unit)
    descriptions = _DESCRIPTIONS[kind]
    description = (descriptions[int(rng.random() * len(descriptions))]
                   if rng.random() < 0.4 else None)
    return Sample(name, formula, temperature, pressure, description)


def _raw_run(i: int, rng, prop: _Proposal) -> Run:
    """A raw run; its run number and path are set by :func:`_number_runs`."""
    inst = prop.instrument
    fac = FACILITIES[inst.facility]
    tech = TECHNIQUES[inst.kind]
    temperature_k = tech.temperature(rng)
    sample = _draw_sample(rng, inst.kind, prop.samples, temperature_k)
    beam = tech.beam(rng, sample.name)
    k = 1 + int(rng.random() * 12)
    name = sample.name
    title = tech.titles[int(rng.random() * len(tech.titles))].format(
        sample=name, Sample=name[:1].upper() + name[1:], k=k, T=temperature_k,
        beam=beam[0] if beam else 0.0, edge=edge_of(name)[0])
    start = prop.start + timedelta(hours=8, seconds=int(rng.random() * prop.days * 86400))
    lo, hi = tech.duration
    end = start + timedelta(seconds=int(lo + rng.random() * (hi - lo)))
    style = _time_style(rng)
    r = rng.random()
    compression = "bslz4" if r < tech.bslz4 else ("gzip" if r < (1 + tech.bslz4) / 2 else None)
    return Run(
        index=i, kind=inst.kind, facility=fac, instrument=inst.name, relpath="",
        entry_name=inst.entry_name, proposal_number=prop.record["proposal_number"],
        users=_nxusers(rng, prop.record["members"], False), title=title, sample=sample,
        start_time=_format_time(start, fac, style), end_time=_format_time(end, fac, style),
        beam=beam, compression=compression, run_number=0, rng=rng, started=start)


def _processed_run(i: int, rng, raw: Run, kind: str) -> Run:
    """An NXcanSAS reduction of ``raw`` (which must be numbered already)."""
    folder, name = raw.relpath.rsplit("/", 1)
    stem = name.rsplit(".", 1)[0]
    software = replace(raw.facility, vlen=True, boxed=False,
                       creator="mantid" if kind == "sans-reduced" else "pyFAI")
    reduced = raw.started + timedelta(seconds=int(3600 + rng.random() * 3 * 86400))
    return replace(
        raw, index=i, kind=kind, facility=software,
        relpath=f"{folder}/processed/{stem}_reduced.h5", entry_name="entry",
        users=raw.users[:1], title=f"{raw.title} (reduced)", compression=None, rng=rng,
        raw_relpath=f"../{name}", raw_entry=f"/{raw.entry_name}",
        reduced_on=_format_time(reduced, raw.facility, "zoned"))


def _number_runs(raws: list[Run]) -> None:
    """Run numbers count up in time per instrument (run_000001 is the oldest)."""
    by_instrument: dict[str, list[Run]] = {}
    for run in raws:
        by_instrument.setdefault(run.instrument, []).append(run)
    for runs in by_instrument.values():
        runs.sort(key=lambda r: (r.started, r.index))
        for number, run in enumerate(runs, start=1):
            run.run_number = number
            run.relpath = (f"{run.facility.short_name}/{run.instrument}/"
                           f"{run.proposal_number}/run_{number:06d}.nxs")


def _plan(count: int, seed: int, instruments: list[Instrument],
          proposals: dict[str, list[_Proposal]]) -> list[Run]:
    """One Run per file; file ``i`` draws only from ``default_rng([seed, i])``."""
    weights = np.array([inst.weight for inst in instruments], dtype=float)
    cumulative = np.cumsum(weights / weights.sum())
    unreduced: dict[str, list[Run]] = {}
    raws: list[Run] = []
    reductions: list[tuple[int, np.random.Generator, Run, str]] = []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        inst = instruments[min(int(np.searchsorted(cumulative, rng.random(), side="right")),
                               len(instruments) - 1)]
        props = proposals[inst.name]
        prop = props[int(rng.random() * len(props))]
        pending = unreduced.setdefault(inst.name, [])
        if inst.processed and pending and rng.random() < P_PROCESSED:
            raw = pending.pop(int(rng.random() * len(pending)))  # keeps the raw's proposal
            reductions.append((i, rng, raw, inst.processed))
            continue
        run = _raw_run(i, rng, prop)
        if inst.processed:
            pending.append(run)
        raws.append(run)
    _number_runs(raws)
    runs = raws + [_processed_run(*reduction) for reduction in reductions]
    return sorted(runs, key=lambda r: r.index)


# --------------------------------------------------------------------------- #
# Writing
# --------------------------------------------------------------------------- #

def _write_batch(outdir: str, runs: list[Run]) -> tuple[int, int]:
    size = 0
    for run in runs:
        path = os.path.join(outdir, run.relpath)
        write_run(path, run)
        size += os.path.getsize(path)
    return len(runs), size


def write_corpus(outdir: Path, count: int, seed: int, *, workers: int = 1,
                 facilities: list[str] | None = None,
                 progress: Callable[[int], None] | None = None) -> CorpusSummary:
    """Write ``count`` NeXus files and ``proposals.json`` under ``outdir``.

    ``facilities`` restricts the corpus to those facility short names;
    ``progress(n)`` is called with the number of files just finished;
    ``workers > 1`` writes through a "spawn" process pool (safe next to a
    progress-bar thread; same bytes as ``workers=1``), so a calling script
    needs the usual ``if __name__ == "__main__":`` guard.
    """
    outdir = Path(outdir)
    seed = _seed(seed)
    wanted = list(FACILITIES) if facilities is None else list(facilities)
    unknown = sorted(set(wanted) - set(FACILITIES))
    if unknown:
        raise ValueError(f"unknown facilities {unknown}; known: {sorted(FACILITIES)}")
    instruments = [inst for inst in INSTRUMENTS if inst.facility in wanted]
    if count > 0 and not instruments:
        raise ValueError("no facility selected")
    proposals = _proposals(seed)
    runs = _plan(count, seed, instruments, proposals)

    outdir.mkdir(parents=True, exist_ok=True)
    for folder in sorted({run.relpath.rsplit("/", 1)[0] for run in runs}):
        (outdir / folder).mkdir(parents=True, exist_ok=True)
    total = _write_all(str(outdir), runs, workers, progress)

    used = {run.proposal_number for run in runs}
    records = sorted((p.record for plist in proposals.values() for p in plist
                      if p.record["proposal_number"] in used),
                     key=lambda r: r["proposal_number"])
    doc: dict = {"proposals": records}
    if len(wanted) == 1:
        doc = {"facility": wanted[0], **doc}
    (outdir / "proposals.json").write_text(
        json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    return CorpusSummary(
        outdir=outdir, files=len(runs), bytes=total, proposals=len(records),
        processed=sum(run.raw_relpath is not None for run in runs),
        by_technique=dict(sorted(Counter(run.kind for run in runs).items())),
        by_facility=dict(sorted(Counter(run.relpath.split("/")[0] for run in runs).items())),
        by_instrument=dict(sorted(Counter(run.instrument for run in runs).items())),
    )


def _write_all(outdir: str, runs: list[Run], workers: int,
               progress: Callable[[int], None] | None) -> int:
    if workers <= 1 or len(runs) < 2:
        total = 0
        for run in runs:
            total += _write_batch(outdir, [run])[1]
            if progress:
                progress(1)
        return total
    size = max(1, min(64, len(runs) // (workers * 8)))
    batches = [runs[k:k + size] for k in range(0, len(runs), size)]
    total = 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_write_batch, outdir, batch) for batch in batches]
        for future in as_completed(futures):
            done, nbytes = future.result()
            total += nbytes
            if progress:
                progress(done)
    return total


def write_nxmx_like(path: Path, seed: int) -> None:
    """Write one realistic Eiger-style NXmx file (~60 HDF5 objects) to ``path``."""
    rng = np.random.default_rng([_seed(seed), _NXMX])
    fac = FACILITIES["NLS"]
    year = 2020 + int(rng.random() * 7)
    number = f"NLS-{year}-{1 + int(rng.random() * 999):04d}"
    names = rng.permutation(len(_FIRST) * len(_LAST))[:2].tolist()
    pi_aff = _AFFILIATIONS[int(rng.random() * len(_AFFILIATIONS))]
    staff_aff = (fac.name, fac.city, fac.country, "nls.example.org")
    members = [
        dict(_person(rng, _FIRST[n // len(_LAST)], _LAST[n % len(_LAST)],
                     10000 + int(rng.random() * 90000), aff), role=role)
        for n, aff, role in zip(names, (pi_aff, staff_aff),
                                ("principal_investigator", "local_contact"))]
    tech = TECHNIQUES["mx"]
    with_formula = [s for s in _PROTEINS if s[1]]
    temperature_k = tech.temperature(rng)
    sample = _draw_sample(rng, "mx", with_formula, temperature_k)
    start = datetime(year, 1, 1) + timedelta(seconds=int(rng.random() * 364 * 86400))
    end = start + timedelta(seconds=int(30 + rng.random() * 270))
    crystal = 1 + int(rng.random() * 12)
    run = Run(
        index=0, kind="mx", facility=fac, instrument="MX1", relpath=Path(path).name,
        entry_name="entry", proposal_number=number, users=_nxusers(rng, members, True),
        title=f"{sample.name.capitalize()} crystal {crystal}, {temperature_k:.0f} K",
        sample=sample, start_time=_format_time(start, fac, "zoned"),
        end_time=_format_time(end, fac, "zoned"), beam=tech.beam(rng, sample.name),
        compression="bslz4",
        run_number=1 + int(rng.random() * 99999), rng=rng)
    write_run(path, run, lean=True)
