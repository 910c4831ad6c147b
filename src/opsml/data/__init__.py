"""Data interfaces: how a DataCard's dataset is saved and loaded (OpsML 3 names)."""

from opsml.interfaces import (
    DataInterface,
    DataInterfaceMetadata,
    DataInterfaceSaveMetadata,
    DataLoadKwargs,
    DataSaveKwargs,
    DataType,
    Feature,
    FeatureSchema,
    NumpyData,
    PandasData,
    generate_feature_schema,
)

__all__ = [
    "DataInterface",
    "DataInterfaceMetadata",
    "DataInterfaceSaveMetadata",
    "DataLoadKwargs",
    "DataSaveKwargs",
    "DataType",
    "Feature",
    "FeatureSchema",
    "NumpyData",
    "PandasData",
    "generate_feature_schema",
]
