"""Drift-profile plumbing of Model and Data cards (OpsML 3 names).

These types carry drift profiles (scouter-ml objects, made by ``create_drift_profile`` of an
interface, see ``docs/monitoring.md``) and the wish to activate them alongside a model.
``DriftArgs`` travels in ``ModelSaveKwargs(drift=...)`` and is recorded with the card; a
``DriftProfileMap`` holds profiles by alias; a ``DriftProfileUri`` says where the card
stores one (``drift/<alias>.json``). Nothing here imports scouter-ml.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from opsml.errors import InvalidArgumentError

_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
"""A drift profile alias: it names the profile's file, ``drift/<alias>.json``."""


def drift_type_name(drift_type: Any) -> str:
    """The plain name of a drift type: ``"Psi"`` for scouter's ``DriftType.Psi``, or for
    ``"Psi"`` and ``"DriftType.Psi"`` (how scouter's enum prints)."""
    return str(drift_type).rpartition(".")[2]


__all__ = ["DriftArgs", "DriftProfileMap", "DriftProfileUri", "drift_type_name"]


class DriftArgs(BaseModel):
    """What to do with a model's drift profiles when the card is registered.

    Args:
        active: Mark the card's drift profiles active.
        deactivate_others: Deactivate the profiles of other versions of the same space and
            name.
    """

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)

    active: bool = True
    deactivate_others: bool = False

    def __init__(self, active: bool = True, deactivate_others: bool = False) -> None:
        super().__init__(active=active, deactivate_others=deactivate_others)


class DriftProfileUri(BaseModel):
    """Where a card stores one drift profile.

    Args:
        uri: The profile's file, relative to the card's folder (``drift/<alias>.json``).
        drift_type: The kind of profile: scouter's ``DriftType`` or its name (``"Psi"``,
            ``"Spc"``, ``"Custom"``, ``"LLM"``); stored as the name.
        root_dir: The folder holding the card's profiles (``drift``), as OpsML 3 records it.

    Raises:
        ValueError: ``uri`` or ``root_dir`` is absolute or leaves the card's folder.
    """

    model_config = ConfigDict(extra="forbid")

    root_dir: Path = Path()
    uri: Path
    drift_type: str

    def __init__(self, uri: Path | str, drift_type: Any, root_dir: Path | str = "") -> None:
        super().__init__(uri=uri, drift_type=drift_type_name(drift_type), root_dir=root_dir)

    @field_validator("uri", "root_dir", mode="before")
    @classmethod
    def _inside_the_card(cls, value: object) -> object:
        if isinstance(value, str | PurePosixPath | PureWindowsPath | Path):
            text = str(value).replace("\\", "/")
            windows = PureWindowsPath(text)
            if PurePosixPath(text).is_absolute() or windows.anchor or ".." in windows.parts:
                raise ValueError(f"{text!r} must be a path inside the card's folder")
            return Path(windows.as_posix())
        return value


class DriftProfileMap:
    """Drift profiles by alias.

    Example:
        ```python
        from opsml.types import DriftProfileMap

        profiles = DriftProfileMap()
        assert profiles.is_empty()
        profiles.add_profile("psi", {"features": ["a"]})
        assert profiles["psi"] == {"features": ["a"]} and len(profiles) == 1
        ```
    """

    def __init__(self) -> None:
        self._profiles: dict[str, Any] = {}

    def add_profile(self, alias: str, profile: Any) -> None:
        """Add (or replace) the profile called ``alias``.

        Args:
            alias: The name to find the profile by; it also names the profile's file
                (``drift/<alias>.json``): 1-128 letters, digits, ``_``, ``.`` or ``-``,
                starting with a letter or digit.
            profile: The drift profile.

        Raises:
            InvalidArgumentError: ``alias`` is not such a name.
        """
        if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
            raise InvalidArgumentError(
                f"a drift profile alias must be 1-128 letters, digits, '_', '.' or '-', "
                f"starting with a letter or digit (it names the profile's file), got {alias!r}"
            )
        self._profiles[alias] = profile

    def __getitem__(self, alias: str) -> Any:
        try:
            return self._profiles[alias]
        except KeyError:
            known = ", ".join(sorted(self._profiles)) or "none"
            raise InvalidArgumentError(
                f"no drift profile called {alias!r} (known: {known})"
            ) from None

    def __contains__(self, alias: object) -> bool:
        return alias in self._profiles

    def __iter__(self) -> Iterator[str]:
        return iter(self._profiles)

    def __len__(self) -> int:
        return len(self._profiles)

    def is_empty(self) -> bool:
        """Return whether the map holds no profile."""
        return not self._profiles

    def values(self) -> list[Any]:
        """Return the profiles, in the order they were added."""
        return list(self._profiles.values())

    def items(self) -> list[tuple[str, Any]]:
        """Return ``(alias, profile)`` pairs, in the order they were added."""
        return list(self._profiles.items())

    def __repr__(self) -> str:
        return f"DriftProfileMap({sorted(self._profiles)!r})"
