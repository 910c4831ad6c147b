"""Conversion of scikit-learn, LightGBM and XGBoost models to ONNX (extra ``onnx``).

The sample data gives the input signature:

- a numpy array, or a numeric frame given to a single estimator: one input ``"X"`` of
  shape ``[None, n_features]``;
- a pandas frame given to a ``Pipeline`` or ``ColumnTransformer``: one ``[None, 1]`` input
  per column, named after it, so column selectors keep working (``OnnxSession.to_input_feed``
  builds the feed from a frame).

Floating-point inputs are declared ``float32``: the tree converters (scikit-learn's,
LightGBM's, XGBoost's) only run on ``float32`` in onnxruntime, and scikit-learn trees and
XGBoost compare in ``float32`` anyway. Classifiers are converted without the ``ZipMap``
operator, so probabilities come back as an array, not a list of dicts.

LightGBM and XGBoost models inside scikit-learn pipelines are converted by registering
onnxmltools' converters with skl2onnx the first time such a model is met.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opsml._compat import require
from opsml.errors import OpsmlError, SerializationError
from opsml.interfaces._data_base import type_name
from opsml.interfaces._onnx import ONNX_EXTRA

if TYPE_CHECKING:
    import onnx

__all__ = [
    "lightgbm_booster_to_onnx",
    "sklearn_to_onnx",
    "without_zipmap",
    "xgboost_booster_to_onnx",
]

_INPUT_NAME = "X"
_ML_DOMAIN = "ai.onnx.ml"
# onnxmltools' LightGBM and XGBoost converters emit ai.onnx.ml operators of version 3.
_BOOSTING_ML_OPSET = 3
# Libraries whose converters this process registered with skl2onnx (whose registry is
# itself process-wide); registering is idempotent, this only avoids repeating it.
_registered: set[str] = set()


@contextmanager
def _converting(model: Any) -> Iterator[None]:
    """Re-raise a converter's error as :class:`SerializationError` naming the model."""
    try:
        yield
    except OpsmlError:
        raise
    except Exception as exc:
        raise SerializationError(f"could not convert {type_name(model)} to ONNX: {exc}") from exc


def _is_frame(data: Any) -> bool:
    return hasattr(data, "columns") and hasattr(data, "dtypes")


def _column_type(data_types: Any, column: str, dtype: Any) -> Any:
    types = require("pandas.api.types", "pandas")
    if types.is_bool_dtype(dtype):
        return data_types.BooleanTensorType
    if types.is_float_dtype(dtype):
        return data_types.FloatTensorType
    if types.is_integer_dtype(dtype):
        return data_types.Int64TensorType
    if types.is_string_dtype(dtype) or isinstance(dtype, types.CategoricalDtype):
        return data_types.StringTensorType
    raise SerializationError(
        f"cannot describe column {column!r} of dtype {dtype} as an ONNX input; convert it "
        "to a number or a string in the sample data and the pipeline"
    )


def _numeric_frame(data: Any) -> bool:
    types = require("pandas.api.types", "pandas")
    return all(types.is_numeric_dtype(dtype) or types.is_bool_dtype(dtype) for dtype in data.dtypes)


def _array_input(data_types: Any, data: Any) -> list[tuple[str, Any]]:
    np = require("numpy", "numpy")
    array = np.asarray(data)
    shape = [None, *array.shape[1:]]
    if array.dtype.kind in "fiub":
        return [(_INPUT_NAME, data_types.FloatTensorType(shape))]
    if array.dtype.kind in "OUT":
        return [(_INPUT_NAME, data_types.StringTensorType(shape))]
    raise SerializationError(f"cannot describe sample data of dtype {array.dtype} as an ONNX input")


def _input_types(data_types: Any, data: Any, per_column: bool) -> list[tuple[str, Any]]:
    """The ONNX inputs matching ``data`` (see the module docstring)."""
    if not _is_frame(data):
        return _array_input(data_types, data)
    if per_column:
        return [
            (str(name), _column_type(data_types, str(name), dtype)([None, 1]))
            for name, dtype in data.dtypes.items()
        ]
    if not _numeric_frame(data):
        raise SerializationError(
            "a single estimator is converted with one numeric input, but the sample data "
            "has non-numeric columns; convert a Pipeline whose ColumnTransformer encodes "
            "them (each column then becomes its own ONNX input)"
        )
    return [(_INPUT_NAME, data_types.FloatTensorType([None, data.shape[1]]))]


# Fitted attributes of meta-estimators holding the fitted copies of their estimators.
_FITTED_ESTIMATORS = ("estimators_", "final_estimator_", "estimator_", "calibrated_classifiers_")


def _estimators(model: Any) -> Iterator[Any]:
    """``model`` and every estimator nested in it: pipeline steps, transformers, and the
    fitted copies a meta-estimator (stacking, voting, calibration) keeps."""
    seen: set[int] = set()
    pending = [model]
    while pending:
        estimator = pending.pop()
        if id(estimator) in seen or not hasattr(estimator, "get_params"):
            continue
        seen.add(id(estimator))
        yield estimator
        pending.extend(estimator.get_params(deep=False).values())
        for name in _FITTED_ESTIMATORS:
            fitted = getattr(estimator, name, None)
            pending.extend(fitted if isinstance(fitted, list | tuple) else [fitted])
        for nested in estimator.get_params(deep=False).values():
            if isinstance(nested, list | tuple):  # (name, estimator) pairs, steps
                for item in nested:
                    pending.extend(item if isinstance(item, tuple) else [item])


def _boosting_libraries(model: Any) -> set[str]:
    """Which of lightgbm/xgboost have scikit-learn-API models inside ``model``."""
    found: set[str] = set()
    # A model of a library can only exist if the library was imported.
    lightgbm = sys.modules.get("lightgbm")
    xgboost = sys.modules.get("xgboost")
    for estimator in _estimators(model):
        if lightgbm is not None and isinstance(estimator, lightgbm.LGBMModel):
            found.add("lightgbm")
        if xgboost is not None and isinstance(estimator, xgboost.XGBModel):
            found.add("xgboost")
    return found


def _register_converters(library: str) -> None:
    """Teach skl2onnx to convert LightGBM / XGBoost estimators (inside pipelines too)."""
    if library in _registered:
        return
    skl2onnx = require("skl2onnx", ONNX_EXTRA)
    shapes = require("skl2onnx.common.shape_calculator", ONNX_EXTRA)
    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    if library == "lightgbm":
        lightgbm = require("lightgbm", "lightgbm")
        converter = require(
            "onnxmltools.convert.lightgbm.operator_converters.LightGbm", ONNX_EXTRA
        ).convert_lightgbm
        classifier, regressor = lightgbm.LGBMClassifier, lightgbm.LGBMRegressor
        alias = "LightGbm"
    else:
        xgboost = require("xgboost", "xgboost")
        converter = require(
            "onnxmltools.convert.xgboost.operator_converters.XGBoost", ONNX_EXTRA
        ).convert_xgboost
        classifier, regressor = xgboost.XGBClassifier, xgboost.XGBRegressor
        alias = "XGBoost"
    skl2onnx.update_registered_converter(
        classifier,
        f"{alias}{classifier.__name__}",
        shapes.calculate_linear_classifier_output_shapes,
        converter,
        options=classifier_options,
    )
    skl2onnx.update_registered_converter(
        regressor,
        f"{alias}{regressor.__name__}",
        shapes.calculate_linear_regressor_output_shapes,
        converter,
        options={"split": None} if library == "lightgbm" else None,
    )
    _registered.add(library)


def _without_xgboost_feature_names(model: Any) -> Any:
    """A copy of ``model`` whose XGBoost boosters have no feature names.

    onnxmltools only understands XGBoost's default names ``f0, f1, ...``; the inputs are
    positional in ONNX anyway.
    """
    xgboost = sys.modules["xgboost"]
    clone = copy.deepcopy(model)
    for estimator in _estimators(clone):
        # Unfitted ones are the templates of a meta-estimator; its fitted copies convert.
        if isinstance(estimator, xgboost.XGBModel) and estimator.__sklearn_is_fitted__():
            estimator.get_booster().feature_names = None
    return clone


def _default_target_opset(skl2onnx: Any) -> dict[str, int]:
    return {"": skl2onnx.get_latest_tested_opset_version(), _ML_DOMAIN: _BOOSTING_ML_OPSET}


def sklearn_to_onnx(model: Any, data: Any, kwargs: dict[str, Any]) -> onnx.ModelProto:
    """Convert a scikit-learn-API model (pipelines included) with ``skl2onnx.to_onnx``.

    Args:
        model: A fitted scikit-learn estimator or pipeline (LightGBM and XGBoost
            estimators included, also inside pipelines).
        data: The sample data: a numpy array or a pandas frame.
        kwargs: Passed to ``skl2onnx.to_onnx`` (e.g. ``target_opset``, ``options``);
            ``options`` defaults to ``{"zipmap": False}`` for classifiers with
            ``predict_proba``.

    Returns:
        The ONNX model.

    Raises:
        SerializationError: The sample data cannot describe the inputs, or skl2onnx
            cannot convert the model.
        MissingDependencyError: skl2onnx/onnxmltools is not installed (extra ``onnx``).
    """
    skl2onnx = require("skl2onnx", ONNX_EXTRA)
    data_types = require("skl2onnx.common.data_types", ONNX_EXTRA)
    sklearn_base = require("sklearn.base", "sklearn")
    composite = (
        require("sklearn.pipeline", "sklearn").Pipeline,
        require("sklearn.compose", "sklearn").ColumnTransformer,
    )
    inputs = _input_types(data_types, data, per_column=isinstance(model, composite))
    args = dict(kwargs)
    # Only classifiers with probabilities have a ZipMap (LinearSVC and hard voting do not).
    if (
        "options" not in args
        and sklearn_base.is_classifier(model)
        and hasattr(model, "predict_proba")
    ):
        args["options"] = {"zipmap": False}
    boosting = _boosting_libraries(model)
    for library in sorted(boosting):
        _register_converters(library)
    if boosting:
        args.setdefault("target_opset", _default_target_opset(skl2onnx))
    if "xgboost" in boosting:
        model = _without_xgboost_feature_names(model)
    with _converting(model):
        proto: onnx.ModelProto = skl2onnx.to_onnx(model, initial_types=inputs, **args)
    return proto


def _dynamic_batch_outputs(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Declare a dynamic batch dimension on outputs that claim a fixed batch of 1.

    onnxmltools' LightGBM converter declares the ``label`` output as ``[1]``; onnxruntime
    then logs a shape warning on every run with more than one row.
    """
    for output in proto.graph.output:
        if output.type.WhichOneof("value") != "tensor_type":
            continue
        dims = output.type.tensor_type.shape.dim
        if dims and dims[0].WhichOneof("value") == "dim_value" and dims[0].dim_value == 1:
            dims[0].Clear()
    return proto


def without_zipmap(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Drop ``ZipMap`` nodes so probabilities come out as a ``[N, n_classes]`` float tensor.

    For converters without a ``zipmap=False`` option (CatBoost's own export): the graph
    output of each ``ZipMap`` is produced directly by the node feeding it.

    Args:
        proto: The ONNX model, changed in place.

    Returns:
        ``proto``.
    """
    onnx_module = require("onnx", ONNX_EXTRA)
    graph = proto.graph
    for zipmap in [node for node in graph.node if node.op_type == "ZipMap"]:
        source, target = zipmap.input[0], zipmap.output[0]
        graph.node.remove(zipmap)
        for node in graph.node:
            for index, name in enumerate(node.output):
                if name == source:
                    node.output[index] = target
        for output in graph.output:
            if output.name == target:
                output.type.CopyFrom(
                    onnx_module.helper.make_tensor_type_proto(
                        onnx_module.TensorProto.FLOAT, [None, None]
                    )
                )
    return proto


def _booster_inputs(data: Any) -> list[tuple[str, Any]]:
    data_types = require("onnxmltools.convert.common.data_types", ONNX_EXTRA)
    return _input_types(data_types, data, per_column=False)


def lightgbm_booster_to_onnx(
    booster: Any, data: Any, classifier: bool, kwargs: dict[str, Any]
) -> onnx.ModelProto:
    """Convert a ``lightgbm.Booster`` with ``onnxmltools.convert_lightgbm``.

    Args:
        booster: The booster.
        data: The numeric sample data.
        classifier: Whether the booster classifies (outputs ``label`` and
            ``probabilities`` then).
        kwargs: Passed to ``convert_lightgbm`` (e.g. ``target_opset``); ``zipmap``
            defaults to ``False``.

    Returns:
        The ONNX model.

    Raises:
        SerializationError: The booster cannot be converted.
        MissingDependencyError: onnxmltools is not installed (extra ``onnx``).
    """
    onnxmltools = require("onnxmltools", ONNX_EXTRA)
    args = dict(kwargs)
    if classifier:
        args.setdefault("zipmap", False)
    inputs = _booster_inputs(data)
    with _converting(booster):
        proto: onnx.ModelProto = onnxmltools.convert_lightgbm(booster, initial_types=inputs, **args)
    return _dynamic_batch_outputs(proto)


def xgboost_booster_to_onnx(booster: Any, data: Any, kwargs: dict[str, Any]) -> onnx.ModelProto:
    """Convert an ``xgboost.Booster`` with ``onnxmltools.convert_xgboost``.

    Args:
        booster: The booster (its feature names are dropped on a copy; see
            :func:`_without_xgboost_feature_names`).
        data: The numeric sample data.
        kwargs: Passed to ``convert_xgboost`` (e.g. ``target_opset``).

    Returns:
        The ONNX model.

    Raises:
        SerializationError: The booster cannot be converted.
        MissingDependencyError: onnxmltools is not installed (extra ``onnx``).
    """
    onnxmltools = require("onnxmltools", ONNX_EXTRA)
    inputs = _booster_inputs(data)
    with _converting(booster):
        unnamed = booster.copy()
        unnamed.feature_names = None
        proto: onnx.ModelProto = onnxmltools.convert_xgboost(
            unnamed, initial_types=inputs, **kwargs
        )
    return proto
