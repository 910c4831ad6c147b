"""FeatureSchema generation: names, dtypes and shapes only, and dict-like access."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from opsml.data import DataType, Feature, FeatureSchema, generate_feature_schema


def test_dataframe_gives_one_feature_per_column_in_order() -> None:
    frame = pd.DataFrame(
        {
            "b": pd.array([1, None], dtype="Int64"),
            "a": pd.Categorical(["x", "y"]),
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("UTC"),
            3: [1.0, 2.0],
        }
    )

    schema = generate_feature_schema(frame)

    assert list(schema) == ["b", "a", "when", "3"]
    assert schema["b"] == Feature("Int64", [1])
    assert schema["a"].feature_type == "category"
    assert schema["when"].feature_type == str(frame["when"].dtype)
    assert schema["3"].feature_type == "float64"


def test_series_is_named_after_itself() -> None:
    assert list(generate_feature_schema(pd.Series([1, 2], name="age"))) == ["age"]
    assert generate_feature_schema(pd.Series([1.0]))["series"].feature_type == "float64"


def test_array_keeps_its_full_shape() -> None:
    schema = generate_feature_schema(np.zeros((5, 3, 2), dtype=np.float16))

    assert dict(schema.items) == {"numpy_array": Feature("float16", [5, 3, 2])}


def test_dict_of_arrays_gives_one_feature_per_key() -> None:
    schema = generate_feature_schema({"ids": np.arange(4), "img": np.zeros((4, 8, 8), np.uint8)})

    assert schema["ids"] == Feature("int64", [4])
    assert schema["img"] == Feature("uint8", [4, 8, 8])


@pytest.mark.parametrize(
    "other",
    [None, [1, 2, 3], "text", {}, {"a": [1, 2]}, {"a": np.zeros(2), "b": [1]}],
    ids=["none", "list", "str", "empty-dict", "dict-of-lists", "mixed-dict"],
)
def test_anything_else_gives_an_empty_schema(other: object) -> None:
    schema = generate_feature_schema(other)

    assert len(schema) == 0
    assert list(schema) == []


def test_data_type_argument_is_accepted_for_compatibility() -> None:
    frame = pd.DataFrame({"a": [1]})

    assert generate_feature_schema(frame, DataType.Pandas) == generate_feature_schema(frame)


def test_schema_reads_like_a_dict() -> None:
    schema = FeatureSchema({"a": Feature("int64", [1]), "b": Feature("str", [1], {"k": "v"})})

    assert len(schema) == 2
    assert "a" in schema
    assert "z" not in schema
    assert list(schema) == ["a", "b"]
    assert schema["b"].extra_args == {"k": "v"}
    with pytest.raises(KeyError):
        schema["z"]


def test_schema_json_round_trip() -> None:
    schema = generate_feature_schema(pd.DataFrame({"a": [1], "b": ["x"]}))

    restored = FeatureSchema.model_validate_json(schema.model_dump_json())

    assert restored == schema
    assert json.loads(schema.model_dump_json())["items"]["a"] == {
        "feature_type": "int64",
        "shape": [1],
        "extra_args": {},
    }


def test_importing_interfaces_and_generating_a_schema_imports_no_data_library() -> None:
    code = (
        "import json, sys\n"
        "import opsml.data, opsml.model, opsml.llm, opsml.helpers.data\n"
        "from opsml.interfaces import generate_feature_schema\n"
        "assert len(generate_feature_schema([1, 2])) == 0\n"
        "heavy = ('pandas', 'numpy', 'pyarrow', 'sklearn', 'joblib', 'polars', 'yaml')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert json.loads(out.stdout) == []
