"""Worker process for the concurrency tests: register N DataCards of one space/name.

It connects first, prints "ready" and waits for a line on stdin; the parent sends it once
every worker is ready, so all of them register at the same moment.
"""

from __future__ import annotations

import sys

import numpy as np

from opsml import CardRegistry, DataCard, NumpyData, RegistryType


def main() -> None:
    count = int(sys.argv[1])
    registry = CardRegistry(RegistryType.Data)
    registry.list_cards(space="race", name="same")  # connected (and migrated) before the start
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(count):
        card = DataCard(
            interface=NumpyData(data=np.full(8, i, dtype=np.int64)), space="race", name="same"
        )
        registry.register_card(card)
        print(f"{card.uid} {card.version}", flush=True)


if __name__ == "__main__":
    main()
