from pathlib import Path

import pytest
from pydantic import ValidationError

from pancommons.config import Settings


def test_defaults_put_the_catalogue_in_the_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PANCOMMONS_HOME", str(tmp_path))
    settings = Settings()
    assert settings.home == tmp_path
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'catalogue.db'}"
    assert settings.embargo_years == 3 and settings.default_license == "CC-BY-4.0"


def test_environment_beats_the_toml_file(tmp_path, monkeypatch):
    (tmp_path / "pancommons.toml").write_text(
        'facility = "NLS"\nembargo_years = 5\ndata_roots = ["/data/nls"]\n'
    )
    monkeypatch.setenv("PANCOMMONS_HOME", str(tmp_path))
    monkeypatch.setenv("PANCOMMONS_EMBARGO_YEARS", "2")
    monkeypatch.setenv("PANCOMMONS_DATA_ROOTS", "/data/a:/data/b")
    settings = Settings()
    assert settings.facility == "NLS"
    assert settings.embargo_years == 2
    assert settings.data_roots == [Path("/data/a"), Path("/data/b")]
    assert settings.resolved_pid_prefix == "nls"


def test_explicit_config_file(tmp_path, monkeypatch):
    config = tmp_path / "elsewhere.toml"
    config.write_text('database_url = "postgresql://db.example/pancommons"\n')
    monkeypatch.setenv("PANCOMMONS_CONFIG", str(config))
    assert Settings().resolved_database_url == "postgresql://db.example/pancommons"


@pytest.mark.parametrize(
    "name, value, field",
    [("PANCOMMONS_EMBARGO_YEARS", "-1", "embargo_years"), ("PANCOMMONS_CHECKSUM_ALGORITHM", "crc0", "checksum_algorithm")],
)
def test_bad_values_name_the_setting(monkeypatch, name, value, field):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=field):
        Settings()


def test_unknown_settings_in_the_file_are_refused(tmp_path, monkeypatch):
    (tmp_path / "pancommons.toml").write_text('facilty = "typo"\n')
    monkeypatch.setenv("PANCOMMONS_HOME", str(tmp_path))
    with pytest.raises(ValidationError, match="facilty"):
        Settings()
