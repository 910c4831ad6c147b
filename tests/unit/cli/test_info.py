"""``opsml info``: where this shell's registry is, in the real ``opsml`` script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_opsml_info_in_local_mode(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSML_")}
    env["OPSML_STORAGE_URI"] = str(tmp_path / "store")
    result = subprocess.run(
        [sys.executable, "-m", "opsml.cli.main", "info"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "mode:           local (database and storage used directly)"
    assert f"database:       {tmp_path / 'opsml.db'}" in lines
    assert f"storage:        {tmp_path / 'store'}" in lines
    assert any(line.startswith("opsml version:  ") for line in lines)


def test_opsml_info_json(tmp_path: Path) -> None:
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSML_")}
    env["OPSML_TRACKING_URI"] = f"sqlite:///{tmp_path / 'reg.db'}"
    env["OPSML_STORAGE_URI"] = str(tmp_path / "store")
    result = subprocess.run(
        [sys.executable, "-m", "opsml.cli.main", "info", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["mode"] == "server"
    assert found["database"] == str(tmp_path / "reg.db")
    assert found["tracking_defaulted"] is False
    assert set(found) == {
        "mode",
        "tracking_uri",
        "database",
        "storage",
        "server_version",
        "user",
        "opsml_version",
        "tracking_defaulted",
    }
