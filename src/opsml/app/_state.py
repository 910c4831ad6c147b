"""``AppState``: a service loaded from a folder, its drift queue, and hot reloads.

A reload builds the whole next version beside the current one (download, verify, load,
start its queue), then swaps the ServiceCard in with one assignment: a request that already
read ``app.service`` keeps the cards it read, the next request sees the new ones, and the
queue handles are repointed before the old queue is flushed and closed
(:mod:`opsml.app._queue`), so no record is lost.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from opsml.app._cron import CronSchedule
from opsml.app._queue import ServiceQueue, drift_profiles_of, open_scouter_queue
from opsml.cards import ServiceCard
from opsml.errors import InvalidArgumentError, MonitoringError
from opsml.registry import CardRegistry
from opsml.settings import OpsmlConfig
from opsml.types import RegistryType, SaveName

__all__ = ["AppState", "ReloadConfig"]

_log = logging.getLogger("opsml.app")

_SERVICE_RELOAD = "service_reload"
"""Default download folder of a reload (in the current folder), as OpsML's."""


class ReloadConfig:
    """When and how :class:`AppState` looks for a newer version of its service.

    Args:
        cron: When to check the registry: OpsML's six or seven fields with seconds first
            (``"0 0 * * * *"`` hourly; scouter's ``CommonCrons.EveryHour.cron``) or a classic
            five-field crontab line.
        max_retries: Attempts per reload before giving up until the next check.
        write_path: Folder a new version is downloaded into before it is loaded (default
            ``./service_reload``); emptied after each reload.

    Raises:
        InvalidArgumentError: The cron expression is malformed, or ``max_retries`` < 1.
    """

    def __init__(
        self, cron: str, max_retries: int = 3, write_path: Path | str | None = None
    ) -> None:
        self._schedule = CronSchedule.parse(cron)
        if int(max_retries) < 1:
            raise InvalidArgumentError("max_retries must be at least 1")
        self.max_retries = int(max_retries)
        self.write_path = Path(write_path) if write_path is not None else Path(_SERVICE_RELOAD)
        if not self.write_path.is_absolute():
            self.write_path = Path.cwd() / self.write_path

    @property
    def cron(self) -> str:
        """The cron expression."""
        return self._schedule.expression

    @cron.setter
    def cron(self, value: str) -> None:
        self._schedule = CronSchedule.parse(value)

    def next_check(self, after: datetime | None = None) -> datetime | None:
        """When the next scheduled check is due (UTC), after ``after`` (default: now)."""
        return self._schedule.next_after(after or datetime.now(UTC))

    def __repr__(self) -> str:
        return (
            f"ReloadConfig(cron={self.cron!r}, max_retries={self.max_retries}, "
            f"write_path={str(self.write_path)!r})"
        )


class AppState:
    """A service loaded from disk for serving, with its drift queue and reloader.

    Build it with :meth:`from_path`; in a FastAPI app, in the lifespan:

    Example:
        ```python
        @asynccontextmanager
        async def lifespan(app: FastAPI):
            app.state.app_state = AppState.from_path("opsml_app", transport_config=RedisConfig())
            yield
            app.state.app_state.shutdown()
        ```
    """

    def __init__(
        self,
        service: ServiceCard,
        path: Path,
        queue: ServiceQueue | None,
        transport_config: Any,
        reload_config: ReloadConfig | None,
        load_kwargs: Mapping[str, Mapping[str, Any]] | None,
        config: OpsmlConfig | None,
    ) -> None:
        """Use :meth:`from_path`."""
        self._service = service
        self._path = path
        self._queue = queue
        self._transport_config = transport_config
        self._reload_config = reload_config
        self._load_kwargs = load_kwargs
        self._config = config
        self._reload_lock = threading.Lock()
        self._requests: list[Future[bool]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    @classmethod
    def from_path(
        cls,
        path: Path | str | None = None,
        transport_config: Any = None,
        reload_config: ReloadConfig | None = None,
        load_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        config: OpsmlConfig | None = None,
    ) -> AppState:
        """Load a service installed by ``opsml install service`` (or downloaded with
        ``download_service`` / ``ServiceCard.download_artifacts``), every file verified.

        Args:
            path: The service folder (default ``service``).
            transport_config: Where drift records go: scouter's ``HTTPConfig``,
                ``RedisConfig``, ``RabbitMQConfig``, ``KafkaConfig`` or ``MockConfig``. With
                it, and drift profiles on the service's cards, :attr:`queue` feeds them.
            reload_config: When :meth:`start_reloader` checks the registry for a new version.
            load_kwargs: ``{"alias": {"interface": ..., "load_kwargs": ...}}`` as for
                :meth:`ServiceCard.from_path`.
            config: The registry reloads come from (read from the environment when the
                reloader first needs it).

        Raises:
            InvalidArgumentError: No service in ``path``, or two cards share a profile alias.
            IntegrityError: A file differs from its card's manifest.
            MonitoringError: The queue could not start with ``transport_config``.
        """
        folder = Path(path) if path is not None else Path(str(SaveName.ServiceCard))
        service = ServiceCard.from_path(folder, load_kwargs)
        queue = _open_queue(service, transport_config)
        return cls(service, folder, queue, transport_config, reload_config, load_kwargs, config)

    # -- what handlers read ------------------------------------------------------------------

    @property
    def service(self) -> ServiceCard:
        """The ServiceCard being served (``app.service["model"].model``); after a reload, the
        new version's."""
        return self._service

    @property
    def queue(self) -> ServiceQueue:
        """The drift queue (``app.queue["psi"].insert(Features(...))``).

        Raises:
            MonitoringError: The app was built without a ``transport_config`` or its cards
                have no drift profiles.
        """
        if self._queue is None:
            raise MonitoringError(
                "this AppState has no drift queue: pass transport_config to AppState.from_path "
                "and give the service's cards drift profiles"
            )
        return self._queue

    @property
    def has_queue(self) -> bool:
        """Whether :attr:`queue` exists."""
        return self._queue is not None

    @property
    def path(self) -> Path:
        """The folder the service is served from (a reload installs the new version there)."""
        return self._path

    @property
    def reload_config(self) -> ReloadConfig | None:
        """The reload schedule, if any."""
        return self._reload_config

    # -- reloading ---------------------------------------------------------------------------

    @property
    def reloader_running(self) -> bool:
        """Whether the background reloader is running."""
        return self._thread is not None and self._thread.is_alive()

    def start_reloader(self) -> None:
        """Start checking the registry on the ``ReloadConfig`` schedule (a daemon thread);
        a no-op when it already runs.

        Raises:
            InvalidArgumentError: The app was built without a ``reload_config``.
        """
        if self._reload_config is None:
            raise InvalidArgumentError(
                "start_reloader needs a schedule: pass reload_config=ReloadConfig(cron=...) "
                "to AppState.from_path"
            )
        if self.reloader_running:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="opsml-reloader", daemon=True)
        self._thread.start()

    def stop_reloader(self) -> None:
        """Stop the background reloader (waiting for a reload in progress) and remove the
        reload download folder."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        if self._reload_config is not None:
            shutil.rmtree(self._reload_config.write_path, ignore_errors=True)

    def reload(self) -> Future[bool]:
        """Check the registry for a newer version now, and swap it in if there is one.

        With the reloader running, its thread does the check; otherwise a one-off thread
        does. Returns at once; the future's result is whether a new version was swapped in
        (``app.reload().result()`` waits for it).
        """
        future: Future[bool] = Future()
        with self._wake:
            if self.reloader_running and not self._stopping:
                self._requests.append(future)
                self._wake.notify_all()
                return future
        threading.Thread(
            target=self._reload_into, args=(future,), name="opsml-reload", daemon=True
        ).start()
        return future

    def _run(self) -> None:
        config = self._reload_config
        assert config is not None
        due = config.next_check()
        while True:
            with self._wake:
                while not self._stopping and not self._requests:
                    wait = None if due is None else (due - datetime.now(UTC)).total_seconds()
                    if wait is not None and wait <= 0:
                        break
                    self._wake.wait(timeout=wait)
                if self._stopping:
                    for pending in self._requests:
                        pending.cancel()
                    self._requests.clear()
                    return
                requests, self._requests = self._requests, []
            scheduled = due is not None and datetime.now(UTC) >= due
            future: Future[bool] = Future()
            self._reload_into(future)
            for request in requests:
                _copy_outcome(future, request)
            if scheduled:
                due = config.next_check()

    def _reload_into(self, future: Future[bool]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        retries = self._reload_config.max_retries if self._reload_config else 1
        for attempt in range(retries):
            try:
                future.set_result(self._check_and_swap())
                return
            except Exception as exc:  # logged and retried; the current version keeps serving
                _log.error("reloading %s failed (attempt %d): %s", self._path, attempt + 1, exc)
                if attempt + 1 == retries:
                    future.set_exception(exc)
                    return
                time.sleep(min(0.1 * 2**attempt, 5.0))

    def _check_and_swap(self) -> bool:
        with self._reload_lock:
            current = self._service
            if self._config is None:
                self._config = OpsmlConfig.from_env()
            registry = CardRegistry(RegistryType.Service, self._config)
            latest = registry.load_card(space=current.space, name=current.name)
            if latest.uid == current.uid:
                return False
            assert isinstance(latest, ServiceCard)
            _log.info(
                "reloading %s/%s: %s -> %s",
                current.space,
                current.name,
                current.version,
                latest.version,
            )
            staging = self._staging_folder()
            try:
                latest.download_artifacts(staging)
                service = ServiceCard.from_path(staging, self._load_kwargs)
                profiles = drift_profiles_of(service)
                queue = None
                if self._transport_config is not None and profiles:
                    queue = open_scouter_queue(profiles, self._transport_config)
                self._service = service  # the swap: one assignment
                if self._queue is not None:
                    self._queue._swap(queue, list(profiles) if queue is not None else [])
                elif queue is not None:
                    self._queue = ServiceQueue(queue, list(profiles), self._transport_config)
                try:
                    _install(staging, self._path)
                except OSError as exc:  # the new version serves; only a restart would miss it
                    _log.error("could not install %s into %s: %s", latest.version, self._path, exc)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            return True

    def _staging_folder(self) -> Path:
        base = self._reload_config.write_path if self._reload_config else self._path.parent
        base.mkdir(parents=True, exist_ok=True)
        return base / f".{self._path.name}.{os.getpid()}-{secrets.token_hex(4)}"

    # -- shutting down -----------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the reloader, then flush and close the drift queue (idempotent)."""
        self.stop_reloader()
        if self._queue is not None:
            self._queue.shutdown()

    def __enter__(self) -> AppState:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        service = self._service
        return f"AppState({service.space}/{service.name} v{service.version}, path={self._path})"


def _open_queue(service: ServiceCard, transport_config: Any) -> ServiceQueue | None:
    if transport_config is None:
        return None
    profiles = drift_profiles_of(service)
    if not profiles:
        return None
    queue = open_scouter_queue(profiles, transport_config)
    return ServiceQueue(queue, list(profiles), transport_config)


def _copy_outcome(source: Future[bool], target: Future[bool]) -> None:
    if not target.set_running_or_notify_cancel():
        return
    error = source.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())


def _install(staging: Path, dest: Path) -> None:
    """Replace ``dest`` with ``staging`` (a restart then loads the new version); the old
    folder is renamed away first, so ``dest`` always holds one whole version."""
    token = secrets.token_hex(4)
    if staging.stat().st_dev != dest.parent.stat().st_dev:  # rename cannot cross filesystems
        moved = dest.parent / f".{dest.name}.new-{token}"
        shutil.copytree(staging, moved)
        staging = moved
    old = dest.parent / f".{dest.name}.old-{token}"
    if dest.exists():
        dest.rename(old)
    try:
        staging.rename(dest)
    except OSError:
        if old.exists() and not dest.exists():
            old.rename(dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
