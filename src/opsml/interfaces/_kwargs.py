"""Keyword arguments passed through to the libraries that write and read artifacts.

Save kwargs are stored in the card (so a reader can see how files were written) and must
therefore be JSON-serialisable; that is checked when they are built. The one exception is
``ModelSaveKwargs.onnx``: converters take library objects (TensorFlow's ``TensorSpec``
input signatures), which the card records as their ``repr``. Load kwargs are never stored
and may hold any object the reader accepts (a filesystem, a filter expression).
"""

from __future__ import annotations

import json
import numbers
from typing import Any

from pydantic import BaseModel, ConfigDict, field_serializer, model_validator

from opsml.errors import InvalidArgumentError
from opsml.types import DriftArgs

__all__ = ["DataLoadKwargs", "DataSaveKwargs", "ModelLoadKwargs", "ModelSaveKwargs", "json_safe"]


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON data; objects that are not become their ``repr``."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    return repr(value)


def _require_json(owner: str, field: str, value: dict[str, Any] | None) -> None:
    if value is None:
        return
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"{owner}({field}=...) must be JSON-serialisable because it is stored in the "
            f"card: {exc}"
        ) from exc


class DataSaveKwargs(BaseModel):
    """Arguments for a data interface's writer.

    Attributes:
        data: Passed as keyword arguments to the library's writer, e.g.
            ``{"compression": "zstd"}`` for ``DataFrame.to_parquet``.
    """

    model_config = ConfigDict(defer_build=True)

    data: dict[str, Any] | None = None

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        _require_json("DataSaveKwargs", "data", data)
        super().__init__(data=data)


class DataLoadKwargs(BaseModel):
    """Arguments for a data interface's reader.

    Attributes:
        data: Passed as keyword arguments to the library's reader, e.g.
            ``{"columns": ["a", "b"]}`` for ``pandas.read_parquet``.
    """

    model_config = ConfigDict(defer_build=True)

    data: dict[str, Any] | None = None

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        super().__init__(data=data)


class ModelSaveKwargs(BaseModel):
    """Arguments for a model interface's writers.

    Attributes:
        onnx: Arguments for the ONNX conversion; giving them implies ``save_onnx=True``.
            They may hold objects the converter takes (e.g. ``tf.TensorSpec``); the card
            records those as their ``repr``.
        model: Passed as keyword arguments to the model writer (``joblib.dump`` for
            scikit-learn, e.g. ``{"compress": 3}``).
        preprocessor: Passed as keyword arguments to the preprocessor writer.
        save_onnx: Convert the model to ONNX and store ``onnx-model.onnx``.
        drift: What to do with the model's drift profiles at registration (recorded with
            the card; OpsML 3's ``DriftArgs``).
    """

    model_config = ConfigDict(defer_build=True)

    onnx: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    preprocessor: dict[str, Any] | None = None
    save_onnx: bool = False
    drift: DriftArgs | None = None

    def __init__(
        self,
        onnx: dict[str, Any] | None = None,
        model: dict[str, Any] | None = None,
        preprocessor: dict[str, Any] | None = None,
        save_onnx: bool = False,
        drift: DriftArgs | None = None,
    ) -> None:
        for field, value in (("model", model), ("preprocessor", preprocessor)):
            _require_json("ModelSaveKwargs", field, value)
        super().__init__(
            onnx=onnx, model=model, preprocessor=preprocessor, save_onnx=save_onnx, drift=drift
        )

    @field_serializer("onnx")
    def _onnx_as_json(self, onnx: dict[str, Any] | None) -> Any:
        return None if onnx is None else json_safe(onnx)

    @model_validator(mode="after")
    def _onnx_args_imply_save_onnx(self) -> ModelSaveKwargs:
        if self.onnx is not None:
            self.save_onnx = True
        return self


class ModelLoadKwargs(BaseModel):
    """Arguments for a model interface's readers.

    Attributes:
        onnx: Arguments for the ONNX session; giving them implies ``load_onnx=True``.
        model: Passed as keyword arguments to the model reader (``joblib.load``).
        preprocessor: Passed as keyword arguments to the preprocessor reader.
        load_onnx: Load the stored ONNX model into an ONNX session.
    """

    model_config = ConfigDict(defer_build=True)

    onnx: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    preprocessor: dict[str, Any] | None = None
    load_onnx: bool = False

    def __init__(
        self,
        onnx: dict[str, Any] | None = None,
        model: dict[str, Any] | None = None,
        preprocessor: dict[str, Any] | None = None,
        load_onnx: bool = False,
    ) -> None:
        super().__init__(onnx=onnx, model=model, preprocessor=preprocessor, load_onnx=load_onnx)

    @model_validator(mode="after")
    def _onnx_args_imply_load_onnx(self) -> ModelLoadKwargs:
        if self.onnx is not None:
            self.load_onnx = True
        return self
