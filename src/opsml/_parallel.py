"""Run independent jobs on a few threads (file transfers, hashing)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

__all__ = ["run_parallel"]


def run_parallel(jobs: Sequence[Callable[[], None]], workers: int) -> None:
    """Run ``jobs`` on up to ``workers`` threads (inline when there is one), re-raising the
    first failure in submission order once all have finished."""
    if len(jobs) <= 1:
        for job in jobs:
            job()
        return
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()
