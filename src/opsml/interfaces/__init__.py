"""Interfaces: how a card's dataset or model is saved to files and loaded back.

Importing this package imports no data or ML library; each interface imports its library
(pandas, numpy, scikit-learn, ...) when it first needs it, and raises
:class:`~opsml.errors.MissingDependencyError` naming the extra to install if it is missing.

The card layer uses four calls::

    save_metadata = interface.save(card_dir, save_kwargs)
    metadata = interface.get_interface_metadata(save_metadata)   # stored in card.json
    interface = resolve_interface(metadata)                      # or a user-given instance
    interface.load(card_dir, metadata.save_metadata, load_kwargs)
"""

from __future__ import annotations

import importlib
from typing import Any, overload

from opsml.errors import InvalidArgumentError, SerializationError
from opsml.interfaces._data_base import (
    DataInterface,
    DataInterfaceMetadata,
    DataInterfaceSaveMetadata,
    ExtraMetadata,
    SqlLogic,
)
from opsml.interfaces._drift import (
    create_drift_profile,
    drift_profile_map,
    load_drift_profiles,
    save_drift_profiles,
    stamp_drift_profiles,
)
from opsml.interfaces._enums import (
    ColValType,
    DataInterfaceType,
    DataType,
    HuggingFaceORTModel,
    HuggingFaceTask,
    ModelInterfaceType,
    ModelType,
    ProcessorType,
    TaskType,
)
from opsml.interfaces._kwargs import (
    DataLoadKwargs,
    DataSaveKwargs,
    ModelLoadKwargs,
    ModelSaveKwargs,
)
from opsml.interfaces._library import data_libraries
from opsml.interfaces._model_base import (
    DataProcessor,
    ModelInterface,
    ModelInterfaceMetadata,
    ModelInterfaceSaveMetadata,
)
from opsml.interfaces._onnx import OnnxIO, OnnxSchema, OnnxSession
from opsml.interfaces._profile import (
    CharStats,
    DataProfile,
    Distinct,
    FeatureProfile,
    Histogram,
    NumericStats,
    Quantiles,
    StringStats,
    WordStats,
)
from opsml.interfaces._schema import Feature, FeatureSchema, generate_feature_schema
from opsml.interfaces._splits import (
    ColType,
    ColumnSplit,
    Data,
    DataSplit,
    DataSplits,
    DataSplitter,
    DependentVars,
    IndiceSplit,
    Inequality,
    StartStopSplit,
)
from opsml.interfaces.data import (
    ArrowData,
    NumpyData,
    PandasData,
    PolarsData,
    SqlData,
    TorchData,
)
from opsml.interfaces.model import (
    CatBoostModel,
    HuggingFaceModel,
    HuggingFaceOnnxArgs,
    LightGBMModel,
    LightningModel,
    OnnxModel,
    SklearnModel,
    TensorFlowModel,
    TorchModel,
    XGBoostModel,
)

__all__ = [
    "ArrowData",
    "create_drift_profile",
    "drift_profile_map",
    "load_drift_profiles",
    "save_drift_profiles",
    "stamp_drift_profiles",
    "CatBoostModel",
    "CharStats",
    "ColValType",
    "ColType",
    "ColumnSplit",
    "Data",
    "DataInterface",
    "DataInterfaceType",
    "DataInterfaceMetadata",
    "DataInterfaceSaveMetadata",
    "DataLoadKwargs",
    "DataProcessor",
    "DataProfile",
    "DataSaveKwargs",
    "DataSplit",
    "DataSplits",
    "DataSplitter",
    "DataType",
    "DependentVars",
    "Distinct",
    "ExtraMetadata",
    "Feature",
    "FeatureProfile",
    "FeatureSchema",
    "Histogram",
    "HuggingFaceModel",
    "HuggingFaceORTModel",
    "HuggingFaceOnnxArgs",
    "HuggingFaceTask",
    "IndiceSplit",
    "Inequality",
    "LightGBMModel",
    "LightningModel",
    "ModelInterface",
    "ModelInterfaceType",
    "ModelInterfaceMetadata",
    "ModelInterfaceSaveMetadata",
    "ModelLoadKwargs",
    "ModelSaveKwargs",
    "ModelType",
    "NumericStats",
    "NumpyData",
    "OnnxIO",
    "OnnxModel",
    "OnnxSchema",
    "OnnxSession",
    "PandasData",
    "PolarsData",
    "ProcessorType",
    "Quantiles",
    "SklearnModel",
    "SqlData",
    "SqlLogic",
    "StartStopSplit",
    "StringStats",
    "TaskType",
    "TensorFlowModel",
    "TorchData",
    "TorchModel",
    "WordStats",
    "XGBoostModel",
    "generate_feature_schema",
    "resolve_interface",
]

# interface_type recorded in a card -> "module:Class" of the built-in interface (besides the
# interface of each registered data library).
_BUILTIN_INTERFACES: dict[str, str] = {
    "SqlData": "opsml.interfaces.data._sql:SqlData",
    "SklearnModel": "opsml.interfaces.model._sklearn:SklearnModel",
    "TorchModel": "opsml.interfaces.model._torch:TorchModel",
    "LightningModel": "opsml.interfaces.model._lightning:LightningModel",
    "HuggingFaceModel": "opsml.interfaces.model._huggingface:HuggingFaceModel",
    "LightGBMModel": "opsml.interfaces.model._lightgbm:LightGBMModel",
    "XGBoostModel": "opsml.interfaces.model._xgboost:XGBoostModel",
    "CatBoostModel": "opsml.interfaces.model._catboost:CatBoostModel",
    "OnnxModel": "opsml.interfaces.model._onnx_model:OnnxModel",
    "TensorFlowModel": "opsml.interfaces.model._tensorflow:TensorFlowModel",
    "MlflowPyfuncModel": "opsml.interfaces.model._mlflow:MlflowPyfuncModel",
}


@overload
def resolve_interface(metadata: DataInterfaceMetadata) -> DataInterface: ...
@overload
def resolve_interface(metadata: ModelInterfaceMetadata) -> ModelInterface: ...
def resolve_interface(
    metadata: DataInterfaceMetadata | ModelInterfaceMetadata,
) -> DataInterface | ModelInterface:
    """Rebuild the empty built-in interface that wrote a card, ready for ``load``.

    Args:
        metadata: The interface metadata stored in the card.

    Returns:
        ``InterfaceClass.from_metadata(metadata)`` for the class named by
        ``metadata.interface_type``.

    Raises:
        InvalidArgumentError: ``metadata`` is not interface metadata.
        SerializationError: The card was saved by a custom interface (or one this version
            of opsml does not know); pass an instance of it as ``interface=``.
    """
    base: type[DataInterface] | type[ModelInterface]
    if isinstance(metadata, DataInterfaceMetadata):
        kind, base = "data", DataInterface
    elif isinstance(metadata, ModelInterfaceMetadata):
        kind, base = "model", ModelInterface
    else:
        raise InvalidArgumentError(
            "resolve_interface expects DataInterfaceMetadata or ModelInterfaceMetadata, "
            f"got {type(metadata).__name__}"
        )
    interface_cls = _builtin_interface(metadata.interface_type)
    if interface_cls is None:
        raise SerializationError(
            f"this card's {kind} was saved with the custom interface "
            f"{metadata.interface_type!r}, which opsml cannot rebuild by itself; pass an "
            f"instance of it: load_card(..., interface={metadata.interface_type}()) or "
            f"load_from_path(..., interface={metadata.interface_type}())"
        )
    if not issubclass(interface_cls, base):
        raise SerializationError(
            f"interface {metadata.interface_type!r} is not a {base.__name__}; the card's "
            f"{kind} metadata names the wrong interface"
        )
    interface: DataInterface | ModelInterface = interface_cls.from_metadata(metadata)
    return interface


def _builtin_interface(name: str) -> Any:
    """The built-in interface class called ``name``, or ``None``."""
    for library in data_libraries():
        if library.interface.__name__ == name:
            return library.interface
    target = _BUILTIN_INTERFACES.get(name)
    if target is None:
        return None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)
