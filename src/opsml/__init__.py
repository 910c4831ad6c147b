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
        CardDeck,
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
        download_service,
    )
    from opsml.cli import run_opsml_cli
    from opsml.data import (
        ArrowData,
        DataInterface,
        DataLoadKwargs,
        DataSaveKwargs,
        DataType,
        NumpyData,
        PandasData,
        PolarsData,
        SqlData,
        TorchData,
    )
    from opsml.experiment import (
        get_experiment_metrics,
        get_experiment_parameters,
        start_experiment,
    )
    from opsml.llm import (
        Message,
        ModelSettings,
        Prompt,
    )
    from opsml.logging import (
        LoggingConfig,
        LogLevel,
        RustyLogger,
        WriteLevel,
    )
    from opsml.model import (
        CatBoostModel,
        DataProcessor,
        HuggingFaceModel,
        HuggingFaceOnnxArgs,
        HuggingFaceORTModel,
        HuggingFaceTask,
        LightGBMModel,
        LightningModel,
        ModelInterface,
        ModelInterfaceSaveMetadata,
        ModelLoadKwargs,
        ModelSaveKwargs,
        ModelType,
        OnnxModel,
        OnnxSession,
        SklearnModel,
        TaskType,
        TorchModel,
        XGBoostModel,
    )
    from opsml.types import (
        CommonKwargs,
        SaveName,
        ServiceType,
        Suffix,
        VersionType,
    )

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
    "download_service": "opsml.card",
    "start_experiment": "opsml.experiment",
    "get_experiment_metrics": "opsml.experiment",
    "get_experiment_parameters": "opsml.experiment",
    "run_opsml_cli": "opsml.cli",
    "CommonKwargs": "opsml.types",
    "SaveName": "opsml.types",
    "ServiceType": "opsml.types",
    "Suffix": "opsml.types",
    "VersionType": "opsml.types",
    "ArrowData": "opsml.data",
    "DataInterface": "opsml.data",
    "DataLoadKwargs": "opsml.data",
    "DataSaveKwargs": "opsml.data",
    "DataType": "opsml.data",
    "NumpyData": "opsml.data",
    "PandasData": "opsml.data",
    "PolarsData": "opsml.data",
    "SqlData": "opsml.data",
    "TorchData": "opsml.data",
    "CatBoostModel": "opsml.model",
    "DataProcessor": "opsml.model",
    "HuggingFaceModel": "opsml.model",
    "HuggingFaceORTModel": "opsml.model",
    "HuggingFaceOnnxArgs": "opsml.model",
    "HuggingFaceTask": "opsml.model",
    "LightGBMModel": "opsml.model",
    "LightningModel": "opsml.model",
    "ModelInterface": "opsml.model",
    "ModelInterfaceSaveMetadata": "opsml.model",
    "ModelLoadKwargs": "opsml.model",
    "ModelSaveKwargs": "opsml.model",
    "ModelType": "opsml.model",
    "OnnxModel": "opsml.model",
    "OnnxSession": "opsml.model",
    "SklearnModel": "opsml.model",
    "TaskType": "opsml.model",
    "TensorFlowModel": "opsml.model",
    "TorchModel": "opsml.model",
    "XGBoostModel": "opsml.model",
    "Message": "opsml.llm",
    "ModelSettings": "opsml.llm",
    "Prompt": "opsml.llm",
    "LogLevel": "opsml.logging",
    "LoggingConfig": "opsml.logging",
    "RustyLogger": "opsml.logging",
    "WriteLevel": "opsml.logging",
}

__all__ = [
    "ArrowData",
    "Card",
    "CardDeck",
    "CardList",
    "CardRecord",
    "CardRegistries",
    "CardRegistry",
    "CatBoostModel",
    "CommonKwargs",
    "DataCard",
    "DataCardMetadata",
    "DataInterface",
    "DataLoadKwargs",
    "DataProcessor",
    "DataSaveKwargs",
    "DataType",
    "ExperimentCard",
    "HuggingFaceModel",
    "HuggingFaceORTModel",
    "HuggingFaceOnnxArgs",
    "HuggingFaceTask",
    "LightGBMModel",
    "LightningModel",
    "LogLevel",
    "LoggingConfig",
    "Message",
    "ModelCard",
    "ModelCardMetadata",
    "ModelInterface",
    "ModelInterfaceSaveMetadata",
    "ModelLoadKwargs",
    "ModelSaveKwargs",
    "ModelSettings",
    "ModelType",
    "NumpyData",
    "OnnxModel",
    "OnnxSession",
    "PandasData",
    "PolarsData",
    "Prompt",
    "PromptCard",
    "RegistryMode",
    "RegistryType",
    "RustyLogger",
    "SaveName",
    "ServiceCard",
    "ServiceType",
    "SklearnModel",
    "SqlData",
    "Suffix",
    "TaskType",
    "TorchData",
    "TorchModel",
    "VersionType",
    "WriteLevel",
    "XGBoostModel",
    "__version__",
    "download_service",
    "get_experiment_metrics",
    "get_experiment_parameters",
    "get_opsml_version",
    "run_opsml_cli",
    "start_experiment",
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
