"""What every route shares: the server's state (settings, local backend, security), the
dependencies that hand it and the caller to a route, and the common parameter types."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Path, Request
from fastapi.responses import Response

from opsml.cards import CardBase
from opsml.errors import CardNotFoundError
from opsml.registry import LocalBackend
from opsml.server._authz import current_user, shared_card
from opsml.server._config import ServerConfig
from opsml.server._models import UID_PATTERN, ErrorResponse, RegistryName
from opsml.server._observe import Metrics
from opsml.server._oidc import OidcClient
from opsml.server._security import Principal, Security
from opsml.storage import UploadArea
from opsml.store import OK, AuthStore, CardQuery, LoopReads, WebhookStore
from opsml.types import RegistryType

__all__ = [
    "ERRORS",
    "JsonBytes",
    "ServerState",
    "StateDep",
    "Uid",
    "UserDep",
    "card_json",
    "json_bytes",
    "registered_row",
    "registry_type",
    "state",
]

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 422, 500, 503)
}
"""The error answers every API route may give (for the OpenAPI description)."""

Uid = Annotated[str, Path(pattern=UID_PATTERN, description="the card's uid")]
_RELAY_KEEP_SECONDS = 24 * 3600
_THREADS = 32  # the SQLite engine's pool keeps as many connections
_THREAD_START_SECONDS = 30.0
LOOP_LISTING_ROWS = 100
"""Listings of at most this many rows are read on the event loop (PostgreSQL)."""
T = TypeVar("T")


class ServerState:
    """What every route needs: the settings, the local backend and the security state
    (one per app)."""

    def __init__(self, config: ServerConfig, backend: LocalBackend, metrics: Metrics) -> None:
        self.config = config
        self.backend = backend
        self.metrics = metrics
        self.auth_store = AuthStore(backend.store)
        self.webhooks = WebhookStore(backend.store)
        self.security = Security(
            self.auth_store,
            config.token_secret,
            config.refresh_secret,
            config.token_ttl_seconds,
            config.refresh_ttl_seconds,
            config.auth_cache_seconds,
        )
        self.oidc = OidcClient(config.oidc) if config.oidc is not None else None
        self._relay: UploadArea | None = None
        self._threads = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="opsml-io")
        weakref.finalize(self, self._threads.shutdown, False)
        # SQLite answers a read by key from the page cache in microseconds, and in WAL mode
        # a reader never waits for a writer: such reads run on the event loop, where the
        # hop to a thread and back would cost several times the read.
        self._inline_reads = backend.store.engine.dialect.name == "sqlite"
        # PostgreSQL: reads by key awaited on the event loop, no thread hop (see LoopReads).
        self.loop_reads = LoopReads.for_engine(backend.store.engine)
        if self.loop_reads is not None:
            weakref.finalize(self, self.loop_reads.close)

    def start_threads(self) -> None:
        """Start every worker thread of :meth:`run` now, as the server starts serving.

        The executor starts a thread when a task finds none idle, and starting one waits
        until the new thread runs: on the event loop, and under load the new thread first
        waits for the GIL behind the busy ones while every request of the worker waits
        for the loop. Measured on PostgreSQL (whose reads run in these threads), 2 workers,
        wrk at 16 connections: p99 of a card read 0.2-1.3 s, and requests cut off by wrk's
        2 s timeout, in the first runs after a start; 12-38 ms with the threads started
        first. Called on the event loop, never from one of these threads (they all wait
        here until the last has started).
        """
        started = threading.Barrier(_THREADS + 1)
        for _ in range(_THREADS):
            self._threads.submit(started.wait, _THREAD_START_SECONDS)
        started.wait(_THREAD_START_SECONDS)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in one of the state's worker threads: database and storage calls
        block, and must not hold up the event loop. (A plain executor: anyio's
        ``to_thread`` costs about 90 k more instructions per call, a tenth of a card
        lookup's whole answer.)"""
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, a short read-only lookup by key (a card's record, a token's
        principal): on the event loop for SQLite, in a worker thread for a database
        behind a network connection (see :meth:`run`)."""
        if self._inline_reads:
            return fn(*args)
        return await self.run(fn, *args)

    async def card_record(
        self, registry: RegistryType, uid: str, *, include_pending: bool = False
    ) -> Any:
        """The record of card ``uid`` (:meth:`SqlStore.get`), read the cheapest way the
        database allows: on the event loop (SQLite, and PostgreSQL's :class:`LoopReads`),
        else in a worker thread.

        Raises:
            CardNotFoundError: No such card (or it is still pending, unless
                ``include_pending``).
            MetadataStoreError: The database failed.
        """
        store = self.backend.store
        if self.loop_reads is not None:
            return await store.get_on_loop(
                self.loop_reads, registry, uid, include_pending=include_pending
            )
        read = functools.partial(store.get, registry, uid, include_pending=include_pending)
        return await self.read(read)

    async def list_card_fields(
        self, registry: RegistryType, query: CardQuery
    ) -> list[dict[str, Any]]:
        """The records of a listing (:meth:`LocalBackend.list_card_fields`): awaited on the
        event loop with PostgreSQL's :class:`LoopReads` when at most
        ``LOOP_LISTING_ROWS`` rows can come back, else in a worker thread (turning
        thousands of rows into JSON there lets the loop take turns at the GIL meanwhile).

        Raises:
            MetadataStoreError: The database failed.
        """
        backend = self.backend
        reads = self.loop_reads
        if reads is not None and query.limit is not None and query.limit <= LOOP_LISTING_ROWS:
            return await backend.list_card_fields_on_loop(reads, registry, query)
        return await self.run(backend.list_card_fields, registry, query)

    async def load_card_json(self, registry: RegistryType, query: CardQuery) -> str:
        """The stored JSON of the best match of ``query``
        (:meth:`LocalBackend.load_card_json`): awaited on the event loop with PostgreSQL's
        :class:`LoopReads`, else in a worker thread.

        Raises:
            CardNotFoundError: Nothing matches.
            MetadataStoreError: The database failed.
        """
        backend = self.backend
        if self.loop_reads is not None:
            return await backend.load_card_json_on_loop(self.loop_reads, registry, query)
        return await self.run(backend.load_card_json, registry, query)

    async def authenticate(self, token: str) -> Principal:
        """The caller ``token`` identifies (:meth:`Security.authenticate`). With
        :class:`LoopReads`, the security epoch is read on the event loop, and only a token
        not verified recently is verified in a worker thread.

        Raises:
            AuthenticationError: Invalid, expired or revoked.
            MetadataStoreError: The database failed.
        """
        security = self.security
        if self.loop_reads is None or security.cache_seconds <= 0:
            return await self.read(security.authenticate, token)
        epoch = await self.auth_store.epoch_on_loop(self.loop_reads)
        known = security.remembered(token, epoch)
        if known is not None:
            return known
        return await self.run(security.authenticate, token)

    def close_loop_reads(self) -> None:
        """Close the connections of :attr:`loop_reads` (the server stops)."""
        if self.loop_reads is not None:
            self.loop_reads.close()

    def upload_area(self) -> UploadArea:
        """Where files sent *through* the server are received: the storage's own upload
        area (local storage), or a folder on this server's disk, ``OPSML_UPLOAD_DIR``
        (object storage, where only experiment artifacts take this path: card files go
        straight to the bucket with presigned URLs)."""
        area = self.backend.storage.upload_area()
        if area is not None:
            return area
        if self._relay is None:
            self._relay = UploadArea(self.config.relay_folder())
        return self._relay

    def clean_relay(self) -> None:
        """Remove what the relay folder (object storage) kept longer than a day: it holds
        only uploads waiting for their commit, never a card's files."""
        if self._relay is not None:
            self._relay.clean(_RELAY_KEEP_SECONDS)


def state(request: Request) -> ServerState:
    """The app's :class:`ServerState`."""
    st: ServerState = request.app.state.opsml
    return st


async def _state_dependency(request: Request) -> ServerState:
    return state(request)  # a coroutine: FastAPI runs it without a worker thread


StateDep = Annotated[ServerState, Depends(_state_dependency)]
UserDep = Annotated[Principal, Depends(current_user)]


class JsonBytes(Response):
    """A JSON answer from text or bytes that are JSON already (a stored ``card.json``, or
    what :func:`json_bytes` made): nothing is parsed or encoded again."""

    media_type = "application/json"


def json_bytes(content: Any) -> JsonBytes:
    """``content`` (dicts, lists, strings, numbers) as a JSON answer, encoded by orjson."""
    return JsonBytes(orjson.dumps(content))


def registered_row(st: ServerState, request: Request, registry: RegistryType, uid: str) -> Any:
    """The ``ok`` record of card ``uid``: the one the permission check read for this
    request, else read now (call it in a worker thread).

    Raises:
        CardNotFoundError: No such card, or it is still pending.
    """
    shared = shared_card(request, registry, uid)
    if shared is None:
        return st.backend.store.get(registry, uid)
    if shared.row is None or shared.row.status != OK:
        raise CardNotFoundError(f"no {registry.value} card with uid {uid!r}")
    return shared.row


def registry_type(name: RegistryName) -> RegistryType:
    """The registry a route's ``{registry}`` names."""
    return RegistryType(name.value)


def card_json(card: CardBase) -> dict[str, Any]:
    """A card as the API answers it (its ``card.json``)."""
    data: dict[str, Any] = json.loads(card.model_dump_json())
    return data
