"""Serving a service: OpsML 3's ``opsml.app``.

``AppState.from_path(path, transport_config=...)`` loads a service installed by
``opsml install service`` (or downloaded with ``download_service``), with a drift queue fed
from request handlers (``app.queue["psi"].insert(Features(...))``); a ``ReloadConfig`` makes
it check the registry on a schedule and swap in a newly registered service version while it
keeps serving. See ``docs/monitoring.md``.
"""

from opsml.app._cron import CronSchedule
from opsml.app._queue import QueueHandle, ServiceQueue
from opsml.app._state import AppState, ReloadConfig

__all__ = ["AppState", "CronSchedule", "QueueHandle", "ReloadConfig", "ServiceQueue"]
