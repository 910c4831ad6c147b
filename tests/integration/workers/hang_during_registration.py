"""Worker for the crash test: starts a registration and blocks at a chosen step.

argv[1] is the step: "save" blocks while the interface writes artifacts (before any record
exists); "commit" blocks after the record was reserved, while moving artifacts into place.
The parent kills this process with SIGKILL once it printed "ready".
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from opsml import CardRegistry, DataCard, NumpyData, RegistryType
from opsml.storage import LocalStorage


def _block() -> None:
    print("ready", flush=True)
    time.sleep(3600)


class _SlowNumpy(NumpyData):
    def save(self, path: Path, save_kwargs: Any = None) -> Any:
        metadata = super().save(path, save_kwargs)
        (path / "partial.bin").write_bytes(b"x" * 1024)
        if sys.argv[1] == "save":
            _block()
        return metadata


def main() -> None:
    if sys.argv[1] == "commit":
        original = LocalStorage.commit

        def slow_commit(self: LocalStorage, staging: Path, prefix: str) -> None:
            original(self, staging, prefix)
            _block()

        LocalStorage.commit = slow_commit  # type: ignore[method-assign]
    card = DataCard(interface=_SlowNumpy(data=np.arange(4)), space="crash", name="victim")
    CardRegistry(RegistryType.Data).register_card(card)


if __name__ == "__main__":
    main()
