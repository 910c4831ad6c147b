"""Drift-profile plumbing of a ModelCard (OpsML 3 names).

These types carry drift profiles and the wish to activate them alongside a model; the drift
monitoring itself (``opsml.scouter``) is not part of opsml yet. ``DriftArgs`` travels in
``ModelSaveKwargs(drift=...)`` and is recorded with the card; a ``DriftProfileMap`` holds
profiles by alias.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from opsml.errors import InvalidArgumentError

__all__ = ["DriftArgs", "DriftProfileMap", "DriftProfileUri"]


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
        uri: The profile's file, relative to ``root_dir``.
        drift_type: The kind of profile (``"Psi"``, ``"Spc"``, ``"Custom"``, ``"LLM"``).
        root_dir: The folder ``uri`` is relative to (the card's folder when empty).
    """

    model_config = ConfigDict(extra="forbid")

    root_dir: Path = Path()
    uri: Path
    drift_type: str

    def __init__(self, uri: Path | str, drift_type: Any, root_dir: Path | str = "") -> None:
        super().__init__(uri=uri, drift_type=str(drift_type), root_dir=root_dir)


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
            alias: The name to find the profile by.
            profile: The drift profile.

        Raises:
            InvalidArgumentError: ``alias`` is not a non-empty string.
        """
        if not isinstance(alias, str) or not alias:
            raise InvalidArgumentError(
                f"a drift profile alias must be a non-empty string, got {alias!r}"
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

    def __repr__(self) -> str:
        return f"DriftProfileMap({sorted(self._profiles)!r})"
