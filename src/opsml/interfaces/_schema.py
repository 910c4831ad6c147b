"""Feature schemas: the names, types and shapes of the columns an interface holds.

A schema is generated when a card is registered. Generation is cheap: it reads only dtypes
and shapes, never row values, and it never imports a data library; an object can only be a
pandas frame if pandas is already imported. Each library describes its own objects
(:meth:`~opsml.interfaces._library.DataLibrary.feature_schema`, next to its interface).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from opsml.interfaces._enums import DataType
from opsml.interfaces._library import data_libraries

__all__ = [
    "Feature",
    "FeatureSchema",
    "WithSchema",
    "array_feature",
    "column_feature",
    "generate_feature_schema",
]


class Feature(BaseModel):
    """One feature (a column, or a whole array) of a schema.

    Attributes:
        feature_type: The library's dtype as a string, e.g. ``"int64"``, ``"category"``,
            ``"datetime64[us, UTC]"``.
        shape: The shape of one value: ``[1]`` for a frame column, the array's shape for an
            array.
        extra_args: Free string annotations.
    """

    model_config = ConfigDict(defer_build=True)

    feature_type: str
    shape: list[int]
    extra_args: dict[str, str] = Field(default_factory=dict)

    def __init__(
        self,
        feature_type: str,
        shape: list[int],
        extra_args: dict[str, str] | None = None,
    ) -> None:
        super().__init__(feature_type=feature_type, shape=shape, extra_args=extra_args or {})


class FeatureSchema(BaseModel):
    """A mapping of feature name to :class:`Feature` that reads like a dict.

    ``schema["col"]``, ``"col" in schema``, ``len(schema)`` and ``for name in schema`` work;
    the underlying dict is ``schema.items``.

    Attributes:
        items: Feature name to feature, in column order.
    """

    model_config = ConfigDict(defer_build=True)

    items: dict[str, Feature] = Field(default_factory=dict)

    def __init__(self, items: dict[str, Feature] | None = None) -> None:
        super().__init__(items=items or {})

    def __getitem__(self, key: str) -> Feature:
        return self.items[key]

    def __contains__(self, key: object) -> bool:
        return key in self.items

    def __len__(self) -> int:
        return len(self.items)

    # Iterate over names like a dict (BaseModel iterates over (field, value) pairs).
    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        return iter(self.items)


# ``schema`` is OpsML 3's field name; it shadows the deprecated ``BaseModel.schema()``, which
# pydantic warns about once, here, for every metadata model that inherits the field.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message='Field name "schema"', category=UserWarning)

    class WithSchema(BaseModel):
        """Base of the interface metadata models: adds the ``schema`` field.

        Attributes:
            schema: The feature schema (empty when there was nothing to describe).
        """

        model_config = ConfigDict(defer_build=True)

        schema: FeatureSchema = Field(default_factory=FeatureSchema)  # type: ignore[assignment]


def column_feature(dtype: Any) -> Feature:
    """A frame or table column of ``dtype``: the dtype's name, shape ``[1]``."""
    return Feature(feature_type=str(dtype), shape=[1])


def array_feature(array: Any) -> Feature:
    """A whole array or tensor: its dtype's name and its shape."""
    return Feature(feature_type=str(array.dtype), shape=[int(n) for n in array.shape])


def generate_feature_schema(data: Any, data_type: DataType | None = None) -> FeatureSchema:
    """Describe ``data`` as a :class:`FeatureSchema`.

    Supported objects: a pandas ``DataFrame`` (one feature per column, shape ``[1]``), a
    pandas ``Series`` (one feature named after the series), a polars ``DataFrame`` (one
    feature per column, typed by the dtype's class like ``"Int64"`` or ``"Datetime"``, the
    full dtype such as ``"Datetime(time_unit='us', time_zone='UTC')"`` in
    ``extra_args["dtype"]`` when it has parameters), a
    pyarrow ``Table`` (one feature per column, typed like ``"int64"`` or
    ``"timestamp[us, tz=UTC]"``), a numpy array (one feature named ``"numpy_array"`` with
    the array's shape), a dict of numpy arrays (one feature per key) and a torch tensor (one
    feature named ``"torch_tensor"``, typed like ``"torch.float32"``, with its shape).
    Anything else, including ``None``, gives an empty schema.

    Args:
        data: The object to describe.
        data_type: Accepted for OpsML 3 compatibility; the schema always follows the object
            itself.

    Returns:
        The schema; never touches row values.
    """
    del data_type
    for library in data_libraries():
        schema = library.feature_schema(data)
        if schema is not None:
            return schema
    return FeatureSchema()
