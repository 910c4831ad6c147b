"""SPC statistics computed with numpy are scouter's: the same samples, center and limits (to
the rounding of scouter's own row-by-row sums), features and config, on every kind of
numeric data; NaN and infinite values are refused; a one-row last sample no longer makes
every limit NaN; and no temporary grows with the data."""

from __future__ import annotations

import json
import math
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

pytest.importorskip("scouter")


from tests.unit.interfaces._drift_peers import opsml_profile, scouter_profile

from opsml.errors import InvalidArgumentError
from opsml.interfaces._numeric import numpy_columns, pandas_columns
from opsml.interfaces._spc import SPC_LIMITS, sample_size, spc_statistics
from opsml.scouter.alert import SpcAlertConfig
from opsml.scouter.drift import SpcDriftConfig, SpcDriftProfile

RNG = np.random.default_rng(20261205)


def _scouter(data: Any, config: Any | None = None) -> Any:
    return scouter_profile(data, config or SpcDriftConfig())


def _ours(data: Any, config: Any | None = None) -> Any:
    return opsml_profile("spc", data, config or SpcDriftConfig())


def _numbers(feature: Any) -> dict[str, float]:
    return {limit: getattr(feature, limit) for limit in SPC_LIMITS}


def _close(got: dict[str, float], want: dict[str, float], rtol: float) -> bool:
    """Every number within ``rtol`` of the feature's scale (the larger of |center| and
    sigma); exactly equal where the scale is zero."""
    scale = max(abs(want["center"]), want["one_ucl"] - want["center"])
    return all(abs(got[k] - want[k]) <= rtol * scale for k in SPC_LIMITS) if scale else got == want


def _tolerance(rows: int, float64: bool) -> float:
    """The docs' bound: the rounding of scouter's sums over a sample, n * unit roundoff."""
    return 4 * sample_size(rows) * (2.0**-53 if float64 else 2.0**-24)


def _same(data: Any, float64: bool, config_args: dict[str, Any] | None = None) -> None:
    ours = _ours(data, SpcDriftConfig(**(config_args or {})))
    theirs = _scouter(data, SpcDriftConfig(**(config_args or {})))
    assert isinstance(ours, SpcDriftProfile)
    assert set(ours.features) == set(theirs.features)
    rtol = _tolerance(len(data), float64)
    for name, feature in theirs.features.items():
        assert _close(_numbers(ours.features[name]), _numbers(feature), rtol), name
    dumps = [json.loads(profile.model_dump_json()) for profile in (ours, theirs)]
    for profile in dumps:
        for feature in profile["features"].values():
            assert feature.pop("id") in profile["features"]
            for key in (*SPC_LIMITS, "timestamp"):
                feature.pop(key)
        features = profile["config"]["alert_config"]["features_to_monitor"]
        profile["config"]["alert_config"]["features_to_monitor"] = sorted(features)
    assert dumps[0] == dumps[1]


@pytest.mark.parametrize(
    "rows",
    [2, 24, 25, 27, 999, 1_000, 1_002, 9_999, 10_000, 10_050, 99_999, 100_000, 100_002],
)
def test_float64_around_every_sample_size(rows: int) -> None:
    _same(RNG.normal(3, 2, size=(rows, 3)), float64=True)


@pytest.mark.parametrize("rows", [999_999, 1_000_000, 1_234_567])
def test_the_largest_samples(rows: int) -> None:
    _same(RNG.normal(size=(rows, 2)), float64=True)


@pytest.mark.parametrize(
    ("array", "float64"),
    [
        (RNG.normal(-5, 3, size=(5_003, 4)).astype(np.float32), False),
        (RNG.normal(size=(150_002, 2)).astype(np.float32), False),
        (RNG.integers(-1_000, 1_000, size=(20_000, 3)), False),  # cast to float32
        (RNG.integers(0, 2**40, size=(3_000, 2)), False),  # rounded to float32 first
        (RNG.integers(0, 9, size=(700, 2)).astype(np.int32), False),
        (np.asfortranarray(RNG.normal(size=(150_002, 4))), True),
        (RNG.normal(size=(60_004, 6))[::2], True),  # strided rows
        (RNG.normal(size=(30_000, 6))[:, ::2], True),  # strided columns
        (np.full((2_500, 2), 3.3), True),  # constant: sigma 0
        (np.zeros((150_000, 2)), True),
        (np.full((40_000, 2), 3.3, dtype=np.float32), False),
    ],
    ids=[
        "f32",
        "f32-150k",
        "int",
        "big-ints",
        "int32",
        "fortran",
        "strided-rows",
        "strided-columns",
        "constant",
        "zeros",
        "constant-f32",
    ],
)
def test_numpy_arrays_of_every_kind(array: np.ndarray, float64: bool) -> None:
    _same(array, float64)


def test_pandas_and_polars_frames() -> None:
    rows = 30_002
    values = RNG.normal(size=(rows, 3))
    view = pd.DataFrame(values, columns=["a", "b", "c"], copy=False)
    _same(view, float64=True)
    columns = pandas_columns(view, lambda head: head)
    assert columns is not None
    assert columns.array is not None  # its columns read as one 2-dimensional array
    floats = pd.DataFrame({"a": RNG.normal(size=rows), "b": RNG.exponential(size=rows)})
    _same(floats, float64=True)
    mixed = floats.assign(c=RNG.integers(0, 9, rows), d=floats["a"].astype(np.float32))
    _same(mixed, float64=True)  # integers and floats: float64
    ints = pd.DataFrame({"x": RNG.integers(0, 100, rows), "y": RNG.integers(-5, 5, rows)})
    _same(ints, float64=False)  # only integers: float32
    _same(pl.from_pandas(mixed), float64=True)
    f32 = pl.DataFrame({"p": RNG.normal(size=rows)}, schema={"p": pl.Float32})
    _same(f32, float64=False)


def test_a_pandas_frame_is_read_column_by_column_without_polars(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = pd.DataFrame({"a": RNG.normal(size=5_000), "n": RNG.integers(0, 9, 5_000)})
    expected = _scouter(frame)

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("converted to polars")

    monkeypatch.setattr(pl, "from_pandas", refuse)
    ours = _ours(frame)
    for name, feature in expected.features.items():
        assert _close(_numbers(ours.features[name]), _numbers(feature), 1e-12)


def _exact(array: np.ndarray, float64: bool) -> list[tuple[float, float]]:
    """Center and sigma of each column, from exactly rounded sums (``math.fsum``)."""
    size = sample_size(len(array))
    values = array.astype(np.float64 if float64 else np.float32).astype(np.float64)
    n = np.float32(size)
    c4 = float((np.float32(4) * n - np.float32(4)) / (np.float32(4) * n - np.float32(3)))
    result = []
    for column in values.T:
        samples = [column[start : start + size] for start in range(0, len(column), size)]
        means = [math.fsum(sample) / len(sample) for sample in samples]
        stds = [
            math.sqrt(math.fsum((sample - mean) ** 2) / (len(sample) - 1))
            for sample, mean in zip(samples, means, strict=True)
            if len(sample) > 1
        ]
        result.append((math.fsum(means) / len(means), math.fsum(stds) / len(stds) / c4))
    return result


def _center_and_sigma(profile: Any, name: str) -> tuple[float, float]:
    feature = profile.features[name]
    return feature.center, feature.one_ucl - feature.center


@pytest.mark.parametrize(
    ("array", "float64", "rtol"),
    [
        (RNG.normal(1e6, 1, size=(250_000, 2)), True, 1e-13),
        (RNG.normal(size=(1_000_001, 1)), True, 1e-13),
        (RNG.normal(100, 3, size=(50_000, 2)).astype(np.float32), False, 2e-7),
    ],
    ids=["f64-offset", "f64-1M", "f32"],
)
def test_the_statistics_are_the_exact_ones(array: np.ndarray, float64: bool, rtol: float) -> None:
    profile = _ours(array)
    for index, (center, sigma) in enumerate(_exact(array, float64)):
        got_center, got_sigma = _center_and_sigma(profile, f"feature_{index}")
        assert got_center == pytest.approx(center, abs=rtol * abs(center))
        assert got_sigma == pytest.approx(sigma, abs=rtol * abs(center) + 1e-6 * sigma)


def test_float32_centers_where_scouters_row_by_row_sums_drift() -> None:
    """Samples of 100 000 values near 10 000 sum past float32's exact range: scouter's
    center is off by several sigma, opsml's is the exact one to float32 precision."""
    array = RNG.normal(10_000, 1, size=(1_000_000, 1)).astype(np.float32)
    ((center, sigma),) = _exact(array, float64=False)
    ours = _center_and_sigma(_ours(array), "feature_0")
    theirs = _center_and_sigma(_scouter(array), "feature_0")
    assert abs(ours[0] - center) < 0.01 * sigma
    assert abs(ours[1] - sigma) < 0.01 * sigma
    assert abs(theirs[0] - center) > sigma  # the documented difference, within its bound
    assert abs(ours[0] - theirs[0]) <= _tolerance(len(array), float64=False) * center


def test_a_one_row_last_sample_is_left_out_of_sigma() -> None:
    array = RNG.normal(size=(1_001, 2))  # samples of 100: the last has one row
    theirs = _scouter(array)
    assert all(math.isnan(f.one_ucl) for f in theirs.features.values())  # scouter's NaN
    ours = _ours(array)
    full = _scouter(array[:1_000])  # the same samples but the last, same sample size
    for name, feature in ours.features.items():
        assert feature.center == pytest.approx(theirs.features[name].center, rel=1e-12)
        sigma = feature.one_ucl - feature.center
        expected = full.features[name].one_ucl - full.features[name].center
        assert sigma == pytest.approx(expected, rel=1e-12)


def test_a_single_row_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="two rows"):
        _ours(RNG.normal(size=(1, 3)))


@pytest.mark.parametrize("row", [0, 123_456, 199_999])
def test_a_nan_names_its_column(row: int) -> None:
    array = RNG.normal(size=(200_000, 3))
    array[row, 1] = np.nan
    with pytest.raises(InvalidArgumentError, match=r"missing values .*feature_1"):
        _ours(array)
    frame = pd.DataFrame(array, columns=["a", "b", "c"])
    with pytest.raises(InvalidArgumentError, match=r"missing values .*\bb\b"):
        _ours(frame)


def test_infinite_values_are_refused() -> None:
    array = RNG.normal(size=(5_000, 3))
    array[7, 0] = np.inf
    array[8, 2], array[9, 2] = np.inf, -np.inf  # a NaN mean, yet no missing value
    with pytest.raises(InvalidArgumentError, match=r"infinite values.*feature_0, feature_2"):
        _ours(array)
    frame = pl.DataFrame({"a": array[:, 0], "b": array[:, 1]})
    with pytest.raises(InvalidArgumentError, match=r"infinite values.*\ba\b"):
        _ours(frame)


def test_config_is_kept_and_checked() -> None:
    array = RNG.normal(size=(500, 3))
    _same(array, True, {"space": "s", "name": "n", "version": "1.2.3", "sample_size": 7})
    watched = SpcDriftConfig(alert_config=SpcAlertConfig(features_to_monitor=["feature_2"]))
    _same(array, True, {"alert_config": watched.alert_config})
    assert _ours(array, watched).config.alert_config.features_to_monitor == ["feature_2"]
    unknown = SpcDriftConfig(alert_config=SpcAlertConfig(features_to_monitor=["nope"]))
    with pytest.raises(InvalidArgumentError, match="nope"):
        _ours(array, unknown)


def test_string_and_categorical_features_still_go_through_scouter() -> None:
    rows = 400
    frame = pd.DataFrame(
        {"n": RNG.normal(size=rows), "kind": RNG.choice(["a", "b", "c"], size=rows)}
    )
    ours, theirs = _ours(frame), _scouter(frame)
    assert ours.config.feature_map.features == theirs.config.feature_map.features
    for name, feature in theirs.features.items():
        assert _numbers(ours.features[name]) == _numbers(feature)


def test_no_temporary_grows_with_the_data() -> None:
    for array in (RNG.normal(size=(400_000, 10)), RNG.integers(0, 99, size=(400_000, 10))):
        columns = numpy_columns(array)
        assert columns is not None
        tracemalloc.start()
        try:
            spc_statistics(columns)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 1_000_000 < array.nbytes / 10
