"""PSI bins computed with numpy are scouter's bins: the same edges, proportions, features
and config, on every kind of numeric data; NaN and infinities are handled as scouter
handles them (or refused with opsml's error where scouter would panic)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

pytest.importorskip("scouter")


from tests.unit.interfaces._drift_peers import opsml_profile, scouter_profile

from opsml import SklearnModel
from opsml.errors import InvalidArgumentError
from opsml.interfaces._psi import decile_bins
from opsml.scouter.drift import PsiDriftConfig, PsiDriftProfile, SpcDriftConfig

RNG = np.random.default_rng(20261204)


def _bins(profile: Any) -> dict[str, list[tuple[int, Any, Any, float]]]:
    return {
        name: sorted((b.id, b.lower_limit, b.upper_limit, b.proportion) for b in feature.bins)
        for name, feature in profile.features.items()
    }


def _scouter(data: Any, config: Any | None = None) -> Any:
    return scouter_profile(data, config or PsiDriftConfig())


def _ours(data: Any, config: Any | None = None) -> Any:
    return opsml_profile("psi", data, config or PsiDriftConfig())


def _same(data: Any, config_args: dict[str, Any] | None = None) -> None:
    ours = _ours(data, PsiDriftConfig(**(config_args or {})))
    theirs = _scouter(data, PsiDriftConfig(**(config_args or {})))
    assert isinstance(ours, PsiDriftProfile)
    mine, their = _bins(ours), _bins(theirs)
    assert set(mine) == set(their)
    for name, bins in mine.items():
        assert [b[0] for b in bins] == [b[0] for b in their[name]]
        for got, want in zip(bins, their[name], strict=True):
            for value, expected in zip(got[1:], want[1:], strict=True):
                if expected is None:  # a categorical bin has no edges
                    assert value is None
                    continue
                # ours is built through scouter's JSON parser, whose float parsing may move
                # a number by one unit in the last place (as it does to any profile that
                # scouter reads back from its file)
                assert value == expected or abs(value - expected) <= math.ulp(expected), name
    dumps = [json.loads(profile.model_dump_json()) for profile in (ours, theirs)]
    for profile in dumps:
        for feature in profile["features"].values():
            feature.pop("timestamp")
            feature.pop("bins")
        features = profile["config"]["alert_config"]["features_to_monitor"]
        profile["config"]["alert_config"]["features_to_monitor"] = sorted(features)
    assert dumps[0] == dumps[1]


@pytest.mark.parametrize(
    "array",
    [
        RNG.normal(size=(5_003, 4)),
        RNG.normal(size=(10, 2)),  # the fewest rows a decile needs
        RNG.normal(size=(13, 3)).astype(np.float32),
        RNG.integers(0, 5, size=(2_000, 3)),  # heavy ties: repeated and empty bins
        RNG.integers(-(2**40), 2**40, size=(1_000, 2)),  # ints scouter rounds to float32
        np.asfortranarray(RNG.normal(size=(1_001, 3))),
        np.zeros((50, 2)),  # every edge the same
    ],
    ids=["f64", "ten-rows", "f32", "ties", "big-ints", "fortran", "constant"],
)
def test_numpy_bins_are_scouters(array: np.ndarray) -> None:
    _same(array)
    for feature in _ours(array).features.values():
        assert [b.id for b in feature.bins] == list(range(1, 11))


def test_infinities_bin_as_scouter_bins_them() -> None:
    array = RNG.normal(size=(1_000, 2))
    array[:30, 0] = np.inf
    array[30:300, 1] = -np.inf  # -inf is in no bin for scouter: its edges start at -inf
    _same(array)
    bins = _bins(_ours(array))["feature_1"]
    assert math.fsum(p for *_, p in bins) == pytest.approx(0.73)


def test_polars_and_pandas_frames_bin_as_scouter_bins_them() -> None:
    rows = 3_001
    floats = pd.DataFrame({"a": RNG.normal(size=rows), "b": RNG.exponential(size=rows)})
    _same(floats)
    _same(pl.from_pandas(floats))
    mixed = floats.assign(c=RNG.integers(0, 9, size=rows))  # ints and floats: float64
    _same(mixed)
    ints = pd.DataFrame({"x": RNG.integers(0, 100, rows), "y": RNG.integers(-5, 5, rows)})
    _same(ints)  # only integers: float32
    f32 = pl.DataFrame({"p": RNG.normal(size=rows)}, schema={"p": pl.Float32})
    _same(f32)
    _same(pl.from_pandas(floats).with_columns(pl.col("b").cast(pl.Float32)))


def test_config_is_scouters_whatever_the_path() -> None:
    array = RNG.normal(size=(500, 3))
    _same(array, {"space": "s", "name": "n", "version": "1.2.3"})
    ours = _ours(array, PsiDriftConfig(space="s", name="n"))
    assert (ours.config.space, ours.config.name) == ("s", "n")


def test_categorical_and_string_features_still_go_through_scouter() -> None:
    rows = 400
    frame = pd.DataFrame(
        {"n": RNG.normal(size=rows), "kind": RNG.choice(["a", "b", "c"], size=rows)}
    )
    _same(frame)
    codes = pd.DataFrame({"n": RNG.normal(size=rows), "code": RNG.integers(0, 4, rows)})
    _same(codes, {"categorical_features": ["code"]})


@pytest.mark.parametrize("row", [0, 4_321, 9_999])
def test_a_nan_anywhere_is_refused_with_opsml_error(row: int) -> None:
    array = RNG.normal(size=(10_000, 3))
    array[row, 2] = np.nan
    with pytest.raises(InvalidArgumentError, match=r"missing values .*feature_2"):
        _ours(array)
    assert decile_bins(array[:, 2], float64=True) is None
    assert decile_bins(array[:, 1], float64=True) is not None


def test_too_few_rows_is_scouters_error() -> None:
    with pytest.raises(InvalidArgumentError, match="scouter could not create a PsiDrift"):
        _ours(RNG.normal(size=(9, 2)))


@pytest.mark.parametrize("row", [0, 500, 1_006])
def test_spc_refuses_nan_found_in_its_statistics(row: int) -> None:
    array = RNG.normal(size=(1_007, 4))  # 1 007 rows: a NaN in the last, partial sample
    array[row, 1] = np.nan
    with pytest.raises(InvalidArgumentError, match="missing values"):
        SklearnModel().create_drift_profile("spc", array, SpcDriftConfig())


def test_spc_refuses_infinite_values() -> None:
    array = RNG.normal(size=(500, 3))
    array[7, 0] = np.inf
    with pytest.raises(InvalidArgumentError, match=r"infinite values.*feature_0"):
        SklearnModel().create_drift_profile("spc", array, SpcDriftConfig())


def test_pandas_nan_and_nullable_columns() -> None:
    rows = 2_000
    frame = pd.DataFrame({"a": RNG.normal(size=rows), "b": RNG.normal(size=rows)})
    frame.loc[1_234, "b"] = np.nan
    with pytest.raises(InvalidArgumentError, match=r"missing values .*b"):
        _ours(frame)
    nullable = pd.DataFrame({"a": RNG.normal(size=rows), "n": pd.array(range(rows), "Int64")})
    _same(nullable)  # an extension dtype goes through polars
    nullable.loc[5, "n"] = pd.NA
    with pytest.raises(InvalidArgumentError, match=r"missing values .*n"):
        _ours(nullable)
    _same(frame.drop(columns="b").astype(np.float32))
