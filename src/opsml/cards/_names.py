"""Validation of card spaces and names (SPEC §2)."""

from __future__ import annotations

import re

from opsml.errors import InvalidNameError

__all__ = ["NAME_PATTERN", "validate_name"]

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")


def validate_name(value: object, field: str = "name") -> str:
    """Lowercase ``value`` and check it against ``^[a-z0-9][a-z0-9_-]{0,127}$``.

    Nothing is stripped or replaced: a value that does not fit after lowercasing is an error.

    Args:
        value: The space or name.
        field: ``"space"`` or ``"name"``, for the message.

    Returns:
        The lowercased value.

    Raises:
        InvalidNameError: The value is not a string or does not match.
    """
    if not isinstance(value, str):
        raise InvalidNameError(f"{field} must be a string, got {type(value).__name__}")
    lowered = value.lower()
    if NAME_PATTERN.fullmatch(lowered) is None:
        raise InvalidNameError(
            f"invalid {field} {value!r}: use 1-128 characters from a-z, 0-9, '_' and '-', "
            "starting with a letter or digit (uppercase is lowercased; nothing else is changed)"
        )
    return lowered
