"""The ``pancommons`` command as a user runs it: output, exit status, messages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import nexus_files as nx


def run(*args, env=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "pancommons.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


@pytest.fixture
def cli_env(tmp_path, database_url, data_root, monkeypatch):
    import os

    env = {**os.environ, "PANCOMMONS_HOME": str(tmp_path / "home"), "PANCOMMONS_DATABASE_URL": database_url,
           "PANCOMMONS_DATA_ROOTS": str(data_root), "PANCOMMONS_FACILITY": "NLS"}
    return env


def test_ingest_prints_the_summary_line_and_failures(cli_env, data_root):
    nx.write_nexus(data_root / "good.nxs")
    nx.write_not_hdf5(data_root / "broken.h5")
    result = run("ingest", str(data_root), "--workers", "1", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "new: 1, updated: 0, unchanged: 0, failed: 1" in result.stdout
    assert f"failed {data_root / 'broken.h5'}: not an HDF5 file" in result.stdout
    again = run("ingest", str(data_root), env=cli_env)
    assert "new: 0, updated: 0, unchanged: 1, failed: 1" in again.stdout
    status = run("status", env=cli_env)
    assert status.returncode == 0 and "1 datasets" in status.stdout


def test_exit_status_is_non_zero_only_when_nothing_could_be_done(cli_env, data_root, tmp_path):
    nx.write_not_hdf5(data_root / "only.h5")
    assert run("ingest", str(data_root), env=cli_env).returncode == 1  # every file failed
    missing = run("ingest", str(data_root / "nope"), env=cli_env)
    assert missing.returncode == 1 and "nope: no such file or directory" in missing.stderr
    outside = tmp_path / "outside"
    outside.mkdir()
    refused = run("ingest", str(outside), env=cli_env)
    assert refused.returncode == 1 and "is not under a data root" in refused.stderr
    assert "Traceback" not in missing.stderr + refused.stderr


def test_data_root_option_adds_a_root(cli_env, tmp_path):
    other = tmp_path / "beamtime"
    nx.write_nexus(other / "x.nxs")
    result = run("ingest", str(other), "--data-root", str(other), env=cli_env)
    assert result.returncode == 0 and "new: 1" in result.stdout


def test_bad_settings_and_urls_are_one_line_errors(cli_env):
    bad = run("status", env={**cli_env, "PANCOMMONS_EMBARGO_YEARS": "many"})
    assert bad.returncode == 1 and "invalid settings (embargo_years" in bad.stderr
    url = run("status", env={**cli_env, "PANCOMMONS_DATABASE_URL": "mysql://x/y"})
    assert url.returncode == 1 and "unsupported database 'mysql'" in url.stderr
    down = run("status", env={**cli_env, "PANCOMMONS_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"})
    assert down.returncode == 1 and "cannot open the catalogue" in down.stderr
    for result in (bad, url, down):
        assert "Traceback" not in result.stderr


def test_import_proposals_command(cli_env, tmp_path):
    export = tmp_path / "p.json"
    export.write_text(json.dumps([{"proposal_number": "A-1", "title": "t"}, {"title": "no number"}]))
    result = run("import-proposals", str(export), env=cli_env)
    assert result.returncode == 0
    assert "created: 1, updated: 0, unchanged: 0, failed: 1" in result.stdout
    assert f"failed {export} proposal #2: proposal_number: Field required" in result.stdout
    missing = run("import-proposals", str(tmp_path / "none.json"), env=cli_env)
    assert missing.returncode == 1 and "none.json: no such file" in missing.stderr
