"""Settings: environment variables ``PANCOMMONS_*`` over one TOML file over defaults.

The TOML file is ``$PANCOMMONS_CONFIG`` if set, else ``pancommons.toml`` in
the home directory.  Environment variables win over the file, so a
container or a CI job can override one value without editing the file.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# The ontology's public source table; the project never ships the ontology itself.
PANET_RELEASE = "https://raw.githubusercontent.com/ExPaNDS-eu/ExPaNDS-experimental-techniques-ontology/master/source/PaNET.csv"


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("pancommons", appauthor=False))


def _config_file() -> Path:
    explicit = os.environ.get("PANCOMMONS_CONFIG")
    if explicit:
        return Path(explicit)
    home = os.environ.get("PANCOMMONS_HOME")
    return (Path(home) if home else default_home()) / "pancommons.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PANCOMMONS_", extra="forbid")

    home: Path = Field(default_factory=default_home, description="data directory of this node")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file catalogue.db in home"
    )
    data_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="directories that hold the facility's data; file paths are stored relative to them",
    )
    facility: str = Field(default="", description="short name of this node's facility, used when a file names none")
    pid_prefix: str = Field(default="", description="prefix of dataset pids; default: the facility name, lower case")
    facility_timezone: str = Field(
        default="UTC", description="zone of acquisition times written without an offset"
    )
    embargo_years: int = Field(default=3, ge=0, le=100, description="embargo after the end of the experiment")
    default_license: str = Field(default="CC-BY-4.0", description="SPDX id of the licence data open under")
    proposal_id_pattern: str = Field(
        default="",
        description="regular expression with a group 'proposal' extracting the proposal number "
        "from a NeXus experiment identifier (e.g. '^(?P<proposal>[a-z]+[0-9]+)-[0-9]+$' for visit ids)",
    )
    technique_hints: Path | None = Field(
        default=None, description="extra CSV rows mapping NeXus definitions/probes to PaNET techniques"
    )
    checksum_algorithm: str = Field(default="sha256", description="hashlib name used for file checksums")
    ingest_suffixes: list[str] = Field(
        default=[".nxs", ".nx5", ".h5", ".hdf5", ".hdf", ".he5", ".nexus"],
        description="file suffixes an ingest walk picks up (a file named explicitly is always tried)",
    )
    ingest_batch_size: int = Field(default=200, ge=1, le=100_000, description="files per database transaction")
    ingest_workers: int = Field(default=0, ge=0, le=256, description="extraction processes; 0 = one per core")
    max_parameters_per_entry: int = Field(default=64, ge=0, le=10_000)
    panet_source: str | None = Field(
        default=PANET_RELEASE,
        description="PaNET technique ontology: a path or URL of PaNET.csv (ROBOT table) or a reasoned OWL file; "
        "classified once and cached in home/cache. Empty: technique filters match exact names and pids only",
    )
    serve_workers: int = Field(default=1, ge=1, le=64, description="API worker processes for `pancommons serve`")
    release_interval_minutes: int = Field(
        default=60, ge=0, le=10_080, description="how often `serve` opens what is due (release_embargoed); 0: never"
    )
    embargoed_metadata_visible: bool = Field(
        default=False,
        description="show a metadata-only landing page (title, proposal, release date; no files, no values) of "
        "embargoed datasets to everyone; by default they are invisible to those who may not see them",
    )
    # --- accounts (docs/accounts.md) ---
    oidc_issuer: str | None = Field(default=None, description="OpenID provider's issuer URL (eduTEAMS, Keycloak …)")
    oidc_client_id: str | None = Field(default=None, description="this portal's client id at the provider")
    oidc_client_secret: str | None = Field(default=None, description="its secret; empty for a public client (PKCE only)")
    oidc_scopes: str = Field(default="openid profile email", description="scopes the portal's login asks for")
    oidc_audience: str | None = Field(
        default=None, description="audience API bearer tokens must carry; default: the client id"
    )
    oidc_provider_name: str = Field(default="your institute", description="shown on the login button")
    oidc_orcid_claim: str = Field(default="orcid", description="claim holding the user's ORCID")
    oidc_facility_user_id_claim: str = Field(
        default="facility_user_id", description="claim holding the user's id in the facility's user office"
    )
    secret_key: str | None = Field(
        default=None, description="signs login state and form tokens; default: one generated in home/secret_key"
    )
    session_hours: float = Field(default=12, gt=0, le=24 * 30, description="how long a portal login lasts")
    cookie_secure: bool = Field(
        default=True, description="portal cookies only over HTTPS (browsers also send them to http://localhost)"
    )
    api_token_days: int = Field(default=90, ge=1, le=366, description="default lifetime of a personal API token")

    @field_validator("data_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: Any) -> Any:
        # Environment form: PANCOMMONS_DATA_ROOTS=/data/a:/data/b (os.pathsep), or a JSON list.
        if isinstance(value, str):
            if value.strip().startswith("["):
                import json

                return json.loads(value)
            return [part for part in value.split(os.pathsep) if part]
        return value

    @field_validator("data_roots", mode="after")
    @classmethod
    def _absolute_roots(cls, roots: list[Path]) -> list[Path]:
        return [Path(os.path.abspath(os.path.expanduser(root))) for root in roots]

    @field_validator("checksum_algorithm")
    @classmethod
    def _known_hash(cls, name: str) -> str:
        import hashlib

        if name not in hashlib.algorithms_guaranteed:
            raise ValueError(f"unknown checksum algorithm {name!r}; use one of {sorted(hashlib.algorithms_guaranteed)}")
        return name

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'catalogue.db'}"

    @cached_property
    def resolved_secret_key(self) -> bytes:
        """The key that signs login state and form tokens: configured, or made once per node and kept
        in home/secret_key (readable by its owner only), so every worker and restart agrees on it."""
        if self.secret_key:
            return self.secret_key.encode()
        import secrets

        path = self.home / "secret_key"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            for _ in range(50):  # another worker is writing it this instant
                key = path.read_bytes().strip()
                if key:
                    return key
                import time

                time.sleep(0.01)
            raise RuntimeError(f"{path} is empty: delete it and start again") from None
        key = secrets.token_urlsafe(48).encode()
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key)
        return key

    @cached_property
    def resolved_pid_prefix(self) -> str:
        return (self.pid_prefix or self.facility or "pancommons").strip("/").lower()


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and the TOML file; keyword arguments win."""
    return Settings(**overrides)
