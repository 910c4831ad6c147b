"""Model interfaces: how a ModelCard's model is saved and loaded (OpsML 3 names)."""

from opsml.interfaces import (
    DataProcessor,
    DataType,
    Feature,
    FeatureSchema,
    ModelInterface,
    ModelInterfaceMetadata,
    ModelInterfaceSaveMetadata,
    ModelLoadKwargs,
    ModelSaveKwargs,
    ModelType,
    SklearnModel,
    TaskType,
)

__all__ = [
    "DataProcessor",
    "DataType",
    "Feature",
    "FeatureSchema",
    "ModelInterface",
    "ModelInterfaceMetadata",
    "ModelInterfaceSaveMetadata",
    "ModelLoadKwargs",
    "ModelSaveKwargs",
    "ModelType",
    "SklearnModel",
    "TaskType",
]
