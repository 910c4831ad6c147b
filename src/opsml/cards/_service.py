"""ServiceCard: a named bundle of references to other cards, for one deployed service."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from opsml._validation import translate_validation_error
from opsml.cards._base import CardBase
from opsml.cards._names import validate_name
from opsml.errors import InvalidArgumentError
from opsml.types import RegistryType

__all__ = ["Card", "ServiceCard"]


class Card(BaseModel):
    """A reference to a card inside a ServiceCard.

    Give either a registered card object (``card=``), or ``uid`` + ``registry_type``, or
    ``space`` + ``name`` (+ an optional version query) + ``registry_type``. ``uid`` wins
    when both a uid and a space/name are given.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    alias: str
    registry_type: RegistryType | None = None
    space: str | None = None
    name: str | None = None
    version: str | None = None
    uid: str | None = None
    card: Any = Field(default=None, exclude=True)

    def __init__(
        self,
        alias: str,
        registry_type: RegistryType | str | None = None,
        space: str | None = None,
        name: str | None = None,
        version: str | None = None,
        uid: str | None = None,
        card: Any = None,
        **data: Any,
    ) -> None:
        """Create a card reference (see the class docstring for the three forms).

        Raises:
            InvalidArgumentError: The reference does not say which card it means.
        """
        try:
            super().__init__(
                alias=alias,
                registry_type=registry_type,
                space=space,
                name=name,
                version=version,
                uid=uid,
                card=card,
                **data,
            )
        except ValidationError as exc:
            raise translate_validation_error(exc, "Card reference") from None

    @field_validator("alias")
    @classmethod
    def _check_alias(cls, value: str) -> str:
        if not value or len(value) > 128 or "/" in value or "\x00" in value or value in (".", ".."):
            raise InvalidArgumentError(f"invalid card alias {value!r}")
        return value

    @field_validator("space", "name", mode="before")
    @classmethod
    def _check_names(cls, value: object) -> str | None:
        return None if value is None else validate_name(value)

    @model_validator(mode="after")
    def _check_reference(self) -> Card:
        if self.card is not None:
            card_type = getattr(self.card, "registry_type", None)
            if not isinstance(card_type, RegistryType):
                raise InvalidArgumentError(f"Card {self.alias!r}: card= must be an opsml card")
            self.registry_type = card_type
            self.uid = self.card.uid
            self.space = self.card.space
            self.name = self.card.name
            self.version = self.card.version
            return self
        if self.registry_type is None:
            raise InvalidArgumentError(f"Card {self.alias!r}: registry_type is required")
        if self.uid is None and (self.space is None or self.name is None):
            raise InvalidArgumentError(
                f"Card {self.alias!r}: give a uid, or a space and a name (and optionally a "
                "version query), or a registered card object"
            )
        return self


class ServiceCard(CardBase):
    """A versioned bundle of card references for one deployed service (API, agent, MCP)."""

    registry_type: ClassVar[RegistryType] = RegistryType.Service

    cards: list[Card] = Field(default_factory=list)

    def __init__(
        self,
        space: str | None = None,
        name: str | None = None,
        cards: list[Card] | None = None,
        version: str | None = None,
        uid: str | None = None,
        tags: list[str] | None = None,
        **data: Any,
    ) -> None:
        """Create a ServiceCard.

        Args:
            space: Space of the service.
            name: Name of the service.
            cards: References to the cards the service uses; aliases must be unique.
            version: A version to request (partial or full).
            uid: Set by the registry.
            tags: Free-form tags.

        Raises:
            InvalidArgumentError: Two references share an alias.
        """
        super().__init__(
            space=space,
            name=name,
            cards=cards or [],
            version=version,
            uid=uid,
            tags=tags or [],
            **data,
        )

    @field_validator("cards")
    @classmethod
    def _unique_aliases(cls, value: list[Card]) -> list[Card]:
        seen: set[str] = set()
        for ref in value:
            if ref.alias in seen:
                raise InvalidArgumentError(f"duplicate card alias {ref.alias!r} in ServiceCard")
            seen.add(ref.alias)
        return value

    def _linked_uids(self) -> dict[RegistryType, list[str]]:
        links: dict[RegistryType, list[str]] = {}
        for ref in self.cards:
            if ref.uid is not None and ref.registry_type is not None:
                links.setdefault(ref.registry_type, []).append(ref.uid)
        return links
