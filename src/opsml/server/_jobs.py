"""Background jobs of a running server, once across its replicas.

Every worker of every replica wakes up every few seconds (at most every 30 s) and:

- records its database pool use in the metrics;
- removes what its own upload relay folder kept over a day (its own disk: every worker);
- tries to claim the ``gc`` job's lease (:class:`~opsml.store.LeaseStore`): when
  ``OPSML_GC_INTERVAL`` seconds passed since the last run on *any* replica, one worker wins
  the claim and runs ``opsml gc`` (stale pending registrations and their uploads, orphaned
  card folders, stale staging folders and multipart uploads), with ``OPSML_GC_OLDER_THAN``
  as the age after which work counts as abandoned. The others find the job taken or not
  due.

A failed run is logged and counted (``opsml_job_runs_total{outcome="error"}``) and is due
again after the interval like a good one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from opsml.registry import collect_garbage
from opsml.server._observe import Metrics
from opsml.server._state import ServerState
from opsml.storage import owner_token
from opsml.store import LeaseStore

__all__ = ["GC_JOB", "Jobs"]

GC_JOB = "gc"
_log = logging.getLogger("opsml.server.jobs")


class Jobs:
    """The background jobs of one worker.

    Args:
        st: The server's state (settings, backend).
        metrics: Where runs and pool use are counted.
    """

    def __init__(self, st: ServerState, metrics: Metrics) -> None:
        self.st = st
        self.metrics = metrics
        self.leases = LeaseStore(st.backend.store)
        self.holder = owner_token()
        interval = st.config.gc_interval_seconds
        self.tick_seconds = float(min(30, interval)) if interval else 30.0

    async def run_forever(self) -> None:
        """Tick until cancelled (the app's shutdown)."""
        while True:
            # Jitter: replicas started together do not all reach the database at once.
            await asyncio.sleep(self.tick_seconds * random.uniform(0.8, 1.2))
            try:
                await self.st.run(self.tick)
            except Exception:
                _log.exception("background jobs failed")

    def tick(self) -> None:
        """One round: pool gauges, the relay folder, and the gc job if it is ours to run."""
        self.metrics.update_pool(self.st.backend.store.engine.pool)
        self.st.clean_relay()
        interval = self.st.config.gc_interval_seconds
        if interval and self.leases.claim(GC_JOB, self.holder, lease_seconds=max(600, interval)):
            self.run_gc(interval)

    def run_gc(self, interval: float) -> None:
        """Run ``opsml gc`` under the claimed lease, then release it."""
        outcome = "error"
        started = time.monotonic()
        try:
            report = collect_garbage(self.st.backend, self.st.config.gc_older_than_seconds)
            outcome = "ok"
            _log.info(
                "gc removed %d pending records, %d orphaned card folders, %d staging folders",
                len(report.pending_records),
                len(report.orphaned_folders),
                report.staging_folders,
                extra={"job": GC_JOB, "duration_ms": round((time.monotonic() - started) * 1000)},
            )
        except Exception:
            _log.exception("gc failed", extra={"job": GC_JOB})
        finally:
            self.metrics.job_runs.labels(GC_JOB, outcome).inc()
            if outcome == "ok":
                self.metrics.job_last_success.labels(GC_JOB).set(time.time())
            self.leases.finish(GC_JOB, self.holder, outcome, interval)
