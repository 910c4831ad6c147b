"""Client mode: the registry backend over HTTP, talking to an opsml server."""

from __future__ import annotations

from opsml.client._api import ApiClient, decode_error
from opsml.client._backend import HttpBackend, HttpSource

__all__ = ["ApiClient", "HttpBackend", "HttpSource", "decode_error"]
