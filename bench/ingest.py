"""Ingestion speed and memory on 20,000 synthetic NXmx-like files.

    python -m bench.ingest [--count 20000] [--seed 0] [--peer-sample 2000] [--database-url URL]

Figures, all from the same run on the same (page-cached) files:

- floor: bare ``h5py.File`` open + close, the least any HDF5 reader pays;
- layout floor: open + close, every object opened once and each dataset's
  shape, type and filters read, with h5py's low-level API and nothing else:
  the least any reader pays for the per-array metadata the catalogue records;
- peer: ``nexusformat.nxload`` reading the same fields the catalogue reads
  (on an evenly spaced sample of ``--peer-sample`` files: it is ~10 ms a file);
- extract: our extraction alone, in-process, without the database;
- ingest on one process and with two extraction workers: the whole
  ``pancommons ingest`` command (scan, change detection, extraction,
  checksums, catalogue writes) into a fresh catalogue, with the peak resident
  memory of the ingest process;
- re-run: the same command again, where every file is unchanged.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.harness import CACHE, measure_child, write_result


def corpus_path(count: int, seed: int) -> Path:
    return CACHE / f"nxmx-{count}-seed{seed}"


def _write_range(args: tuple[str, int, int, int]) -> int:
    from pancommons.nexus.synth import write_nxmx_like

    directory, seed, start, stop = args
    for index in range(start, stop):
        path = Path(directory) / f"d{index // 1000:03d}" / f"run_{index:06d}.nxs"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_nxmx_like(path, seed * 1_000_003 + index)
    return stop - start


def ensure_corpus(count: int, seed: int) -> list[Path]:
    directory = corpus_path(count, seed)
    marker = directory / ".complete"
    if not marker.exists():
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        started = time.perf_counter()
        step = 500
        jobs = [(str(directory), seed, start, min(start + step, count)) for start in range(0, count, step)]
        with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
            for _ in pool.map(_write_range, jobs):
                pass
        marker.write_text(f"{count} files in {time.perf_counter() - started:.1f} s\n")
    return sorted(directory.rglob("*.nxs"))


def floor(files: list[Path]) -> float:
    import h5py

    started = time.perf_counter()
    for path in files:
        h5py.File(path, "r").close()
    return len(files) / (time.perf_counter() - started)


def layout_floor(files: list[Path]) -> float:
    import h5py
    from h5py import h5d, h5o

    started = time.perf_counter()
    for path in files:
        with h5py.File(path, "r") as opened:  # opened as the floor opens it
            names: list[bytes] = []
            h5o.visit(opened.id, names.append)
            for name in names:
                node = h5o.open(opened.id, name)
                if isinstance(node, h5d.DatasetID):
                    node.get_space().get_simple_extent_dims()
                    node.get_type()
                    plist = node.get_create_plist()
                    for index in range(plist.get_nfilters()):
                        plist.get_filter(index)
    return len(files) / (time.perf_counter() - started)


def extract_only(files: list[Path]) -> float:
    from pancommons.config import Settings
    from pancommons.ingest.pipeline import extract_options
    from pancommons.nexus.extract import extract_file

    options = extract_options(Settings(facility="BENCH"))
    started = time.perf_counter()
    for path in files:
        extract_file(path, options)
    return len(files) / (time.perf_counter() - started)


def _peer_fields(root) -> dict:
    """With nexusformat, the fields our extraction reads from an NXmx entry."""
    def get(node, path):
        try:
            field = node[path]
        except Exception:  # noqa: BLE001 - a missing field is None, as for us
            return None
        value = field.nxvalue
        return value, getattr(field, "attrs", {}).get("units")

    found = {}
    for entry in root.NXentry:
        for path in ("title", "start_time", "end_time", "definition", "experiment_identifier",
                     "instrument/name", "instrument/source/name", "instrument/source/type", "instrument/source/probe",
                     "instrument/beam/incident_wavelength", "sample/name", "sample/chemical_formula",
                     "sample/temperature", "instrument/detector/description", "instrument/detector/type",
                     "instrument/detector/distance", "instrument/detector/x_pixel_size",
                     "instrument/detector/y_pixel_size", "instrument/detector/count_time"):
            found[f"{entry.nxname}/{path}"] = get(entry, path)
        for user in entry.NXuser:
            found[user.nxpath] = [get(user, name) for name in ("name", "role", "affiliation", "ORCID", "email")]
        found["default"] = entry.attrs.get("default")
    return found


def peer(files: list[Path]) -> float:
    from nexusformat.nexus import nxload

    started = time.perf_counter()
    for path in files:
        root = nxload(str(path), "r")
        _peer_fields(root)
        root.nxfile.close()
    return len(files) / (time.perf_counter() - started)


def ingest_run(corpus: Path, database_url: str, workers: int) -> dict:
    env = {
        **os.environ,
        "PANCOMMONS_HOME": str(CACHE / "home"),
        "PANCOMMONS_DATABASE_URL": database_url,
        "PANCOMMONS_DATA_ROOTS": str(corpus),
        "PANCOMMONS_FACILITY": "BENCH",
    }
    measured = measure_child([sys.executable, "-m", "pancommons.cli", "ingest", "--workers", str(workers), str(corpus)], env)
    if measured.returncode != 0:
        raise SystemExit(f"ingest failed ({measured.returncode}): {measured.stderr[-2000:]}")
    summary = [line for line in measured.stdout.splitlines() if line.startswith("new:")]
    return {"seconds": round(measured.seconds, 2), "peak_rss_mb": round(measured.peak_rss_mb, 1), "summary": summary[-1]}


def fresh_database(base: str | None, label: str) -> str:
    if base is None:
        directory = Path(tempfile.mkdtemp(prefix=f"pancommons-bench-{label}-"))
        return f"sqlite:///{directory / 'catalogue.db'}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"pancommons_bench_{label}_{os.getpid()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    if url.startswith("sqlite:///"):
        shutil.rmtree(Path(url[len("sqlite:///"):]).parent, ignore_errors=True)
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peer-sample", type=int, default=2_000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL server URL (default: a fresh SQLite file)")
    args = parser.parse_args(argv)

    files = ensure_corpus(args.count, args.seed)
    corpus = corpus_path(args.count, args.seed)
    backend = "postgresql" if args.database_url else "sqlite"
    floor(files)  # warm the page cache: every figure below reads cached files
    floor_rate = floor(files)
    layout_rate = layout_floor(files)
    extract_rate = extract_only(files)
    sample = files[:: max(1, len(files) // args.peer_sample)][: args.peer_sample]
    peer_rate = peer(sample)
    one_url = fresh_database(args.database_url, "one")
    two_url = fresh_database(args.database_url, "two")
    try:
        one = ingest_run(corpus, one_url, workers=1)
        two = ingest_run(corpus, two_url, workers=2)
        rerun = ingest_run(corpus, two_url, workers=2)
    finally:
        for url in (one_url, two_url):
            drop_database(url)
    one_rate = len(files) / one["seconds"]
    two_rate = len(files) / two["seconds"]
    write_result(
        f"ingest-{backend}",
        {
            "files": len(files),
            "bytes_per_file": round(sum(path.stat().st_size for path in sample) / len(sample)),
            "backend": backend,
            "floor_h5py_open_close_files_per_s": round(floor_rate),
            "layout_floor_files_per_s": round(layout_rate),
            "peer_nxload_files_per_s": round(peer_rate, 1),
            "peer_sample_files": len(sample),
            "extract_only_files_per_s": round(extract_rate),
            "ingest_one_process": {**one, "files_per_s": round(one_rate)},
            "ingest_two_workers": {**two, "files_per_s": round(two_rate)},
            "rerun_unchanged": {**rerun, "files_per_s": round(len(files) / rerun["seconds"])},
            "ingest_one_process_vs_peer": round(one_rate / peer_rate, 1),
            "targets": {
                "one_process_at_least_1000_files_per_s": one_rate >= 1000,
                "at_least_4x_nxload": one_rate >= 4 * peer_rate,
                "peak_memory_at_most_300_mb": max(one["peak_rss_mb"], two["peak_rss_mb"]) <= 300,
            },
        },
    )


if __name__ == "__main__":
    main()
