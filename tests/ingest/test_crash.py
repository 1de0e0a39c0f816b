"""Killing an ingest with SIGKILL leaves no half-written record, and a re-run completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from pancommons.db.tables import DataFile, Dataset, DatasetFile, Parameter
from tests import nexus_files as nx

FILES = 400


def test_kill_9_mid_run_then_rerun_completes(settings, engine, data_root, tmp_path):
    for index in range(FILES):
        nx.write_nexus(data_root / f"d{index // 100}" / f"run_{index:04d}.nxs", title=f"run {index}", entries=2)
    environment = {
        **os.environ,
        "PANCOMMONS_HOME": str(tmp_path / "home"),
        "PANCOMMONS_DATABASE_URL": settings.resolved_database_url,
        "PANCOMMONS_DATA_ROOTS": str(data_root),
        "PANCOMMONS_INGEST_BATCH_SIZE": "10",
        "PANCOMMONS_FACILITY": settings.facility,
    }
    command = [sys.executable, "-m", "pancommons.cli", "ingest", "--workers", "1", str(data_root)]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def catalogued() -> int:
        with engine.connect() as c:
            return c.execute(select(func.count(DataFile.id))).scalar_one()

    deadline = time.monotonic() + 60
    while catalogued() < 20 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    landed = catalogued()
    assert 0 < landed < FILES, f"the kill should land mid-run (catalogued {landed} of {FILES})"

    with engine.connect() as c:
        datasets = c.execute(select(func.count(Dataset.id))).scalar_one()
        linked = c.execute(select(func.count()).select_from(DatasetFile)).scalar_one()
        parameters = c.execute(select(func.count(Parameter.id))).scalar_one()
    # whole files only: two datasets per file, each linked and with its three parameters
    assert datasets == linked == 2 * landed
    assert parameters == 3 * datasets  # wavelength, temperature, chemical formula

    rerun = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"new: {FILES - landed}, updated: 0, unchanged: {landed}, failed: 0" in rerun.stdout
    with engine.connect() as c:
        assert c.execute(select(func.count(Dataset.id))).scalar_one() == 2 * FILES
        assert c.execute(select(func.count(Parameter.id))).scalar_one() == 6 * FILES
