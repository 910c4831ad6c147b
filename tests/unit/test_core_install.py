"""What a user gets from `pip install opsml` without extras (run by `make test-core`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.errors import MissingDependencyError

pytestmark = pytest.mark.core_only  # meaningful only without the extras: deselected elsewhere


def test_prompt_cards_work_without_any_extra(sqlite_registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    registry.register_card(PromptCard(prompt=Prompt(message="hi"), space="core", name="p"))
    assert registry.load_card(space="core", name="p").version == "0.1.0"


def test_data_and_model_interfaces_name_the_extra_to_install(tmp_path: Path) -> None:
    from opsml.data import DataInterfaceSaveMetadata, NumpyData, PandasData
    from opsml.model import SklearnModel

    for use, extra in [
        (
            lambda: PandasData().load(tmp_path, DataInterfaceSaveMetadata(data_uri="d.parquet")),
            "pandas",
        ),
        (lambda: NumpyData().load(tmp_path, DataInterfaceSaveMetadata(data_uri="d.npy")), "numpy"),
        (lambda: SklearnModel(model=object()), "sklearn"),
    ]:
        with pytest.raises(MissingDependencyError, match=rf"opsml\[{extra}\]"):
            use()


def test_drift_monitoring_names_the_monitoring_extra() -> None:
    with pytest.raises(MissingDependencyError, match=r"opsml\[monitoring\]"):
        from opsml.scouter.drift import PsiDriftConfig  # noqa: F401


def test_server_command_names_the_server_extra(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "opsml.cli.main", "server", "start", "--port", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1
    assert "opsml[server]" in result.stderr


def test_prompts_build_without_the_llm_extra_and_running_them_names_it() -> None:
    from opsml.llm import Agent
    from opsml.potato_head import Prompt as AliasPrompt

    assert AliasPrompt is Prompt
    assert Prompt(message="Hi ${name}").bind(name="Ada").message[0].content == "Hi Ada"
    with pytest.raises(MissingDependencyError, match=r"opsml\[llm\]"):
        Agent("openai")
    with pytest.raises(MissingDependencyError, match=r"opsml\[llm\]"):
        from opsml.llm import TaskStatus  # noqa: F401
