"""A registration killed with SIGKILL leaves no visible card; `opsml gc` cleans up."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from opsml import CardRegistry, DataCard, NumpyData, RegistryType
from opsml.errors import CardNotFoundError

WORKER = Path(__file__).parent / "workers" / "hang_during_registration.py"
OPSML = shutil.which("opsml", path=str(Path(sys.executable).parent))


def _start_and_kill(step: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), step],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert line.strip() == "ready", f"worker did not reach {step}:\n{err}"
    assert proc.returncode == -signal.SIGKILL


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.slow
@pytest.mark.parametrize("step", ["save", "commit"])
def test_killed_registration_is_invisible_and_collected(
    local_registry_env: Path, step: str
) -> None:
    _start_and_kill(step)
    registry = CardRegistry(RegistryType.Data)
    assert len(registry.list_cards(space="crash", name="victim")) == 0
    with pytest.raises(CardNotFoundError):
        registry.load_card(space="crash", name="victim")
    registry_env = local_registry_env
    assert _files(registry_env), "the killed process should have left files behind"

    assert OPSML is not None
    result = subprocess.run(
        [OPSML, "gc"], capture_output=True, text=True, env=os.environ.copy(), check=False
    )
    assert result.returncode == 0, result.stderr
    if step == "commit":
        assert "removed 1 pending records" in result.stdout
    assert _files(registry_env) == []

    card = DataCard(interface=NumpyData(data=np.arange(3)), space="crash", name="victim")
    registry.register_card(card)
    assert card.version == "0.1.0"
    assert len(registry.list_cards(space="crash", name="victim")) == 1
