"""OpsML's project configuration in ``pyproject.toml``: the ``[tool.opsml]`` tables.

- ``[tool.opsml.default]``: ``space``, ``name`` and ``version`` for every card registered
  without them;
- ``[tool.opsml.registry]``: the same per registry (``model = { space = "a", name = "b" }``),
  winning over ``default``;
- ``[[tool.opsml.service]]``: service specs read by ``opsml lock`` / ``opsml install service``
  / ``validate_project`` (converted in :mod:`opsml.service._spec`).

The file is found as OpsML 3 finds it: in the base folder (``OPSML_BASE_PATH``, else the
current directory) or the nearest parent folder holding one. Reading it is pure parsing;
this module does no other I/O.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsml.errors import InvalidArgumentError

__all__ = ["PYPROJECT", "CardDefaults", "PyProject", "find_pyproject", "read_pyproject"]

PYPROJECT = "pyproject.toml"
_DEFAULT_KEYS = ("space", "name", "version")
_REGISTRIES = ("data", "model", "experiment", "prompt", "service")


@dataclass(frozen=True)
class CardDefaults:
    """Space, name and version for cards registered without them (``None``: no default)."""

    space: str | None = None
    name: str | None = None
    version: str | None = None

    def over(self, other: CardDefaults) -> CardDefaults:
        """These defaults, each missing one taken from ``other``."""
        return CardDefaults(
            self.space if self.space is not None else other.space,
            self.name if self.name is not None else other.name,
            self.version if self.version is not None else other.version,
        )


@dataclass(frozen=True)
class PyProject:
    """The ``[tool.opsml]`` tables of one ``pyproject.toml``."""

    path: Path
    default: CardDefaults = field(default_factory=CardDefaults)
    registry: dict[str, CardDefaults] = field(default_factory=dict)
    services: list[dict[str, Any]] = field(default_factory=list)

    def card_defaults(self, registry_type: str) -> CardDefaults:
        """The defaults for a card of ``registry_type`` (``"model"``, ...): the registry's
        own table over ``[tool.opsml.default]``."""
        return self.registry.get(registry_type, CardDefaults()).over(self.default)


def _defaults(value: Any, where: str) -> CardDefaults:
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{where} must be a table with space, name and/or version")
    unknown = sorted(set(value) - set(_DEFAULT_KEYS))
    if unknown:
        raise InvalidArgumentError(
            f"{where} has unknown keys {unknown}; allowed: {', '.join(_DEFAULT_KEYS)}"
        )
    for key, item in value.items():
        if not isinstance(item, str):
            raise InvalidArgumentError(f"{where}.{key} must be a string, got {item!r}")
    return CardDefaults(value.get("space"), value.get("name"), value.get("version"))


def read_pyproject(path: Path) -> PyProject:
    """Parse the ``[tool.opsml]`` tables of ``path`` (all empty when it has none).

    Raises:
        InvalidArgumentError: The file cannot be read, is not valid TOML, or a
            ``[tool.opsml]`` table is malformed (the message names it).
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read {path}: {exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidArgumentError(f"{path} is not valid TOML: {exc}") from exc
    tool = data.get("tool", {})
    opsml = tool.get("opsml", {}) if isinstance(tool, dict) else {}
    if not isinstance(opsml, dict):
        raise InvalidArgumentError(f"[tool.opsml] of {path} must be a table")
    default = _defaults(opsml.get("default", {}), "[tool.opsml.default]")
    registry_table = opsml.get("registry", {})
    if not isinstance(registry_table, dict):
        raise InvalidArgumentError(f"[tool.opsml.registry] of {path} must be a table")
    registry: dict[str, CardDefaults] = {}
    for kind, value in registry_table.items():
        if kind.lower() not in _REGISTRIES:
            raise InvalidArgumentError(
                f"[tool.opsml.registry] of {path}: unknown registry {kind!r}; "
                f"known: {', '.join(_REGISTRIES)}"
            )
        registry[kind.lower()] = _defaults(value, f"[tool.opsml.registry] {kind}")
    services = opsml.get("service", [])
    if isinstance(services, dict):
        services = [services]
    if not isinstance(services, list) or not all(isinstance(s, dict) for s in services):
        raise InvalidArgumentError(f"[[tool.opsml.service]] of {path} must be tables")
    return PyProject(path=path, default=default, registry=registry, services=list(services))


def find_pyproject(start: Path, name: str = PYPROJECT) -> Path | None:
    """The ``name`` file in ``start`` or its nearest parent folder holding one."""
    folder = start.resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / name).is_file():
            return candidate / name
    return None
