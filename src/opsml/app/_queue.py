"""The queue of a served service: a scouter queue fed by the drift profiles of its cards.

:class:`ServiceQueue` is what ``AppState.queue`` hands out. ``queue["alias"]`` is a
:class:`QueueHandle` whose ``insert`` goes to the scouter queue of the service version being
served *at that moment*: when the app state swaps in a new version, every handle is pointed
at the new version's queues before the old ones are shut down (which flushes what they
hold), and an insert that still reached an old queue after its shutdown is sent to the new
one. So no record is lost across a reload, and handlers may keep a handle as long as they
like.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsml._compat import scouter_required
from opsml.cards import InterfaceCard, ServiceCard
from opsml.errors import AliasNotFoundError, InvalidArgumentError, MonitoringError

if TYPE_CHECKING:
    from scouter.queue import ScouterQueue

__all__ = ["QueueHandle", "ServiceQueue", "drift_profiles_of", "open_scouter_queue"]


def drift_profiles_of(service: ServiceCard) -> dict[str, Any]:
    """The drift profiles of every card of ``service`` by alias (stamped with each card's
    registered space, name and version).

    Raises:
        InvalidArgumentError: Two cards have a profile under the same alias (the queue is
            addressed by profile alias, so they must differ).
    """
    profiles: dict[str, Any] = {}
    owners: dict[str, str] = {}
    for ref in service.card_refs:
        card = ref.card
        if not isinstance(card, InterfaceCard):
            continue
        for alias, profile in card.drift_profile.items():
            if alias in profiles:
                raise InvalidArgumentError(
                    f"cards {owners[alias]!r} and {ref.alias!r} of service "
                    f"{service.space}/{service.name} both have a drift profile {alias!r}; "
                    "the queue is addressed by profile alias, so give them different aliases"
                )
            profiles[alias] = profile
            owners[alias] = ref.alias
    return profiles


def open_scouter_queue(profiles: Mapping[str, Any], transport_config: Any) -> ScouterQueue:
    """Start a scouter queue publishing through ``transport_config`` for ``profiles``.

    scouter reads profiles from files, so each (stamped) profile is written to a temporary
    folder for the duration of the call.

    Raises:
        MonitoringError: scouter refused the transport configuration or could not start.
    """
    with scouter_required():
        from scouter.queue import ScouterQueue
    with tempfile.TemporaryDirectory(prefix="opsml-queue-") as folder:
        paths: dict[str, Path] = {}
        for index, (alias, profile) in enumerate(profiles.items()):
            paths[alias] = Path(profile.save_to_json(Path(folder) / f"{index}.json"))
        try:
            return ScouterQueue.from_path(paths, transport_config)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # scouter raises RuntimeError, TypeError and panics
            raise MonitoringError(
                f"could not start the drift queue with {type(transport_config).__name__}: {exc}"
            ) from exc


class QueueHandle:
    """``queue["alias"]``: inserts records for one drift profile.

    ``insert`` takes what scouter's ``Queue.insert`` takes (``Features`` for SPC and PSI
    profiles, ``Metrics`` for custom-metric profiles).
    """

    __slots__ = ("_owner", "_queue", "alias")

    def __init__(self, owner: ServiceQueue, alias: str, queue: Any) -> None:
        self._owner = owner
        self.alias = alias
        self._queue = queue

    def insert(self, entity: Any) -> None:
        """Queue one record (it is batched and published in the background).

        Raises:
            MonitoringError: The queue was shut down, the service version being served has no
                profile under this alias any more, or scouter refused the record.
        """
        queue = self._queue
        if queue is None:
            raise self._owner._insert_error(self.alias, None)
        try:
            queue.insert(entity)
        except RuntimeError as exc:
            current = self._queue
            if current is queue or current is None:  # not a queue swapped out under us
                raise self._owner._insert_error(self.alias, exc) from exc
            current.insert(entity)  # the old queue closed between reading and inserting

    @property
    def identifier(self) -> str:
        """scouter's ``space/name/v<version>/<drift type>`` of the profile being fed."""
        if self._queue is None:
            raise self._owner._insert_error(self.alias, None)
        return str(self._queue.identifier)

    def __repr__(self) -> str:
        return f"QueueHandle({self.alias!r})"


class ServiceQueue:
    """The drift queue of a served service (``AppState.queue``).

    ``queue["alias"].insert(Features(...))`` feeds the profile ``alias`` of any card of the
    service; ``transport_config`` is the configuration the records are published with;
    ``shutdown()`` flushes and closes the queue.
    """

    def __init__(self, queue: ScouterQueue, aliases: list[str], transport_config: Any) -> None:
        self._queue: ScouterQueue | None = queue
        self._closed = False
        self._aliases = list(aliases)
        self._transport_config = transport_config
        self._handles = {alias: QueueHandle(self, alias, queue[alias]) for alias in aliases}
        self._lock = threading.Lock()

    @property
    def transport_config(self) -> Any:
        """The transport configuration (``HTTPConfig``, ``RedisConfig``, ``RabbitMQConfig``,
        ``KafkaConfig`` or ``MockConfig``) the records are published with."""
        return self._transport_config

    @property
    def aliases(self) -> list[str]:
        """The drift profile aliases of the service version being served."""
        return list(self._aliases)

    def __getitem__(self, alias: str) -> QueueHandle:
        """The handle feeding the drift profile ``alias``.

        Raises:
            AliasNotFoundError: The service version being served has no such profile.
        """
        handle = self._handles.get(alias)
        if handle is not None and handle._queue is not None:
            return handle  # the hot path of every request: a profile being fed
        if handle is None or (not self._closed and alias not in self._aliases):
            known = ", ".join(repr(a) for a in self._aliases) or "none"
            raise AliasNotFoundError(f"the service has no drift profile {alias!r}; known: {known}")
        return handle

    def __contains__(self, alias: object) -> bool:
        return alias in self._aliases

    def _insert_error(self, alias: str, exc: BaseException | None) -> MonitoringError:
        if self._closed:
            return MonitoringError(f"the drift queue is shut down; record for {alias!r} not queued")
        if alias not in self._aliases:
            return MonitoringError(
                f"the service version now served has no drift profile {alias!r}; record not queued"
            )
        return MonitoringError(f"scouter refused the record for {alias!r}: {exc}")

    def _swap(self, queue: ScouterQueue | None, aliases: list[str]) -> None:
        """Point every handle at ``queue`` (the new service version's; ``None`` when it has
        no drift profiles), then flush and shut down the old queue. Aliases the new version
        lacks stop accepting records.

        Raises:
            MonitoringError: The queue was shut down (``queue`` is shut down too).
        """
        with self._lock:
            if self._closed:
                if queue is not None:
                    queue.shutdown()
                raise MonitoringError("the drift queue is shut down")
            old = self._queue
            for alias in aliases:
                assert queue is not None
                handle = self._handles.get(alias)
                if handle is None:
                    self._handles[alias] = QueueHandle(self, alias, queue[alias])
                else:
                    handle._queue = queue[alias]
            for alias, handle in self._handles.items():
                if alias not in aliases:
                    handle._queue = None
            self._aliases = list(aliases)
            self._queue = queue
        if old is not None:
            old.shutdown()

    def shutdown(self) -> None:
        """Flush what is queued and stop publishing (idempotent); later inserts raise
        :class:`MonitoringError`."""
        with self._lock:
            queue, self._queue, self._closed = self._queue, None, True
            for handle in self._handles.values():
                handle._queue = None
        if queue is not None:
            queue.shutdown()

    def __repr__(self) -> str:
        return f"ServiceQueue({self._aliases!r}, {type(self._transport_config).__name__})"
