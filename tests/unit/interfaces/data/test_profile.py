"""Data profiles: the same statistics from every library, equal to numpy's reference values."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import torch

from opsml.data import (
    ArrowData,
    DataInterface,
    DataProfile,
    NumpyData,
    PandasData,
    PolarsData,
    TorchData,
)
from opsml.errors import InvalidArgumentError
from opsml.interfaces._profile import create_data_profile

RoundTrip = Callable[..., DataInterface]

N = 400
RNG = np.random.default_rng(7)
NORMAL = RNG.normal(10.0, 3.0, N)
NORMAL[::37] = np.nan  # NaN counts as missing
COUNTS = RNG.integers(-5, 50, N)
WITH_INF = RNG.random(N)
WITH_INF[:3] = [np.inf, -np.inf, np.inf]  # kept in min/max, left out of the histogram


def _reference(values: Any, bins: int) -> dict[str, Any]:
    """What every library must report for a numeric column, computed with plain numpy."""
    valid = values[~np.isnan(values)] if values.dtype.kind == "f" else values
    finite = valid[np.isfinite(valid)]
    counts, edges = np.histogram(finite, bins=bins)
    return {
        "count": valid.size,
        "null_count": values.size - valid.size,
        "min": float(valid.min()),
        "max": float(valid.max()),
        "distinct": np.unique(valid).size,
        "quantiles": np.quantile(valid, [0.25, 0.5, 0.75, 0.99]).tolist(),
        "bins": edges.tolist(),
        "bin_counts": counts.tolist(),
    }


def _frame(kind: str) -> tuple[Any, type[DataInterface]]:
    columns = {"normal": NORMAL, "counts": COUNTS, "with_inf": WITH_INF}
    if kind == "pandas":
        return pd.DataFrame(columns), PandasData
    if kind == "polars":
        frame = pl.DataFrame(columns)  # NaN stays NaN in polars: counted as missing too
        return frame.with_columns(pl.col("counts").cast(pl.Int16)), PolarsData
    if kind == "arrow":
        return pa.table(columns), ArrowData
    if kind == "numpy":
        return np.column_stack([NORMAL, COUNTS, WITH_INF]), NumpyData
    return torch.from_numpy(np.column_stack([NORMAL, COUNTS, WITH_INF])), TorchData


KINDS = ["pandas", "polars", "arrow", "numpy", "torch"]


def _names(kind: str) -> list[str]:
    if kind in ("numpy", "torch"):
        return ["feature_0", "feature_1", "feature_2"]
    return ["normal", "counts", "with_inf"]


@pytest.mark.parametrize("kind", KINDS)
def test_numeric_statistics_equal_numpy_reference(kind: str) -> None:
    data, interface_cls = _frame(kind)

    profile = interface_cls(data=data).create_data_profile(bin_size=7)

    assert list(profile.features) == _names(kind)
    for name, values in zip(_names(kind), (NORMAL, COUNTS, WITH_INF), strict=True):
        feature = profile.features[name]
        expected = _reference(values.astype(np.float64), bins=7)
        stats = feature.numeric_stats
        assert stats is not None
        assert (feature.count, feature.null_count) == (expected["count"], expected["null_count"])
        assert (stats.min, stats.max) == (expected["min"], expected["max"])
        assert stats.distinct.count == expected["distinct"]
        assert stats.distinct.percent == pytest.approx(expected["distinct"] / expected["count"])
        quantiles = [stats.quantiles.q25, stats.quantiles.q50, stats.quantiles.q75]
        assert [*quantiles, stats.quantiles.q99] == pytest.approx(expected["quantiles"])
        assert stats.histogram.bins == pytest.approx(expected["bins"], rel=1e-12)
        assert stats.histogram.bin_counts == expected["bin_counts"]


@pytest.mark.parametrize("kind", KINDS)
def test_mean_and_sample_stddev(kind: str) -> None:
    data, interface_cls = _frame(kind)

    features = interface_cls(data=data).create_data_profile().features

    normal = features[_names(kind)[0]].numeric_stats
    assert normal is not None
    assert normal.mean == pytest.approx(np.nanmean(NORMAL))
    assert normal.stddev == pytest.approx(np.nanstd(NORMAL, ddof=1))
    with_inf = features[_names(kind)[2]].numeric_stats
    assert with_inf is not None
    assert math.isnan(with_inf.mean) or math.isinf(with_inf.mean)


def test_text_columns_report_top_values_and_lengths() -> None:
    values = ["a", "bb", "a", None, "ccc", "a", "bb"]
    frames = [
        pd.DataFrame({"s": values}),
        pd.DataFrame({"s": pd.array(values, dtype="string")}),
        pl.DataFrame({"s": values}),
        pa.table({"s": values}),
    ]

    for frame in frames:
        feature = create_data_profile(frame, top_k=2).features["s"]

        assert (feature.count, feature.null_count) == (6, 1)
        assert feature.numeric_stats is None
        stats = feature.string_stats
        assert stats is not None
        assert stats.distinct.count == 3
        assert {k: v.count for k, v in stats.word_stats.words.items()} == {"a": 3, "bb": 2}
        assert list(stats.word_stats.words) == ["a", "bb"]
        assert stats.word_stats.words["a"].percent == pytest.approx(0.5)
        assert stats.char_stats is not None
        assert (stats.char_stats.min_length, stats.char_stats.max_length) == (1, 3)
        assert stats.char_stats.median_length == 1.5
        assert stats.char_stats.mean_length == pytest.approx(10 / 6)


def test_numpy_text_arrays_are_profiled_like_text() -> None:
    stats = create_data_profile(np.array(["x", "yy", "x"])).features["feature_0"].string_stats

    assert stats is not None
    assert {k: v.count for k, v in stats.word_stats.words.items()} == {"x": 2, "yy": 1}
    assert stats.char_stats is not None
    assert stats.char_stats.max_length == 2


def test_categories_booleans_and_timestamps_get_value_counts_without_lengths() -> None:
    frame = pd.DataFrame(
        {
            "flag": [True, False, True, True],
            "kind": pd.Categorical(["b", "a", "b", None], categories=["a", "b", "unused"]),
            "at": pd.to_datetime(["2024-01-01", None, "2024-01-01", "2024-01-02"], utc=True),
        }
    )

    features = create_data_profile(frame).features

    flag = features["flag"].string_stats
    assert flag is not None
    assert flag.char_stats is None
    assert {k: v.count for k, v in flag.word_stats.words.items()} == {"True": 3, "False": 1}
    kind = features["kind"].string_stats
    assert kind is not None
    assert kind.distinct.count == 2  # an unused category is not a value
    assert features["kind"].null_count == 1
    assert kind.char_stats is not None
    assert kind.char_stats.max_length == 1
    at = features["at"]
    assert (at.count, at.null_count) == (3, 1)
    assert at.string_stats is not None
    assert at.string_stats.distinct.count == 2


def test_empty_and_all_missing_columns_have_counts_only() -> None:
    frame = pd.DataFrame(
        {"x": [np.nan, np.nan], "s": [None, None], "i": pd.array([None, None], "Int64")}
    )

    features = create_data_profile(frame).features

    for name in ("x", "s", "i"):
        assert (features[name].count, features[name].null_count) == (0, 2)
        assert features[name].numeric_stats is None
        assert features[name].string_stats is None


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow"])
def test_nulls_and_nan_are_both_missing(kind: str) -> None:
    floats = [1.0, None, float("nan"), 4.0]
    ints = [None, 2, 2, 5]
    if kind == "pandas":
        data: Any = pd.DataFrame(
            {"f": pd.array(floats, dtype="float64[pyarrow]"), "i": pd.array(ints, dtype="Int8")}
        )
    elif kind == "polars":
        data = pl.DataFrame({"f": floats, "i": ints}, schema={"f": pl.Float64, "i": pl.Int8})
    else:
        data = pa.table({"f": pa.array(floats, from_pandas=False), "i": pa.array(ints, pa.int8())})

    features = create_data_profile(data).features

    f_stats, i_stats = features["f"].numeric_stats, features["i"].numeric_stats
    assert f_stats is not None
    assert i_stats is not None
    assert (features["f"].count, features["f"].null_count) == (2, 2)
    assert (f_stats.mean, f_stats.distinct.count, f_stats.histogram.bin_counts[-1]) == (2.5, 2, 1)
    assert (features["i"].count, features["i"].null_count) == (3, 1)
    assert (i_stats.min, i_stats.max, i_stats.distinct.count) == (2.0, 5.0, 2)


def test_nullable_integers_keep_exact_values() -> None:
    big = 2**62 + 1
    frame = pd.DataFrame({"i": pd.array([big, None, 1], dtype="Int64")})

    feature = create_data_profile(frame).features["i"]

    assert (feature.count, feature.null_count) == (2, 1)
    assert feature.numeric_stats is not None
    assert feature.numeric_stats.max == float(big)
    assert feature.numeric_stats.distinct.count == 2


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow", "numpy"])
def test_correlations_on_request(kind: str) -> None:
    x = np.linspace(0, 1, 50)
    columns = {"x": x, "double": 2 * x + 1, "negative": -x}
    if kind == "numpy":
        data: Any = np.column_stack(list(columns.values()))
        names = ["feature_0", "feature_1", "feature_2"]
    else:
        module = {"pandas": pd, "polars": pl, "arrow": pa}[kind]
        data = module.table(columns) if kind == "arrow" else module.DataFrame(columns)
        names = list(columns)

    assert create_data_profile(data).features[names[0]].correlations is None
    features = create_data_profile(data, compute_correlations=True).features

    assert features[names[0]].correlations == pytest.approx({names[1]: 1.0, names[2]: -1.0})
    assert features[names[2]].correlations == pytest.approx({names[0]: -1.0, names[1]: -1.0})


def test_bin_size_and_top_k_are_respected() -> None:
    profile = create_data_profile(np.arange(100.0), bin_size=4)
    stats = profile.features["feature_0"].numeric_stats

    assert stats is not None
    assert stats.histogram.bin_counts == [25, 25, 25, 25]
    assert len(stats.histogram.bins) == 5
    with pytest.raises(InvalidArgumentError, match="at least 1"):
        create_data_profile(np.arange(3.0), bin_size=0)


def test_a_constant_column_gets_one_unit_wide_range() -> None:
    stats = create_data_profile(np.full(5, 3.0), bin_size=2).features["feature_0"].numeric_stats

    assert stats is not None
    assert stats.histogram.bins == [2.5, 3.0, 3.5]
    assert stats.histogram.bin_counts == [0, 5]
    assert stats.stddev == 0.0


def test_profile_json_round_trip_keeps_infinities_and_nan(tmp_path: Path) -> None:
    profile = create_data_profile(np.array([1.0, np.inf, np.nan]))

    text = profile.model_dump_json()
    json.loads(text)  # strict JSON: infinities are written as strings

    assert DataProfile.model_validate_json(text).model_dump_json() == text
    stats = DataProfile.model_validate_json(text).features["feature_0"].numeric_stats
    assert stats is not None
    assert stats.max == math.inf
    written = profile.save_to_json(tmp_path / "p.json")
    assert written.read_text() == text


def test_unsupported_data_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match=r"cannot profile a builtins\.dict"):
        create_data_profile({"a": [1]})
    with pytest.raises(InvalidArgumentError, match="has no data to profile"):
        PandasData().create_data_profile()


def test_profile_is_saved_with_the_data_and_loaded_back(
    round_trip: RoundTrip, tmp_path: Path
) -> None:
    interface = PandasData(data=pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "x"]}))
    profile = interface.create_data_profile()

    assert interface.data_profile is profile
    metadata = interface.save(tmp_path / "direct")
    assert metadata.save_metadata.data_profile_uri == Path("data-profile.json")
    assert (tmp_path / "direct" / "data-profile.json").is_file()
    assert round_trip(interface).data_profile == profile


def test_a_larger_frame_matches_numpy_and_stays_consistent() -> None:
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(200_000, 4))
    matrix[rng.integers(0, 200_000, 500), 1] = np.nan

    profile = create_data_profile(pd.DataFrame(matrix, columns=list("abcd")))

    for i, name in enumerate("abcd"):
        expected = _reference(matrix[:, i], bins=20)
        stats = profile.features[name].numeric_stats
        assert stats is not None
        assert profile.features[name].null_count == expected["null_count"]
        assert stats.histogram.bin_counts == expected["bin_counts"]
        assert stats.distinct.count == expected["distinct"]
        assert stats.stddev == pytest.approx(np.nanstd(matrix[:, i], ddof=1), rel=1e-12)
