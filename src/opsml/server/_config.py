"""Server settings, read from the environment once, in the app factory."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from opsml.errors import InvalidArgumentError
from opsml.settings import OpsmlConfig

__all__ = ["ServerConfig"]

_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ServerConfig:
    """What the server runs on and how it authenticates.

    Attributes:
        opsml: The server's own database (``OPSML_TRACKING_URI``) and storage
            (``OPSML_STORAGE_URI``).
        auth: ``OPSML_AUTH=true`` requires a login; otherwise everyone is ``guest``.
        username: ``OPSML_DEFAULT_USERNAME``, the account clients log in with.
        password: ``OPSML_DEFAULT_PASSWORD``.
        token_secret: ``OPSML_AUTH_SECRET``, the key that signs tokens; replicas behind one
            load balancer must share it (a random key is used when unset).
        token_ttl_seconds: ``OPSML_TOKEN_TTL``, lifetime of an access token (default 900).
    """

    opsml: OpsmlConfig
    auth: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    token_secret: str = field(default="", repr=False)
    token_ttl_seconds: int = 900

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerConfig:
        """Read the server settings.

        Raises:
            InvalidArgumentError: Auth is on without credentials, or the tracking URI is not
                a database URL (a server cannot point at another server).
        """
        env = os.environ if environ is None else environ
        opsml = OpsmlConfig.from_env(env)
        if not opsml.is_sql:
            raise InvalidArgumentError(
                "the server's OPSML_TRACKING_URI must be a database URL, "
                f"got {opsml.tracking_uri!r}"
            )
        auth = env.get("OPSML_AUTH", "").strip().lower() in _TRUE
        username = env.get("OPSML_DEFAULT_USERNAME", "").strip()
        password = env.get("OPSML_DEFAULT_PASSWORD", "")
        if auth and (not username or not password):
            raise InvalidArgumentError(
                "OPSML_AUTH=true needs OPSML_DEFAULT_USERNAME and OPSML_DEFAULT_PASSWORD"
            )
        ttl_text = env.get("OPSML_TOKEN_TTL", "900").strip() or "900"
        if not ttl_text.isdigit() or int(ttl_text) <= 0:
            raise InvalidArgumentError(
                f"OPSML_TOKEN_TTL must be a positive integer, got {ttl_text!r}"
            )
        return cls(
            opsml=opsml,
            auth=auth,
            username=username,
            password=password,
            token_secret=env.get("OPSML_AUTH_SECRET", "") or secrets.token_urlsafe(32),
            token_ttl_seconds=int(ttl_text),
        )
