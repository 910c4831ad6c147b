"""Configuration read from the environment, in one place.

Settings are read at the edges (registry construction, CLI entry, the server's app factory)
and passed down as an explicit :class:`OpsmlConfig`; nothing is read or cached at import,
and nothing below the edges reads the environment. ``OpsmlConfig.from_env`` is the only
reader of opsml's variables: :class:`CacheConfig` (what is kept on this machine between
processes) and :class:`CloudConfig` (how object storage is reached) are parts of it.

A configuration built by hand (``OpsmlConfig(tracking_uri=..., storage_uri=...)``) reads
nothing: its :class:`CacheConfig` keeps nothing on disk unless given folders.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from opsml._pyproject import CardDefaults, find_pyproject, read_pyproject
from opsml.errors import InvalidArgumentError
from opsml.types import RegistryMode

__all__ = [
    "DEFAULT_CLIENT_CACHE_BYTES",
    "CacheConfig",
    "CloudConfig",
    "OpsmlConfig",
    "ScouterConfig",
]

_SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

DEFAULT_CLIENT_CACHE_BYTES = 10 * 1024**3
"""The client's cache of verified files holds at most this much by default (10 GiB)."""


def _whole_number(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise InvalidArgumentError(f"{name} must be a whole number, got {text!r}")
    return int(text)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise InvalidArgumentError(f"{name} must be a positive number of seconds, got {text!r}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text not in _TRUE + _FALSE:
        raise InvalidArgumentError(f"{name} must be true or false, got {text!r}")
    return text in _TRUE


def _cache_home(env: Mapping[str, str]) -> Path | None:
    """``$XDG_CACHE_HOME/opsml`` (``$HOME/.cache/opsml`` when unset); ``None`` for a user
    without a home folder."""
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    if xdg:
        return Path(xdg) / "opsml"
    home = env.get("HOME", "").strip()
    try:
        return (Path(home) if home else Path.home()) / ".cache" / "opsml"
    except RuntimeError:
        return None


def _credentials_file(env: Mapping[str, str]) -> Path | None:
    given = env.get("OPSML_CREDENTIALS_FILE", "").strip()
    if given:
        return Path(given).expanduser()
    xdg = env.get("XDG_CONFIG_HOME", "").strip()
    if xdg:
        return Path(xdg) / "opsml" / "credentials.json"
    home = env.get("HOME", "").strip()
    return Path(home) / ".config" / "opsml" / "credentials.json" if home else None


@dataclass(frozen=True)
class CacheConfig:
    """What opsml keeps on this machine between processes.

    Attributes:
        root: The folder for opsml's own files: ``$XDG_CACHE_HOME/opsml``
            (``~/.cache/opsml`` when unset). It holds ``verified.sqlite3`` (fingerprints
            of verified files), ``pending/`` (notes of unfinished client registrations)
            and, by default, the client's cache. ``None``: nothing is kept on disk.
        client_cache_dir: ``OPSML_CACHE_DIR``: the client's cache of verified files
            (default ``root``).
        client_cache_max_bytes: ``OPSML_CACHE_MAX_BYTES``: that cache's size limit
            (default 10 GiB; ``0`` turns the cache off).
        verify_cache: ``OPSML_VERIFY_CACHE``: remember verified files across processes
            in ``root/verified.sqlite3`` (default true; false keeps them in memory only).
    """

    root: Path | None = None
    client_cache_dir: Path | None = None
    client_cache_max_bytes: int = DEFAULT_CLIENT_CACHE_BYTES
    verify_cache: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CacheConfig:
        """Read ``XDG_CACHE_HOME`` (``HOME``), ``OPSML_CACHE_DIR``, ``OPSML_CACHE_MAX_BYTES``
        and ``OPSML_VERIFY_CACHE``.

        Args:
            environ: The environment to read (``os.environ`` when omitted).

        Raises:
            InvalidArgumentError: ``OPSML_CACHE_MAX_BYTES`` is not a whole number, or
                ``OPSML_VERIFY_CACHE`` is neither true nor false.
        """
        env = os.environ if environ is None else environ
        client = env.get("OPSML_CACHE_DIR", "").strip()
        return cls(
            root=_cache_home(env),
            client_cache_dir=Path(client).expanduser() if client else None,
            client_cache_max_bytes=_whole_number(
                env, "OPSML_CACHE_MAX_BYTES", DEFAULT_CLIENT_CACHE_BYTES
            ),
            verify_cache=_flag(env, "OPSML_VERIFY_CACHE", True),
        )

    @property
    def verified_db(self) -> Path | None:
        """The SQLite file of verified files' fingerprints (``None``: memory only)."""
        return self.root / "verified.sqlite3" if self.root and self.verify_cache else None

    @property
    def pending_dir(self) -> Path | None:
        """Where a client notes its unfinished registrations (``None``: no notes)."""
        return self.root / "pending" if self.root else None

    @property
    def client_cache(self) -> Path | None:
        """The client's cache folder (``None`` when the cache is off)."""
        if self.client_cache_max_bytes == 0:
            return None
        return self.client_cache_dir or self.root


@dataclass(frozen=True)
class CloudConfig:
    """How opsml reaches object storage.

    These are the settings opsml itself acts on; credentials are the clouds' libraries'
    business (botocore's ``AWS_*`` chain, Google's Application Default Credentials,
    ``DefaultAzureCredential``), read by those libraries themselves.

    Attributes:
        s3_endpoint_url: ``AWS_ENDPOINT_URL_S3`` (or ``AWS_ENDPOINT_URL``): an
            S3-compatible store; with one, requests use path-style addressing.
        gcs_emulator: ``STORAGE_EMULATOR_HOST`` as a URL: a GCS emulator (anonymous
            access, signed URLs for its host).
        azure_connection_string: ``AZURE_STORAGE_CONNECTION_STRING``.
        azure_account_name: ``AZURE_STORAGE_ACCOUNT_NAME``.
        azure_account_key: ``AZURE_STORAGE_ACCOUNT_KEY`` (with the account name; without a
            key, ``DefaultAzureCredential`` signs in).
    """

    s3_endpoint_url: str | None = None
    gcs_emulator: str | None = None
    azure_connection_string: str = field(default="", repr=False)
    azure_account_name: str = ""
    azure_account_key: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CloudConfig:
        """Read the variables named in the attributes.

        Args:
            environ: The environment to read (``os.environ`` when omitted).
        """
        env = os.environ if environ is None else environ
        endpoint = (
            env.get("AWS_ENDPOINT_URL_S3", "").strip() or env.get("AWS_ENDPOINT_URL", "").strip()
        )
        host = env.get("STORAGE_EMULATOR_HOST", "").strip()
        if host and not host.startswith(("http://", "https://")) and host != "default":
            host = f"http://{host}"
        return cls(
            s3_endpoint_url=endpoint or None,
            gcs_emulator=host if host and host != "default" else None,
            azure_connection_string=env.get("AZURE_STORAGE_CONNECTION_STRING", "").strip(),
            azure_account_name=env.get("AZURE_STORAGE_ACCOUNT_NAME", "").strip(),
            azure_account_key=env.get("AZURE_STORAGE_ACCOUNT_KEY", "").strip(),
        )


@dataclass(frozen=True)
class ScouterConfig:
    """Where the Scouter monitoring server is (the variables scouter-ml and OpsML 3 read).

    With a server URI, registering a card with drift profiles registers them with Scouter
    too (in client mode the opsml server does, with its own configuration); without one,
    the profiles are only stored with the card (docs/monitoring.md).

    Attributes:
        server_uri: ``SCOUTER_SERVER_URI``, e.g. ``http://scouter:8000``; empty: no Scouter.
        username: ``SCOUTER_USERNAME`` (scouter-ml's default ``admin``).
        password: ``SCOUTER_PASSWORD`` (scouter-ml's default ``admin``).
        auth_token: ``SCOUTER_AUTH_TOKEN``: a bearer token used instead of logging in.
    """

    server_uri: str = ""
    username: str = "admin"
    password: str = field(default="admin", repr=False)
    auth_token: str = field(default="", repr=False)

    @property
    def enabled(self) -> bool:
        """Whether a Scouter server is configured."""
        return bool(self.server_uri)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ScouterConfig:
        """Read the variables named in the attributes.

        Args:
            environ: The environment to read (``os.environ`` when omitted).

        Raises:
            InvalidArgumentError: ``SCOUTER_SERVER_URI`` is not an http(s) URL.
        """
        env = os.environ if environ is None else environ
        uri = env.get("SCOUTER_SERVER_URI", "").strip().rstrip("/")
        if uri and not uri.startswith(("http://", "https://")):
            raise InvalidArgumentError(
                f"SCOUTER_SERVER_URI must be an http:// or https:// URL, got {uri!r}"
            )
        return cls(
            server_uri=uri,
            username=env.get("SCOUTER_USERNAME", "").strip() or "admin",
            password=env.get("SCOUTER_PASSWORD", "") or "admin",
            auth_token=env.get("SCOUTER_AUTH_TOKEN", "").strip(),
        )


@dataclass(frozen=True)
class OpsmlConfig:
    """Where the registry lives, as seen from this process.

    Registries with equal configurations share one backend (per pool of backends, see
    :class:`~opsml.registry.Backends`).

    Attributes:
        tracking_uri: A SQLAlchemy URL (local mode) or an ``http(s)://`` server URL.
        storage_uri: Artifact storage root: a local path or ``s3://``/``gs://``/``az://``.
        app_env: The ``APP_ENV`` cards are stamped with.
        username: ``OPSML_USERNAME``, to log in to a server that requires it (client mode).
        password: ``OPSML_PASSWORD``.
        api_token: ``OPSML_API_TOKEN``, an API token (for CI) used instead of a login.
        credentials_file: ``OPSML_CREDENTIALS_FILE``: where ``opsml login`` keeps its tokens
            (default ``$XDG_CONFIG_HOME/opsml/credentials.json``, ``~/.config/...``; ``None``
            when there is no home folder).
        encrypt_secret: ``OPSML_ENCRYPT_SECRET``: encrypt artifacts at rest with this master
            key (local mode, or the server's own setting).
        client_retries: ``OPSML_CLIENT_RETRIES``: how often a client retries a request that
            failed to connect or got a 5xx answer (default 4, with exponential backoff).
        client_connect_timeout: ``OPSML_CLIENT_CONNECT_TIMEOUT``: seconds to open a
            connection to the server (default 5).
        client_read_timeout: ``OPSML_CLIENT_READ_TIMEOUT``: the longest wait, in seconds, for
            the next byte of a metadata answer (default 30); file transfers wait at least
            120 s, and never time out while bytes keep flowing.
        client_timeout: ``OPSML_CLIENT_TIMEOUT``: seconds after which a metadata call stops
            retrying and fails (default 60).
        cache: What is kept on this machine between processes (:class:`CacheConfig`).
        cloud: How object storage is reached (:class:`CloudConfig`).
        scouter: Where the Scouter monitoring server is (:class:`ScouterConfig`).
        tracking_defaulted: ``OPSML_TRACKING_URI`` was not set: the database is the
            default ``opsml.db`` of the directory the configuration was read in.
        base_path: ``OPSML_BASE_PATH`` (when it is an existing folder), else the current
            directory: where the project's ``pyproject.toml`` is looked up from
            (:meth:`card_defaults`).
    """

    tracking_uri: str
    storage_uri: str
    app_env: str = "development"
    username: str = ""
    password: str = field(default="", repr=False)
    api_token: str = field(default="", repr=False)
    credentials_file: Path | None = None
    encrypt_secret: str = field(default="", repr=False)
    client_retries: int = 4
    client_connect_timeout: float = 5.0
    client_read_timeout: float = 30.0
    client_timeout: float = 60.0
    cache: CacheConfig = field(default_factory=CacheConfig)
    cloud: CloudConfig = field(default_factory=CloudConfig)
    scouter: ScouterConfig = field(default_factory=ScouterConfig)
    tracking_defaulted: bool = False
    base_path: Path = field(default_factory=Path.cwd, compare=False)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> OpsmlConfig:
        """Build the configuration from the environment (docs/configuration.md).

        ``OPSML_TRACKING_URI``, ``OPSML_STORAGE_URI`` and ``APP_ENV`` default to
        ``sqlite:///<cwd>/opsml.db``, ``<cwd>/opsml_registries`` and ``development``
        (SPEC §0); the client's settings, the caches (:meth:`CacheConfig.from_env`), the
        object stores' (:meth:`CloudConfig.from_env`) and Scouter's
        (:meth:`ScouterConfig.from_env`) are read too.

        Args:
            environ: The environment to read (``os.environ`` when omitted).
            cwd: The directory defaults are relative to (the current directory when omitted).

        Returns:
            The configuration.

        Raises:
            InvalidArgumentError: A number or flag is malformed.
        """
        env = os.environ if environ is None else environ
        base = Path.cwd() if cwd is None else cwd
        tracking = env.get("OPSML_TRACKING_URI", "").strip()
        defaulted = not tracking
        if defaulted:
            tracking = f"sqlite:///{(base / 'opsml.db').as_posix()}"
        storage = env.get("OPSML_STORAGE_URI", "").strip()
        if not storage:
            storage = str(base / "opsml_registries")
        elif "://" not in storage and not Path(storage).is_absolute():
            storage = str((base / storage).resolve())
        return cls(
            tracking_uri=tracking,
            storage_uri=storage,
            app_env=env.get("APP_ENV", "").strip() or "development",
            username=env.get("OPSML_USERNAME", ""),
            password=env.get("OPSML_PASSWORD", ""),
            api_token=env.get("OPSML_API_TOKEN", "").strip(),
            credentials_file=_credentials_file(env),
            encrypt_secret=env.get("OPSML_ENCRYPT_SECRET", "").strip(),
            client_retries=_whole_number(env, "OPSML_CLIENT_RETRIES", 4),
            client_connect_timeout=_seconds(env, "OPSML_CLIENT_CONNECT_TIMEOUT", 5.0),
            client_read_timeout=_seconds(env, "OPSML_CLIENT_READ_TIMEOUT", 30.0),
            client_timeout=_seconds(env, "OPSML_CLIENT_TIMEOUT", 60.0),
            cache=CacheConfig.from_env(env),
            cloud=CloudConfig.from_env(env),
            scouter=ScouterConfig.from_env(env),
            tracking_defaulted=defaulted,
            base_path=_base_path(env, base),
        )

    def card_defaults(self, registry_type: str) -> CardDefaults:
        """The space, name and version the project's ``pyproject.toml`` gives cards of
        ``registry_type`` (``[tool.opsml.registry]`` over ``[tool.opsml.default]``), read
        from the file found from :attr:`base_path` upward; empty without one.

        Raises:
            InvalidArgumentError: The file's ``[tool.opsml]`` tables are malformed.
        """
        path = find_pyproject(self.base_path)
        if path is None:
            return CardDefaults()
        return read_pyproject(path).card_defaults(registry_type)

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


def _base_path(env: Mapping[str, str], cwd: Path) -> Path:
    given = env.get("OPSML_BASE_PATH", "").strip()
    if given and Path(given).is_dir():
        return Path(given)
    return cwd
