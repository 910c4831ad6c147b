"""A client process of the load balancer benchmark (``benchmarks/load_balancer.py``), run in
ours' virtualenv with ``OPSML_TRACKING_URI`` naming the load balancer (client mode).

Two modes:

- ``seed N``: register N small DataCards as ``bench/lb-read`` and print their uids as one
  JSON line (the cards the readers load).
- ``mix CLIENT UIDS_JSON WRITE_SHARE``: warm up (one operation of each kind), print
  ``{"ready": true}``, read a JSON line ``{"deadline": EPOCH}`` from stdin, then run
  operations back to back until the deadline: with probability WRITE_SHARE a registration
  of a small DataCard (``bench/lb-write-CLIENT``, 100 floats), otherwise, half and half,
  ``load_card(uid=…)`` of a random seeded card or ``list_cards(space, name)`` (25 rows).
  Each answer is checked. Prints one JSON line: the latencies (seconds) by kind, the
  window, and the errors (any error fails the benchmark).

The real standard output carries only the JSON lines (``claim_stdout``); opsml's own output
goes to stderr, which the orchestrator keeps in a log file.
"""

from __future__ import annotations

import json
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SPACE, claim_stdout

READ_NAME = "lb-read"
ROWS = 100


def _card(name: str, value: float) -> Any:
    import numpy as np

    from opsml import DataCard
    from opsml.data import NumpyData

    return DataCard(interface=NumpyData(data=np.full(ROWS, value)), space=SPACE, name=name)


def seed(out: Any, count: int) -> None:
    """Register ``count`` cards to read; print their uids."""
    from opsml import CardRegistry, RegistryType

    registry = CardRegistry(RegistryType.Data)
    uids = []
    for n in range(count):
        card = _card(READ_NAME, float(n))
        registry.register_card(card)
        uids.append(card.uid)
    out.write(json.dumps({"uids": uids}) + "\n")
    out.flush()


def mix(out: Any, client: int, uids: list[str], write_share: float) -> None:
    """Warm up, wait for the start, run the 90/10 mix until the deadline, print the result."""
    from opsml import CardRegistry, RegistryType

    registry = CardRegistry(RegistryType.Data)
    rng = random.Random(client)
    rows = min(25, len(uids))
    written = [0]

    def load_card() -> None:
        uid = rng.choice(uids)
        card = registry.load_card(uid=uid)
        if card.uid != uid:
            raise RuntimeError(f"load_card(uid={uid}) returned {card.uid}")

    def list_cards() -> None:
        found = registry.list_cards(space=SPACE, name=READ_NAME, limit=25)
        if len(found) != rows:
            raise RuntimeError(f"list_cards returned {len(found)} rows, not {rows}")

    def register() -> None:
        written[0] += 1
        card = _card(f"lb-write-{client}", float(written[0]))
        registry.register_card(card)
        if not card.version:
            raise RuntimeError("register_card left the card without a version")

    ops = {"load_card": load_card, "list_cards": list_cards, "register": register}
    for op in ops.values():  # warm-up: imports, connections, the first registration
        op()
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    deadline = float(json.loads(sys.stdin.readline())["deadline"])
    latencies: dict[str, list[float]] = {kind: [] for kind in ops}
    errors: list[str] = []
    error_count = 0
    start = time.time()
    while time.time() < deadline:
        draw = rng.random()
        if draw < write_share:
            kind = "register"
        elif draw < write_share + (1 - write_share) / 2:
            kind = "load_card"
        else:
            kind = "list_cards"
        began = time.perf_counter()
        try:
            ops[kind]()
        except Exception as exc:  # counted; any error fails the benchmark
            error_count += 1
            if len(errors) < 5:
                errors.append(f"{kind}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            continue
        latencies[kind].append(time.perf_counter() - began)
    result = {
        "client": client,
        "start": start,
        "end": time.time(),
        "latencies": latencies,
        "errors": errors,
        "error_count": error_count,
    }
    out.write(json.dumps(result) + "\n")
    out.flush()


def main() -> None:
    """Command line: ``seed N`` or ``mix CLIENT UIDS_JSON WRITE_SHARE``."""
    out = claim_stdout()
    if sys.argv[1] == "seed":
        seed(out, int(sys.argv[2]))
    elif sys.argv[1] == "mix":
        mix(out, int(sys.argv[2]), json.loads(sys.argv[3]), float(sys.argv[4]))
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]!r}")


if __name__ == "__main__":
    main()
