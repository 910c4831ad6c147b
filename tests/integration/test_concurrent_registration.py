"""8 processes x 25 registrations of one space/name: 200 distinct versions, none lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from opsml import CardRegistry, RegistryType

WORKER = Path(__file__).parent / "workers" / "register_many.py"
PROCESSES = 8
PER_PROCESS = 25


@pytest.mark.slow
def test_concurrent_registrations_get_distinct_versions(registry_env: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(PER_PROCESS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for _ in range(PROCESSES)
    ]
    for proc in procs:  # every worker connected: now all register at once
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            _, err = proc.communicate(timeout=60)
            for other in procs:
                other.kill()
            pytest.fail(f"a worker did not get ready:\n{err}")
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    reported: list[tuple[str, str]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"worker failed:\n{err}"
        reported += [tuple(line.split()) for line in out.splitlines()]  # type: ignore[misc]

    assert len(reported) == PROCESSES * PER_PROCESS
    versions = [version for _, version in reported]
    assert len(set(versions)) == PROCESSES * PER_PROCESS, "two registrations got one version"
    assert set(versions) == {f"0.{i}.0" for i in range(1, PROCESSES * PER_PROCESS + 1)}

    registry = CardRegistry(RegistryType.Data)
    listed = registry.list_cards(space="race", name="same", limit=1000)
    assert {(r.uid, r.version) for r in listed} == set(reported)
    for uid, _ in reported[:: PER_PROCESS // 5]:
        card = registry.load_card(uid=uid)
        card.load()
