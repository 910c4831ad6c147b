"""DataCard: a dataset and its schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from opsml.cards._artifact_card import InterfaceCard
from opsml.errors import CardStateError, InvalidArgumentError
from opsml.interfaces import (
    Data,
    DataInterface,
    DataInterfaceMetadata,
    DataProfile,
    FeatureSchema,
)
from opsml.types import RegistryType

__all__ = ["DataCard", "DataCardMetadata"]


class DataCardMetadata(BaseModel):
    """Links and interface metadata of a DataCard.

    Attributes:
        experimentcard_uid: uid of the experiment that produced the data.
        auditcard_uid: uid of an audit card (kept for OpsML compatibility).
        interface_metadata: Which interface saved the data, its files and feature schema.
    """

    model_config = ConfigDict(validate_assignment=True, protected_namespaces=())

    experimentcard_uid: str | None = None
    auditcard_uid: str | None = None
    interface_metadata: DataInterfaceMetadata | None = None

    @property
    def schema(self) -> FeatureSchema:  # type: ignore[override]
        """The FeatureSchema generated at registration (empty before)."""
        if self.interface_metadata is None:
            return FeatureSchema()
        return self.interface_metadata.schema


class DataCard(InterfaceCard):
    """A versioned dataset.

    Example:
        ```python
        card = DataCard(interface=PandasData(data=df), space="team-a", name="features")
        CardRegistry(RegistryType.Data).register_card(card)
        ```
    """

    registry_type: ClassVar[RegistryType] = RegistryType.Data
    _argument_hints: ClassVar[dict[str, str]] = {
        "data": "a DataCard holds its data in an interface: "
        "DataCard(interface=PandasData(data=df), ...)",
    }

    interface: DataInterface | None = Field(default=None, exclude=True)
    metadata: DataCardMetadata = Field(default_factory=DataCardMetadata)

    def __init__(
        self,
        interface: DataInterface | None = None,
        space: str | None = None,
        name: str | None = None,
        version: str | None = None,
        uid: str | None = None,
        tags: list[str] | None = None,
        metadata: DataCardMetadata | None = None,
        **data: Any,
    ) -> None:
        """Create a DataCard.

        Args:
            interface: A ``DataInterface`` (e.g. ``PandasData``) holding the data.
            space: Space of the card.
            name: Name of the card.
            version: A version to request (partial or full).
            uid: Set by the registry.
            tags: Free-form tags.
            metadata: Links and interface metadata.

        Raises:
            InvalidArgumentError: ``interface`` is not a DataInterface.
            InvalidNameError: ``space`` or ``name`` is invalid.
        """
        if interface is not None and not isinstance(interface, DataInterface):
            raise InvalidArgumentError(
                f"DataCard interface must be a DataInterface, got {type(interface).__name__}"
            )
        super().__init__(
            interface=interface,
            space=space,
            name=name,
            version=version,
            uid=uid,
            tags=tags or [],
            metadata=metadata if metadata is not None else DataCardMetadata(),
            **data,
        )

    @property
    def data(self) -> Any:
        """The data object held by the interface.

        Raises:
            CardStateError: There is no interface, or the data is not loaded yet.
        """
        if self.interface is None or self.interface.data is None:
            raise CardStateError(
                f"DataCard {self.space}/{self.name}: the data is not loaded; call card.load()"
            )
        return self.interface.data

    @property
    def data_type(self) -> Any:
        """The interface's ``DataType``."""
        if self.interface is not None:
            return self.interface.data_type
        if self.metadata.interface_metadata is not None:
            return self.metadata.interface_metadata.data_type
        return None

    def create_data_profile(
        self, bin_size: int = 20, compute_correlations: bool = False, top_k: int = 10
    ) -> DataProfile:
        """Profile the data (see ``DataInterface.create_data_profile``).

        The profile is kept on the interface and saved as ``data-profile.json`` when the
        card is registered.

        Args:
            bin_size: Number of histogram bins of numeric columns.
            compute_correlations: Also compute Pearson correlations between numeric columns.
            top_k: How many most-frequent values to keep for non-numeric columns.

        Returns:
            The profile.

        Raises:
            CardStateError: There is no interface.
            InvalidArgumentError: The data cannot be profiled.
        """
        return self._require_interface().create_data_profile(
            bin_size=bin_size, compute_correlations=compute_correlations, top_k=top_k
        )

    def split_data(self) -> dict[str, Data]:
        """Split the data by the interface's ``data_splits`` into ``{label: Data(x, y)}``.

        Returns:
            One ``Data`` per split.

        Raises:
            CardStateError: There is no interface.
            InvalidArgumentError: There is no data or no split, or a split does not fit.
        """
        return self._require_interface().split_data()

    def _require_interface(self) -> DataInterface:
        if self.interface is None:
            raise CardStateError(
                f"DataCard {self.space}/{self.name} has no interface; load_card(...) then "
                "card.load() first"
            )
        return self.interface

    def _load_interface(self, folder: Path, load_kwargs: Any, interface: Any = None) -> None:
        super()._load_interface(folder, load_kwargs, interface)
        # A user-given interface built without the metadata: splits, dependent vars, SQL.
        metadata = self.metadata.interface_metadata
        if self.interface is not None and metadata is not None:
            self.interface._restore(metadata)

    def _registry_columns(self) -> dict[str, Any]:
        return {**self._interface_columns(), "experimentcard_uid": self.metadata.experimentcard_uid}

    def _linked_uids(self) -> dict[RegistryType, list[str]]:
        if self.metadata.experimentcard_uid:
            return {RegistryType.Experiment: [self.metadata.experimentcard_uid]}
        return {}
