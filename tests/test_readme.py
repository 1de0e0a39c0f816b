"""The README's commands are the ones CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    marker = ci.index("# --- the README's test command, verbatim (tests/test_readme.py checks they agree) ---")
    command = ci[marker + 1]
    assert f"\n{command}\n" in readme
    assert "\npip install . && pancommons demo\n" in readme
