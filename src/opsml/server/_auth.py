"""Short-lived signed access tokens (HMAC-SHA256), and the login check.

A token is ``base64url(payload).base64url(signature)`` where the payload holds the user
and the expiry time. Verification needs only the shared secret, so replicas stay stateless.
Users and permissions per space come with the security work; today there is one account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from opsml.errors import AuthenticationError
from opsml.server._config import ServerConfig

__all__ = ["GUEST", "check_login", "issue_token", "verify_token"]

GUEST = "guest"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode("ascii"), hashlib.sha256).digest())


def check_login(config: ServerConfig, username: str, password: str) -> None:
    """Raise :class:`AuthenticationError` unless the credentials are the server's account."""
    user_ok = hmac.compare_digest(username.encode(), config.username.encode())
    password_ok = hmac.compare_digest(password.encode(), config.password.encode())
    if not (user_ok and password_ok):
        raise AuthenticationError("invalid username or password")


def issue_token(config: ServerConfig, username: str, now: float | None = None) -> str:
    """A token for ``username`` valid for ``config.token_ttl_seconds``."""
    issued = time.time() if now is None else now
    body = json.dumps({"sub": username, "exp": int(issued) + config.token_ttl_seconds})
    payload = _b64(body.encode())
    return f"{payload}.{_sign(config.token_secret, payload)}"


def verify_token(config: ServerConfig, token: str, now: float | None = None) -> str:
    """Return the user a valid token names.

    Raises:
        AuthenticationError: The token is malformed, tampered with or expired.
    """
    payload, _, signature = token.partition(".")
    if not payload or not signature:
        raise AuthenticationError("malformed access token")
    if not hmac.compare_digest(signature, _sign(config.token_secret, payload)):
        raise AuthenticationError("invalid access token")
    try:
        claims = json.loads(_unb64(payload))
        user, expires = str(claims["sub"]), int(claims["exp"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AuthenticationError("malformed access token") from exc
    if (time.time() if now is None else now) >= expires:
        raise AuthenticationError("access token expired; log in again")
    return user
