"""opsml: a registry for machine-learning artifacts.

Importing ``opsml`` is cheap: every public name is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from opsml._version import __version__

if TYPE_CHECKING:
    from opsml.card import (
        Card,
        CardList,
        CardRecord,
        CardRegistries,
        CardRegistry,
        DataCard,
        DataCardMetadata,
        ExperimentCard,
        ModelCard,
        ModelCardMetadata,
        PromptCard,
        RegistryMode,
        RegistryType,
        ServiceCard,
    )
    from opsml.data import (
        DataInterface,
        DataLoadKwargs,
        DataSaveKwargs,
        DataType,
        NumpyData,
        PandasData,
    )
    from opsml.llm import Message, ModelSettings, Prompt
    from opsml.model import (
        ModelInterface,
        ModelLoadKwargs,
        ModelSaveKwargs,
        ModelType,
        SklearnModel,
        TaskType,
    )
    from opsml.types import CommonKwargs, SaveName, Suffix, VersionType

_EXPORTS: dict[str, str] = {
    "Card": "opsml.card",
    "CardDeck": "opsml.card",
    "CardList": "opsml.card",
    "CardRecord": "opsml.card",
    "CardRegistries": "opsml.card",
    "CardRegistry": "opsml.card",
    "DataCard": "opsml.card",
    "DataCardMetadata": "opsml.card",
    "ExperimentCard": "opsml.card",
    "ModelCard": "opsml.card",
    "ModelCardMetadata": "opsml.card",
    "PromptCard": "opsml.card",
    "RegistryMode": "opsml.card",
    "RegistryType": "opsml.card",
    "ServiceCard": "opsml.card",
    "CommonKwargs": "opsml.types",
    "SaveName": "opsml.types",
    "Suffix": "opsml.types",
    "VersionType": "opsml.types",
    "DataInterface": "opsml.data",
    "DataLoadKwargs": "opsml.data",
    "DataSaveKwargs": "opsml.data",
    "DataType": "opsml.data",
    "NumpyData": "opsml.data",
    "PandasData": "opsml.data",
    "ModelInterface": "opsml.model",
    "ModelLoadKwargs": "opsml.model",
    "ModelSaveKwargs": "opsml.model",
    "ModelType": "opsml.model",
    "SklearnModel": "opsml.model",
    "TaskType": "opsml.model",
    "Message": "opsml.llm",
    "ModelSettings": "opsml.llm",
    "Prompt": "opsml.llm",
}

__all__ = [
    "Card",
    "CardDeck",
    "CardList",
    "CardRecord",
    "CardRegistries",
    "CardRegistry",
    "CommonKwargs",
    "DataCard",
    "DataCardMetadata",
    "DataInterface",
    "DataLoadKwargs",
    "DataSaveKwargs",
    "DataType",
    "ExperimentCard",
    "Message",
    "ModelCard",
    "ModelCardMetadata",
    "ModelInterface",
    "ModelLoadKwargs",
    "ModelSaveKwargs",
    "ModelSettings",
    "ModelType",
    "NumpyData",
    "PandasData",
    "Prompt",
    "PromptCard",
    "RegistryMode",
    "RegistryType",
    "SaveName",
    "ServiceCard",
    "SklearnModel",
    "Suffix",
    "TaskType",
    "VersionType",
    "__version__",
    "get_opsml_version",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'opsml' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def get_opsml_version() -> str:
    """Return the installed opsml version."""
    return __version__
