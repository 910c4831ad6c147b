"""Turning pydantic's validation errors into the opsml error tree (used by every layer)."""

from __future__ import annotations

from pydantic import ValidationError

from opsml.errors import InvalidArgumentError, OpsmlError

__all__ = ["translate_validation_error"]


def translate_validation_error(exc: ValidationError, what: str) -> OpsmlError:
    """The opsml error a validator raised, else an :class:`InvalidArgumentError` listing
    every invalid field.

    Args:
        exc: The pydantic error raised while building ``what``.
        what: The thing being built, named in the message.
    """
    for error in exc.errors():
        original = (error.get("ctx") or {}).get("error")
        if isinstance(original, OpsmlError):
            return original
    details = "; ".join(
        f"{'.'.join(str(p) for p in error.get('loc', ())) or 'value'}: {error.get('msg', '')}"
        for error in exc.errors()
    )
    return InvalidArgumentError(f"invalid {what}: {details}")
