"""ONNX models of a card: the stored file, its input/output schema and the runtime session.

Every model interface that can convert its model to ONNX shares this module::

    proto = interface._to_onnx(model, kwargs)          # library-specific conversion
    uri, schema = write_onnx_model(proto, card_dir)     # onnx-model.onnx + its schema
    ...
    session = load_onnx_session(card_dir / uri, kwargs) # an OnnxSession on CPU

Importing this module imports neither ``onnx`` nor ``onnxruntime``; both are imported on
first use and raise :class:`~opsml.errors.MissingDependencyError` (extra ``onnx``) when
missing.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from opsml._compat import require
from opsml._validation import empty_list
from opsml.errors import InvalidArgumentError, SerializationError
from opsml.interfaces._data_base import translate_errors, type_name
from opsml.interfaces._schema import Feature, FeatureSchema
from opsml.types import SaveName, Suffix

if TYPE_CHECKING:
    import onnx

__all__ = [
    "OnnxIO",
    "OnnxSchema",
    "OnnxSession",
    "load_onnx_session",
    "onnx_schema",
    "quantize_dynamic",
    "write_onnx_model",
]

ONNX_EXTRA = "onnx"
ONNX_FILE_NAME = f"{SaveName.OnnxModel}.{Suffix.Onnx}"
_CPU_PROVIDERS = ["CPUExecutionProvider"]
# Keyword arguments of onnxruntime.InferenceSession (it silently ignores any other).
_SESSION_ARGS = frozenset({"providers", "provider_options", "sess_options", "disabled_optimizers"})

# ONNX tensor element type (as named by onnxruntime, "tensor(<name>)") -> numpy dtype.
_NUMPY_DTYPES: dict[str, str] = {
    "float": "float32",
    "double": "float64",
    "float16": "float16",
    "int8": "int8",
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
    "uint8": "uint8",
    "uint16": "uint16",
    "uint32": "uint32",
    "uint64": "uint64",
    "bool": "bool",
    "string": "object",
}


class OnnxIO(BaseModel):
    """One input or output of an ONNX graph.

    Attributes:
        name: The graph's name for it, the key of ``OnnxSession.run``'s ``input_feed``.
        type: Its type as onnxruntime spells it: ``"tensor(float)"``, ``"tensor(int64)"``,
            ``"seq(map(int64,tensor(float)))"``.
        shape: One entry per dimension: an ``int`` when fixed, a ``str`` for a named
            dynamic dimension (e.g. ``"batch"``), ``None`` when unknown. Empty for
            non-tensor types.
        extra_args: Free string annotations (a ``Feature``'s, when built from one).
    """

    model_config = ConfigDict(defer_build=True)

    name: str
    type: str
    shape: list[int | str | None]
    extra_args: dict[str, str] = Field(default_factory=dict)

    @property
    def numpy_dtype(self) -> str | None:
        """The numpy dtype a tensor input is fed as (``"float32"``), ``None`` for non-tensors."""
        if not (self.type.startswith("tensor(") and self.type.endswith(")")):
            return None
        return _NUMPY_DTYPES.get(self.type[len("tensor(") : -1])


class OnnxSchema(BaseModel):
    """The inputs and outputs of an ONNX model, stored in the ModelCard.

    Built by the interfaces from the ONNX graph (``inputs=``, ``outputs=``), or as in OpsML 3
    from two feature schemas: ``OnnxSchema(input_features, output_features, onnx_version)``.

    Args:
        input_features: The inputs as a :class:`FeatureSchema` (OpsML 3's form).
        output_features: The outputs as a :class:`FeatureSchema`.
        onnx_version: The version of ``onnx`` that described the model.
        feature_names: The feature names, in the order the model takes them.
        **data: The attributes below, by name.

    Attributes:
        inputs: The graph inputs a caller feeds, in graph order (initializers excluded).
        outputs: The graph outputs, in the order ``OnnxSession.run`` returns them.
        onnx_version: The version of the ``onnx`` package that described the model.
        feature_names: The feature names and their order, when known (else empty).
    """

    model_config = ConfigDict(defer_build=True)

    inputs: list[OnnxIO]
    outputs: list[OnnxIO]
    onnx_version: str
    feature_names: list[str] = Field(default_factory=empty_list)

    def __init__(
        self,
        input_features: FeatureSchema | None = None,
        output_features: FeatureSchema | None = None,
        onnx_version: str | None = None,
        feature_names: list[str] | None = None,
        **data: Any,
    ) -> None:
        if input_features is not None:
            data["inputs"] = _as_ios(input_features)
        if output_features is not None:
            data["outputs"] = _as_ios(output_features)
        if onnx_version is not None:
            data["onnx_version"] = onnx_version
        if feature_names is not None:
            data["feature_names"] = feature_names
        super().__init__(**data)

    @property
    def input_features(self) -> FeatureSchema:
        """The inputs as a :class:`FeatureSchema` (OpsML 3 name); unknown dims are ``-1``."""
        return _as_feature_schema(self.inputs)

    @property
    def output_features(self) -> FeatureSchema:
        """The outputs as a :class:`FeatureSchema` (OpsML 3 name); unknown dims are ``-1``."""
        return _as_feature_schema(self.outputs)


def _as_feature_schema(ios: list[OnnxIO]) -> FeatureSchema:
    return FeatureSchema(
        {
            io.name: Feature(
                feature_type=io.type,
                shape=[dim if isinstance(dim, int) else -1 for dim in io.shape],
                extra_args=io.extra_args,
            )
            for io in ios
        }
    )


def _as_ios(features: FeatureSchema) -> list[OnnxIO]:
    if not isinstance(features, FeatureSchema):
        raise InvalidArgumentError(
            f"OnnxSchema features must be a FeatureSchema, got {type_name(features)}"
        )
    return [
        OnnxIO(
            name=name,
            type=feature.feature_type,
            shape=[None if dim == -1 else dim for dim in feature.shape],
            extra_args=feature.extra_args,
        )
        for name, feature in features.items.items()
    ]


def _onnx() -> Any:
    return require("onnx", ONNX_EXTRA)


def _onnxruntime() -> Any:
    return require("onnxruntime", ONNX_EXTRA)


def _type_string(type_proto: Any) -> str:
    """Spell an ``onnx.TypeProto`` the way onnxruntime's ``NodeArg.type`` does."""
    element_name = _onnx().TensorProto.DataType.Name
    kind = type_proto.WhichOneof("value")
    if kind == "tensor_type":
        return f"tensor({element_name(type_proto.tensor_type.elem_type).lower()})"
    if kind == "sparse_tensor_type":
        return f"sparse_tensor({element_name(type_proto.sparse_tensor_type.elem_type).lower()})"
    if kind == "sequence_type":
        return f"seq({_type_string(type_proto.sequence_type.elem_type)})"
    if kind == "optional_type":
        return f"optional({_type_string(type_proto.optional_type.elem_type)})"
    if kind == "map_type":
        key = element_name(type_proto.map_type.key_type).lower()
        return f"map({key},{_type_string(type_proto.map_type.value_type)})"
    return "unknown"


def _shape(type_proto: Any) -> list[int | str | None]:
    if type_proto.WhichOneof("value") != "tensor_type":
        return []
    tensor = type_proto.tensor_type
    if not tensor.HasField("shape"):
        return []
    dims: list[int | str | None] = []
    for dim in tensor.shape.dim:
        which = dim.WhichOneof("value")
        if which == "dim_value":
            dims.append(int(dim.dim_value))
        elif which == "dim_param":
            dims.append(str(dim.dim_param))
        else:
            dims.append(None)
    return dims


def _value_info(values: Iterable[Any]) -> list[OnnxIO]:
    return [OnnxIO(name=v.name, type=_type_string(v.type), shape=_shape(v.type)) for v in values]


def onnx_schema(proto: onnx.ModelProto) -> OnnxSchema:
    """Describe the inputs and outputs of an ONNX model from its graph.

    Args:
        proto: The ONNX model.

    Returns:
        Its schema; graph inputs that are initializers (weights) are left out.

    Raises:
        MissingDependencyError: ``onnx`` is not installed (extra ``onnx``).
    """
    onnx_module = _onnx()
    weights = {init.name for init in proto.graph.initializer}
    return OnnxSchema(
        inputs=_value_info(v for v in proto.graph.input if v.name not in weights),
        outputs=_value_info(proto.graph.output),
        onnx_version=onnx_module.__version__,
    )


def _schema_from_session(session: Any) -> OnnxSchema:
    def describe(args: list[Any]) -> list[OnnxIO]:
        return [OnnxIO(name=a.name, type=a.type, shape=list(a.shape or [])) for a in args]

    return OnnxSchema(
        inputs=describe(session.get_inputs()),
        outputs=describe(session.get_outputs()),
        onnx_version=_onnx().__version__,
    )


def _is_onnxruntime_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("onnxruntime")


def _with_attributes(cls: Any, values: Mapping[str, Any], what: str) -> Any:
    """Build ``cls()`` and set each item of ``values`` as an attribute (ORT option objects)."""
    obj = cls()
    for key, value in values.items():
        if not hasattr(obj, key):
            raise InvalidArgumentError(f"unknown onnxruntime {what} option {key!r}")
        setattr(obj, key, value)
    return obj


class OnnxSession:
    """An ``onnxruntime.InferenceSession`` over a card's ONNX model.

    Created by the model interfaces (``card.onnx_session`` after
    ``card.load(load_kwargs=ModelLoadKwargs(load_onnx=True))``), or directly from a model.
    Sessions run on ``CPUExecutionProvider`` unless ``providers`` says otherwise.

    As in OpsML 3, a session can be detached from onnxruntime: ``session.session = None``,
    or rebuilt from JSON with :meth:`model_validate_json` (which stores only the schema).
    A detached session keeps its :attr:`schema`; ``run`` then says to load the model.

    Args:
        model: The ONNX model: a file path, its serialized bytes, or an ``onnx.ModelProto``.
        schema: Its schema, if already known (read from the session otherwise).
        **session_kwargs: Passed to ``onnxruntime.InferenceSession``: ``providers``,
            ``provider_options``, ``sess_options`` (a ``SessionOptions`` or a dict of its
            attributes, e.g. ``{"intra_op_num_threads": 1}``), ``disabled_optimizers``.

    Raises:
        InvalidArgumentError: ``model`` or a session option is not acceptable.
        SerializationError: onnxruntime cannot load the model.
        MissingDependencyError: onnx or onnxruntime is not installed (extra ``onnx``).
    """

    def __init__(
        self,
        model: Path | str | bytes | onnx.ModelProto,
        schema: OnnxSchema | None = None,
        **session_kwargs: Any,
    ) -> None:
        self._path: Path | None = None
        self._bytes: bytes | None = None
        source: str | bytes
        if isinstance(model, Path | str):
            self._path = Path(model)
            source = str(self._path)
        elif isinstance(model, bytes):
            self._bytes = source = model
        elif isinstance(model, _onnx().ModelProto):
            self._bytes = source = model.SerializeToString()
        else:
            raise InvalidArgumentError(
                f"OnnxSession expects a path, bytes or an onnx.ModelProto, got {type_name(model)}"
            )
        self._session: Any = self._create(source, session_kwargs)
        self._schema = schema if schema is not None else _schema_from_session(self._session)

    @classmethod
    def detached(cls, schema: OnnxSchema) -> OnnxSession:
        """A session holding only ``schema``, without an onnxruntime session (or model).

        Args:
            schema: The model's inputs and outputs.

        Returns:
            The session; its :attr:`session` is ``None``.
        """
        session = cls.__new__(cls)
        session._path = None
        session._bytes = None
        session._session = None
        session._schema = schema
        return session

    def _create(self, source: str | bytes, session_kwargs: dict[str, Any]) -> Any:
        ort = _onnxruntime()
        unknown = sorted(set(session_kwargs) - _SESSION_ARGS)
        if unknown:
            raise InvalidArgumentError(
                f"unknown onnxruntime session argument(s) {unknown}; expected some of "
                f"{sorted(_SESSION_ARGS)}"
            )
        kwargs = dict(session_kwargs)
        kwargs.setdefault("providers", list(_CPU_PROVIDERS))
        options = kwargs.get("sess_options")
        if isinstance(options, Mapping):
            kwargs["sess_options"] = _with_attributes(ort.SessionOptions, options, "session")
        target = source if isinstance(source, str) else "the ONNX model bytes"
        try:
            return ort.InferenceSession(source, **kwargs)
        except TypeError as exc:
            raise InvalidArgumentError(f"invalid onnxruntime session arguments: {exc}") from exc
        except Exception as exc:
            if _is_onnxruntime_error(exc):
                raise SerializationError(f"onnxruntime could not load {target}: {exc}") from exc
            raise

    @property
    def session(self) -> Any:
        """The underlying ``onnxruntime.InferenceSession``, or ``None`` when detached."""
        return self._session

    @session.setter
    def session(self, session: Any) -> None:
        if session is not None:
            self._schema = _schema_from_session(session)
        self._session = session

    @property
    def schema(self) -> OnnxSchema:
        """The model's inputs and outputs."""
        return self._schema

    @property
    def input_names(self) -> list[str]:
        """The names ``run`` expects as keys of ``input_feed``, in graph order."""
        return [io.name for io in self._schema.inputs]

    @property
    def output_names(self) -> list[str]:
        """The names of the outputs, in the order ``run`` returns them."""
        return [io.name for io in self._schema.outputs]

    @property
    def path(self) -> Path | None:
        """The model file the session was created from, or ``None`` if built from bytes."""
        return self._path

    @property
    def model_bytes(self) -> bytes:
        """The serialized ONNX model (read from :attr:`path` when created from a file).

        Raises:
            SerializationError: The file can no longer be read.
        """
        if self._bytes is not None:
            return self._bytes
        if self._path is None:
            raise SerializationError(
                "this OnnxSession holds only the model's schema (it was rebuilt from JSON); "
                "load the card with ModelLoadKwargs(load_onnx=True) for the model"
            )
        with translate_errors("read", self._path):
            return self._path.read_bytes()

    def model_dump_json(self) -> str:
        """The session as JSON: its :attr:`schema` (the model itself is a card file).

        Returns:
            ``{"schema": {...}}``.
        """
        return json.dumps({"schema": self._schema.model_dump(mode="json")})

    @staticmethod
    def model_validate_json(json_string: str | bytes) -> OnnxSession:
        """Rebuild a detached session (schema only) from :meth:`model_dump_json`'s JSON.

        Args:
            json_string: The JSON.

        Returns:
            The session, with ``session`` ``None``.

        Raises:
            InvalidArgumentError: The JSON does not describe an ONNX session.
        """
        try:
            schema = OnnxSchema.model_validate(json.loads(json_string)["schema"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidArgumentError(f"not the JSON of an OnnxSession: {exc}") from exc
        return OnnxSession.detached(schema)

    def run(
        self,
        input_feed: dict[str, Any],
        output_names: list[str] | None = None,
        run_options: dict[str, Any] | None = None,
    ) -> list[Any]:
        """Run the model, like ``onnxruntime.InferenceSession.run`` (and OpsML 3).

        Args:
            input_feed: Input name to value: numpy arrays, fed as they are, or nested
                lists, converted to the input's declared dtype. :meth:`to_input_feed`
                builds it from an array or a frame.
            output_names: The outputs to compute; all of them, in graph order, if omitted.
            run_options: Attributes of an ``onnxruntime.RunOptions``, e.g.
                ``{"log_severity_level": 3}``.

        Returns:
            One value per requested output, in the requested order.

        Raises:
            InvalidArgumentError: onnxruntime rejected the inputs (wrong name, dtype or
                shape) or an option.
            SerializationError: The session is detached (no onnxruntime session).
        """
        if self._session is None:
            raise SerializationError(
                "this OnnxSession has no onnxruntime session (it was set to None or rebuilt "
                "from JSON); load the model with ModelLoadKwargs(load_onnx=True)"
            )
        np = require("numpy", ONNX_EXTRA)
        inputs = {io.name: io for io in self._schema.inputs}
        feed: dict[str, Any] = {}
        for name, value in input_feed.items():
            if isinstance(value, np.ndarray):
                feed[name] = value
            elif name in inputs:  # lists have no dtype: use the declared one
                feed[name] = _cast(np, np.asarray(value), inputs[name])
            else:
                feed[name] = np.asarray(value)
        options = None
        if run_options:
            options = _with_attributes(_onnxruntime().RunOptions, run_options, "run")
        try:
            outputs: list[Any] = self._session.run(output_names, feed, options)
        except Exception as exc:
            # onnxruntime raises its own errors, and ValueError for missing inputs.
            if _is_onnxruntime_error(exc) or isinstance(exc, ValueError):
                raise InvalidArgumentError(
                    f"ONNX model run failed: {exc} (the model expects inputs "
                    f"{[f'{io.name}: {io.type} {io.shape}' for io in self._schema.inputs]})"
                ) from exc
            raise
        return outputs

    def to_input_feed(self, data: Any) -> dict[str, Any]:
        """Build ``run``'s ``input_feed`` from data shaped like the model's sample data.

        Values are cast to the dtype each input declares (``float64`` → ``float32``).
        With one input, an array, or a frame without a column of the input's name, is fed
        whole. Otherwise (a converted pipeline over a pandas frame has one input per
        column) each input takes the frame column (or dict item) of its name, as a
        column vector when the input is two-dimensional.

        Args:
            data: A numpy array, a pandas ``DataFrame``, or a dict of name to values.

        Returns:
            Input name to numpy array.

        Raises:
            InvalidArgumentError: An input has no matching column or item.
        """
        np = require("numpy", ONNX_EXTRA)
        inputs = self._schema.inputs
        if len(inputs) == 1 and not isinstance(data, Mapping) and not hasattr(data, "columns"):
            return {inputs[0].name: _cast(np, np.asarray(data), inputs[0])}
        if len(inputs) == 1 and hasattr(data, "columns") and inputs[0].name not in data.columns:
            return {inputs[0].name: _cast(np, data.to_numpy(), inputs[0])}
        feed: dict[str, Any] = {}
        for io in inputs:
            try:
                column = data[io.name]
            except (KeyError, IndexError, TypeError) as exc:
                raise InvalidArgumentError(
                    f"the ONNX model needs an input {io.name!r}, which the data does not have"
                ) from exc
            value = np.asarray(column)
            if value.ndim == 1 and len(io.shape) == 2:
                value = value.reshape(-1, 1)
            feed[io.name] = _cast(np, value, io)
        return feed

    def __repr__(self) -> str:
        source = self._path if self._path is not None else f"<{len(self._bytes or b'')} bytes>"
        return f"OnnxSession({source}, inputs={self.input_names}, outputs={self.output_names})"


def _cast(np: Any, value: Any, io: OnnxIO) -> Any:
    dtype = io.numpy_dtype
    if dtype is None:
        return value
    if dtype == "object":
        return value.astype(str).astype(object)
    return value.astype(dtype, copy=False)


def write_onnx_model(proto: onnx.ModelProto, path: Path) -> tuple[str, OnnxSchema]:
    """Write ``proto`` as ``<path>/onnx-model.onnx`` and describe it.

    Args:
        proto: The ONNX model.
        path: The card's folder (created if missing).

    Returns:
        The file name relative to ``path`` (``"onnx-model.onnx"``) and the model's schema.

    Raises:
        SerializationError: The model could not be serialized or written (e.g. over the
            2 GB protobuf limit).
        MissingDependencyError: ``onnx`` is not installed (extra ``onnx``).
    """
    file = Path(path) / ONNX_FILE_NAME
    schema = onnx_schema(proto)
    with translate_errors("write", file):
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(proto.SerializeToString())
    return ONNX_FILE_NAME, schema


def quantize_dynamic(
    proto: onnx.ModelProto, per_channel: bool = False, unsigned: bool = False
) -> onnx.ModelProto:
    """Quantize the weights of an ONNX model to 8 bits with onnxruntime's dynamic quantizer.

    Args:
        proto: The float model.
        per_channel: Quantize each channel of a weight on its own scale.
        unsigned: ``uint8`` weights instead of ``int8``.

    Returns:
        The quantized model (activations are quantized at run time).

    Raises:
        SerializationError: onnxruntime could not quantize the model.
        MissingDependencyError: onnx or onnxruntime is not installed (extra ``onnx``).
    """
    quantization = require("onnxruntime.quantization", ONNX_EXTRA)
    weight_type = quantization.QuantType.QUInt8 if unsigned else quantization.QuantType.QInt8
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "model.onnx", Path(folder) / "quantized.onnx"
        source.write_bytes(proto.SerializeToString())
        try:
            quantization.quantize_dynamic(
                source, target, per_channel=per_channel, weight_type=weight_type
            )
        except Exception as exc:
            raise SerializationError(f"onnxruntime could not quantize the model: {exc}") from exc
        quantized: onnx.ModelProto = _onnx().load(str(target))
    return quantized


def load_onnx_session(
    file: Path, kwargs: dict[str, Any], schema: OnnxSchema | None = None
) -> OnnxSession:
    """Open an ONNX model file as an :class:`OnnxSession`.

    The file is read into memory, so the session (and its ``model_bytes``) outlive a
    temporary download folder.

    Args:
        file: The ``.onnx`` file.
        kwargs: Passed to ``onnxruntime.InferenceSession`` (``providers``,
            ``sess_options``, ...); ``providers`` defaults to ``["CPUExecutionProvider"]``.
        schema: The schema recorded at save time, if known.

    Returns:
        The session.

    Raises:
        SerializationError: The file is missing or onnxruntime cannot load it.
        InvalidArgumentError: A session argument is not acceptable.
        MissingDependencyError: onnx or onnxruntime is not installed (extra ``onnx``).
    """
    file = Path(file)
    with translate_errors("read", file):
        model_bytes = file.read_bytes()
    return OnnxSession(model_bytes, schema=schema, **kwargs)
