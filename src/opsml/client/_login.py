"""``opsml login``: single sign-on for a terminal, through the server's device login.

The server starts the provider's device authorization flow (RFC 8628); the user opens the
verification URL in any browser (on another machine if need be) and enters the code; this
process polls the server until the login is done, then stores the server's token pair in
the credentials file (:class:`~opsml.client._credentials.CredentialStore`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from opsml.client._api import ApiClient
from opsml.client._credentials import CredentialStore, StoredTokens
from opsml.errors import AuthenticationError

__all__ = ["device_login"]


def device_login(
    api: ApiClient,
    store: CredentialStore,
    show: Callable[[dict[str, Any]], None],
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Log in to ``api``'s server with single sign-on and store the tokens.

    Args:
        api: The server (with no credentials of its own).
        store: Where the tokens go.
        show: Shows the user the verification URL and code (the server's ``/auth/device``
            answer without its ``device_code``).
        sleep: Waits between polls (tests pass their own).

    Returns:
        The username the server knows the user as.

    Raises:
        AuthenticationError: The user denied the login, or it expired.
        InvalidArgumentError: The server has no single sign-on.
    """
    start = api.json("POST", "/opsml/api/auth/device")
    device_code = start.pop("device_code")
    show(start)
    interval = float(start.get("interval", 5))
    deadline = time.monotonic() + float(start.get("expires_in", 600))
    while time.monotonic() < deadline:
        sleep(interval)
        answer = api.json("POST", "/opsml/api/auth/device/token", json={"device_code": device_code})
        if answer["status"] == "slow_down":
            interval += 5
        if answer["status"] != "ok":
            continue
        tokens = StoredTokens(answer["access_token"], answer["refresh_token"])
        store.save(api.base_url, tokens)
        me = api.json(
            "GET",
            "/opsml/api/auth/me",
            headers={"authorization": f"Bearer {tokens.access_token}"},
        )
        return str(me["username"])
    raise AuthenticationError("the device login expired before it was completed: try again")
