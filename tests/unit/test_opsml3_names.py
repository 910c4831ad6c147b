"""Every name OpsML 3.0.0-rc.16 exports (its modules' ``__all__``) is importable from the
same module of opsml (docs/compat.md). ``opsml.scouter``, ``opsml.app``, the result types of
``opsml.llm`` and ``opsml.mock.MockConfig`` are scouter-ml's or need it (extras
``monitoring``/``llm``): ``tests/unit/scouter``, ``tests/unit/app``, ``tests/unit/llm``."""

from __future__ import annotations

import importlib

import pytest

OPSML3_NAMES: dict[str, tuple[str, ...]] = {
    "opsml": (
        "CardRegistry", "CardRegistries", "RegistryType", "ModelCard", "ModelCardMetadata",
        "HuggingFaceOnnxArgs", "HuggingFaceORTModel", "HuggingFaceTask",
        "ModelInterfaceSaveMetadata", "ModelInterface", "TaskType", "SklearnModel",
        "DataProcessor", "LightGBMModel", "ModelType", "XGBoostModel", "TorchModel",
        "LightningModel", "HuggingFaceModel", "CatBoostModel", "OnnxModel", "OnnxSession",
        "ModelLoadKwargs", "ModelSaveKwargs", "DataCard", "DataCardMetadata", "PandasData",
        "PolarsData", "ArrowData", "NumpyData", "TorchData", "SqlData", "DataInterface",
        "DataSaveKwargs", "DataLoadKwargs", "ExperimentCard", "start_experiment",
        "get_experiment_metrics", "get_experiment_parameters", "RustyLogger", "LoggingConfig",
        "WriteLevel", "LogLevel", "VersionType", "PromptCard", "Prompt", "Message",
        "ModelSettings", "ServiceCard", "Card", "run_opsml_cli", "__version__",
    ),
    "opsml.app": ("AppState", "ReloadConfig"),
    "opsml.card": (
        "Card", "CardRecord", "CardList", "CardRegistry", "DataCard", "DataCardMetadata",
        "RegistryType", "RegistryMode", "ModelCard", "ModelCardMetadata", "ExperimentCard",
        "ComputeEnvironment", "PromptCard", "CardRegistries", "ServiceCard", "download_service",
    ),
    "opsml.cli": (
        "lock_project", "run_opsml_cli", "install_service", "generate_key", "validate_project",
        "DownloadCard", "download_card", "ScouterArgs", "update_drift_profile_status",
    ),
    "opsml.data": (
        "ColType", "ColValType", "ColumnSplit", "StartStopSplit", "IndiceSplit", "DataSplit",
        "DataSplits", "Data", "DependentVars", "Inequality", "DataSplitter", "DataInterface",
        "SqlLogic", "DataInterfaceSaveMetadata", "DataInterfaceMetadata", "NumpyData",
        "PolarsData", "PandasData", "ArrowData", "TorchData", "SqlData",
        "generate_feature_schema", "DataType", "DataSaveKwargs", "DataLoadKwargs",
        "DataInterfaceType",
    ),
    "opsml.experiment": (
        "Experiment", "start_experiment", "Metric", "Parameter", "get_experiment_metrics",
        "get_experiment_parameters", "download_artifact", "EvalMetrics",
    ),
    "opsml.llm": (
        "Message", "ModelSettings", "Prompt", "Provider", "Score", "ImageUrl", "AudioUrl",
        "BinaryContent", "DocumentUrl", "Agent", "Task", "Workflow", "WorkflowResult", "PyTask",
    ),
    "opsml.logging": ("LogLevel", "RustyLogger", "LoggingConfig", "WriteLevel"),
    "opsml.mock": ("OpsmlTestServer", "OpsmlServerContext", "RegistryTestHelper", "LLMTestServer"),
    "opsml.model": (
        "HuggingFaceORTModel", "HuggingFaceOnnxArgs", "ModelInterfaceMetadata",
        "ModelInterfaceSaveMetadata", "ModelInterfaceType", "ModelInterface", "TaskType",
        "SklearnModel", "DataProcessor", "LightGBMModel", "ModelType", "XGBoostModel",
        "TorchModel", "LightningModel", "HuggingFaceTask", "HuggingFaceModel", "OnnxModel",
        "CatBoostModel", "OnnxSession", "ModelLoadKwargs", "ModelSaveKwargs", "Feature",
        "FeatureSchema", "OnnxSchema", "ExtraMetadata", "ProcessorType",
    ),
    "opsml.types": (
        "CommonKwargs", "SaveName", "SaverPath", "Suffix", "VersionType", "DriftProfileUri",
        "DriftArgs", "DriftProfileMap",
    ),
}  # fmt: skip


ENGINE_NAMES: dict[str, tuple[str, ...]] = {
    "opsml.llm": (
        "AgentResponse", "ChatResponse", "Usage", "PromptTokenDetails", "CompletionTokenDetails",
        "TaskEvent", "EventDetails", "TaskStatus", "TaskList",
    ),
    "opsml.potato_head": ("Prompt", "Agent", "Workflow", "TaskStatus"),
    "opsml.mock": ("MockConfig",),
}  # fmt: skip


@pytest.mark.needs("scouter")
@pytest.mark.parametrize("module", sorted(ENGINE_NAMES))
def test_scouter_ml_names_are_exported_with_the_extra(module: str) -> None:
    imported = importlib.import_module(module)
    assert [name for name in ENGINE_NAMES[module] if not hasattr(imported, name)] == []


def test_opsml_llm_exports_every_name_of_opsml3() -> None:
    import opsml.llm

    assert len(opsml.llm.__all__) == 23


@pytest.mark.parametrize("module", sorted(OPSML3_NAMES))
def test_opsml3_names_are_exported(module: str) -> None:
    imported = importlib.import_module(module)
    missing = [name for name in OPSML3_NAMES[module] if not hasattr(imported, name)]
    assert missing == []


def test_new_enums_take_opsml3_member_names() -> None:
    from opsml.data import ColValType, DataInterfaceType
    from opsml.model import DataProcessor, ModelInterfaceType, ProcessorType

    assert ProcessorType("preprocessor") is ProcessorType.Preprocessor
    assert ModelInterfaceType.Sklearn == "Sklearn"
    assert DataInterfaceType("pandas") is DataInterfaceType.Pandas
    assert [m.name for m in ColValType] == ["String", "Float", "Int", "Timestamp"]
    processor = DataProcessor(
        name="scaler", uri="preprocessor.joblib", type=ProcessorType.Tokenizer
    )
    assert processor.type == "Tokenizer"
