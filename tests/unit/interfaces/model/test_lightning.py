"""LightningModel: checkpoint round trips give identical outputs; loading is weights-only."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import lightning
import numpy as np
import pytest
import torch

from opsml.card import CardRegistry, ModelCard, RegistryType
from opsml.errors import (
    InvalidArgumentError,
    MissingDependencyError,
    SerializationError,
)
from opsml.interfaces import resolve_interface
from opsml.model import (
    DataType,
    LightningModel,
    ModelInterfaceMetadata,
    ModelLoadKwargs,
    ModelSaveKwargs,
    ModelType,
)


class Regressor(lightning.LightningModule):
    def __init__(self, n_features: int = 3, lr: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(n_features, 1)
        self.dropout = torch.nn.Dropout(0.5)

    def forward(self, x: Any) -> Any:
        return self.dropout(self.layer(x))

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        return torch.nn.functional.mse_loss(self(x), y)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class Other(Regressor):
    """A different LightningModule class."""


@pytest.fixture(scope="module")
def data() -> tuple[Any, Any]:
    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))
    return x, x.sum(dim=1, keepdim=True)


def _fit(data: tuple[Any, Any], n_features: int = 3) -> Any:
    torch.manual_seed(0)
    trainer = lightning.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*data), batch_size=8)
    with warnings.catch_warnings():
        # lightning 2.6 with torch 2.13: lightning's own pytree helper uses a deprecated name
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)`")
        trainer.fit(Regressor(n_features=n_features, lr=0.05), loader)
    return trainer


@pytest.fixture(scope="module")
def trainer(data: tuple[Any, Any]) -> Any:
    return _fit(data)


def _outputs(module: Any, x: Any) -> Any:
    module.eval()
    with torch.no_grad():
        return module(x)


def test_round_trip_gives_identical_outputs(
    trainer: Any, data: tuple[Any, Any], tmp_path: Path
) -> None:
    x, _ = data
    interface = LightningModel(trainer=trainer, sample_data=x[:4])
    # As in OpsML 3, the model is what was given or loaded; the trainer's module is saved.
    assert interface.model is None

    stored = interface.save(tmp_path).model_dump_json()
    metadata = ModelInterfaceMetadata.model_validate_json(stored)
    loaded = resolve_interface(metadata)
    assert isinstance(loaded, LightningModel)
    loaded.load(tmp_path, metadata.save_metadata, ModelLoadKwargs(model={"model": Regressor}))

    assert isinstance(loaded.model, Regressor)
    assert not loaded.model.training
    assert loaded.trainer is None
    assert loaded.model.hparams["lr"] == 0.05
    assert torch.equal(_outputs(loaded.model, x), _outputs(trainer.lightning_module, x))
    assert torch.equal(loaded.sample_data.data, x[:1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt", "sample-data.pt"]
    assert metadata.save_metadata.model_uri == Path("model.ckpt")
    assert metadata.model_type is ModelType.PytorchLightning
    assert metadata.data_type is DataType.TorchTensor
    specific = metadata.model_specific_metadata
    assert specific["model_class"] == f"{Regressor.__module__}.Regressor"
    assert specific["lightning_version"] == lightning.__version__


def test_loading_needs_the_module_class_and_names_it(
    trainer: Any, data: tuple[Any, Any], tmp_path: Path
) -> None:
    save_metadata = LightningModel(trainer=trainer).save(tmp_path)

    with pytest.raises(SerializationError, match=rf"needs the class {Regressor.__module__}"):
        LightningModel().load(tmp_path, save_metadata)

    into = LightningModel(model=Regressor())  # an instance: its class loads the checkpoint
    into.load(tmp_path, save_metadata)
    x, _ = data
    assert torch.equal(_outputs(into.model, x), _outputs(trainer.lightning_module, x))

    with pytest.raises(InvalidArgumentError, match="must be your LightningModule class"):
        LightningModel().load(tmp_path, save_metadata, ModelLoadKwargs(model={"model": dict}))


def test_checkpoint_is_read_weights_only_unless_the_user_opts_in(
    trainer: Any, data: tuple[Any, Any], tmp_path: Path
) -> None:
    save_metadata = LightningModel(trainer=trainer).save(tmp_path)
    checkpoint = torch.load(tmp_path / "model.ckpt", weights_only=True)
    checkpoint["note"] = ModelType.Pytorch  # any object that is not a tensor or container
    torch.save(checkpoint, tmp_path / "model.ckpt")

    with pytest.raises(SerializationError, match=r"could not read .*model\.ckpt"):
        LightningModel().load(tmp_path, save_metadata, ModelLoadKwargs(model={"model": Regressor}))

    trusted = ModelLoadKwargs(model={"model": Regressor, "weights_only": False})
    loaded = LightningModel()
    loaded.load(tmp_path, save_metadata, trusted)
    x, _ = data
    assert torch.equal(_outputs(loaded.model, x), _outputs(trainer.lightning_module, x))


def test_registered_model_loads_back_with_onnx(
    both_modes_registry_env: Path, trainer: Any, data: tuple[Any, Any]
) -> None:
    x, _ = data
    registry = CardRegistry(RegistryType.Model)
    card = ModelCard(
        interface=LightningModel(trainer=trainer, sample_data=x[:2]), space="team-a", name="reg"
    )
    registry.register_card(card, save_kwargs=ModelSaveKwargs(save_onnx=True))

    loaded = registry.load_card(uid=card.uid)
    loaded.load(load_kwargs=ModelLoadKwargs(model={"model": Regressor}, load_onnx=True))

    expected = _outputs(trainer.lightning_module, x)
    assert torch.equal(_outputs(loaded.model, x), expected)
    (onnx_out,) = loaded.onnx_session.run({"input": x.numpy()})
    np.testing.assert_allclose(onnx_out, expected.numpy(), atol=1e-4)


def test_wrong_objects_are_rejected_at_construction(trainer: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="expects a lightning Trainer"):
        LightningModel(trainer="trainer")
    with pytest.raises(InvalidArgumentError, match="expects a lightning LightningModule"):
        LightningModel(model=torch.nn.Linear(1, 1))
    with pytest.raises(InvalidArgumentError, match="not the trainer's module"):
        LightningModel(trainer=trainer, model=Other())
    interface = LightningModel(trainer=trainer)
    with pytest.raises(InvalidArgumentError, match="not the trainer's module"):
        interface.model = Other()
    with pytest.raises(InvalidArgumentError, match="cannot take sample data"):
        LightningModel(trainer=trainer, sample_data=[1, 2])


def test_saving_needs_a_trainer(tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match="has no model to save"):
        LightningModel().save(tmp_path)
    with pytest.raises(SerializationError, match="through its trainer"):
        LightningModel(model=Regressor()).save(tmp_path)


def test_missing_lightning_names_the_extra(
    trainer: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_metadata = LightningModel(trainer=trainer).save(tmp_path)
    for name in [m for m in sys.modules if m == "lightning" or m.startswith("lightning.")]:
        monkeypatch.setitem(sys.modules, name, None)

    with pytest.raises(MissingDependencyError) as at_construction:
        LightningModel(trainer=trainer)
    with pytest.raises(MissingDependencyError) as at_load:
        LightningModel().load(tmp_path, save_metadata, ModelLoadKwargs(model={"model": object}))

    for info in (at_construction, at_load):
        assert info.value.extra == "lightning"
        assert "opsml[lightning]" in str(info.value)
