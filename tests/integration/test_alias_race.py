"""Two processes moving one alias 100 times each while this one reads it: every read finds a
registered version, the alias ends at one of the two last writes, and the audit log holds
every move, in an unbroken chain (each move starts where the one before it ended)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.store import ALIAS_SET, AuthStore

WORKER = Path(__file__).parent / "workers" / "move_alias.py"
MOVES = 100


def _start(versions: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(MOVES), ",".join(versions)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


@pytest.mark.slow
def test_concurrent_alias_moves_are_atomic_and_audited(local_registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    for i in range(6):
        registry.register_card(
            PromptCard(prompt=Prompt(message=f"v{i}"), space="race", name="same")
        )
    registered = {r.version: r.uid for r in registry.list_cards(space="race", name="same")}
    registry.set_alias("race", "same", "prod", "0.1.0")

    writers = [_start(["0.1.0", "0.2.0", "0.3.0"]), _start(["0.4.0", "0.5.0", "0.6.0"])]
    for proc in writers:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            _, err = proc.communicate(timeout=60)
            for other in writers:
                other.kill()
            pytest.fail(f"a writer did not get ready:\n{err}")
    for proc in writers:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()

    reads = 0
    seen: set[str] = set()
    while any(proc.poll() is None for proc in writers) or reads == 0:
        card = registry.load_card(space="race", name="same", version="@prod")
        assert registered[card.version] == card.uid
        seen.add(card.version)
        reads += 1
    last_writes = set()
    for proc in writers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"writer failed:\n{err}"
        last_writes.add(out.strip())

    assert last_writes == {"0.1.0", "0.4.0"}  # move 100 of a cycle of 3 is its first
    final = registry.list_aliases(space="race", name="same")
    assert [a.alias for a in final] == ["prod"]
    assert final[0].version in last_writes
    assert len(seen) > 1  # the reads did happen while the alias moved

    audit = registry.backend.store  # type: ignore[attr-defined]
    moves = [
        e
        for e in reversed(AuthStore(audit).audit_entries(limit=10_000))
        if e.operation == ALIAS_SET and e.resource == "prompt/race/same@prod"
    ]
    assert len(moves) == 1 + 2 * MOVES
    chain = [e.detail.split(" -> ") for e in moves]
    assert chain[0] == ["-", "0.1.0"]
    for (_, ended), (started, _) in itertools.pairwise(chain):
        assert started == ended, "a move did not start where the previous one ended"
    assert chain[-1][1] == final[0].version
