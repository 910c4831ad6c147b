"""Login throttling that slows guessing down without letting anyone lock an account.

Failed logins are counted per (client address, user name), not per user name: wrong
passwords for ``root`` sent from one address make only that address wait, while ``root``
logs in from anywhere else as usual. Once a pair has ``OPSML_LOGIN_ATTEMPTS`` failures
(since its last successful login, within a day), each further attempt waits
``OPSML_LOGIN_DELAY`` seconds after the last failure, doubled for every further failure, up
to ``OPSML_LOGIN_MAX_DELAY``. A second count per address (any user names) does the same after
``OPSML_LOGIN_ADDRESS_ATTEMPTS`` failures, against one address trying many user names; user
names this address logged in as that day are exempt from it.

The counts come from the audit log in the database, so every replica agrees. A failure is
written there before the answer is sent, so a client cannot outrun its own count. The client
address is the one the server sees (``request.client.host``): behind a reverse proxy, the
server must be told to trust that proxy's forwarded headers, else every client shares the
proxy's address.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from fastapi import Request

from opsml.errors import AuthenticationError, RateLimitError
from opsml.server._config import ServerConfig
from opsml.server._security import Security, TokenPair
from opsml.store import AuditEntry, AuthStore, UserRow

__all__ = ["LOGIN_OPERATIONS", "WINDOW", "LoginThrottle", "backoff"]

# The password change counts too: its wrong current passwords are guesses like any other.
LOGIN_OPERATIONS = ("POST /opsml/api/auth/token", "POST /ui/login", "POST /ui/profile/password")
WINDOW = timedelta(days=1)  # failures older than this are forgotten
T = TypeVar("T")


def backoff(failures: int, free: int, first: float, longest: float) -> float:
    """Seconds to wait after the last of ``failures`` failed logins.

    Args:
        failures: Failed logins counted.
        free: How many failures cost no wait.
        first: The wait after the first failure beyond ``free``.
        longest: The cap.

    Returns:
        0 below ``free``; then ``first``, doubling with each further failure, at most
        ``longest``.
    """
    if failures < free:
        return 0.0
    return min(longest, first * 2.0 ** min(failures - free, 64))


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LoginThrottle:
    """Decides whether a login attempt may be weighed now, and records failures.

    Args:
        store: The security tables (the audit log holds the failures).
        config: The limits (``login_attempts``, ``login_address_attempts``,
            ``login_delay_seconds``, ``login_max_delay_seconds``).
        clock: The current time (tests pass their own).
    """

    def __init__(
        self,
        store: AuthStore,
        config: ServerConfig,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock

    def retry_after(self, client: str, username: str) -> tuple[int, str]:
        """How long a login for ``username`` from ``client`` must wait, and why.

        Returns:
            Whole seconds (0: it may be tried now) and the limit that applies (``""``
            when none does).
        """
        now = self.clock()
        seen = self.store.login_failures(LOGIN_OPERATIONS, client, username, now - WINDOW)
        cfg = self.config
        first, longest = cfg.login_delay_seconds, cfg.login_max_delay_seconds
        waits = [(backoff(seen.pair, cfg.login_attempts, first, longest), seen.pair_last, "pair")]
        if not seen.known_pair:
            waits.append(
                (
                    backoff(seen.address, cfg.login_address_attempts, first, longest),
                    seen.address_last,
                    "address",
                )
            )
        seconds, reason = 0, ""
        for delay, last, why in waits:
            if delay <= 0 or last is None:
                continue
            left = math.ceil((last + timedelta(seconds=delay) - now).total_seconds())
            if left > seconds:
                seconds, reason = left, why
        return seconds, reason

    def check(self, client: str, username: str) -> None:
        """Refuse the attempt while its pair or its address has to wait.

        Raises:
            RateLimitError: It has to wait (``retry_after`` says how long).
        """
        seconds, reason = self.retry_after(client, username)
        if seconds <= 0:
            return
        who = f"for {username!r} " if reason == "pair" else ""
        raise RateLimitError(
            f"too many failed logins {who}from this address; try again in {seconds} s",
            retry_after=seconds,
        )

    def record_failure(self, client: str, username: str, operation: str) -> None:
        """Write a failed login to the audit log (where the counts come from)."""
        self.store.audit(
            AuditEntry(
                self.clock(),
                username[:128] or "anonymous",
                operation,
                operation.partition(" ")[2],
                "denied",
                401,
                client,
            )
        )

    def login(
        self, security: Security, request: Request, username: str, password: str
    ) -> TokenPair:
        """Log in through the throttle: refuse while waiting, record a failure at once.

        The request's audit line is this failure line (the audit middleware writes none);
        a success or a refusal is audited by the middleware as usual.

        Raises:
            RateLimitError: The attempt has to wait.
            AuthenticationError: Wrong credentials (recorded), or password logins are off
                (``OPSML_LOCAL_LOGIN=false``).
        """
        return self._guarded(request, username, lambda: security.login(username, password))

    def check_password(
        self, security: Security, request: Request, username: str, password: str
    ) -> UserRow:
        """Check a logged-in user's current password (the UI's password change) as a login
        is checked: a wrong one counts as a failed login of that user from that address, so
        a stolen session cannot guess its way to a new password faster than a login could.

        Raises:
            RateLimitError: The attempt has to wait.
            AuthenticationError: Wrong password (recorded), or password logins are off.
        """
        return self._guarded(request, username, lambda: security.check_password(username, password))

    def _guarded(self, request: Request, username: str, attempt: Callable[[], T]) -> T:
        if self.config.oidc is not None and not self.config.oidc.local_login:
            request.state.audit_user = username[:128]
            raise AuthenticationError(
                "password logins are off on this server: sign in with single sign-on "
                "(`opsml login`, or the web UI), or use an API token"
            )
        client = request.client.host if request.client else ""
        route = getattr(request.scope.get("route"), "path", request.url.path)
        operation = f"{request.method} {route}"
        request.state.audit_user = username[:128]
        self.check(client, username)
        try:
            return attempt()
        except AuthenticationError:
            self.record_failure(client, username, operation)
            request.state.audit_recorded = True
            raise
