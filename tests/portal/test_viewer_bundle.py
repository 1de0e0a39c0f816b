"""The viewer bundle shipped in the package is the one web/'s committed sources build.

web/check-bundle.sh builds it with `npm ci` from package-lock.json in a temporary directory and
compares byte for byte; npm's cache (~/.npm) makes a repeat run take ~15 s."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "web" / "check-bundle.sh"
SHIPPED = ROOT / "src" / "pancommons" / "portal" / "static" / "viewer"


def test_the_shipped_viewer_bundle_is_what_its_sources_build():
    assert {path.name for path in SHIPPED.iterdir()} >= {"viewer.js", "viewer.css"}, "the bundle is not in the package"
    if shutil.which("npm") is None or shutil.which("node") is None:
        reason = "npm/node are not on PATH: cannot rebuild the viewer bundle to compare it"
        if os.environ.get("PANCOMMONS_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    done = subprocess.run(["sh", str(CHECK)], check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
