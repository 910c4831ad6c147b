"""User subclasses of DataInterface and ModelInterface follow OpsML 3's protocol."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opsml.card import CardRegistry, DataCard, ModelCard, RegistryType
from opsml.data import (
    DataInterface,
    DataInterfaceMetadata,
    DataInterfaceSaveMetadata,
    DataInterfaceType,
    DataLoadKwargs,
    DataSaveKwargs,
    DataSplit,
    DataType,
    StartStopSplit,
)
from opsml.errors import InvalidArgumentError, SerializationError
from opsml.interfaces import resolve_interface
from opsml.model import (
    DataProcessor,
    ExtraMetadata,
    ModelInterface,
    ModelInterfaceMetadata,
    ModelInterfaceSaveMetadata,
    ModelLoadKwargs,
    ModelSaveKwargs,
    ModelType,
    ProcessorType,
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


class OpsmlStyleLineModel(ModelInterface):
    """Written as OpsML 3's docs show: base arguments through __new__, a bare
    super().__init__(), and a save returning the whole ModelInterfaceMetadata."""

    def __new__(cls, offset: float = 0.0, **kwargs: Any) -> OpsmlStyleLineModel:
        return super().__new__(cls, **kwargs)

    def __init__(self, offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__()
        self.offset = offset

    def save(
        self, path: Path, save_kwargs: ModelSaveKwargs | None = None
    ) -> ModelInterfaceMetadata:
        payload = {"slope": self.model.slope, "intercept": self.model.intercept}
        (path / "line.json").write_text(json.dumps(payload), encoding="utf-8")
        (path / "offset.json").write_text(json.dumps(self.offset), encoding="utf-8")
        save_metadata = ModelInterfaceSaveMetadata(
            model_uri=Path("line.json"),
            data_processor_map={
                "offset": DataProcessor(
                    name="offset", uri=Path("offset.json"), type=ProcessorType.Preprocessor
                )
            },
            extra=ExtraMetadata(metadata={"unit": "metres"}),
        )
        return ModelInterfaceMetadata(
            task_type=self.task_type,
            model_type=self.model_type,
            data_type=self.data_type,
            save_metadata=save_metadata,
            extra_metadata={"offset": str(self.offset)},
        )

    def load(
        self,
        path: Path,
        metadata: ModelInterfaceSaveMetadata,
        load_kwargs: ModelLoadKwargs | None = None,
    ) -> None:
        payload = json.loads((path / metadata.model_uri).read_text(encoding="utf-8"))
        self.model = Line(payload["slope"], payload["intercept"])
        processor = metadata.data_processor_map["offset"]
        self.offset = json.loads((path / processor.uri).read_text(encoding="utf-8"))

    @staticmethod
    def from_metadata(metadata: ModelInterfaceMetadata) -> OpsmlStyleLineModel:
        return OpsmlStyleLineModel(model=None, task_type=metadata.task_type)


class OpsmlStyleJsonData(JsonData):
    """A data interface whose save returns DataInterfaceMetadata, as OpsML 3's does."""

    def save(  # type: ignore[override]
        self, path: Path, save_kwargs: DataSaveKwargs | None = None
    ) -> DataInterfaceMetadata:
        (path / "rows.json").write_text(json.dumps(self.data), encoding="utf-8")
        return DataInterfaceMetadata(
            save_metadata=DataInterfaceSaveMetadata(data_uri=Path("rows.json")),
            schema=self.schema,
            extra_metadata={"source": "hand-made"},
            sql_logic=self.sql_logic,
            interface_type=DataInterfaceType.Base,
            data_splits=self.data_splits,
            dependent_vars=self.dependent_vars,
            data_type=DataType.Dict,
        )


def test_opsml_style_model_interface_keeps_the_arguments_given_to_new(tmp_path: Path) -> None:
    interface = OpsmlStyleLineModel(offset=0.5, model=Line(2.0, 1.0), task_type="regression")

    assert interface.model.slope == 2.0
    assert interface.task_type is TaskType.Regression
    assert interface.offset == 0.5
    metadata = interface.save(tmp_path)
    assert metadata.extra_metadata == {"offset": "0.5"}
    assert metadata.save_metadata.extra == {"unit": "metres"}
    assert metadata.save_metadata.data_processor_map["offset"].type is ProcessorType.Preprocessor


def test_opsml_style_custom_interfaces_register_and_load(sqlite_registry_env: Path) -> None:
    models = CardRegistry(RegistryType.Model)
    model_card = ModelCard(
        interface=OpsmlStyleLineModel(offset=0.5, model=Line(2.0, 1.0), task_type="regression"),
        space="team-a",
        name="line",
    )
    models.register_card(model_card)
    data = CardRegistry(RegistryType.Data)
    data_card = DataCard(
        interface=OpsmlStyleJsonData(data={"x": [1, 2]}), space="team-a", name="rows"
    )
    data.register_card(data_card)

    loaded_model = models.load_card(uid=model_card.uid, interface=OpsmlStyleLineModel)  # a class
    loaded_model.load()
    loaded_data = data.load_card(uid=data_card.uid, interface=OpsmlStyleJsonData())
    loaded_data.load()

    model_metadata = loaded_model.metadata.interface_metadata
    assert model_metadata.interface_type == "OpsmlStyleLineModel"
    assert model_metadata.task_type is TaskType.Regression
    assert model_metadata.model_type is ModelType.Unknown
    assert model_metadata.extra_metadata == {"offset": "0.5"}
    assert loaded_model.model.predict([1.0]) == [3.0]
    assert loaded_model.interface.offset == 0.5
    data_metadata = loaded_data.metadata.interface_metadata
    assert data_metadata.interface_type == "OpsmlStyleJsonData"
    assert data_metadata.extra_metadata == {"source": "hand-made"}
    assert loaded_data.data == {"x": [1, 2]}


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


@pytest.mark.needs("joblib")
def test_base_data_interface_saves_any_object_with_joblib(tmp_path: Path) -> None:
    # As in OpsML 3, the base class holds anything and pickles it with joblib.
    interface = DataInterface(data={"a": 1, "b": [1.5, None]})

    metadata = interface.save(tmp_path)
    loaded = DataInterface()
    loaded.load(tmp_path, metadata.save_metadata)

    assert metadata.save_metadata.data_uri == Path("data.joblib")
    assert metadata.data_type is DataType.Base
    assert loaded.data == {"a": 1, "b": [1.5, None]}
    with pytest.raises(SerializationError, match="could not read"):
        DataInterface().load(tmp_path, DataInterfaceSaveMetadata(data_uri="data.bin"))


def test_base_model_interface_explains_what_to_implement(tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match=r"must implement save\(path"):
        ModelInterface(model=object()).save(tmp_path)
    with pytest.raises(SerializationError, match=r"must implement .*load\(path"):
        ModelInterface().load(tmp_path, ModelInterfaceSaveMetadata(model_uri="model.bin"))


def test_save_must_return_save_metadata(tmp_path: Path) -> None:
    interface = JsonData(data={"a": [1]})

    with pytest.raises(InvalidArgumentError, match="must return DataInterfaceMetadata or Data"):
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
    rows = [DataSplit(label="x", start_stop_split=StartStopSplit(0, 1))]
    with pytest.raises(InvalidArgumentError, match=r"cannot split a builtins\.dict"):
        JsonData(data={"a": [1]}, data_splits=rows)
