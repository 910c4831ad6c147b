"""Input bounds shared by every layer, and pydantic's validation errors turned into the
opsml error tree.

The bounds are those of the metadata store on SQLite, PostgreSQL and MariaDB alike, so a
value accepted at a call (or at the HTTP edge) is always one every database can store:

- integers: signed 64 bits (``BIGINT``);
- text: valid Unicode (no lone UTF-16 surrogates, which no database encoding can hold),
  and, for names and keys, no control characters (PostgreSQL refuses NUL) and at most as
  many characters as the column holds.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from opsml.errors import InvalidArgumentError, OpsmlError, UnknownArgumentError

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "UID_PATTERN",
    "check_int64",
    "check_text",
    "check_uid",
    "empty_list",
    "keyword_names",
    "reject_unknown_arguments",
    "translate_validation_error",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_UID = re.compile(UID_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def empty_list() -> list[Any]:
    """A new empty list: the default factory of pydantic list fields.

    Pydantic inspects every default factory's signature when it builds a model's schema, to
    see whether it takes the validated data; for the builtin ``list`` that means parsing its
    text signature (~0.15 ms a field, paid again by every model that embeds the field), for
    a Python function a few microseconds.
    """
    return []


def check_uid(value: object, what: str = "uid") -> str:
    """Return ``value`` if it is a card uid (a lowercase UUID string).

    Raises:
        InvalidArgumentError: Anything else.
    """
    if not isinstance(value, str) or _UID.fullmatch(value) is None:
        shown = value[:40] if isinstance(value, str) else value
        raise InvalidArgumentError(
            f"{what} must be a lowercase UUID such as 0190f3c5-8d8e-7c41-9f7a-3b2a1c0d4e5f, "
            f"got {shown!r}"
        )
    return value


def check_int64(value: int, what: str, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> int:
    """Return ``value`` if ``minimum <= value <= maximum`` (by default: signed 64 bits).

    Raises:
        InvalidArgumentError: Out of range.
    """
    if not minimum <= value <= maximum:
        raise InvalidArgumentError(f"{what} must be between {minimum} and {maximum}, got {value}")
    return value


def check_text(
    value: str, what: str, max_length: int, *, controls: bool = False, empty: bool = False
) -> str:
    """Return ``value`` if it is 1 (0 with ``empty``) to ``max_length`` characters of valid
    Unicode and, unless ``controls``, free of control characters (NUL, newline, ...).

    Raises:
        InvalidArgumentError: Empty, too long, a lone surrogate, or a control character.
    """
    if (not value and not empty) or len(value) > max_length:
        least = 0 if empty else 1
        raise InvalidArgumentError(
            f"{what} needs {least} to {max_length} characters, got {len(value)}: {value[:40]!r}"
        )
    if not controls and _CONTROL.search(value):
        raise InvalidArgumentError(f"{what} {value[:40]!r} contains control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentError(
            f"{what} {value[:40]!r} is not valid Unicode (a lone surrogate)"
        ) from None
    return value


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


@functools.cache
def keyword_names(function: Callable[..., object]) -> frozenset[str] | None:
    """The keyword arguments ``function`` takes by name, or ``None`` when it takes any
    (it has ``**kwargs``)."""
    names = set()
    for param in inspect.signature(function).parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if param.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            names.add(param.name)
    names.discard("self")
    return frozenset(names)


def reject_unknown_arguments(
    owner: str,
    given: Iterable[str],
    valid: Iterable[str],
    hints: Mapping[str, str] | None = None,
) -> None:
    """Raise for the first of ``given`` that is not in ``valid``, naming the nearest valid one.

    Args:
        owner: What was being built (``"DataCard"``), named in the message.
        given: The keyword arguments of the call.
        valid: The keyword arguments ``owner`` takes.
        hints: The fix to suggest for a known mistake, by argument (instead of the nearest).

    Raises:
        UnknownArgumentError: An argument of ``given`` is not in ``valid``.
    """
    known = set(valid)
    unknown = sorted(name for name in given if name not in known)
    if not unknown:
        return
    name = unknown[0]
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    if hints and name in hints:
        hint = f"; {hints[name]}"
    elif close:
        hint = f"; did you mean {close[0]!r}?"
    else:
        hint = f"; it takes {', '.join(sorted(known))}"
    more = f" (and {', '.join(map(repr, unknown[1:]))})" if len(unknown) > 1 else ""
    raise UnknownArgumentError(f"{owner}() got an unexpected argument {name!r}{more}{hint}")
