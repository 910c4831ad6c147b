"""create_fake_data: deterministic, correctly shaped, learnable frames."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from opsml.errors import InvalidArgumentError, MissingDependencyError
from opsml.helpers.data import create_fake_data


def test_defaults_match_opsml3_shape_and_names() -> None:
    x, y = create_fake_data()

    assert x.shape == (100, 10)
    assert list(x.columns) == [f"col_{i}" for i in range(10)]
    assert (x.dtypes == "float64").all()
    assert list(y.columns) == ["target"]
    assert y["target"].dtype == "int64"
    assert set(y["target"]) == {0, 1}


def test_categorical_features_come_last_as_strings() -> None:
    x, _ = create_fake_data(n_samples=200, n_features=5, n_categorical_features=2, n_classes=3)

    assert list(x.columns) == ["col_0", "col_1", "col_2", "cat_col_0", "cat_col_1"]
    for column in ("cat_col_0", "cat_col_1"):
        assert pd.api.types.is_string_dtype(x[column])
        assert set(x[column]) == {"0", "1", "2"}


def test_same_arguments_give_the_same_frames_and_seeds_differ() -> None:
    first = create_fake_data(n_samples=30, n_categorical_features=3, random_state=7)
    again = create_fake_data(n_samples=30, n_categorical_features=3, random_state=7)
    other = create_fake_data(n_samples=30, n_categorical_features=3, random_state=8)

    pd.testing.assert_frame_equal(first[0], again[0])
    pd.testing.assert_frame_equal(first[1], again[1])
    assert not first[0].equals(other[0])


def test_classification_is_learnable_and_uses_every_class() -> None:
    x, y = create_fake_data(n_samples=500, n_features=6, n_classes=4, random_state=3)

    accuracy = LogisticRegression(max_iter=1000).fit(x, y["target"]).score(x, y["target"])

    assert set(y["target"]) == {0, 1, 2, 3}
    assert accuracy > 0.85


def test_regression_target_is_a_learnable_float() -> None:
    x, y = create_fake_data(n_samples=300, n_features=4, task_type="regression")

    assert y["target"].dtype == np.float64
    assert LinearRegression().fit(x, y["target"]).score(x, y["target"]) > 0.95


@pytest.mark.parametrize(
    "kwargs",
    [
        {"task_type": "clustering"},
        {"n_samples": 0},
        {"n_features": 0},
        {"n_features": 2, "n_categorical_features": 3},
        {"n_categorical_features": -1},
        {"n_classes": 1},
    ],
)
def test_invalid_arguments_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError):
        create_fake_data(**kwargs)  # type: ignore[arg-type]


def test_polars_output_needs_the_polars_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)

    with pytest.raises(MissingDependencyError) as info:
        create_fake_data(to_polars=True)

    assert info.value.extra == "polars"
