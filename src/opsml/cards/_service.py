"""ServiceCard: a named bundle of references to other cards, for one deployed service.

The card stores only references (alias, registry type, space, name, version, uid). The
registry resolves them at registration and attaches the referenced cards when it loads a
service; :meth:`ServiceCard.from_path` does the same from a folder written by
:meth:`ServiceCard.download_artifacts`, with no registry or network.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from opsml._validation import empty_list, translate_validation_error
from opsml.cards._artifact_card import InterfaceCard, read_card_file
from opsml.cards._base import CardBase
from opsml.cards._names import validate_name
from opsml.cards._prompt import PromptCard
from opsml.cards._record import CardList
from opsml.errors import (
    AliasNotFoundError,
    CardStateError,
    CardTypeError,
    IntegrityError,
    InvalidArgumentError,
)
from opsml.types import RegistryType, ServiceType

__all__ = ["SERVICE_CARD_TYPES", "Card", "ServiceCard", "check_unique_aliases"]

SERVICE_CARD_TYPES: tuple[RegistryType, ...] = (
    RegistryType.Data,
    RegistryType.Model,
    RegistryType.Experiment,
    RegistryType.Prompt,
)
"""The registries a ServiceCard may reference (services do not nest)."""

_MAX_LOAD_THREADS = 8


def check_unique_aliases(aliases: list[str], where: str) -> None:
    """Raise :class:`InvalidArgumentError` naming the first alias used twice."""
    seen: set[str] = set()
    for alias in aliases:
        if alias in seen:
            raise InvalidArgumentError(f"duplicate card alias {alias!r} in {where}")
        seen.add(alias)


class Card(BaseModel):
    """A reference to a card inside a ServiceCard.

    Give either a registered card object (``card=``), or ``uid`` + ``registry_type``, or
    ``space`` + ``name`` (+ an optional version query such as ``"1.*"``) + ``registry_type``.
    ``uid`` wins when both a uid and a space/name are given. Registering the ServiceCard
    resolves the reference to one concrete uid and version.

    Example:
        ```python
        Card(alias="model", registry_type=RegistryType.Model, space="team-a", name="ranker",
             version="1.*")
        Card(alias="prompt", uid=prompt_card.uid, registry_type="prompt")
        Card(alias="data", card=datacard)
        ```
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
            InvalidArgumentError: The reference does not say which card it means, or names a
                registry a service cannot reference.
            CardTypeError: ``card`` is not of ``registry_type``.
            CardStateError: ``card`` is not registered.
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
        if (
            not value
            or len(value) > 128
            or any(c in value for c in "/\\\x00")
            or value in (".", "..")
            or value.startswith(".")
        ):
            raise InvalidArgumentError(
                f"invalid card alias {value!r}: 1-128 characters, no '/', '\\' or NUL, "
                "not starting with '.'"
            )
        return value

    @field_validator("space", "name", mode="before")
    @classmethod
    def _check_names(cls, value: object) -> str | None:
        return None if value is None else validate_name(value)

    @model_validator(mode="after")
    def _check_reference(self) -> Card:
        if self.card is not None:
            card_type = getattr(self.card, "registry_type", None)
            if not isinstance(self.card, CardBase) or not isinstance(card_type, RegistryType):
                raise InvalidArgumentError(f"Card {self.alias!r}: card= must be an opsml card")
            if self.registry_type is not None and self.registry_type is not card_type:
                raise CardTypeError(
                    f"Card {self.alias!r}: registry_type is {self.registry_type.value} but the "
                    f"card is a {type(self.card).__name__}"
                )
            if self.card.uid is None:
                raise CardStateError(
                    f"Card {self.alias!r}: {self.card} is not registered; register it first"
                )
            self.registry_type = card_type
            self.uid = self.card.uid
            self.space = self.card.space
            self.name = self.card.name
            self.version = self.card.version
        if self.registry_type is None:
            raise InvalidArgumentError(f"Card {self.alias!r}: registry_type is required")
        if self.registry_type not in SERVICE_CARD_TYPES:
            allowed = ", ".join(r.value for r in SERVICE_CARD_TYPES)
            raise InvalidArgumentError(
                f"Card {self.alias!r}: a service cannot reference a {self.registry_type.value} "
                f"card (allowed: {allowed})"
            )
        if self.uid is None and (self.space is None or self.name is None):
            raise InvalidArgumentError(
                f"Card {self.alias!r}: give a uid, or a space and a name (and optionally a "
                "version query), or a registered card object"
            )
        return self

    def describe(self) -> str:
        """A short description for messages: ``model card team-a/ranker@1.*``."""
        kind = self.registry_type.value if self.registry_type else "?"
        if self.space is not None and self.name is not None:
            version = self.version or ""
            where = f"{self.space}/{self.name}" + (
                "@" + version.removeprefix("@") if version else ""
            )
            if self.uid is not None:
                where += f" (uid {self.uid})"
        else:
            where = f"uid {self.uid}"
        return f"{kind} card {where}"


class ServiceCard(CardBase):
    """A versioned bundle of card references for one deployed service (API, agent, MCP).

    ``service["alias"]`` is the referenced card; ``service.cards`` lists them in declared
    order. A service loaded from a registry (or with :meth:`from_path`) has every referenced
    card's metadata; :meth:`load` then loads the artifacts of its Model and Data cards.

    Example:
        ```python
        service = ServiceCard(space="team-a", name="recommender", cards=[
            Card(alias="model", card=modelcard),
            Card(alias="prompt", registry_type="prompt", space="team-a", name="greeting"),
        ])
        CardRegistry(RegistryType.Service).register_card(service)
        ```
    """

    model_config = ConfigDict(
        arbitrary_types_allowed=True,
        validate_assignment=True,
        extra="ignore",
        protected_namespaces=(),
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    registry_type: ClassVar[RegistryType] = RegistryType.Service

    card_refs: list[Card] = Field(default_factory=empty_list, alias="cards")
    service_type: ServiceType = ServiceType.Api
    description: str | None = None

    def __init__(
        self,
        space: str | None = None,
        name: str | None = None,
        cards: list[Card] | None = None,
        version: str | None = None,
        uid: str | None = None,
        tags: list[str] | None = None,
        service_type: ServiceType | str = ServiceType.Api,
        description: str | None = None,
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
            service_type: ``Api``, ``Mcp`` or ``Agent``.
            description: What the service does.

        Raises:
            InvalidArgumentError: Two references share an alias, or ``cards`` is not a list of
                :class:`Card`.
        """
        super().__init__(
            space=space,
            name=name,
            cards=cards if cards is not None else data.pop("card_refs", []),
            version=version,
            uid=uid,
            tags=tags or [],
            service_type=service_type,
            description=description,
            **data,
        )

    @field_validator("card_refs", mode="before")
    @classmethod
    def _check_refs(cls, value: object) -> object:
        if isinstance(value, dict) and set(value) == {"cards"}:
            value = value["cards"]  # OpsML 3's card.json nests them: {"cards": {"cards": [...]}}
        if not isinstance(value, list | tuple):
            raise InvalidArgumentError("ServiceCard cards must be a list of Card references")
        for item in value:
            if not isinstance(item, Card | dict):
                raise InvalidArgumentError(
                    f"ServiceCard cards must be Card references, got {type(item).__name__}"
                )
        return list(value)

    @field_validator("card_refs")
    @classmethod
    def _unique_aliases(cls, value: list[Card]) -> list[Card]:
        check_unique_aliases([ref.alias for ref in value], "ServiceCard")
        return value

    # -- access ----------------------------------------------------------------------------

    @property
    def cards(self) -> CardList[Any]:
        """The referenced cards in declared order (``len``, iteration, index).

        Each item is the card itself once it is attached (a service loaded from a registry
        or a folder, or a reference made with ``card=``), else its :class:`Card` reference.
        """
        return CardList([ref.card if ref.card is not None else ref for ref in self.card_refs])

    @property
    def aliases(self) -> list[str]:
        """The aliases, in declared order."""
        return [ref.alias for ref in self.card_refs]

    def reference(self, alias: str) -> Card:
        """The :class:`Card` reference under ``alias``.

        Raises:
            AliasNotFoundError: No card has that alias (the message lists the known ones).
        """
        for ref in self.card_refs:
            if ref.alias == alias:
                return ref
        known = ", ".join(repr(a) for a in self.aliases) or "none"
        raise AliasNotFoundError(
            f"ServiceCard {self.space}/{self.name} has no card {alias!r}; known aliases: {known}"
        )

    def __getitem__(self, alias: str) -> Any:
        """The card under ``alias``.

        Raises:
            AliasNotFoundError: No card has that alias.
            CardStateError: The service was built locally and the card is only a reference
                (load the service from a registry or with :meth:`from_path`).
        """
        ref = self.reference(alias)
        if ref.card is None:
            raise CardStateError(
                f"card {alias!r} of ServiceCard {self.space}/{self.name} is a reference only: "
                "load the service from a registry or with ServiceCard.from_path"
            )
        return ref.card

    def __contains__(self, alias: object) -> bool:
        return any(ref.alias == alias for ref in self.card_refs)

    def __len__(self) -> int:
        return len(self.card_refs)

    # -- artifacts ---------------------------------------------------------------------------

    def load(self, load_kwargs: Mapping[str, Any] | None = None) -> None:
        """Load the artifacts of every Model and Data card (Prompt and Experiment cards are
        complete once the service is loaded).

        Args:
            load_kwargs: ``{"alias": ModelLoadKwargs | DataLoadKwargs}``.

        Raises:
            AliasNotFoundError: ``load_kwargs`` names an alias the service does not have.
            CardStateError: A card is only a reference (see :meth:`__getitem__`).
        """
        kwargs = dict(load_kwargs or {})
        for alias in kwargs:
            self.reference(alias)
        cards = [(ref.alias, self[ref.alias]) for ref in self.card_refs]
        jobs = [(alias, card) for alias, card in cards if isinstance(card, InterfaceCard)]
        if len(jobs) <= 1:
            for alias, card in jobs:
                card.load(load_kwargs=kwargs.get(alias))
            return
        with ThreadPoolExecutor(max_workers=min(len(jobs), _MAX_LOAD_THREADS)) as pool:
            futures = [
                pool.submit(card.load, load_kwargs=kwargs.get(alias)) for alias, card in jobs
            ]
            for future in futures:
                future.result()

    def download_artifacts(self, path: Path | str | None = None) -> Path:
        """Write the service and its cards into ``path`` (default ``service``).

        Layout: ``path/card.json`` (the service) and ``path/<alias>/`` holding that card's
        ``card.json`` and its verified artifacts. Existing files are overwritten.

        Returns:
            The folder.

        Raises:
            CardStateError: A card is only a reference.
            IntegrityError: A stored artifact differs from its manifest.
        """
        folder = Path(path) if path is not None else Path("service")
        for ref in self.card_refs:
            card = self[ref.alias]
            dest = folder / ref.alias
            if isinstance(card, InterfaceCard | PromptCard):  # prompts: their drift profiles
                card.download_artifacts(dest)
            else:
                card._write_card_file(dest)
        self._write_card_file(folder)
        return folder

    @classmethod
    def from_path(
        cls,
        path: Path | str | None = None,
        load_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> ServiceCard:
        """Rebuild a service and its cards from a folder written by
        :meth:`download_artifacts` (or ``opsml install service``), with no registry or
        network access. Model and Data cards are loaded, each file verified against its
        card's manifest first.

        Args:
            path: The folder (default ``service``).
            load_kwargs: ``{"alias": {"interface": obj, "load_kwargs": ModelLoadKwargs |
                DataLoadKwargs}}``; both keys optional.

        Returns:
            The service with every card attached and loaded.

        Raises:
            InvalidArgumentError: The folder holds no service, or ``load_kwargs`` is malformed.
            AliasNotFoundError: ``load_kwargs`` names an unknown alias.
            IntegrityError: A card folder holds a different card than the service references,
                or a file differs from its manifest.
        """
        from opsml.cards import card_class

        folder = Path(path) if path is not None else Path("service")
        try:
            service = cls.model_validate_json(read_card_file(folder))
        except ValidationError as exc:
            raise translate_validation_error(exc, f"the service card in {folder}") from None
        options = _check_from_path_kwargs(service, load_kwargs)
        for ref in service.card_refs:
            if ref.registry_type is None:  # pragma: no cover - the validator guarantees it
                raise InvalidArgumentError(f"Card {ref.alias!r} has no registry type")
            card_dir = folder / ref.alias
            kind = card_class(ref.registry_type)
            option = options.get(ref.alias, {})
            card: CardBase
            if issubclass(kind, InterfaceCard):
                card = kind._from_folder(card_dir, option.get("interface"))
            elif issubclass(kind, PromptCard):  # its drift profiles are read, verified, on use
                card = kind.from_path(card_dir)
            else:
                card = kind.model_validate_json(read_card_file(card_dir))
            if card.uid != ref.uid:
                raise IntegrityError(
                    f"{card_dir} holds card {card.uid}, but the service references {ref.describe()}"
                )
            ref.card = card
        for ref in service.card_refs:
            if isinstance(ref.card, InterfaceCard):
                ref.card.load(load_kwargs=options.get(ref.alias, {}).get("load_kwargs"))
        return service

    def _linked_uids(self) -> dict[RegistryType, list[str]]:
        links: dict[RegistryType, list[str]] = {}
        for ref in self.card_refs:
            if ref.uid is None or ref.registry_type is None or ref.version is None:
                raise InvalidArgumentError(
                    f"ServiceCard {self.space}/{self.name}: reference {ref.alias!r} is not "
                    "resolved to a uid and version; register the service through CardRegistry"
                )
            links.setdefault(ref.registry_type, []).append(ref.uid)
        return links


def _check_from_path_kwargs(
    service: ServiceCard, load_kwargs: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, Mapping[str, Any]]:
    options: dict[str, Mapping[str, Any]] = {}
    for alias, option in (load_kwargs or {}).items():
        service.reference(alias)
        if not isinstance(option, Mapping) or set(option) - {"interface", "load_kwargs"}:
            raise InvalidArgumentError(
                f"load_kwargs[{alias!r}] must be a dict with the keys 'interface' and/or "
                "'load_kwargs'"
            )
        options[alias] = option
    return options
