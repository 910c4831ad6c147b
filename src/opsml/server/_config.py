"""Server settings, read from the environment once, in the app factory."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import secrets
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from opsml.errors import InvalidArgumentError
from opsml.server._security import parse_grants
from opsml.settings import OpsmlConfig

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "OidcConfig",
    "ServerConfig",
    "WebhookConfig",
]

_TRUE = ("1", "true", "yes", "on")
DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "admin-password"  # development only: refused when APP_ENV=production
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip() or str(default)
    if not text.isdigit() or int(text) <= 0:
        raise InvalidArgumentError(f"{name} must be a positive integer, got {text!r}")
    return int(text)


def _non_negative_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip() or str(default)
    if not text.isdigit():
        raise InvalidArgumentError(f"{name} must be a whole number of 0 or more, got {text!r}")
    return int(text)


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip() or str(default)
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise InvalidArgumentError(f"{name} must be a positive number of seconds, got {text!r}")
    return value


@dataclass(frozen=True)
class WebhookConfig:
    """How the server delivers webhooks (see docs/webhooks.md).

    Attributes:
        enabled: ``OPSML_WEBHOOK_DELIVERY``: this server process sends deliveries (default
            true; events are queued either way, so replicas can leave sending to some).
        poll_seconds: ``OPSML_WEBHOOK_POLL``: how often the outbox is checked (default 1).
        timeout_seconds: ``OPSML_WEBHOOK_TIMEOUT``: longest wait for a receiver's answer
            (default 10).
        backoff_seconds: ``OPSML_WEBHOOK_BACKOFF``: the wait after the first failed attempt,
            doubled after each further one (default 2).
        backoff_max_seconds: ``OPSML_WEBHOOK_BACKOFF_MAX``: the longest wait between two
            attempts (default 300).
        max_age_seconds: ``OPSML_WEBHOOK_MAX_AGE``: a delivery not done this long after its
            event is given up (default 86400, a day).
    """

    enabled: bool = True
    poll_seconds: float = 1.0
    timeout_seconds: float = 10.0
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 300.0
    max_age_seconds: float = 86400.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebhookConfig:
        """Read the ``OPSML_WEBHOOK_*`` settings.

        Raises:
            InvalidArgumentError: A malformed number.
        """
        return cls(
            enabled=env.get("OPSML_WEBHOOK_DELIVERY", "true").strip().lower() in _TRUE,
            poll_seconds=_positive_float(env, "OPSML_WEBHOOK_POLL", 1.0),
            timeout_seconds=_positive_float(env, "OPSML_WEBHOOK_TIMEOUT", 10.0),
            backoff_seconds=_positive_float(env, "OPSML_WEBHOOK_BACKOFF", 2.0),
            backoff_max_seconds=_positive_float(env, "OPSML_WEBHOOK_BACKOFF_MAX", 300.0),
            max_age_seconds=_positive_float(env, "OPSML_WEBHOOK_MAX_AGE", 86400.0),
        )


@dataclass(frozen=True)
class OidcConfig:
    """Single sign-on with an OpenID Connect provider (see docs/sso.md).

    Attributes:
        issuer: ``OPSML_OIDC_ISSUER``: the provider's issuer URL (its discovery document is
            ``<issuer>/.well-known/openid-configuration``); ``https`` except on loopback.
        client_id: ``OPSML_OIDC_CLIENT_ID``: opsml's client at the provider.
        client_secret: ``OPSML_OIDC_CLIENT_SECRET``: its secret (empty: a public client,
            PKCE only).
        scopes: ``OPSML_OIDC_SCOPES``: space-separated (default ``openid profile email``;
            ``openid`` is always asked for).
        redirect_url: ``OPSML_OIDC_REDIRECT_URL``: the callback URL registered at the
            provider (default: ``<the server's URL>/ui/oidc/callback``, from the request).
        username_claim: ``OPSML_OIDC_USERNAME_CLAIM``: the claim a new user's name comes
            from (default ``preferred_username``; then ``email``, then ``sub``).
        groups_claim: ``OPSML_OIDC_GROUPS_CLAIM``: the claim listing the user's groups;
            when set, every login sets the user's permissions from ``group_grants`` (the
            provider decides); when empty, admins grant permissions in opsml.
        group_grants: ``OPSML_OIDC_GROUP_GRANTS``: ``GROUP=GRANT GRANT; GROUP=...`` where a
            grant is ``SPACE:PERMS`` (``team-a:read,write``, ``*:read``) or ``admin``.
        local_login: ``OPSML_LOCAL_LOGIN``: password logins are allowed (default true;
            false: only single sign-on and API tokens).
        timeout_seconds: ``OPSML_OIDC_TIMEOUT``: longest wait for the provider (default 10).
    """

    issuer: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    redirect_url: str = ""
    username_claim: str = "preferred_username"
    groups_claim: str = ""
    group_grants: tuple[tuple[str, tuple[str, ...]], ...] = ()
    local_login: bool = True
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OidcConfig | None:
        """Read the ``OPSML_OIDC_*`` settings (``None``: no ``OPSML_OIDC_ISSUER``).

        Raises:
            InvalidArgumentError: A setting is missing or malformed.
        """
        issuer = env.get("OPSML_OIDC_ISSUER", "").strip().rstrip("/")
        local_login = _flag(env, "OPSML_LOCAL_LOGIN", True)
        if not issuer:
            if not local_login:
                raise InvalidArgumentError("OPSML_LOCAL_LOGIN=false needs OPSML_OIDC_ISSUER")
            return None
        _check_provider_url("OPSML_OIDC_ISSUER", issuer)
        client_id = env.get("OPSML_OIDC_CLIENT_ID", "").strip()
        if not client_id:
            raise InvalidArgumentError("OPSML_OIDC_ISSUER needs OPSML_OIDC_CLIENT_ID")
        scopes = tuple(env.get("OPSML_OIDC_SCOPES", "").split()) or cls.scopes
        if "openid" not in scopes:
            scopes = ("openid", *scopes)
        redirect = env.get("OPSML_OIDC_REDIRECT_URL", "").strip()
        if redirect:
            _check_provider_url("OPSML_OIDC_REDIRECT_URL", redirect)
        return cls(
            issuer=issuer,
            client_id=client_id,
            client_secret=env.get("OPSML_OIDC_CLIENT_SECRET", "").strip(),
            scopes=scopes,
            redirect_url=redirect,
            username_claim=env.get("OPSML_OIDC_USERNAME_CLAIM", "").strip() or "preferred_username",
            groups_claim=env.get("OPSML_OIDC_GROUPS_CLAIM", "").strip(),
            group_grants=parse_group_grants(env.get("OPSML_OIDC_GROUP_GRANTS", "")),
            local_login=local_login,
            timeout_seconds=_positive_float(env, "OPSML_OIDC_TIMEOUT", 10.0),
        )


def _check_provider_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    loopback = (parts.hostname or "") in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise InvalidArgumentError(
            f"{name} must be an https URL (http only on loopback), got {url!r}"
        )


def parse_group_grants(text: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Parse ``OPSML_OIDC_GROUP_GRANTS``: ``GROUP=GRANT GRANT; GROUP=GRANT`` where a grant is
    ``SPACE:PERMS`` or ``admin`` (e.g. ``ml-admins=admin; team-a=team-a:read,write``).

    Raises:
        InvalidArgumentError: An entry without ``=``, without grants, or a malformed grant.
    """
    mapping: list[tuple[str, tuple[str, ...]]] = []
    for entry in (e.strip() for e in text.split(";")):
        if not entry:
            continue
        group, sep, grants_text = entry.rpartition("=")
        grants = tuple(grants_text.split())
        if not sep or not group.strip() or not grants:
            raise InvalidArgumentError(
                f"OPSML_OIDC_GROUP_GRANTS: {entry!r} is not GROUP=GRANT (e.g. "
                "team-a=team-a:read,write or ml-admins=admin)"
            )
        parse_grants([g for g in grants if g != "admin"])
        mapping.append((group.strip(), grants))
    return tuple(mapping)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text in _TRUE:
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise InvalidArgumentError(f"{name} must be true or false, got {text!r}")


def _log_format(text: str) -> str:
    value = text.strip().lower() or "auto"
    if value not in ("auto", "json", "text"):
        raise InvalidArgumentError(f"OPSML_LOG_FORMAT must be auto, json or text, got {text!r}")
    return value


def _forwarded_allow_ips(text: str) -> tuple[str, ...]:
    entries = tuple(entry.strip() for entry in text.split(",") if entry.strip())
    if "*" in entries and len(entries) > 1:
        raise InvalidArgumentError("OPSML_FORWARDED_ALLOW_IPS: '*' (any address) stands alone")
    for entry in entries:
        if entry == "*":
            continue
        try:
            if "/" in entry:
                ipaddress.ip_network(entry)
            else:
                ipaddress.ip_address(entry)
        except ValueError as exc:
            raise InvalidArgumentError(
                f"OPSML_FORWARDED_ALLOW_IPS: {entry!r} is not an IP address or a network such "
                f"as 10.0.0.0/8 ({exc})"
            ) from None
    return entries


def _default_hosts() -> tuple[str, ...]:
    names = {socket.gethostname(), socket.getfqdn()}
    return (*_LOOPBACK_HOSTS, *sorted(n for n in names if n))


@dataclass(frozen=True)
class ServerConfig:
    """What the server runs on and how it authenticates.

    Attributes:
        opsml: The server's own database (``OPSML_TRACKING_URI``) and storage
            (``OPSML_STORAGE_URI``).
        auth: ``OPSML_AUTH=true`` requires a login; otherwise everyone is ``guest`` with
            every permission.
        username: ``OPSML_DEFAULT_USERNAME``: the admin created when the server starts with
            no users (default ``admin``).
        password: ``OPSML_DEFAULT_PASSWORD``: that admin's first password.
        token_secret: ``OPSML_AUTH_SECRET``: signs access tokens (comma-separated: the first
            signs, all verify); replicas must share it (a random key when unset).
        refresh_secret: ``OPSML_REFRESH_SECRET``: signs refresh tokens (same rules).
        token_ttl_seconds: ``OPSML_TOKEN_TTL``: access token lifetime (default 900).
        refresh_ttl_seconds: ``OPSML_REFRESH_TTL``: refresh token lifetime (default 7 days).
        auth_cache_seconds: ``OPSML_AUTH_CACHE_SECONDS``: how long a verified token is
            remembered at most while no user, permission or token changed (default 10;
            0: every request verifies its token in full).
        allowed_hosts: ``OPSML_ALLOWED_HOSTS``: ``Host`` header values the server answers
            (comma-separated, ``*`` for any); default: loopback names and this machine's
            host names.
        max_body_bytes: ``OPSML_MAX_BODY_BYTES``: largest request body outside file uploads
            (default 16 MiB).
        login_attempts: ``OPSML_LOGIN_ATTEMPTS``: failed logins from one client address for
            one user name (since that pair's last success, within a day) before each further
            attempt waits (default 10).
        login_address_attempts: ``OPSML_LOGIN_ADDRESS_ATTEMPTS``: failed logins from one
            client address for any user names within a day before that address waits
            (default 100; user names this address logged in as that day are exempt).
        login_delay_seconds: ``OPSML_LOGIN_DELAY``: the first wait once a limit is reached,
            doubled for each further failure (default 5).
        login_max_delay_seconds: ``OPSML_LOGIN_MAX_DELAY``: the longest wait (default 900).
        production: ``APP_ENV=production``.
        presign_ttl_seconds: ``OPSML_PRESIGN_TTL``: lifetime of the presigned URLs handed
            out for object storage (default 900; a client asks for fresh ones when they
            run out).
        upload_dir: ``OPSML_UPLOAD_DIR``: with object storage, where files sent through the
            server (experiment artifacts) are received before they go to the bucket
            (default: see :meth:`relay_folder`).
        header_timeout_seconds: ``OPSML_SERVER_HEADER_TIMEOUT``: a request head must be
            complete this long after the connection opened, or after the first byte of a
            later request on a kept-alive connection (default 20).
        body_timeout_seconds: ``OPSML_SERVER_BODY_TIMEOUT``: longest gap without a byte
            while a request body is read; an idle gap, not a total (default 60).
        body_min_rate: ``OPSML_SERVER_BODY_MIN_RATE``: slowest average rate of a request
            body in bytes per second: a body has ``body_timeout_seconds`` plus one second
            per this many bytes received (default 500).
        keep_alive_timeout_seconds: ``OPSML_SERVER_KEEP_ALIVE_TIMEOUT``: an idle
            connection between requests is closed after this long (default 30).
        access_log: ``OPSML_SERVER_ACCESS_LOG``: log one line per request (uvicorn's access
            log; default off: about a tenth of a small request's CPU, and a write to the
            log per request; the audit log records every write and denial either way).
        forwarded_allow_ips: ``OPSML_FORWARDED_ALLOW_IPS``: proxies (IP addresses or
            networks, comma-separated, ``*`` for any) whose ``X-Forwarded-For`` and
            ``X-Forwarded-Proto`` headers are believed; default none, so the client address
            is always the connection's peer.
        webhooks: The ``OPSML_WEBHOOK_*`` settings of webhook delivery.
        auto_migrate: ``OPSML_DB_AUTO_MIGRATE``: bring a database schema that is behind to
            the newest migration when the server starts (default on; off: the server refuses
            to start until ``opsml db upgrade`` ran).
        graceful_timeout_seconds: ``OPSML_SERVER_GRACEFUL_TIMEOUT``: on SIGTERM, how long
            requests under way (uploads included) may take to finish before they are cut
            off (default 60).
        metrics: ``OPSML_METRICS``: answer Prometheus metrics at ``/opsml/api/metrics``
            (default on).
        metrics_token: ``OPSML_METRICS_TOKEN``: a bearer token that may read the metrics
            without a user (for Prometheus; admins may read them either way).
        log_format: ``OPSML_LOG_FORMAT``: ``json`` (one JSON object a line), ``text``, or
            ``auto`` (default: text when standard error is a terminal, else JSON).
        gc_interval_seconds: ``OPSML_GC_INTERVAL``: run ``opsml gc`` every this many
            seconds, on one replica at a time (default 3600; 0: never).
        gc_older_than_seconds: ``OPSML_GC_OLDER_THAN``: the scheduled gc's age after which
            a pending registration or upload counts as abandoned (default 86400).
        oidc: The ``OPSML_OIDC_*`` settings of single sign-on (``None``: off).
    """

    opsml: OpsmlConfig
    auth: bool = False
    username: str = DEFAULT_USERNAME
    password: str = field(default=DEFAULT_PASSWORD, repr=False)
    token_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    refresh_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    token_ttl_seconds: int = 900
    refresh_ttl_seconds: int = 7 * 24 * 3600
    auth_cache_seconds: int = 10
    allowed_hosts: tuple[str, ...] = field(default_factory=_default_hosts)
    max_body_bytes: int = 16 * 1024 * 1024
    login_attempts: int = 10
    login_address_attempts: int = 100
    login_delay_seconds: int = 5
    login_max_delay_seconds: int = 900
    production: bool = False
    presign_ttl_seconds: int = 900
    upload_dir: Path | None = None
    header_timeout_seconds: int = 20
    body_timeout_seconds: int = 60
    body_min_rate: int = 500
    keep_alive_timeout_seconds: int = 30
    access_log: bool = False
    forwarded_allow_ips: tuple[str, ...] = ()
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    auto_migrate: bool = True
    graceful_timeout_seconds: int = 60
    metrics: bool = True
    metrics_token: str = field(default="", repr=False)
    log_format: str = "auto"
    gc_interval_seconds: int = 3600
    gc_older_than_seconds: int = 86400
    oidc: OidcConfig | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerConfig:
        """Read the server settings.

        Raises:
            InvalidArgumentError: The tracking URI is not a database URL (a server cannot
                point at another server), a number is malformed, or ``APP_ENV=production``
                with insecure settings (auth off, the default password, or token secrets
                left to be generated per process).
        """
        env = os.environ if environ is None else environ
        opsml = OpsmlConfig.from_env(env)
        if not opsml.is_sql:
            raise InvalidArgumentError(
                "the server's OPSML_TRACKING_URI must be a database URL, "
                f"got {opsml.tracking_uri!r}"
            )
        auth = env.get("OPSML_AUTH", "").strip().lower() in _TRUE
        oidc = OidcConfig.from_env(env)
        if oidc is not None and not auth:
            raise InvalidArgumentError("single sign-on (OPSML_OIDC_ISSUER) needs OPSML_AUTH=true")
        production = opsml.app_env.strip().lower() in ("production", "prod")
        username = env.get("OPSML_DEFAULT_USERNAME", "").strip() or DEFAULT_USERNAME
        password = env.get("OPSML_DEFAULT_PASSWORD", "") or DEFAULT_PASSWORD
        token_secret = env.get("OPSML_AUTH_SECRET", "").strip()
        refresh_secret = env.get("OPSML_REFRESH_SECRET", "").strip()
        if production:
            problems = []
            if not auth:
                problems.append("OPSML_AUTH=true")
            if password == DEFAULT_PASSWORD:
                problems.append("OPSML_DEFAULT_PASSWORD (not the default)")
            if not token_secret or not refresh_secret:
                problems.append("OPSML_AUTH_SECRET and OPSML_REFRESH_SECRET")
            if problems:
                raise InvalidArgumentError(
                    "refusing to start with APP_ENV=production and insecure defaults; set "
                    + ", ".join(problems)
                )
        hosts_text = env.get("OPSML_ALLOWED_HOSTS", "").strip()
        hosts = (
            tuple(h.strip().lower() for h in hosts_text.split(",") if h.strip())
            if hosts_text
            else _default_hosts()
        )
        return cls(
            opsml=opsml,
            auth=auth,
            username=username,
            password=password,
            token_secret=token_secret or secrets.token_urlsafe(32),
            refresh_secret=refresh_secret or secrets.token_urlsafe(32),
            token_ttl_seconds=_positive_int(env, "OPSML_TOKEN_TTL", 900),
            refresh_ttl_seconds=_positive_int(env, "OPSML_REFRESH_TTL", 7 * 24 * 3600),
            auth_cache_seconds=_non_negative_int(env, "OPSML_AUTH_CACHE_SECONDS", 10),
            allowed_hosts=hosts,
            max_body_bytes=_positive_int(env, "OPSML_MAX_BODY_BYTES", 16 * 1024 * 1024),
            login_attempts=_positive_int(env, "OPSML_LOGIN_ATTEMPTS", 10),
            login_address_attempts=_positive_int(env, "OPSML_LOGIN_ADDRESS_ATTEMPTS", 100),
            login_delay_seconds=_positive_int(env, "OPSML_LOGIN_DELAY", 5),
            login_max_delay_seconds=_positive_int(env, "OPSML_LOGIN_MAX_DELAY", 900),
            production=production,
            presign_ttl_seconds=_positive_int(env, "OPSML_PRESIGN_TTL", 900),
            upload_dir=Path(env["OPSML_UPLOAD_DIR"].strip()).expanduser()
            if env.get("OPSML_UPLOAD_DIR", "").strip()
            else None,
            header_timeout_seconds=_positive_int(env, "OPSML_SERVER_HEADER_TIMEOUT", 20),
            body_timeout_seconds=_positive_int(env, "OPSML_SERVER_BODY_TIMEOUT", 60),
            body_min_rate=_positive_int(env, "OPSML_SERVER_BODY_MIN_RATE", 500),
            keep_alive_timeout_seconds=_positive_int(env, "OPSML_SERVER_KEEP_ALIVE_TIMEOUT", 30),
            access_log=env.get("OPSML_SERVER_ACCESS_LOG", "").strip().lower() in _TRUE,
            forwarded_allow_ips=_forwarded_allow_ips(env.get("OPSML_FORWARDED_ALLOW_IPS", "")),
            webhooks=WebhookConfig.from_env(env),
            auto_migrate=_flag(env, "OPSML_DB_AUTO_MIGRATE", True),
            graceful_timeout_seconds=_positive_int(env, "OPSML_SERVER_GRACEFUL_TIMEOUT", 60),
            metrics=_flag(env, "OPSML_METRICS", True),
            metrics_token=env.get("OPSML_METRICS_TOKEN", "").strip(),
            log_format=_log_format(env.get("OPSML_LOG_FORMAT", "")),
            gc_interval_seconds=_non_negative_int(env, "OPSML_GC_INTERVAL", 3600),
            gc_older_than_seconds=_positive_int(env, "OPSML_GC_OLDER_THAN", 86400),
            oidc=oidc,
        )

    def relay_folder(self) -> Path:
        """Where files sent through the server to object storage wait: ``upload_dir``, else
        ``server-uploads/<hash of the storage URI>`` in the cache folder
        (``opsml.cache.root``: ``$XDG_CACHE_HOME/opsml``), else (a configuration without
        one) a new private temporary folder."""
        if self.upload_dir is not None:
            return self.upload_dir
        if self.opsml.cache.root is not None:
            digest = hashlib.sha256(self.opsml.storage_uri.encode()).hexdigest()[:16]
            return self.opsml.cache.root / "server-uploads" / digest
        return Path(tempfile.mkdtemp(prefix="opsml-server-uploads-"))
