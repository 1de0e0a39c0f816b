"""A real node for the client: a catalogue ingested from synthetic NeXus files plus a 3-D detector
cube, served over loopback HTTP by uvicorn, with a meter at the server that records every answer."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
import pytest
import uvicorn
from sqlalchemy import select, update

from pancommons.accounts import store, tokens
from pancommons.api.app import create_app
from pancommons.config import Settings
from pancommons.db import tables as t
from tests.conftest import SHARED_PANET
from tests.federation.processes import free_port
from tests.nexus_files import write_nexus
from tests.synthetic_node import ingested_catalogue

CUBE_SHAPE = (8, 512, 512)


@dataclass
class Answer:
    path: str
    query: str
    status: int
    bytes: int  # status line, headers and body, as the server sent them
    range: str | None
    authorized: bool


@dataclass
class Meter:
    """ASGI middleware counting what the server sends for each request."""

    app: object
    answers: list[Answer] = field(default_factory=list)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        sent = {"bytes": 0, "status": 0}

        async def counting(message):
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                sent["bytes"] += len(b"HTTP/1.1 200 OK\r\n\r\n") + sum(len(k) + len(v) + 4 for k, v in message["headers"])
            elif message["type"] == "http.response.body":
                sent["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            headers = dict(scope["headers"])
            self.answers.append(Answer(scope["path"], scope["query_string"].decode(), sent["status"], sent["bytes"],
                                       (headers.get(b"range") or b"").decode() or None, b"authorization" in headers))

    def since(self, mark: int) -> list[Answer]:
        return self.answers[mark:]


@dataclass
class Node:
    url: str
    data: Path
    engine: object
    meter: Meter
    token: str
    cube_pid: str
    cube_path: Path
    embargoed_pid: str


def write_cube(path: Path) -> Path:
    """A NeXus file whose default plot is a 3-D detector stack (bitshuffle/LZ4, as detectors write)."""
    write_nexus(path, title="Detector stack for the client", proposal=None, start_time="2015-03-01T10:00:00Z",
                sample="silicon", formula="Si")
    frames = np.random.default_rng(7).random(CUBE_SHAPE, dtype=np.float32) * 1000
    with h5py.File(path, "a") as f:
        data = f["entry/data"]
        del data["counts"]
        data.create_dataset("data", data=frames, chunks=(1, *CUBE_SHAPE[1:]), **hdf5plugin.Bitshuffle())
        data["data"].attrs["units"] = "counts"
        data["y"] = (np.arange(CUBE_SHAPE[1]) * 0.075).astype(">f8")  # big-endian, as some writers store
        data["y"].attrs["units"] = "mm"
        data["x"] = np.arange(CUBE_SHAPE[2], dtype="<i2")
        data.attrs["signal"] = "data"
        data.attrs["axes"] = [".", "y", "x"]
        f["entry/monitor_counts"] = np.uint64(123456789)
        f["entry/motors"] = np.array([(1, 2.5), (3, -4.0)], dtype=[("index", "<i4"), ("position", "<f8")])
        f["entry/no_value"] = h5py.Empty("f4")
    return path


def serve(app, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test node did not start")
        time.sleep(0.05)
    return server, thread


@pytest.fixture(scope="package")
def node(tmp_path_factory) -> Node:
    home = tmp_path_factory.mktemp("client-node")
    data = home / "data"
    cube = data / "CUBE" / "stack_0001.nxs"
    settings = Settings(home=home, data_roots=[data], panet_source=str(SHARED_PANET) if SHARED_PANET.is_file() else "")
    engine = ingested_catalogue(settings, 40, 11, before_ingest=lambda _: write_cube(cube))
    now = datetime.now(UTC)
    with engine.begin() as connection:
        cube_pid = connection.execute(
            select(t.Dataset.pid).join(t.DatasetFile, t.DatasetFile.dataset_id == t.Dataset.id)
            .join(t.DataFile, t.DataFile.id == t.DatasetFile.file_id).where(t.DataFile.name == cube.name)
        ).scalar_one()
        connection.execute(update(t.Dataset).where(t.Dataset.pid == cube_pid).values(is_public=True))
        embargoed = connection.execute(
            select(t.Dataset.pid).where(t.Dataset.is_public.is_(False), t.Dataset.embargo_until > now).order_by(t.Dataset.pid)
        ).scalars().first()
    assert embargoed is not None, "the synthetic corpus holds no dataset under embargo"
    curator = store.create_local(engine, "curator", None, store.Identity(display_name="Data Curator"))
    store.grant(engine, "curator", "data-manager")
    token, _ = tokens.create(engine, curator, "client tests", 30, "system")

    meter = Meter(create_app(settings))
    port = free_port()
    server, thread = serve(meter, port)
    yield Node(f"http://127.0.0.1:{port}", data, engine, meter, token, cube_pid, cube, embargoed)
    server.should_exit = True
    thread.join(30)
    engine.dispose()
