"""The Python client reading a remote 3-D dataset: what travels for a 512 × 512 slice (metered at the
server, metadata included) and how long it takes, beside a bare h5py read of the same slice.

    python -m bench.client [--repeat 30]

Writes bench/results/client.json.  The node is the real application served by uvicorn on loopback,
wrapped in the same byte meter the tests use (tests/client/conftest.py)."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401

from bench.harness import write_result
from pancommons.api.app import create_app
from pancommons.client import Commons
from pancommons.config import Settings
from pancommons.db.engine import make_engine
from pancommons.db.migrate import upgrade
from pancommons.ingest.pipeline import ingest
from tests.client.conftest import CUBE_SHAPE, Meter, serve, write_cube
from tests.federation.processes import free_port


def _percentiles(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="client slice transfer and latency")
    parser.add_argument("--repeat", type=int, default=30)
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as home:
        home = Path(home)
        cube = write_cube(home / "data" / "stack.nxs")
        settings = Settings(home=home, data_roots=[home / "data"], panet_source="")
        engine = make_engine(settings.resolved_database_url)
        upgrade(engine)
        assert not ingest([str(home / "data")], settings, engine, workers=1).failed
        meter = Meter(create_app(settings))
        port = free_port()
        server, thread = serve(meter, port)
        try:
            commons = Commons(f"http://127.0.0.1:{port}")
            [dataset] = list(commons.datasets())
            [file] = dataset.files

            mark = len(meter.answers)
            frame = file.open()["/entry/data/data"][5, :, :]
            sent = meter.since(mark)
            transferred = sum(answer.bytes for answer in sent)

            stack = file.open()["/entry/data/data"]
            remote = []
            for index in range(options.repeat):
                started = time.perf_counter()
                stack[index % CUBE_SHAPE[0], :, :]
                remote.append(time.perf_counter() - started)
            local = []
            with h5py.File(cube, "r", locking=False) as f:
                for index in range(options.repeat):
                    started = time.perf_counter()
                    f["/entry/data/data"][index % CUBE_SHAPE[0], :, :]
                    local.append(time.perf_counter() - started)
        finally:
            server.should_exit = True
            thread.join(30)
            engine.dispose()

    write_result("client", {
        "dataset_shape": list(CUBE_SHAPE), "dtype": "float32 (bitshuffle/LZ4 on disk)",
        "slice": "[5, :, :]", "slice_bytes": frame.nbytes,
        "server_bytes_for_first_slice": transferred,
        "requests_for_first_slice": [(answer.path, answer.bytes) for answer in sent],
        "ratio": round(transferred / frame.nbytes, 4),
        "remote_slice": _percentiles(remote),
        "local_h5py_slice": _percentiles(local),
    })


if __name__ == "__main__":
    main()
