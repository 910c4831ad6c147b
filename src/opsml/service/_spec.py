"""``opsmlspec.yaml``: the cards a service needs, declared once in its repository (SPEC §6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from opsml._pyproject import PYPROJECT, read_pyproject
from opsml._validation import empty_list, translate_validation_error
from opsml.cards import (
    SERVICE_CARD_TYPES,
    Card,
    ServiceCard,
    alias_in,
    check_unique_aliases,
    validate_name,
)
from opsml.errors import InvalidArgumentError
from opsml.types import RegistryType, ServiceType
from opsml.version import VersionQuery, parse_requested_version

__all__ = [
    "SPEC_FILES",
    "CardSpec",
    "DriftSpec",
    "OpsmlServiceSpec",
    "ServiceConfig",
    "SpecMetadata",
    "find_spec_file",
    "read_project",
]

SPEC_FILES = ("opsmlspec.yaml", "opsmlspec.yml")
"""File names ``opsml lock`` / ``opsml install`` look for in a folder."""


def _version_query(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if alias_in(value) is not None:  # "@prod": the version the alias points at
        return value
    VersionQuery.parse(value)  # raises InvalidVersionError with the reason
    return value


class _SpecModel(BaseModel):
    """Translates validation errors into :class:`InvalidArgumentError`."""

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise translate_validation_error(exc, type(self).__name__) from None


_DRIFT_TYPES = {"spc": "Spc", "psi": "Psi", "custom": "Custom", "llm": "LLM"}


class DriftSpec(_SpecModel):
    """A card's ``drift`` setting: the status ``opsml lock`` gives the card's drift profiles
    on the Scouter server (``{active, deactivate_others, drift_type: ["psi", ...]}``)."""

    model_config = ConfigDict(extra="forbid")

    active: bool = True
    deactivate_others: bool = False
    drift_type: list[str] = Field(default_factory=empty_list)

    @field_validator("drift_type", mode="before")
    @classmethod
    def _check_types(cls, value: object) -> list[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise InvalidArgumentError("drift.drift_type must be a list of drift types")
        names: list[str] = []
        for item in items:
            name = _DRIFT_TYPES.get(str(item).strip().lower())
            if name is None:
                raise InvalidArgumentError(
                    f"drift type {item!r} is not one of {', '.join(_DRIFT_TYPES.values())}"
                )
            names.append(name)
        return names


class CardSpec(_SpecModel):
    """One card of the service: ``{alias, space, name, version, uid, type, drift}``.

    ``space`` defaults to the spec's space; ``version`` is a version query (``"1.*"``,
    ``"^1.2"``); ``uid`` pins one card and wins over space/name/version; ``drift`` (Model and
    Data cards) sets the status of the card's drift profiles when the service is locked.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    alias: str
    registry_type: RegistryType = Field(alias="type")
    space: str | None = None
    name: str | None = None
    version: str | None = None
    uid: str | None = None
    drift: DriftSpec | None = None

    @field_validator("registry_type", mode="before")
    @classmethod
    def _check_type(cls, value: object) -> RegistryType:
        wanted = str(value).strip().lower()
        for registry in SERVICE_CARD_TYPES:
            if registry.value == wanted:
                return registry
        allowed = ", ".join(r.value for r in SERVICE_CARD_TYPES)
        raise InvalidArgumentError(f"card type {value!r} is not one of {allowed}")

    @field_validator("space", "name", mode="before")
    @classmethod
    def _check_names(cls, value: object) -> str | None:
        return None if value is None else validate_name(value)

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: str | None) -> str | None:
        return _version_query(value)


class ServiceConfig(_SpecModel):
    """The ``service:`` section: the service's own version query, where ``install`` writes,
    and the cards."""

    model_config = ConfigDict(extra="forbid")

    version: str | None = None
    write_dir: str = "opsml_service"
    cards: list[CardSpec] = Field(default_factory=empty_list)

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parse_requested_version(value)  # the version `opsml lock` registers the service at
        return value

    @field_validator("write_dir")
    @classmethod
    def _check_write_dir(cls, value: str) -> str:
        if not value.strip() or "\x00" in value:
            raise InvalidArgumentError("service.write_dir must be a non-empty path")
        return value

    @field_validator("cards")
    @classmethod
    def _unique_aliases(cls, value: list[CardSpec]) -> list[CardSpec]:
        check_unique_aliases([card.alias for card in value], "the spec")
        return value


class SpecMetadata(_SpecModel):
    """The ``metadata:`` section."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    tags: list[str] = Field(default_factory=empty_list)


class OpsmlServiceSpec(_SpecModel):
    """A parsed ``opsmlspec.yaml``.

    Example (YAML):
        ```yaml
        name: recommender
        space: team-a
        type: Api
        service:
          write_dir: opsml_service
          cards:
            - {alias: model, name: ranker, version: "1.*", type: model}
        ```
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    space: str
    service_type: ServiceType = Field(default=ServiceType.Api, alias="type")
    metadata: SpecMetadata = Field(default_factory=SpecMetadata)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("space", "name", mode="before")
    @classmethod
    def _check_names(cls, value: object) -> str:
        return validate_name(value)

    @model_validator(mode="after")
    def _cards_need_a_card(self) -> OpsmlServiceSpec:
        for card in self.service.cards:
            if card.uid is None and card.name is None:
                raise InvalidArgumentError(
                    f"card {card.alias!r}: give a name (and optionally a space and version) "
                    "or a uid"
                )
        return self

    @classmethod
    def from_path(cls, path: Path | str = ".") -> OpsmlServiceSpec:
        """Read a spec file, or the ``opsmlspec.yaml``/``.yml`` of a folder.

        Every scalar is read as a string (so ``version: 1.10`` stays ``"1.10"``).

        Raises:
            InvalidArgumentError: No spec file, invalid YAML, or fields that are missing,
                unknown or invalid (the message names them).
        """
        file = find_spec_file(Path(path))
        if file.suffix == ".toml":
            specs = read_project(file)
            if len(specs) != 1:
                raise InvalidArgumentError(
                    f"{file} declares {len(specs)} services; read them with read_project"
                )
            return specs[0]
        try:
            text = file.read_text(encoding="utf-8")
            data = yaml.load(text, Loader=yaml.BaseLoader)
        except OSError as exc:
            raise InvalidArgumentError(f"cannot read {file}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise InvalidArgumentError(f"{file} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidArgumentError(f"{file} must hold a mapping with name, space and service")
        return cls.from_dict(data, file)

    @classmethod
    def from_pyproject_table(cls, table: dict[str, Any], path: Path) -> OpsmlServiceSpec:
        """Validate one ``[[tool.opsml.service]]`` table of ``path`` (a ``pyproject.toml``).

        The table holds the spec's fields flat, as OpsML 3 writes them: ``space``, ``name``,
        ``type``, ``version``, ``write_dir``, ``cards`` (and ``description``, ``tags``).

        Raises:
            InvalidArgumentError: Fields that are missing, unknown or invalid.
        """
        data = dict(table)
        service = {key: data.pop(key) for key in ("version", "write_dir", "cards") if key in data}
        metadata = {key: data.pop(key) for key in ("description", "tags") if key in data}
        return cls.from_dict({**data, "service": service, "metadata": metadata}, path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | None = None) -> OpsmlServiceSpec:
        """Validate a spec given as a dict.

        Raises:
            InvalidArgumentError: Fields that are missing, unknown or invalid.
        """
        try:
            return cls.model_validate({**data, "path": path})
        except ValidationError as exc:
            raise translate_validation_error(exc, str(path or "service spec")) from None

    @property
    def root(self) -> Path:
        """The folder holding the spec (relative paths in it are relative to this)."""
        return self.path.parent if self.path is not None else Path.cwd()

    def card_space(self, card: CardSpec) -> str | None:
        """The space of ``card`` (the spec's own space when the card names none)."""
        return card.space if card.space is not None or card.uid is not None else self.space

    def service_card(self) -> ServiceCard:
        """The (unregistered) ServiceCard this spec declares."""
        refs = [
            Card(
                alias=card.alias,
                registry_type=card.registry_type,
                space=self.card_space(card),
                name=card.name,
                version=card.version,
                uid=card.uid,
            )
            for card in self.service.cards
        ]
        return ServiceCard(
            space=self.space,
            name=self.name,
            cards=refs,
            version=self.service.version,
            tags=self.metadata.tags,
            service_type=self.service_type,
            description=self.metadata.description,
        )


def find_spec_file(path: Path) -> Path:
    """``path`` itself when it is a file, else the spec file inside the folder ``path``:
    ``opsmlspec.yaml`` (or ``.yml``), else a ``pyproject.toml`` with
    ``[[tool.opsml.service]]`` tables.

    Raises:
        InvalidArgumentError: There is none.
    """
    if path.is_file():
        return path
    for name in SPEC_FILES:
        if (path / name).is_file():
            return path / name
    pyproject = path / PYPROJECT
    if pyproject.is_file() and read_pyproject(pyproject).services:
        return pyproject
    raise InvalidArgumentError(
        f"no {' or '.join(SPEC_FILES)}, nor a {PYPROJECT} with [[tool.opsml.service]], in {path}"
    )


def read_project(path: Path | str = ".") -> list[OpsmlServiceSpec]:
    """The service specs of a project: the one of an ``opsmlspec.yaml``, or one per
    ``[[tool.opsml.service]]`` table of a ``pyproject.toml`` (see :func:`find_spec_file`).

    Raises:
        InvalidArgumentError: No spec file, a malformed one, or two services of a
            ``pyproject.toml`` with the same space and name or the same ``write_dir``.
    """
    file = find_spec_file(Path(path))
    if file.suffix != ".toml":
        return [OpsmlServiceSpec.from_path(file)]
    tables = read_pyproject(file).services
    if not tables:
        raise InvalidArgumentError(f"{file} has no [[tool.opsml.service]] table")
    specs = [OpsmlServiceSpec.from_pyproject_table(table, file) for table in tables]
    for key, what in ((lambda s: (s.space, s.name), "service"), (_write_dir, "write_dir")):
        seen: set[object] = set()
        for spec in specs:
            if key(spec) in seen:
                raise InvalidArgumentError(f"{file}: two services share the {what} {key(spec)}")
            seen.add(key(spec))
    return specs


def _write_dir(spec: OpsmlServiceSpec) -> object:
    return spec.service.write_dir
