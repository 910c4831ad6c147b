"""What the server tells its operators: Prometheus metrics and the one log line per request.

:class:`Metrics` holds the app's metrics. A server started by ``opsml server start`` runs
prometheus-client in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set before any worker
starts), so whichever worker answers a scrape reports the sum over all of them; an app made
in-process (tests) counts in its own registry.

:class:`Observe` is the middleware that counts each request (route template and status,
latency, bytes in and out, registrations) and, when the request log is on, writes its line.
Labels hold only route templates (``/opsml/api/{registry}/cards/{uid}``), methods, status
codes, registry types and job names: never a card's name, a uid, a user or a path.

Its cost per request is a clock read at each end, a dict lookup for the label set, and three
increments of memory-mapped values (measured in ``docs/deployment.md``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import MutableMapping
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from opsml.server._errors import assign_request_id, with_request_id
from opsml.server._logging import REQUEST_LOGGER

__all__ = ["MULTIPROC_ENV", "Metrics", "Observe", "prepare_multiprocess_dir"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_COMMIT = "/opsml/api/{registry}/cards/{uid}/commit"
_UNMATCHED = "unmatched"
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})
_requests_log = logging.getLogger(REQUEST_LOGGER)


def prepare_multiprocess_dir(folder: Path) -> None:
    """Empty ``folder`` (values of an earlier run would be added in) and make it the
    multiprocess directory of this process and the workers it starts."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(folder)


class Metrics:
    """The server's metrics (one per app).

    Args:
        multiprocess_dir: The shared directory of a multiprocess server; ``None``: count in
            this process only.
    """

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self._dir = multiprocess_dir
        own = None if multiprocess_dir else CollectorRegistry()
        kw: dict[str, Any] = {"registry": own}
        self.requests = Counter(
            "opsml_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            **kw,
        )
        self.latency = Histogram(
            "opsml_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer",
            ["method", "route"],
            buckets=_BUCKETS,
            **kw,
        )
        self.received = Counter(
            "opsml_http_received_bytes", "Request body bytes received, by route", ["route"], **kw
        )
        self.sent = Counter(
            "opsml_http_sent_bytes", "Response body bytes sent, by route", ["route"], **kw
        )
        self.registrations = Counter(
            "opsml_registrations", "Cards registered (committed), by registry", ["registry"], **kw
        )
        self.pool = Gauge(
            "opsml_db_pool_connections",
            "Database connections of the workers' pools: checked_out (in use), idle, overflow",
            ["state"],
            multiprocess_mode="livesum",
            **kw,
        )
        self.job_runs = Counter(
            "opsml_job_runs",
            "Background job runs on this server, by job and outcome",
            ["job", "outcome"],
            **kw,
        )
        self.job_last_success = Gauge(
            "opsml_job_last_success_timestamp_seconds",
            "When a background job last finished without error (Unix time)",
            ["job"],
            multiprocess_mode="max",
            **kw,
        )
        self._own = own
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any, Any]] = {}

    def children(self, method: str, route: str, status: int) -> tuple[Any, Any, Any, Any]:
        """The labelled series of one (method, route, status), made once."""
        key = (method, route, status)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
                self.received.labels(route),
                self.sent.labels(route),
            )
        return found

    def update_pool(self, pool: Any) -> None:
        """Record this worker's connection pool use (a SQLAlchemy ``QueuePool``)."""
        checked_out = getattr(pool, "checkedout", None)
        if checked_out is None:
            return
        self.pool.labels("checked_out").set(pool.checkedout())
        self.pool.labels("idle").set(pool.checkedin())
        self.pool.labels("overflow").set(max(0, pool.overflow()))

    def exposition(self) -> bytes:
        """Every metric in Prometheus' text format (over all workers in multiprocess mode)."""
        if self._own is not None:
            return generate_latest(self._own)
        self._forget_dead_workers()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self._dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def _forget_dead_workers(self) -> None:
        """Drop the live gauges of workers that exited (uvicorn restarts a dead worker
        under a new process id; its pool would otherwise be counted forever)."""
        assert self._dir is not None
        for file in Path(self._dir).glob("gauge_live*_*.db"):
            pid = file.stem.rpartition("_")[2]
            if pid.isdigit() and not _alive(int(pid)):
                multiprocess.mark_process_dead(int(pid), self._dir)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Observe:
    """Give every request its id (:func:`~opsml.server._errors.assign_request_id`,
    answered in ``X-Request-ID``), count it in the metrics and, when ``log_requests``, log
    one line for it (route template, status, duration, user, request id). One middleware
    for the three: each layer costs every request a few microseconds."""

    def __init__(self, app: Any, metrics: Metrics, log_requests: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = assign_request_id(scope)
        method = scope["method"]
        status = 500
        sent = 0
        received = 0
        recorded = False

        def record() -> None:
            # Once per request, and before the response's last bytes leave: a client that
            # has its answer finds the request already counted and logged.
            nonlocal recorded
            if recorded:
                return
            recorded = True
            self._record(scope, method, status, time.perf_counter() - start, received, sent)

        async def counting_send(message: Any) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message = with_request_id(message, rid)
            else:
                sent += len(message.get("body", b""))
                if not message.get("more_body", False):
                    record()
            await send(message)

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            return message

        try:
            await self.app(
                scope, receive if method in _NO_BODY else counting_receive, counting_send
            )
        finally:
            record()

    def _record(
        self,
        scope: MutableMapping[str, Any],
        method: str,
        status: int,
        elapsed: float,
        received: int,
        sent: int,
    ) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or _UNMATCHED
        requests, latency, received_bytes, sent_bytes = self.metrics.children(
            method, template, status
        )
        requests.inc()
        latency.observe(elapsed)
        if received:
            received_bytes.inc(received)
        if sent:
            sent_bytes.inc(sent)
        if template == _COMMIT and status == 200:
            registry = scope.get("path_params", {}).get("registry", "")
            self.metrics.registrations.labels(str(registry)).inc()
        if self.log_requests:
            _log_request(scope, method, template, status, elapsed)


def _log_request(
    scope: MutableMapping[str, Any], method: str, route: str, status: int, elapsed: float
) -> None:
    """One line per request: the message as uvicorn's access log wrote it (client, request
    line with the path and query, status), the fields for a log collector."""
    state = scope.get("state", {})
    principal = state.get("principal")
    client = scope.get("client")
    path = quote(scope.get("root_path", "") + scope.get("path", ""))
    query = scope.get("query_string", b"")
    target = f"{path}?{query.decode('latin-1')}" if query else path
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    _requests_log.info(
        '%s - "%s %s HTTP/%s" %d %s',
        f"{client[0]}:{client[1]}" if client else "-",
        method,
        target,
        scope.get("http_version", "1.1"),
        status,
        phrase,
        extra={
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
            "user": getattr(principal, "username", None),
            "request_id": state.get("request_id"),
            "client": client[0] if client else None,
        },
    )
