"""docs/client.ipynb, the client's tutorial, executed cell by cell against a live ``pancommons demo``.

The notebook must run as a scientist would run it: a kernel of its own, the commons' address from
``PANCOMMONS_URL``, and every cell without an error. Its plots must draw, and its download must be
the file the commons catalogued (the notebook prints ``verified: True`` only when the downloaded
file has the catalogued size and holds the numbers read remotely).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "client.ipynb"
CELL_TIMEOUT = 120  # seconds per cell
SERVER_START = 300  # seconds to build the demo catalogue and start serving it


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DemoServer:
    """``pancommons demo`` in a subprocess; its output is read (and kept) by a thread, so the pipe never fills."""

    def __init__(self, home: Path, port: int):
        env = {**os.environ, "PANCOMMONS_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pancommons.cli", "demo", "--count", "30", "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        self.lines: list[str] = []
        self.announced = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            if "Search API:" in line:
                self.announced.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def search_api(self, timeout: float) -> str:
        """The address the demo prints once it serves (``http://localhost:P/api/Datasets``)."""
        deadline = time.monotonic() + timeout
        while not self.announced.wait(0.1):
            if self.process.poll() is not None:
                self._reader.join(5)
                pytest.fail(f"pancommons demo exited ({self.process.returncode}) before serving:\n{self.output}")
            if time.monotonic() > deadline:
                pytest.fail(f"pancommons demo printed no 'Search API:' line in {timeout} s:\n{self.output}")
        line = next(line for line in self.lines if "Search API:" in line)
        return line.split("Search API:")[1].split()[0]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self._reader.join(5)


def _wait_for_answers(server: DemoServer, api: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            pytest.fail(f"pancommons demo exited ({server.process.returncode}):\n{server.output}")
        try:
            if httpx.get(f"{api}/Datasets/count", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the demo's API at {api} did not answer in {timeout} s:\n{server.output}")
        time.sleep(0.1)


def _text_of(cell) -> str:
    """What a cell printed and displayed as text."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def _tagged(notebook, tag: str) -> list:
    cells = [cell for cell in notebook.cells if tag in cell.get("metadata", {}).get("tags", [])]
    assert cells, f"{NOTEBOOK.name} has no cell tagged {tag!r}"
    return cells


def test_the_notebook_is_stored_without_outputs_for_the_python3_kernel():
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code), \
        "clear the notebook's outputs before committing it"
    assert 'os.environ.get("PANCOMMONS_URL", "http://127.0.0.1:8000")' in "".join(cell.source for cell in code)


@pytest.mark.slow
def test_the_client_notebook_runs_against_a_live_demo(tmp_path, monkeypatch):
    # What the notebook needs (the test extras): a missing one fails here, by name, not as a skip.
    import ipykernel  # noqa: F401  - the kernel the notebook runs in
    import matplotlib  # noqa: F401  - its plots
    import nbformat
    import pandas  # noqa: F401  - its tables (Results.to_pandas)
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    work, scratch = tmp_path / "work", tmp_path / "scratch"
    work.mkdir()
    scratch.mkdir()

    server = DemoServer(tmp_path / "home", _free_port())
    try:
        search_api = server.search_api(SERVER_START)
        root = search_api.removesuffix("/api/Datasets").replace("://localhost:", "://127.0.0.1:")
        _wait_for_answers(server, f"{root}/api")

        # The kernel inherits this process's environment.
        monkeypatch.setenv("PANCOMMONS_URL", root)
        monkeypatch.setenv("TMPDIR", str(scratch))  # the notebook downloads into tempfile.mkdtemp()
        monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend, which makes the PNGs
        client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                resources={"metadata": {"path": str(work)}})
        client.execute()  # a cell that raises fails the test with CellExecutionError: the cell and its traceback
    finally:
        server.stop()

    for cell in _tagged(notebook, "plot"):
        images = [output for output in cell.outputs if "image/png" in output.get("data", {})]
        assert images, f"the plot cell drew nothing:\n{cell.source}\n{_text_of(cell)}"

    download = _text_of(_tagged(notebook, "download")[0])
    downloaded = [Path(line.strip()) for line in download.splitlines() if line.strip().startswith(str(scratch))]
    assert downloaded and downloaded[0].is_file(), f"the download cell printed no file under {scratch}:\n{download}"
    # Progress shows in the notebook (rich's live bar needs ipywidgets; without them, one line at the end),
    # never rich's warning about the missing widgets.
    assert " MB in " in download or importlib.util.find_spec("ipywidgets") is not None, download
    assert "ipywidgets" not in download, download

    verified = _text_of(_tagged(notebook, "verify")[0])
    assert "verified: True" in verified, verified
    assert f"{downloaded[0].stat().st_size:,} bytes here" in verified, verified
