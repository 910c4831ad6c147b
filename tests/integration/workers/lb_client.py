"""Worker for the load balancer test: registers and loads cards through the load balancer
until the file named by argv[3] exists, writing one JSON line per finished registration
(uid, name, version) and one per error, to the file named by argv[2]. argv[1] is the
client's number."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import numpy as np

from opsml import CardRegistry, DataCard, RegistryType
from opsml.data import NumpyData


def main() -> None:
    client, out_path, stop = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    registry = CardRegistry(RegistryType.Data)
    n = 0
    with open(out_path, "a", encoding="utf-8") as out:
        while not stop.exists():
            data = np.full(2000, float(client * 100_000 + n))
            card = DataCard(interface=NumpyData(data=data), space="lb", name=f"client-{client}")
            try:
                registry.register_card(card)
                loaded = registry.load_card(uid=card.uid)
                loaded.load()
                assert np.array_equal(loaded.interface.data, data)
                record = {"uid": card.uid, "name": card.name, "version": card.version}
            except Exception as exc:  # reported to the test, which fails on any
                record = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
            out.write(json.dumps(record) + "\n")
            out.flush()
            n += 1


if __name__ == "__main__":
    main()
