"""TensorFlowModel: a Keras model (``tensorflow.keras.Model``), saved as ``model.keras``.

Also home of the TensorFlow sample data (``tf.Tensor`` and containers holding them) and of
the conversion to ONNX with tf2onnx (extra ``tensorflow``, plus ``onnx`` for the session).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from opsml._compat import require
from opsml.errors import InvalidArgumentError, SerializationError, UnsupportedTypeError
from opsml.interfaces._data_base import DataInterface, translate_errors, type_name
from opsml.interfaces._enums import DataType, ModelType, TaskType
from opsml.interfaces._model_base import ModelInterface, sample_data_interfaces
from opsml.interfaces._schema import Feature, FeatureSchema
from opsml.interfaces.data._numpy import load_npz, rebuild_collection, save_npz
from opsml.types import DriftProfileMap, SaveName, Suffix

if TYPE_CHECKING:
    import onnx

__all__ = ["TensorFlowModel", "TensorFlowSampleData"]

_EXTRA = "tensorflow"
_FILE_NAME = f"{SaveName.Model}.{Suffix.Keras}"
_SIGNATURE_KEY = "input_signature"
# Layout of a saved TensorFlowSampleData: a lone tensor, else the container's kind.
_TENSOR = "tensor"
_TF, _NP = "t", "n"  # per item: a tf.Tensor or a numpy array


def _tf() -> Any:
    return require("tensorflow", _EXTRA)


def _is_tf_tensor(obj: Any) -> bool:
    tf = sys.modules.get("tensorflow")  # not imported: obj cannot be a tensor
    return tf is not None and isinstance(obj, tf.Tensor)


def _is_array(obj: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(obj, np.ndarray) and not obj.dtype.hasobject


def _items(data: Any) -> list[Any]:
    if isinstance(data, Mapping):
        return list(data.values())
    if isinstance(data, list | tuple):
        return list(data)
    return [data]


class TensorFlowSampleData(DataInterface):
    """Sample data of a ``TensorFlowModel`` holding TensorFlow tensors.

    A ``tf.Tensor``, or a non-empty list, tuple or dict (string keys) of tensors and numpy
    arrays with at least one tensor (containers of numpy arrays alone are kept by the
    numpy interfaces). Saved as ``sample-data.npz`` (the values, without pickles) and read
    back as the same container of the same kinds of values. Not a public data interface:
    ``TensorFlowModel.sample_data`` hands out the object itself, as in OpsML 3.

    Args:
        data: The sample data.

    Raises:
        UnsupportedTypeError: ``data`` is not one of the accepted shapes.
    """

    verify_before_read: ClassVar[bool] = False
    _suffix: ClassVar[Suffix | None] = Suffix.Npz
    _sample_as_raw: ClassVar[bool] = True

    def __init__(self, data: Any = None) -> None:
        super().__init__(data=data)

    @staticmethod
    def _accepts(data: Any) -> bool:
        if _is_tf_tensor(data):
            return True
        if not isinstance(data, list | tuple | Mapping) or not data:
            return False
        if isinstance(data, Mapping) and not all(isinstance(key, str) for key in data):
            return False
        items = _items(data)
        return all(_is_tf_tensor(v) or _is_array(v) for v in items) and any(
            _is_tf_tensor(v) for v in items
        )

    def _validate_data(self, data: Any) -> None:
        if not self._accepts(data):
            raise UnsupportedTypeError(
                "TensorFlow sample data must be a tf.Tensor, or a non-empty list, tuple or "
                f"dict (string keys) of tf.Tensors and numpy arrays, got {type_name(data)}"
            )

    @classmethod
    def _first_rows(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {key: value[0:1] for key, value in data.items()}
        if isinstance(data, list | tuple):
            return type(data)(value[0:1] for value in data)
        return data[0:1]

    @property
    def data_type(self) -> DataType:  # type: ignore[override]
        """``TensorFlowTensor`` for a tensor, else ``List``, ``Tuple`` or ``Dict``."""
        data = self._data
        if isinstance(data, Mapping):
            return DataType.Dict
        if isinstance(data, tuple):
            return DataType.Tuple
        if isinstance(data, list):
            return DataType.List
        return DataType.Base if data is None else DataType.TensorFlowTensor

    def _generate_schema(self) -> FeatureSchema:
        """One feature per value: ``tf_tensor``, the dict keys, or ``input_<i>``."""
        data = self._data
        if data is None:
            return FeatureSchema()
        if isinstance(data, Mapping):
            named = {str(key): value for key, value in data.items()}
        elif isinstance(data, list | tuple):
            named = {f"input_{i}": value for i, value in enumerate(data)}
        else:
            named = {"tf_tensor": data}
        return FeatureSchema(
            {
                name: Feature(
                    feature_type=str(getattr(value.dtype, "name", value.dtype)),
                    shape=[int(n) for n in value.shape],
                )
                for name, value in named.items()
            }
        )

    def _write(self, data: Any, file: Path, kwargs: dict[str, Any]) -> None:
        items = _items(data)
        kinds = "".join(_TF if _is_tf_tensor(v) else _NP for v in items)
        arrays = [v.numpy() if _is_tf_tensor(v) else v for v in items]
        if _is_tf_tensor(data):
            layout = [_TENSOR, kinds]
        else:
            kind = "dict" if isinstance(data, Mapping) else type(data).__name__
            keys = [str(key) for key in data] if isinstance(data, Mapping) else []
            layout = [kind, kinds, *keys]
        save_npz(file, layout, arrays, kwargs)

    def _read(self, file: Path, kwargs: dict[str, Any]) -> Any:
        tf = _tf()
        (kind, kinds, *keys), arrays = load_npz(file, kwargs)
        values = [
            tf.convert_to_tensor(array) if flag == _TF else array
            for flag, array in zip(kinds, arrays, strict=True)
        ]
        if kind == _TENSOR:
            return values[0]
        return rebuild_collection(file, kind, keys, values)


def _input_names(model: Any) -> list[str]:
    """The names of the model's inputs, in call order; empty if it has none yet."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):  # a subclassed model not called yet
        return []
    return [str(tensor.name) for tensor in inputs or []]


def _input_dtypes(model: Any) -> dict[str, Any]:
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return {}
    return {str(tensor.name): tensor.dtype for tensor in inputs or []}


def _spec(tf: Any, value: Any) -> Any:
    """A ``tf.TensorSpec`` from a spec, or from its JSON form ``{"shape", "dtype", "name"}``."""
    if isinstance(value, tf.TensorSpec):
        return value
    if isinstance(value, Mapping) and "shape" in value:
        return tf.TensorSpec(
            shape=value["shape"], dtype=value.get("dtype", "float32"), name=value.get("name")
        )
    raise InvalidArgumentError(
        "ModelSaveKwargs(onnx={'input_signature': [...]}) takes tf.TensorSpec objects or "
        f"dicts with 'shape', 'dtype' and 'name', got {type_name(value)}"
    )


def _sample_specs(tf: Any, model: Any, sample: Any) -> list[Any]:
    """One ``TensorSpec`` per sample value: batch dimension free, the model's dtype (or the
    value's, ``float64`` as ``float32``), named after the dict key or the model's input."""
    items = _items(sample)
    if isinstance(sample, Mapping):
        names = [str(key) for key in sample]
    else:
        model_names = _input_names(model)
        default = [f"input_{i}" for i in range(len(items))] if len(items) > 1 else ["input"]
        names = model_names if len(model_names) == len(items) else default
    dtypes = _input_dtypes(model)
    specs = []
    for name, value in zip(names, items, strict=True):
        dtype = tf.as_dtype(dtypes.get(name) or value.dtype)
        if dtype == tf.float64:
            dtype = tf.float32
        specs.append(tf.TensorSpec(shape=(None, *value.shape[1:]), dtype=dtype, name=name))
    return specs


def keras_to_onnx(model: Any, sample: Any, kwargs: dict[str, Any]) -> onnx.ModelProto:
    """Convert a Keras model to ONNX with ``tf2onnx.convert.from_function``.

    The model is traced as a ``tf.function`` called the way the sample data is shaped: a
    dict sample passes a dict (by key), a list or tuple a list, anything else one value.
    The inputs are described by ``kwargs["input_signature"]`` (``tf.TensorSpec``\\ s, or
    dicts ``{"shape": [null, 10], "dtype": "float32", "name": "x"}``), else by the sample
    data: a free batch dimension, the model's input dtype, named after the dict keys or
    the model's inputs.

    Args:
        model: The ``tf.keras.Model``.
        sample: The sample data (a tensor, an array, or a list, tuple or dict of them).
        kwargs: ``ModelSaveKwargs.onnx``: ``input_signature``, and the rest for
            ``tf2onnx.convert.from_function`` (e.g. ``{"opset": 17}``).

    Returns:
        The ONNX model.

    Raises:
        InvalidArgumentError: The input signature is not acceptable.
        SerializationError: tf2onnx could not convert the model.
        MissingDependencyError: tensorflow or tf2onnx is not installed (extra ``tensorflow``).
    """
    tf = _tf()
    tf2onnx = require("tf2onnx", _EXTRA)
    args = dict(kwargs)
    signature = args.pop(_SIGNATURE_KEY, None)
    if signature is None:
        specs = _sample_specs(tf, model, sample)
    elif isinstance(signature, Mapping):
        specs = [_spec(tf, value) for value in signature.values()]
    elif isinstance(signature, list | tuple):
        specs = [_spec(tf, value) for value in signature]
    else:
        specs = [_spec(tf, signature)]
    keys = [str(key) for key in sample] if isinstance(sample, Mapping) else []
    if keys and len(keys) != len(specs):
        raise InvalidArgumentError(
            f"the input signature has {len(specs)} inputs but the sample data {len(keys)}"
        )

    def call(*inputs: Any) -> Any:
        if keys:
            return model(dict(zip(keys, inputs, strict=True)), training=False)
        if isinstance(sample, list | tuple):
            return model(list(inputs), training=False)
        return model(inputs[0], training=False)

    function = tf.function(call, input_signature=specs)
    try:
        with warnings.catch_warnings():
            # tf2onnx and TensorFlow's graph tooling use deprecated numpy and TF APIs.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            proto, _ = tf2onnx.convert.from_function(function, input_signature=specs, **args)
    except Exception as exc:
        raise SerializationError(f"tf2onnx could not convert {type_name(model)}: {exc}") from exc
    converted: onnx.ModelProto = proto
    return converted


class TensorFlowModel(ModelInterface):
    """A Keras model (``tensorflow.keras.Model``: functional, sequential or subclassed).

    Saved with ``model.save`` as ``model.keras`` (Keras' own format: architecture, weights,
    optimizer state) and loaded with ``tf.keras.models.load_model``, which runs in Keras'
    safe mode (no arbitrary code, such as ``Lambda`` layers, from the file).
    ``ModelSaveKwargs(model=...)`` goes to ``model.save`` and ``ModelLoadKwargs(model=...)``
    to ``load_model`` (e.g. ``{"compile": False}``; a model with custom layers needs
    ``{"custom_objects": {...}}``).

    ``ModelSaveKwargs(save_onnx=True)`` converts the model with tf2onnx; see
    :func:`keras_to_onnx` and ``docs/onnx.md`` for the input signature. Both TensorFlow and
    tf2onnx come with the extra ``tensorflow``.

    Args:
        model: A ``tf.keras.Model``.
        preprocessor: An object applied to inputs before the model (``preprocessor.joblib``).
        sample_data: Example input, as for every model interface, or a ``tf.Tensor`` or a
            list, tuple or dict of tensors and numpy arrays (one per model input). Only
            the first row is kept.
        task_type: The model's task.
        drift_profile: Drift profiles by alias (see ``ModelInterface``).

    Raises:
        UnsupportedTypeError: ``model`` is not a Keras model, or the sample data is not
            acceptable.
        MissingDependencyError: tensorflow is not installed (extra ``tensorflow``).
    """

    def __init__(
        self,
        model: Any = None,
        preprocessor: Any = None,
        sample_data: Any = None,
        task_type: TaskType | str | None = None,
        drift_profile: DriftProfileMap | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            model=model,
            sample_data=sample_data,
            task_type=task_type,
            preprocessor=preprocessor,
            drift_profile=drift_profile,
        )

    def _validate_model(self, model: Any) -> None:
        if not isinstance(model, _tf().keras.Model):
            raise UnsupportedTypeError(
                f"TensorFlowModel expects a tensorflow.keras.Model, got {type_name(model)}"
            )

    @property
    def model_type(self) -> ModelType:
        """Always ``ModelType.TensorFlow``."""
        return ModelType.TensorFlow

    @classmethod
    def _sample_interfaces(cls) -> tuple[type[DataInterface], ...]:
        return (*sample_data_interfaces(), TensorFlowSampleData)

    def _sample_kinds(self) -> str:
        return (
            "a numpy ndarray, a tf.Tensor, a list, tuple or dict of them, a pandas or polars "
            "DataFrame, a pyarrow Table or a torch Tensor"
        )

    def _save_model(self, model: Any, path: Path, kwargs: dict[str, Any]) -> str:
        with translate_errors("write", path / _FILE_NAME), warnings.catch_warnings():
            # Keras converts variables with np.array(x), which numpy 2 flags as deprecated.
            warnings.filterwarnings(
                "ignore", message="__array__ implementation", category=DeprecationWarning
            )
            model.save(path / _FILE_NAME, **kwargs)
        return _FILE_NAME

    def _load_model(self, file: Path, kwargs: dict[str, Any]) -> Any:
        tf = _tf()
        with translate_errors("read", file):
            return tf.keras.models.load_model(file, **kwargs)

    def _to_onnx(self, model: Any, kwargs: dict[str, Any]) -> onnx.ModelProto:
        return keras_to_onnx(model, self._sample_raw(), kwargs)

    def _model_specific_metadata(self) -> dict[str, Any]:
        model = self.model
        if model is None:
            return {}
        tf = _tf()
        cls = type(model)
        return {
            "tensorflow_version": tf.__version__,
            "keras_version": require("keras", _EXTRA).__version__,
            "model_class": f"{cls.__module__}.{cls.__qualname__}",
        }
