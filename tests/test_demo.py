"""``pancommons demo``: a real node of two fictional facilities, rebuilt idempotently."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import func, select

from pancommons.catalogue.summary import summarise
from pancommons.config import Settings
from pancommons.db.engine import make_engine
from pancommons.db.tables import Dataset, DatasetDerivation, DocumentDataset
from pancommons.demo import prepare_demo


def test_demo_builds_a_linked_catalogue_and_a_rerun_changes_nothing(tmp_path):
    settings, report, proposals = prepare_demo(Settings(home=tmp_path), count=80, seed=7)
    assert (report.new, report.failed_count) == (80, 0)
    assert proposals.created > 0 and not proposals.failed
    engine = make_engine(settings.resolved_database_url)
    summary = summarise(engine)
    assert {facility for facility, _ in summary.by_facility} == {"NLS", "KNS"}
    assert summary.proposals == proposals.created
    assert summary.raw > 0 and summary.processed > 0
    assert 0 < summary.public < summary.datasets  # the synthetic years span open and embargoed data
    with engine.connect() as c:
        linked = c.execute(select(func.count(func.distinct(DocumentDataset.dataset_id)))).scalar_one()
        unresolved = c.execute(
            select(func.count()).select_from(DatasetDerivation).where(DatasetDerivation.source_dataset_id.is_(None))
        ).scalar_one()
        pids = c.execute(select(Dataset.pid)).scalars().all()
    assert linked == summary.datasets  # every file names a proposal of the export
    assert unresolved == 0  # every processed file found its raw dataset
    assert all(pid.startswith("demo/") for pid in pids)
    engine.dispose()

    _, again, proposals_again = prepare_demo(Settings(home=tmp_path), count=80, seed=7)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 80)
    assert (proposals_again.created, proposals_again.updated) == (0, 0)


def test_demo_command_prints_what_it_holds(tmp_path):
    env = {**os.environ, "PANCOMMONS_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "pancommons.cli", "demo", "--count", "40", "--no-serve"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "new: 40, updated: 0, unchanged: 0, failed: 0" in result.stdout
    assert "40 datasets" in result.stdout and "by technique" in result.stdout
    status = subprocess.run([sys.executable, "-m", "pancommons.cli", "status"], capture_output=True, text=True,
                            env={**os.environ, "PANCOMMONS_HOME": str(tmp_path / "demo")}, timeout=120)
    assert status.returncode == 0 and "40 datasets" in status.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_demo_serves_the_search_api_and_prints_its_url(tmp_path):
    import httpx

    port = _free_port()
    env = {**os.environ, "PANCOMMONS_HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "pancommons.cli", "demo", "--count", "30", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        url = portal = None
        for line in server.stdout:
            if line.startswith("Portal:"):
                portal = line.split("Portal:")[1].split()[0]
            if "Search API:" in line:
                url = line.split("Search API:")[1].split()[0]
                break
        assert url == f"http://localhost:{port}/api/Datasets" and portal == f"http://localhost:{port}/"
        for _ in range(200):
            try:
                answer = httpx.get(url.replace("localhost", "127.0.0.1"), params={"filter": '{"limit": 5}'}, timeout=5)
                break
            except httpx.TransportError:
                import time

                time.sleep(0.05)
        assert answer.status_code == 200
        datasets = answer.json()
        assert len(datasets) == 5 and all(item["pid"].startswith("demo/") for item in datasets)
        home = httpx.get(portal.replace("localhost", "127.0.0.1"), timeout=5)
        assert home.status_code == 200 and "public datasets" in home.text
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_federated_demo_serves_each_facility_and_the_federation(tmp_path):
    import json
    import signal

    import httpx

    port = _free_port()
    while any(_port_taken(port + n) for n in (1, 2)):
        port = _free_port()
    env = {**os.environ, "PANCOMMONS_HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "pancommons.cli", "demo", "--federated", "--count", "30", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
    )
    try:
        nodes, url = [], None
        for line in server.stdout:
            if "facility node:" in line:
                nodes.append(line.split("facility node:")[1].split()[0].removesuffix("/Datasets"))
            if "Federated Search API:" in line:
                url = line.split("Federated Search API:")[1].split()[0]
                break
        assert url == f"http://localhost:{port}/api/Datasets"
        assert nodes == [f"http://127.0.0.1:{port + 1}/api", f"http://127.0.0.1:{port + 2}/api"]
        for _ in range(200):
            try:
                response = httpx.get(url + "/count", timeout=5)
                break
            except httpx.HTTPError:
                import time

                time.sleep(0.1)
        per_node = [httpx.get(node + "/Datasets/count", timeout=5).json()["count"] for node in nodes]
        assert all(count > 0 for count in per_node)  # each facility's node serves its own public datasets
        assert response.json() == {"count": sum(per_node)}
        assert json.loads(response.headers["X-Federation-Providers"])["answered"] == nodes
        merged = httpx.get(url, params={"filter": '{"limit": 1000}'}, timeout=10).json()
        facilities = {node: {record.get("facility") for record in merged if record["provider"] == node} for node in nodes}
        assert facilities == {nodes[0]: {"NLS"}, nodes[1]: {"KNS"}}
    finally:
        os.kill(server.pid, signal.SIGTERM)  # the demo process alone, as a service manager stops it
        server.wait(30)
    import time

    time.sleep(1)
    for node in nodes:  # the nodes went down with the demo
        try:
            httpx.get(node + "/Datasets/count", timeout=2)
            raise AssertionError(f"{node} still answers after the demo stopped")
        except httpx.HTTPError:
            pass


def _port_taken(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
