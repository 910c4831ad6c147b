"""Registry aliases: mutable names (``prod``, ``champion``) pointing at one card version.

An alias belongs to one (registry, space, name); ``version="@prod"`` wherever a version
query is accepted means "the version the alias points at now".
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from opsml.errors import InvalidNameError

__all__ = ["ALIAS_PATTERN", "CardAlias", "alias_in", "validate_alias"]

ALIAS_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_RESERVED = frozenset({"latest"})


def validate_alias(value: object) -> str:
    """Lowercase ``value`` and check it is a usable alias name.

    An alias is 1-64 characters from a-z, 0-9, ``_`` and ``-`` starting with a letter (so
    it can never be read as a version), and not ``latest`` (which a registry without
    aliases already means by "no version").

    Returns:
        The lowercased alias.

    Raises:
        InvalidNameError: Anything else (the message says what is allowed).
    """
    if not isinstance(value, str):
        raise InvalidNameError(f"an alias must be a string, got {type(value).__name__}")
    lowered = value.lower()
    if ALIAS_PATTERN.fullmatch(lowered) is None:
        raise InvalidNameError(
            f"invalid alias {value!r}: use 1-64 characters from a-z, 0-9, '_' and '-', "
            "starting with a letter (uppercase is lowercased)"
        )
    if lowered in _RESERVED:
        raise InvalidNameError(
            f"alias {value!r} is reserved: loading without a version already gives the latest"
        )
    return lowered


def alias_in(version: str | None) -> str | None:
    """The alias a version reference names (``"@prod"`` → ``"prod"``), or ``None`` when it
    is a version query (or empty).

    Raises:
        InvalidNameError: ``@`` followed by something that is not a valid alias.
    """
    if version is None:
        return None
    stripped = version.strip()
    if not stripped.startswith("@"):
        return None
    return validate_alias(stripped[1:])


class CardAlias(BaseModel):
    """An alias and the card version it points at.

    Attributes:
        registry_type: The registry (``"model"``, ``"data"``, …).
        space: The card's space.
        name: The card's name.
        alias: The alias (``"prod"``).
        version: The version it points at.
        uid: The uid of that card version.
        updated_at: When it was last set (ISO 8601, UTC).
        updated_by: Who set it (a user on a server; the OS user in local mode).
    """

    model_config = ConfigDict(frozen=True)

    registry_type: str
    space: str
    name: str
    alias: str
    version: str
    uid: str
    updated_at: str
    updated_by: str

    def __str__(self) -> str:
        return f"{self.space}/{self.name}@{self.alias} -> {self.version}"
