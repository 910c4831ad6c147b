"""What the test servers of :mod:`opsml.mock` share: stopping their process, and putting
back the environment variables they set."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["Stoppable", "restore_env", "stop_process"]


class Stoppable(Protocol):
    """What :func:`stop_process` needs of a process (``subprocess.Popen`` has it)."""

    @property
    def stdout(self) -> Any: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...


def stop_process(process: Stoppable, timeout: float = 10) -> None:
    """Stop ``process``: SIGTERM, then SIGKILL when it has not exited after ``timeout``
    seconds; close its standard output pipe, if it has one."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def restore_env(saved: Mapping[str, str | None]) -> None:
    """Put back environment variables as ``saved`` holds them (``None``: it was unset)."""
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
