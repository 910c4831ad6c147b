"""User subclasses of DataInterface and ModelInterface follow OpsML 3's protocol."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opsml.data import (
    DataInterface,
    DataInterfaceMetadata,
    DataInterfaceSaveMetadata,
    DataLoadKwargs,
    DataSaveKwargs,
    DataType,
)
from opsml.errors import InvalidArgumentError, SerializationError
from opsml.interfaces import resolve_interface
from opsml.model import (
    ModelInterface,
    ModelInterfaceMetadata,
    ModelInterfaceSaveMetadata,
    ModelLoadKwargs,
    ModelSaveKwargs,
    TaskType,
)


class JsonData(DataInterface):
    """Columns held as a dict of lists, saved as JSON."""

    data_type = DataType.Dict

    def _validate_data(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise InvalidArgumentError("JsonData holds a dict of columns")

    def save(
        self, path: Path, save_kwargs: DataSaveKwargs | None = None
    ) -> DataInterfaceSaveMetadata:
        indent = (save_kwargs.data or {}).get("indent") if save_kwargs else None
        (path / "data.json").write_text(json.dumps(self.data, indent=indent), encoding="utf-8")
        return DataInterfaceSaveMetadata(data_uri="data.json", extra={"columns": len(self.data)})

    def load(
        self,
        path: Path,
        metadata: DataInterfaceSaveMetadata,
        load_kwargs: DataLoadKwargs | None = None,
    ) -> None:
        self.data = json.loads((path / metadata.data_uri).read_text(encoding="utf-8"))


class Line:
    """A tiny model: y = slope * x + intercept."""

    def __init__(self, slope: float, intercept: float) -> None:
        self.slope = slope
        self.intercept = intercept

    def predict(self, xs: list[float]) -> list[float]:
        return [self.slope * x + self.intercept for x in xs]


class LineModel(ModelInterface):
    """Saves a Line as JSON; the OpsML 3 way, with a static from_metadata."""

    def _validate_model(self, model: Any) -> None:
        if not isinstance(model, Line):
            raise InvalidArgumentError("LineModel holds a Line")

    def save(
        self, path: Path, save_kwargs: ModelSaveKwargs | None = None
    ) -> ModelInterfaceSaveMetadata:
        payload = {"slope": self.model.slope, "intercept": self.model.intercept}
        (path / "model.json").write_text(json.dumps(payload), encoding="utf-8")
        return ModelInterfaceSaveMetadata(model_uri="model.json", save_kwargs=save_kwargs)

    def load(
        self,
        path: Path,
        metadata: ModelInterfaceSaveMetadata,
        load_kwargs: ModelLoadKwargs | None = None,
    ) -> None:
        payload = json.loads((path / metadata.model_uri).read_text(encoding="utf-8"))
        self.model = Line(payload["slope"], payload["intercept"])

    @staticmethod
    def from_metadata(metadata: ModelInterfaceMetadata) -> LineModel:
        return LineModel(task_type=metadata.task_type)


def test_custom_data_interface_round_trip(tmp_path: Path) -> None:
    interface = JsonData(data={"a": [1, 2], "b": [3.5, None]})

    save_metadata = interface.save(tmp_path, DataSaveKwargs({"indent": 2}))
    stored = interface.get_interface_metadata(save_metadata).model_dump_json()
    metadata = DataInterfaceMetadata.model_validate_json(stored)
    loaded = JsonData.from_metadata(metadata)
    loaded.load(tmp_path, metadata.save_metadata)

    assert isinstance(loaded, JsonData)
    assert loaded.data == {"a": [1, 2], "b": [3.5, None]}
    assert metadata.interface_type == "JsonData"
    assert metadata.data_type is DataType.Dict
    assert metadata.save_metadata.extra == {"columns": 2}
    assert (tmp_path / "data.json").read_text(encoding="utf-8").startswith("{\n  ")


def test_custom_model_interface_round_trip(tmp_path: Path) -> None:
    interface = LineModel(model=Line(2.0, 1.0), task_type=TaskType.Regression)

    save_metadata = interface.save(tmp_path)
    stored = interface.get_interface_metadata(save_metadata).model_dump_json()
    metadata = ModelInterfaceMetadata.model_validate_json(stored)
    loaded = LineModel.from_metadata(metadata)
    loaded.load(tmp_path, metadata.save_metadata)

    assert loaded.model.predict([0.0, 1.5]) == [1.0, 4.0]
    assert loaded.task_type is TaskType.Regression
    assert metadata.interface_type == "LineModel"


def test_custom_interfaces_are_validated_at_construction() -> None:
    with pytest.raises(InvalidArgumentError, match="JsonData holds a dict"):
        JsonData(data=[1, 2])
    with pytest.raises(InvalidArgumentError, match="LineModel holds a Line"):
        LineModel(model="y = x")


def test_resolve_interface_asks_for_the_custom_class(tmp_path: Path) -> None:
    interface = JsonData(data={"a": [1]})
    metadata = interface.get_interface_metadata(interface.save(tmp_path))

    with pytest.raises(SerializationError, match=r"interface=JsonData\(\)"):
        resolve_interface(metadata)


def test_base_classes_explain_what_to_implement(tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match=r"must implement save\(path"):
        DataInterface(data={"a": 1}).save(tmp_path)
    with pytest.raises(SerializationError, match=r"must implement save\(path"):
        ModelInterface(model=object()).save(tmp_path)
    with pytest.raises(SerializationError, match=r"must implement .*load\(path"):
        DataInterface().load(tmp_path, DataInterfaceSaveMetadata(data_uri="data.bin"))
    with pytest.raises(SerializationError, match=r"must implement .*load\(path"):
        ModelInterface().load(tmp_path, ModelInterfaceSaveMetadata(model_uri="model.bin"))


def test_save_must_return_save_metadata(tmp_path: Path) -> None:
    interface = JsonData(data={"a": [1]})

    with pytest.raises(InvalidArgumentError, match="must return DataInterfaceSaveMetadata"):
        interface.get_interface_metadata({"data_uri": "data.json"})  # type: ignore[arg-type]


def test_get_interface_metadata_cannot_be_overridden() -> None:
    with pytest.raises(TypeError, match="must not override get_interface_metadata"):

        class Sneaky(DataInterface):
            def get_interface_metadata(  # type: ignore[misc]
                self, save_metadata: DataInterfaceSaveMetadata
            ) -> DataInterfaceMetadata:
                raise AssertionError


def test_base_attributes_are_normalised_and_checked() -> None:
    interface = JsonData(data={"a": [1]}, sql_logic={"q": "select 1"}, data_profile=None)

    assert interface.sql_logic.queries == {"q": "select 1"}
    assert len(interface.data_splits) == 0
    assert interface.dependent_vars.is_empty
    assert interface.data_profile is None
    with pytest.raises(InvalidArgumentError, match=r"a list of DataSplit, got \[.train.\]"):
        JsonData(data={"a": [1]}, data_splits=["train"])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match=r"cannot split a builtins\.dict"):
        JsonData(data={"a": [1]}, dependent_vars=["a"])
