"""Fake tabular data for examples and tests: ``create_fake_data``."""

from __future__ import annotations

from typing import Any

from opsml._compat import require
from opsml.errors import InvalidArgumentError

__all__ = ["create_fake_data"]

_TASK_TYPES = ("classification", "regression")


def create_fake_data(
    n_samples: int = 100,
    n_features: int = 10,
    n_classes: int = 2,
    n_categorical_features: int = 0,
    task_type: str = "classification",
    random_state: int = 42,
    to_polars: bool = False,
) -> tuple[Any, Any]:
    """Create a deterministic, learnable tabular dataset.

    ``X`` has ``n_features - n_categorical_features`` float columns ``col_0, col_1, ...``
    drawn from a standard normal, then ``n_categorical_features`` string columns
    ``cat_col_0, ...`` whose values are ``"0" .. str(n_classes - 1)``. ``y`` has one column
    ``target``: for classification an ``int64`` class in ``[0, n_classes)`` given by a
    random linear function of the float columns plus noise; for regression a ``float64``
    linear function of them plus noise. The same arguments always give the same frames.

    Args:
        n_samples: Number of rows.
        n_features: Total number of feature columns.
        n_classes: Number of classes (also the number of categorical levels).
        n_categorical_features: How many of the features are categorical strings.
        task_type: ``"classification"`` or ``"regression"``.
        random_state: Seed of the random generator.
        to_polars: Return polars frames instead of pandas frames.

    Returns:
        ``(X, y)``: two pandas (or polars) DataFrames with ``n_samples`` rows.

    Raises:
        InvalidArgumentError: An argument is out of range.
        MissingDependencyError: numpy/pandas (extra ``pandas``) or polars (extra
            ``polars``) is not installed.
    """
    task = task_type.lower()
    if task not in _TASK_TYPES:
        raise InvalidArgumentError(f"task_type must be one of {_TASK_TYPES}, got {task_type!r}")
    if n_samples < 1 or n_features < 1:
        raise InvalidArgumentError("n_samples and n_features must be at least 1")
    if not 0 <= n_categorical_features <= n_features:
        raise InvalidArgumentError("n_categorical_features must be between 0 and n_features")
    if n_classes < 2 and (task == "classification" or n_categorical_features > 0):
        raise InvalidArgumentError("n_classes must be at least 2")

    np = require("numpy", "pandas")
    pd = require("pandas", "pandas")
    pl = require("polars", "polars") if to_polars else None

    rng = np.random.default_rng(random_state)
    n_numeric = n_features - n_categorical_features
    numeric = rng.standard_normal((n_samples, n_numeric))
    x = pd.DataFrame(numeric, columns=[f"col_{i}" for i in range(n_numeric)])
    for i in range(n_categorical_features):
        levels = rng.integers(0, n_classes, size=n_samples)
        x[f"cat_col_{i}"] = pd.Series(levels.astype(str), dtype="str")

    if task == "classification":
        weights = rng.standard_normal((n_numeric, n_classes))
        scores = numeric @ weights + rng.normal(scale=0.1, size=(n_samples, n_classes))
        target = scores.argmax(axis=1).astype(np.int64)
    else:
        noise = rng.normal(scale=0.1, size=n_samples)
        target = numeric @ rng.standard_normal(n_numeric) + noise
    y = pd.DataFrame({"target": target})

    if pl is not None:
        return pl.from_pandas(x), pl.from_pandas(y)
    return x, y
