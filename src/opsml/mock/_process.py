"""What the test servers of :mod:`opsml.mock` share: stopping their process, and putting
back the environment variables they set."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import Any

__all__ = ["restore_env", "stop_process"]


def stop_process(process: subprocess.Popen[Any], timeout: float = 10) -> None:
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
