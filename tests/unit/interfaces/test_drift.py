"""Drift profiles of interfaces: made from pandas 3 (and every other frame) through scouter-ml,
saved as ``drift/<alias>.json`` and read back; bad input raises opsml's errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from scouter.drift import Drifter
from sklearn.linear_model import LogisticRegression

from opsml.data import DataType, PandasData, PolarsData
from opsml.errors import InvalidArgumentError, SerializationError
from opsml.interfaces import resolve_interface
from opsml.model import ModelInterfaceMetadata, SklearnModel
from opsml.scouter.alert import AlertThreshold
from opsml.scouter.drift import (
    CustomDriftProfile,
    CustomMetric,
    CustomMetricDriftConfig,
    LLMDriftConfig,
    LLMDriftProfile,
    LLMMetric,
    PsiDriftConfig,
    PsiDriftProfile,
    SpcDriftConfig,
    SpcDriftProfile,
)
from opsml.scouter.types import DataType as ScouterDataType
from opsml.types import DriftProfileMap


@pytest.fixture
def mixed() -> pd.DataFrame:
    """Numeric and categorical columns of every pandas 3 kind: float, int, category, str,
    bool."""
    rng = np.random.default_rng(7)
    n = 300
    return pd.DataFrame(
        {
            "amount": rng.normal(10, 2, n),
            "count": rng.integers(0, 50, n),
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
            "city": pd.Series(rng.choice(["oslo", "lima", "kyiv"], n), dtype="str"),
            "member": rng.random(n) > 0.5,
        }
    )


def _custom_metric(name: str = "mae") -> CustomMetric:
    return CustomMetric(name=name, value=0.5, alert_threshold=AlertThreshold.Above)


def test_the_suite_runs_on_pandas_3_which_scouter_itself_refuses(mixed: pd.DataFrame) -> None:
    assert int(pd.__version__.split(".")[0]) >= 3
    with pytest.raises(RuntimeError, match="Data type not supported"):
        Drifter().create_drift_profile(mixed, SpcDriftConfig())


@pytest.mark.parametrize("config", [SpcDriftConfig(), PsiDriftConfig()], ids=["spc", "psi"])
def test_pandas_3_frame_with_mixed_columns_profiles_every_column(
    mixed: pd.DataFrame, config: SpcDriftConfig | PsiDriftConfig
) -> None:
    interface = PandasData(data=mixed)
    profile = interface.create_drift_profile("drift", mixed, config)

    assert sorted(profile.features) == sorted(mixed.columns)
    assert interface.drift_profile["drift"] is profile
    # Non-numeric columns are categorical features, mapped value by value.
    mapped = profile.config.feature_map.features
    assert sorted(mapped) == ["city", "colour", "member"]
    assert set(mapped["colour"]) >= {"red", "green", "blue"}
    assert set(mapped["member"]) >= {"true", "false"}


def test_pandas_profile_equals_the_profile_of_the_same_polars_frame(mixed: pd.DataFrame) -> None:
    from_pandas = SklearnModel().create_drift_profile("spc", mixed, SpcDriftConfig())
    as_polars = pl.from_pandas(mixed).with_columns(pl.col("colour", "member").cast(pl.String))
    from_polars = Drifter().create_drift_profile(as_polars, SpcDriftConfig())

    for name in ("amount", "count"):
        ours, theirs = from_pandas.features[name], from_polars.features[name]
        assert ours.center == pytest.approx(theirs.center)
        assert ours.one_ucl == pytest.approx(theirs.one_ucl)
    assert ours.center == pytest.approx(float(mixed["count"].mean()))


def test_psi_bins_of_a_categorical_column_count_its_values(mixed: pd.DataFrame) -> None:
    profile = SklearnModel().create_drift_profile("psi", mixed, PsiDriftConfig())
    assert isinstance(profile, PsiDriftProfile)
    proportions = [b.proportion for b in profile.features["colour"].bins]
    assert sum(proportions) == pytest.approx(1.0)
    expected = mixed["colour"].value_counts(normalize=True).sort_values().to_numpy()
    assert sorted(p for p in proportions if p > 0) == pytest.approx(list(expected))


@pytest.mark.parametrize(
    "as_data",
    [
        lambda f: f,
        pl.from_pandas,
        lambda f: pa.Table.from_pandas(f, preserve_index=False),
        lambda f: f.to_numpy(),
        lambda f: PandasData(data=f),
        lambda f: PolarsData(data=pl.from_pandas(f)),
    ],
    ids=["pandas", "polars", "arrow", "numpy", "pandas-interface", "polars-interface"],
)
def test_every_frame_kind_profiles(mixed: pd.DataFrame, as_data: object) -> None:
    numeric = mixed[["amount", "count"]].astype("float64")
    profile = SklearnModel().create_drift_profile("spc", as_data(numeric))  # type: ignore[operator]
    assert isinstance(profile, SpcDriftProfile)
    assert len(profile.features) == 2


def test_custom_and_llm_metrics_make_their_profiles() -> None:
    from scouter.llm import Prompt, Score

    interface = SklearnModel()
    custom = interface.create_drift_profile("custom", _custom_metric(), CustomMetricDriftConfig())
    assert isinstance(custom, CustomDriftProfile)
    prompt = Prompt(
        message="Rate the relevance of ${response} to ${input}",
        model="gpt-4o",
        provider="openai",
        response_format=Score,
    )
    metric = LLMMetric("relevance", 4.0, AlertThreshold.Below, 1.0, prompt=prompt)
    llm = interface.create_drift_profile("llm", [metric], LLMDriftConfig())
    assert isinstance(llm, LLMDriftProfile)
    assert list(interface.drift_profile) == ["custom", "llm"]


def test_data_type_may_be_given_as_opsml_or_scouter_type_and_must_match(
    mixed: pd.DataFrame,
) -> None:
    numeric = mixed[["amount"]]
    interface = SklearnModel()
    interface.create_drift_profile("a", numeric, PsiDriftConfig(), DataType.Pandas)
    interface.create_drift_profile("b", numeric, PsiDriftConfig(), ScouterDataType.Pandas)
    with pytest.raises(InvalidArgumentError, match="data_type=Polars does not match"):
        interface.create_drift_profile("c", numeric, PsiDriftConfig(), DataType.Polars)


@pytest.mark.parametrize(
    ("alias", "data", "config", "message"),
    [
        ("../x", pd.DataFrame({"a": [1.0]}), None, "names the profile's file"),
        ("a", pd.DataFrame({"a": [1.0, None]}), None, r"missing values .* a"),
        ("a", pd.DataFrame({"s": ["x", None]}), PsiDriftConfig(), r"missing values .* s"),
        ("a", np.array([[1.0], [np.nan]]), PsiDriftConfig(), "missing values"),
        ("a", pl.DataFrame({"a": [1.0, float("nan")]}), None, "missing values"),
        ("a", pd.DataFrame({0: [1.0, 2.0]}), None, "named by strings"),
        ("a", pd.DataFrame({"a": [1.0, 2.0]}), "psi", "config must be"),
        ("a", pd.DataFrame({"a": [1.0, 2.0]}), CustomMetricDriftConfig(), "CustomMetric"),
        ("a", [1, 2, 3], None, "pandas, polars or numpy"),
        ("a", np.array([1.0, 2.0]), None, "2-dimensional"),
        ("a", pd.DataFrame({"a": [1.0, 2.0, 3.0]}), PsiDriftConfig(), "scouter could not"),
    ],
    ids=[
        "alias",
        "nan",
        "null-string",
        "numpy-nan",
        "polars-nan",
        "int-column-name",
        "config",
        "custom-with-frame",
        "list",
        "1d-array",
        "too-few-rows",
    ],
)
def test_bad_input_raises_invalid_argument(
    alias: str, data: object, config: object, message: str, capfd: pytest.CaptureFixture[str]
) -> None:
    interface = SklearnModel()
    with pytest.raises(InvalidArgumentError, match=message):
        interface.create_drift_profile(alias, data, config)
    assert interface.drift_profile.is_empty()
    assert "panicked" not in capfd.readouterr().err


def test_drift_profile_argument_takes_a_dict_or_map_of_profiles(mixed: pd.DataFrame) -> None:
    profile = Drifter().create_drift_profile([_custom_metric()], CustomMetricDriftConfig())
    assert SklearnModel(drift_profile={"c": profile}).drift_profile["c"] is profile
    profiles = DriftProfileMap()
    profiles.add_profile("c", profile)
    assert PandasData(data=mixed, drift_profile=profiles).drift_profile["c"] is profile
    with pytest.raises(InvalidArgumentError, match="must be an SpcDriftProfile"):
        SklearnModel(drift_profile={"c": "not a profile"})
    with pytest.raises(InvalidArgumentError, match="dict of alias"):
        SklearnModel(drift_profile=[profile])  # type: ignore[arg-type]


def test_model_interface_saves_profiles_as_files_and_loads_them_back(
    mixed: pd.DataFrame, tmp_path: Path
) -> None:
    numeric = mixed[["amount", "count"]]
    model = LogisticRegression().fit(numeric, mixed["member"])
    interface = SklearnModel(model=model, sample_data=numeric)
    interface.create_drift_profile("spc", mixed)
    interface.create_drift_profile("psi", mixed, PsiDriftConfig())
    interface.create_drift_profile("custom", [_custom_metric()], CustomMetricDriftConfig())

    stored = interface.save(tmp_path).model_dump_json()
    metadata = ModelInterfaceMetadata.model_validate_json(stored)
    uris = metadata.save_metadata.drift_profile_uri_map
    assert uris is not None
    assert {a: (str(u.uri), u.drift_type) for a, u in uris.items()} == {
        "spc": ("drift/spc.json", "Spc"),
        "psi": ("drift/psi.json", "Psi"),
        "custom": ("drift/custom.json", "Custom"),
    }
    assert json.loads((tmp_path / "drift/psi.json").read_text())["config"]["drift_type"] == "Psi"

    loaded = resolve_interface(metadata)
    loaded.load(tmp_path, metadata.save_metadata)
    assert list(loaded.drift_profile) == ["spc", "psi", "custom"]
    again, before = (
        json.loads(i.drift_profile["psi"].model_dump_json()) for i in (loaded, interface)
    )
    assert again["config"] == before["config"]
    for name, feature in before["features"].items():  # scouter's JSON floats lose a last digit
        for key in ("proportion", "upper_limit"):
            values = [b[key] for b in again["features"][name]["bins"]]
            assert values == pytest.approx([b[key] for b in feature["bins"]])


def test_an_interface_without_profiles_writes_no_drift_folder(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    metadata = PandasData(data=frame).save(tmp_path)
    assert metadata.save_metadata.drift_profile_uri_map is None
    assert not (tmp_path / "drift").exists()


def test_a_damaged_profile_file_fails_to_load_as_serialization_error(
    mixed: pd.DataFrame, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    interface = PandasData(data=mixed)
    interface.create_drift_profile("spc", mixed)
    metadata = interface.save(tmp_path)
    for content in ("{not json", "[1, 2]"):
        (tmp_path / "drift/spc.json").write_text(content)
        with pytest.raises(SerializationError, match="spc"):
            PandasData().load(tmp_path, metadata.save_metadata)
    assert "panicked" not in capfd.readouterr().err
    # JSON that scouter cannot read as a profile: scouter panics (and prints so), opsml
    # raises. (A stored card's files are verified first, so only a bad writer gets here.)
    (tmp_path / "drift/spc.json").write_text('{"config": {}}')
    with pytest.raises(SerializationError, match="spc"):
        PandasData().load(tmp_path, metadata.save_metadata)
