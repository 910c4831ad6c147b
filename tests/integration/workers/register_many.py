"""Worker process for the concurrency test: register N DataCards of one space/name."""

from __future__ import annotations

import sys
import time

import numpy as np

from opsml import CardRegistry, DataCard, NumpyData, RegistryType


def main() -> None:
    count, start_at = int(sys.argv[1]), float(sys.argv[2])
    registry = CardRegistry(RegistryType.Data)
    while time.time() < start_at:
        time.sleep(0.005)
    for i in range(count):
        card = DataCard(
            interface=NumpyData(data=np.full(8, i, dtype=np.int64)), space="race", name="same"
        )
        registry.register_card(card)
        print(f"{card.uid} {card.version}", flush=True)


if __name__ == "__main__":
    main()
