"""Configuration read from the environment, in one place.

Settings are read at the edges (registry construction, CLI entry, the server's app factory)
and passed down as an explicit :class:`OpsmlConfig`; nothing is read or cached at import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from opsml.errors import InvalidArgumentError
from opsml.types import RegistryMode

__all__ = ["OpsmlConfig"]

_SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb")


@dataclass(frozen=True)
class OpsmlConfig:
    """Where the registry lives, as seen from this process.

    Attributes:
        tracking_uri: A SQLAlchemy URL (local mode) or an ``http(s)://`` server URL.
        storage_uri: Artifact storage root: a local path or ``s3://``/``gs://``/``az://``.
        app_env: The ``APP_ENV`` cards are stamped with.
        username: ``OPSML_USERNAME``, to log in to a server that requires it (client mode).
        password: ``OPSML_PASSWORD``.
        api_token: ``OPSML_API_TOKEN``, an API token (for CI) used instead of a login.
        encrypt_secret: ``OPSML_ENCRYPT_SECRET``: encrypt artifacts at rest with this master
            key (local mode, or the server's own setting).
        client_retries: ``OPSML_CLIENT_RETRIES``: how often a client retries a request that
            failed to connect or got a 5xx answer (default 4, with exponential backoff).
    """

    tracking_uri: str
    storage_uri: str
    app_env: str = "development"
    username: str = ""
    password: str = field(default="", repr=False)
    api_token: str = field(default="", repr=False)
    encrypt_secret: str = field(default="", repr=False)
    client_retries: int = 4

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> OpsmlConfig:
        """Build the configuration from ``OPSML_TRACKING_URI``, ``OPSML_STORAGE_URI``, ``APP_ENV``.

        Defaults (SPEC §0): ``sqlite:///<cwd>/opsml.db`` and ``<cwd>/opsml_registries``.

        Args:
            environ: The environment to read (``os.environ`` when omitted).
            cwd: The directory defaults are relative to (the current directory when omitted).

        Returns:
            The configuration.
        """
        env = os.environ if environ is None else environ
        base = Path.cwd() if cwd is None else cwd
        tracking = env.get("OPSML_TRACKING_URI", "").strip()
        if not tracking:
            tracking = f"sqlite:///{(base / 'opsml.db').as_posix()}"
        storage = env.get("OPSML_STORAGE_URI", "").strip()
        if not storage:
            storage = str(base / "opsml_registries")
        elif "://" not in storage and not Path(storage).is_absolute():
            storage = str((base / storage).resolve())
        app_env = env.get("APP_ENV", "").strip() or "development"
        retries = env.get("OPSML_CLIENT_RETRIES", "").strip()
        if retries and not retries.isdigit():
            raise InvalidArgumentError(
                f"OPSML_CLIENT_RETRIES must be a whole number, got {retries!r}"
            )
        return cls(
            tracking_uri=tracking,
            storage_uri=storage,
            app_env=app_env,
            username=env.get("OPSML_USERNAME", ""),
            password=env.get("OPSML_PASSWORD", ""),
            api_token=env.get("OPSML_API_TOKEN", "").strip(),
            encrypt_secret=env.get("OPSML_ENCRYPT_SECRET", "").strip(),
            client_retries=int(retries) if retries else 4,
        )

    @property
    def mode(self) -> RegistryMode:
        """``RegistryMode.Client`` for an http(s) tracking URI, else ``RegistryMode.Server``."""
        scheme = self.tracking_uri.split(":", 1)[0].lower()
        if scheme in ("http", "https"):
            return RegistryMode.Client
        return RegistryMode.Server

    @property
    def is_sql(self) -> bool:
        """Whether the tracking URI is a SQLAlchemy URL this package knows."""
        scheme = self.tracking_uri.split(":", 1)[0].split("+", 1)[0].lower()
        return scheme in _SQL_SCHEMES
