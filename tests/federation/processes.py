"""Real processes on loopback ports: catalogue nodes (`pancommons serve`), misbehaving providers,
and the federation itself (`pancommons federate`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from pancommons.db.engine import make_engine
from pancommons.db.migrate import upgrade
from pancommons.ingest.panosc_import import import_panosc
from tests.api.conftest import write_dump

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_node(home: Path, **models) -> Path:
    """A node's home with a SQLite catalogue holding ``models`` (LoopBack dump records)."""
    home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{home / 'catalogue.db'}")
    upgrade(engine)
    report = import_panosc(write_dump(home / "dump.json", **models), engine)
    assert not report.problems, report.problems
    engine.dispose()
    return home


class Process:
    """A child process serving HTTP on ``port``; stopped with the fixture."""

    def __init__(self, arguments: list[str], port: int, env: dict[str, str] | None = None, ready_path: str | None = "/api/status"):
        self.port = port
        self.url = f"http://127.0.0.1:{port}/api"
        environment = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
        # Output to a file, not a pipe: nobody reads a pipe while the server runs, and a full one stalls it.
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            arguments, cwd=ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.ready_path = ready_path

    def output(self) -> str:
        """The last of what the process printed."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-5000:]

    def wait_ready(self, timeout: float = 60.0) -> Process:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"process {self.process.args} exited with {self.process.returncode}:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                if self.ready_path is None or httpx.get(self.url.removesuffix("/api") + self.ready_path, timeout=5).status_code < 500:
                    return self
            except (OSError, httpx.HTTPError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"process {self.process.args} did not answer on port {self.port} within {timeout} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def node(home: Path) -> Process:
    """`pancommons serve` over the catalogue in ``home``."""
    port = free_port()
    env = {"PANCOMMONS_HOME": str(home), "PANCOMMONS_PANET_SOURCE": "", "PANCOMMONS_CONFIG": str(home / "none.toml")}
    return Process([sys.executable, "-m", "pancommons.cli", "serve", "--port", str(port)], port, env, "/api/Datasets/count")


def misbehaving(mode: str) -> Process:
    port = free_port()
    return Process([sys.executable, "-m", "tests.federation.misbehaving", mode, str(port)], port, ready_path=None)


def federation(providers: list[str], timeout: float, *extra: str) -> Process:
    port = free_port()
    arguments = [sys.executable, "-m", "pancommons.cli", "federate", "--port", str(port), "--timeout", str(timeout), *extra]
    for url in providers:
        arguments += ["--provider", url]
    return Process(arguments, port, {"PANCOMMONS_CONFIG": "/nonexistent/pancommons.toml"})
