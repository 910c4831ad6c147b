"""ModelCard: a trained model and what it needs to run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from opsml.cards._artifact_card import InterfaceCard
from opsml.errors import CardStateError, InvalidArgumentError
from opsml.interfaces import ModelInterface, ModelInterfaceMetadata
from opsml.types import RegistryType

__all__ = ["ModelCard", "ModelCardMetadata"]


class ModelCardMetadata(BaseModel):
    """Links and interface metadata of a ModelCard.

    Attributes:
        datacard_uid: uid of the DataCard the model was trained on (must be registered).
        experimentcard_uid: uid of the experiment that produced the model.
        auditcard_uid: uid of an audit card (kept for OpsML compatibility).
        interface_metadata: Which interface saved the model, and which files it wrote.
    """

    model_config = ConfigDict(validate_assignment=True, protected_namespaces=())

    datacard_uid: str | None = None
    experimentcard_uid: str | None = None
    auditcard_uid: str | None = None
    interface_metadata: ModelInterfaceMetadata | None = None


class ModelCard(InterfaceCard):
    """A versioned trained model.

    Example:
        ```python
        card = ModelCard(interface=SklearnModel(model=clf, sample_data=X[:5]),
                         space="team-a", name="ranker")
        CardRegistry(RegistryType.Model).register_card(card)
        ```
    """

    registry_type: ClassVar[RegistryType] = RegistryType.Model
    _argument_hints: ClassVar[dict[str, str]] = {
        "model": "a ModelCard holds its model in an interface: "
        "ModelCard(interface=SklearnModel(model=clf), ...)",
    }

    interface: ModelInterface | None = Field(default=None, exclude=True)
    metadata: ModelCardMetadata = Field(default_factory=ModelCardMetadata)

    def __init__(
        self,
        interface: ModelInterface | None = None,
        space: str | None = None,
        name: str | None = None,
        version: str | None = None,
        uid: str | None = None,
        tags: list[str] | None = None,
        datacard_uid: str | None = None,
        metadata: ModelCardMetadata | None = None,
        **data: Any,
    ) -> None:
        """Create a ModelCard.

        Args:
            interface: A ``ModelInterface`` (e.g. ``SklearnModel``) holding the model.
            space: Space of the card.
            name: Name of the card.
            version: A version to request (partial ``"1"`` / ``"1.2"`` or full ``"1.2.3"``).
            uid: Set by the registry.
            tags: Free-form tags.
            datacard_uid: uid of a registered DataCard (also settable in ``metadata``).
            metadata: Links and interface metadata.

        Raises:
            InvalidArgumentError: ``interface`` is not a ModelInterface.
            InvalidNameError: ``space`` or ``name`` is invalid.
        """
        if interface is not None and not isinstance(interface, ModelInterface):
            raise InvalidArgumentError(
                f"ModelCard interface must be a ModelInterface, got {type(interface).__name__}"
            )
        meta = metadata if metadata is not None else ModelCardMetadata()
        if datacard_uid is not None:
            meta.datacard_uid = datacard_uid
        super().__init__(
            interface=interface,
            space=space,
            name=name,
            version=version,
            uid=uid,
            tags=tags or [],
            metadata=meta,
            **data,
        )

    @property
    def model(self) -> Any:
        """The model object held by the interface.

        Raises:
            CardStateError: There is no interface, or the model is not loaded yet.
        """
        if self.interface is None or self.interface.model is None:
            raise CardStateError(
                f"ModelCard {self.space}/{self.name}: the model is not loaded; call card.load()"
            )
        return self.interface.model

    @property
    def onnx_session(self) -> Any:
        """The interface's ONNX session, or ``None``."""
        return None if self.interface is None else self.interface.onnx_session

    @property
    def datacard_uid(self) -> str | None:
        """uid of the DataCard this model was trained on."""
        return self.metadata.datacard_uid

    @datacard_uid.setter
    def datacard_uid(self, value: str | None) -> None:
        self.metadata.datacard_uid = value

    @property
    def uri(self) -> Path:
        """The card's storage folder, relative to the storage root."""
        return Path(f"{RegistryType.Model.table_name}/{self.space}/{self.name}/v{self.version}")

    def _registry_columns(self) -> dict[str, Any]:
        return {
            **self._interface_columns(),
            "datacard_uid": self.metadata.datacard_uid,
            "experimentcard_uid": self.metadata.experimentcard_uid,
        }

    def _linked_uids(self) -> dict[RegistryType, list[str]]:
        links: dict[RegistryType, list[str]] = {}
        if self.metadata.datacard_uid:
            links[RegistryType.Data] = [self.metadata.datacard_uid]
        if self.metadata.experimentcard_uid:
            links[RegistryType.Experiment] = [self.metadata.experimentcard_uid]
        return links
