"""Fields and behaviour shared by every card."""

from __future__ import annotations

import functools
import html
import json
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from opsml._validation import (
    check_text,
    empty_list,
    keyword_names,
    reject_unknown_arguments,
    translate_validation_error,
)
from opsml._version import __version__
from opsml.cards._names import validate_name
from opsml.cards._source import ArtifactSource
from opsml.errors import CardStateError, InvalidArgumentError
from opsml.monitoring import DriftProfileRegistration
from opsml.storage import Manifest
from opsml.types import RegistryType
from opsml.version import parse_requested_version

__all__ = ["CARD_FILE", "CardBase", "normalize_tags", "translate_validation_error"]

CARD_FILE = "card.json"

_READING: ContextVar[bool] = ContextVar("opsml_card_reading", default=False)
"""Set while a card is rebuilt from stored JSON, where unknown fields (written by a newer
version) are ignored; a constructor call refuses them."""


def normalize_tags(value: object) -> list[str]:
    """Accept a list of strings, or a ``{key: value}`` mapping turned into ``"key:value"``.

    Raises:
        InvalidArgumentError: Anything else, or a tag that is empty, longer than 255
            characters, with control characters or not valid Unicode.
    """
    if value is None:
        return []
    if isinstance(value, dict):
        items = [f"{k}:{v}" for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise InvalidArgumentError(f"tags must be a list of strings, got {type(value).__name__}")
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidArgumentError(f"invalid tag {item!r}: tags are 1-255 character strings")
        tags.append(check_text(item, "tag", 255))
    return tags


@functools.cache
def _field_keys(cls: type[BaseModel]) -> frozenset[str]:
    """The names and aliases of ``cls``'s fields: what its constructor passes on."""
    fields = cls.model_fields
    return frozenset({*fields, *(f.alias for f in fields.values() if f.alias)})


class CardBase(BaseModel):
    """Common fields of every card (SPEC §2).

    Attributes:
        space: Namespace of the card (lowercased; ``^[a-z0-9][a-z0-9_-]{0,127}$``).
        name: Name of the card (same rule).
        version: ``None`` until registered, or a partial/full version to request.
        uid: UUIDv7 assigned at registration.
        tags: Free strings, conventionally ``"key:value"``.
        app_env: ``APP_ENV`` of the registering process.
        created_at: UTC time of registration.
        opsml_version: Version of opsml that registered the card.
    """

    model_config = ConfigDict(
        arbitrary_types_allowed=True,
        validate_assignment=True,
        extra="ignore",
        protected_namespaces=(),
    )

    registry_type: ClassVar[RegistryType]
    _argument_hints: ClassVar[dict[str, str]] = {}
    """The fix to suggest for a known wrong constructor argument, by argument."""

    space: str | None = None
    name: str | None = None
    version: str | None = None
    uid: str | None = None
    tags: list[str] = Field(default_factory=empty_list)
    app_env: str = "development"
    created_at: datetime | None = None
    opsml_version: str = __version__
    manifest: Manifest | None = None

    _source: ArtifactSource | None = PrivateAttr(default=None)

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """Rebuild a card from stored data: fields this version does not know are ignored."""
        token = _READING.set(True)
        try:
            return super().model_validate(obj, *args, **kwargs)
        finally:
            _READING.reset(token)

    @classmethod
    def model_validate_json(  # type: ignore[override]
        cls, json_data: str | bytes, *args: Any, **kwargs: Any
    ) -> Self:
        """Rebuild a card from its JSON: fields this version does not know are ignored."""
        token = _READING.set(True)
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        finally:
            _READING.reset(token)

    def __init__(self, **data: Any) -> None:
        fields = _field_keys(type(self))
        if not _READING.get() and any(key not in fields for key in data):
            # A constructor argument no field takes (``naem=``, ``tag=``) would be dropped
            # silently (``extra="ignore"`` is for JSON of newer versions, read elsewhere).
            takes = keyword_names(type(self).__init__) or frozenset()
            reject_unknown_arguments(
                type(self).__name__, data, {*fields, *takes}, self._argument_hints
            )
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise translate_validation_error(exc, type(self).__name__) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise translate_validation_error(exc, f"{type(self).__name__}.{name}") from None

    @field_validator("space", mode="before")
    @classmethod
    def _check_space(cls, value: object) -> str | None:
        return None if value is None else validate_name(value, "space")

    @field_validator("name", mode="before")
    @classmethod
    def _check_name(cls, value: object) -> str | None:
        return None if value is None else validate_name(value, "name")

    @field_validator("version", mode="before")
    @classmethod
    def _check_version(cls, value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise InvalidArgumentError(f"version must be a string, got {type(value).__name__}")
        parse_requested_version(value)
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _check_tags(cls, value: object) -> list[str]:
        return normalize_tags(value)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(space={self.space!r}, name={self.name!r}, "
            f"version={self.version!r}, uid={self.uid!r})"
        )

    def _repr_html_(self) -> str:
        """The card's identity, tags and files as an HTML table (what a notebook shows)."""
        files = self.manifest.files if self.manifest is not None else {}
        size = sum(entry.size for entry in files.values())
        rows = [
            ("space", self.space),
            ("name", self.name),
            ("version", self.version or "not registered"),
            ("uid", self.uid),
            ("created", self.created_at.isoformat(" ", "seconds") if self.created_at else None),
            ("tags", ", ".join(self.tags)),
            ("files", f"{len(files)} ({size:,} bytes)" if files else None),
        ]
        body = "".join(
            f"<tr><th>{key}</th><td>{html.escape(str(value))}</td></tr>"
            for key, value in rows
            if value
        )
        return f"<table><caption>{type(self).__name__}</caption>{body}</table>"

    def model_dump_json(self, **kwargs: Any) -> str:
        """Serialise the card's metadata (never the in-memory model or data) to JSON."""
        data = json.loads(super().model_dump_json(**kwargs))
        data["registry_type"] = self.registry_type.value
        return json.dumps(data)

    def _require_source(self) -> ArtifactSource:
        if self._source is None:
            raise CardStateError(
                f"{type(self).__name__} {self.space}/{self.name} has no stored artifacts: "
                "register it, load it from a registry, or use load_from_path"
            )
        return self._source

    def _attach_source(self, source: ArtifactSource | None) -> None:
        self._source = source

    # Registration hooks, overridden by cards that own artifacts ----------------------------

    def _save_artifacts(self, path: Path, save_kwargs: Any = None) -> None:
        """Write the card's artifact files into ``path`` (a fresh folder). None by default."""

    def _registry_columns(self) -> dict[str, Any]:
        """Extra indexed columns of the card's record (interface type, lineage uids)."""
        return {}

    def _linked_uids(self) -> dict[RegistryType, list[str]]:
        """uids of other cards this card references, which must exist at registration."""
        return {}

    def _registered(self) -> None:
        """Called once a registration has set ``uid``, ``version`` and the rest."""

    def _drift_registrations(
        self, version: str, save_kwargs: Any = None
    ) -> list[DriftProfileRegistration]:
        """The drift profiles to register with Scouter once ``version`` is allocated."""
        return []

    def _write_card_file(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / CARD_FILE
        path.write_text(self.model_dump_json(), encoding="utf-8")
        return path

    def __str__(self) -> str:
        return (
            f"{type(self).__name__}(space={self.space!r}, name={self.name!r}, "
            f"version={self.version!r}, uid={self.uid!r})"
        )
