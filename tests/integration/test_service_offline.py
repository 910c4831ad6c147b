"""A service shipped through a real server with the real CLI, then used with no network.

A model (sklearn), a dataset (pandas) and two prompts are registered through a server
process; `opsml lock` and `opsml install service` run as commands; a separate Python process
whose OPSML_TRACKING_URI points at a dead address loads the installed folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from opsml import CardRegistry, DataCard, ModelCard, PromptCard, RegistryType
from opsml.data import PandasData
from opsml.llm import Prompt
from opsml.mock import OpsmlTestServer
from opsml.model import SklearnModel

OPSML = shutil.which("opsml", path=str(Path(sys.executable).parent))

SPEC = """\
name: support-agent
space: team-a
type: Agent
service:
  version: "1"
  write_dir: opsml_service
  cards:
    - {alias: classifier, name: intent, version: "^1", type: model}
    - {alias: examples, name: examples, type: data}
    - {alias: system, name: system-prompt, type: prompt}
    - {alias: reply, name: reply-prompt, type: prompt}
"""

OFFLINE_CHECK = """
import numpy as np, pandas as pd
from opsml import ServiceCard
service = ServiceCard.from_path("opsml_service")
X = pd.read_json("expected_X.json")
expected = np.load("expected.npy")
assert (service["classifier"].interface.model.predict(X) == expected).all()
assert service["examples"].interface.data.shape == (60, 4)
assert service["reply"].prompt.bind(name="Ada").message[0].content == "Hi Ada, how can I help?"
assert service["system"].version == "0.1.0"
print("offline ok", [type(c).__name__ for c in service.cards])
"""


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.slow
def test_locked_service_installs_and_loads_offline(tmp_path: Path) -> None:
    assert OPSML is not None
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(60, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] + X["b"] > 0).astype(int)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    project = tmp_path / "project"
    project.mkdir()
    (project / "opsmlspec.yaml").write_text(SPEC)
    X.to_json(project / "expected_X.json")
    np.save(project / "expected.npy", model.predict(X))

    with OpsmlTestServer(base_path=tmp_path / "server") as server:
        CardRegistry(RegistryType.Model).register_card(
            ModelCard(
                interface=SklearnModel(model=model, sample_data=X[:5]),
                space="team-a",
                name="intent",
                version="1.0.0",
            )
        )
        CardRegistry(RegistryType.Data).register_card(
            DataCard(interface=PandasData(data=X), space="team-a", name="examples")
        )
        for name, message in (
            ("system-prompt", "You are a support agent."),
            ("reply-prompt", "Hi ${name}, how can I help?"),
        ):
            CardRegistry(RegistryType.Prompt).register_card(
                PromptCard(prompt=Prompt(message=message), space="team-a", name=name)
            )
        env = {**os.environ, "OPSML_TRACKING_URI": server.server_uri}
        locked = _run([OPSML, "lock"], project, {**env, "COLUMNS": "200"})
        assert "classifier" in locked.stdout
        assert "1.0.0" in locked.stdout
        installed = _run([OPSML, "install", "service", "--frozen"], project, env)
        assert "4 downloaded" in installed.stdout

    dead = {**os.environ, "OPSML_TRACKING_URI": "http://127.0.0.1:9"}
    again = _run([OPSML, "install", "service", "--frozen"], project, dead)
    assert "0 downloaded (0 bytes), 4 up to date" in again.stdout
    offline = _run([sys.executable, "-c", textwrap.dedent(OFFLINE_CHECK)], project, dead)
    assert "offline ok ['ModelCard', 'DataCard', 'PromptCard', 'PromptCard']" in offline.stdout

    tampered = project / "opsml_service" / "examples" / "data.parquet"
    tampered.write_bytes(tampered.read_bytes()[:-2] + b"!!")
    failed = subprocess.run(
        [OPSML, "install", "service", "--frozen"],
        check=False,
        cwd=project,
        env=dead,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: IntegrityError: ")
    assert "data.parquet" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
