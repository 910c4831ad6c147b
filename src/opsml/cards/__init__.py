"""Cards: versioned metadata records with their artifacts (SPEC §2).

Cards never import the registry: a registry hands a loaded card an
:class:`~opsml.cards._source.ArtifactSource` that ``card.load()`` reads through.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from opsml._validation import translate_validation_error
from opsml.cards._alias import CardAlias, alias_in, validate_alias
from opsml.cards._artifact_card import InterfaceCard
from opsml.cards._base import CARD_FILE, CardBase
from opsml.cards._data import DataCard, DataCardMetadata
from opsml.cards._experiment import ComputeEnvironment, ExperimentCard, UidMetadata
from opsml.cards._lifecycle import check_new_card, keep_artifact_metadata
from opsml.cards._model import ModelCard, ModelCardMetadata
from opsml.cards._names import validate_name
from opsml.cards._prompt import PromptCard
from opsml.cards._record import CardList, CardRecord
from opsml.cards._service import SERVICE_CARD_TYPES, Card, ServiceCard, check_unique_aliases
from opsml.cards._source import ArtifactSource, DirectorySource
from opsml.cards._tracking import (
    EvalMetrics,
    HardwareMetrics,
    Metric,
    Metrics,
    Parameter,
    Parameters,
    check_metric_name,
)
from opsml.errors import InvalidArgumentError, OpsmlError
from opsml.types import RegistryType

__all__ = [
    "ArtifactSource",
    "CARD_FILE",
    "Card",
    "CardAlias",
    "CardBase",
    "CardList",
    "CardRecord",
    "ComputeEnvironment",
    "DataCard",
    "DataCardMetadata",
    "DirectorySource",
    "EvalMetrics",
    "ExperimentCard",
    "HardwareMetrics",
    "InterfaceCard",
    "Metric",
    "Metrics",
    "ModelCard",
    "ModelCardMetadata",
    "Parameter",
    "Parameters",
    "PromptCard",
    "SERVICE_CARD_TYPES",
    "ServiceCard",
    "UidMetadata",
    "card_class",
    "check_metric_name",
    "check_new_card",
    "check_unique_aliases",
    "alias_in",
    "keep_artifact_metadata",
    "parse_card",
    "validate_alias",
    "validate_name",
]

_CARD_CLASSES: dict[RegistryType, type[CardBase]] = {
    RegistryType.Data: DataCard,
    RegistryType.Model: ModelCard,
    RegistryType.Experiment: ExperimentCard,
    RegistryType.Prompt: PromptCard,
    RegistryType.Service: ServiceCard,
}


def card_class(registry: RegistryType) -> type[CardBase]:
    """The card class stored in ``registry``."""
    return _CARD_CLASSES[registry]


def parse_card(registry: RegistryType, data: dict[str, Any]) -> CardBase:
    """Build a card of ``registry``'s type from untrusted JSON data (e.g. an HTTP body).

    Raises:
        InvalidArgumentError: The data does not describe a valid card (any opsml error a
            field validator raised is passed through as is).
    """
    cls = card_class(registry)
    try:
        return cls.model_validate(data)
    except OpsmlError:
        raise
    except ValidationError as exc:
        raise translate_validation_error(exc, cls.__name__) from None
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"invalid {cls.__name__}: {exc}") from None
