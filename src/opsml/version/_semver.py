"""SemVer 2.0 versions: strict parsing, precedence, and order-preserving string keys.

The string keys (:meth:`Version.pre_key`, :meth:`Version.build_key`) let a SQL database sort
and filter versions by precedence with plain string comparisons. Each key is the hex encoding
of a byte string built so that bytewise order equals SemVer order:

* a numeric identifier ``n`` is ``0x01, len(str(n)), str(n)`` (no leading zeros, so a longer
  number is a bigger number, and equal lengths compare digit by digit);
* an alphanumeric identifier ``s`` is ``0x02, s, 0x00`` (``0x01 < 0x02`` puts numbers below
  words; the ``0x00`` terminator sorts ``"rc"`` before ``"rc1"`` and before any next
  identifier);
* identifiers are concatenated, so a list that is a prefix of another sorts first.

A final release has the prerelease key ``"ff"``, above every prerelease (those start with
``01`` or ``02``). Build metadata without identifiers has the key ``""``, below every build.
Only the characters ``0-9a-f`` appear, so every database collation orders the keys the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from opsml.errors import InvalidVersionError

__all__ = [
    "FINAL_PRE_KEY",
    "MAX_NUMBER",
    "MAX_VERSION_LENGTH",
    "PrecedenceKey",
    "PrereleaseId",
    "Version",
    "compare",
    "pad_version",
    "parse_build_ids",
    "parse_prerelease_ids",
]

MAX_VERSION_LENGTH = 100
"""Longest version text accepted: keeps both order keys within 300 characters."""

MAX_NUMBER = 2**31 - 1
"""Largest MAJOR, MINOR or PATCH number: fits a 32-bit SQL ``INTEGER`` on every database."""

FINAL_PRE_KEY = "ff"
"""The :meth:`Version.pre_key` of every final release (above every prerelease key)."""

PrereleaseId: TypeAlias = str | int
_IdKey: TypeAlias = tuple[int, int, str]
PrecedenceKey: TypeAlias = tuple[int, int, int, int, tuple[_IdKey, ...]]

_NUMERIC = r"(?:0|[1-9][0-9]*)"
_PRE_ID = rf"(?:{_NUMERIC}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
_VERSION_RE = re.compile(
    rf"(?P<major>{_NUMERIC})\.(?P<minor>{_NUMERIC})\.(?P<patch>{_NUMERIC})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    rf"(?:\+(?P<build>{_BUILD_ID}(?:\.{_BUILD_ID})*))?"
)
_NUMERIC_RE = re.compile(_NUMERIC)
_ALPHANUMERIC_ID_RE = re.compile(r"[0-9]*[A-Za-z-][0-9A-Za-z-]*")
_BUILD_ID_RE = re.compile(_BUILD_ID)
_FORMAT = "expected MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (SemVer 2.0), e.g. '1.2.3-rc.1'"


def _show(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:60] + "...")


def parse_prerelease_ids(text: str, what: str = "prerelease") -> tuple[PrereleaseId, ...]:
    """Parse dot-separated prerelease identifiers (``"rc.1"`` → ``("rc", 1)``).

    Args:
        text: The identifiers, without the leading ``-``.
        what: How to name ``text`` in the error message.

    Returns:
        The identifiers; numeric ones as ``int``.

    Raises:
        InvalidVersionError: An identifier is empty, has characters outside
            ``[0-9A-Za-z-]``, or is a number with a leading zero.
    """
    ids: list[PrereleaseId] = []
    for ident in text.split("."):
        if _NUMERIC_RE.fullmatch(ident):
            ids.append(int(ident))
        elif _ALPHANUMERIC_ID_RE.fullmatch(ident):
            ids.append(ident)
        else:
            raise InvalidVersionError(
                f"invalid {what} {_show(text)}: identifiers are dot-separated, non-empty, "
                "made of [0-9A-Za-z-], and numbers have no leading zeros"
            )
    return tuple(ids)


def parse_build_ids(text: str, what: str = "build metadata") -> tuple[str, ...]:
    """Parse dot-separated build identifiers (``"build.01"`` → ``("build", "01")``).

    Args:
        text: The identifiers, without the leading ``+``.
        what: How to name ``text`` in the error message.

    Returns:
        The identifiers, as strings (leading zeros are allowed in build metadata).

    Raises:
        InvalidVersionError: An identifier is empty or has characters outside ``[0-9A-Za-z-]``.
    """
    ids = tuple(text.split("."))
    if not all(_BUILD_ID_RE.fullmatch(ident) for ident in ids):
        raise InvalidVersionError(
            f"invalid {what} {_show(text)}: identifiers are dot-separated, non-empty "
            "and made of [0-9A-Za-z-]"
        )
    return ids


def _diagnose(text: str) -> str:
    """Say what is wrong with a string that is not a SemVer version."""
    if not text:
        return "a version cannot be empty"
    if text[0] in "vV":
        return f"invalid version {_show(text)}: drop the leading {text[0]!r}: {text[1:]!r}"
    if text != text.strip():
        return f"invalid version {_show(text)}: remove the surrounding whitespace: {text.strip()!r}"
    if re.search(r"(?:^|[.-])0[0-9]", text.split("+", 1)[0]):
        return f"invalid version {_show(text)}: numbers may not have leading zeros"
    return f"invalid version {_show(text)}: {_FORMAT}"


def _id_key(ident: PrereleaseId) -> _IdKey:
    # Numeric identifiers sort numerically and below alphanumeric ones (SemVer 11.4.3).
    return (0, ident, "") if isinstance(ident, int) else (1, 0, ident)


def _build_order_ids(build: tuple[str, ...]) -> tuple[PrereleaseId, ...]:
    # Build metadata has no precedence; for a deterministic order, canonical numbers count as
    # numbers and everything else (leading zeros included) as text, which keeps keys unique.
    return tuple(int(i) if _NUMERIC_RE.fullmatch(i) else i for i in build)


def _encode(ids: tuple[PrereleaseId, ...]) -> str:
    out = bytearray()
    for ident in ids:
        if isinstance(ident, int):
            digits = str(ident).encode("ascii")
            out += bytes((1, len(digits))) + digits
        else:
            out += b"\x02" + ident.encode("ascii") + b"\x00"
    return out.hex()


@dataclass(frozen=True, slots=True)
class Version:
    """A SemVer 2.0 version.

    ``==`` is full equality (build metadata included). ``<``, ``<=``, ``>``, ``>=`` follow
    SemVer precedence, which ignores build metadata: ``1.0.0+a <= 1.0.0+b`` and
    ``1.0.0+b <= 1.0.0+a`` both hold while the two are not equal. Use :meth:`sort_key` for a
    total order (precedence, then build metadata).

    Attributes:
        major: MAJOR number, ``0``..``MAX_NUMBER``.
        minor: MINOR number.
        patch: PATCH number.
        pre: Prerelease identifiers, numeric ones as ``int`` (``("rc", 1)``).
        build: Build metadata identifiers (``("build", "7")``).

    Raises:
        InvalidVersionError: On construction, when a field is out of range or malformed.
    """

    major: int
    minor: int
    patch: int
    pre: tuple[PrereleaseId, ...] = ()
    build: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field in ("major", "minor", "patch"):
            value = getattr(self, field)
            if type(value) is not int or not 0 <= value <= MAX_NUMBER:
                raise InvalidVersionError(
                    f"{field} must be an integer from 0 to {MAX_NUMBER}, got {value!r}"
                )
        if type(self.pre) is not tuple or not all(
            (type(i) is int and i >= 0) or (type(i) is str and _ALPHANUMERIC_ID_RE.fullmatch(i))
            for i in self.pre
        ):
            raise InvalidVersionError(
                f"invalid prerelease {self.pre!r}: a tuple of non-negative ints and "
                "non-numeric [0-9A-Za-z-] strings"
            )
        if type(self.build) is not tuple or not all(
            type(i) is str and _BUILD_ID_RE.fullmatch(i) for i in self.build
        ):
            raise InvalidVersionError(
                f"invalid build metadata {self.build!r}: a tuple of [0-9A-Za-z-] strings"
            )
        if len(str(self)) > MAX_VERSION_LENGTH:
            raise InvalidVersionError(
                f"version {_show(str(self))} is longer than {MAX_VERSION_LENGTH} characters"
            )

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse a full SemVer 2.0 version, strictly.

        No leading ``v``, no surrounding whitespace, no leading zeros in numbers, no partial
        versions.

        Args:
            text: ``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``, e.g. ``"1.2.3-rc.1+build.5"``.

        Returns:
            The version.

        Raises:
            InvalidVersionError: ``text`` is not a valid SemVer 2.0 version; the message says
                what is wrong.
        """
        if not isinstance(text, str):
            raise InvalidVersionError(f"a version must be a string, got {type(text).__name__}")
        if len(text) > MAX_VERSION_LENGTH:
            raise InvalidVersionError(
                f"version {_show(text)} is longer than {MAX_VERSION_LENGTH} characters"
            )
        match = _VERSION_RE.fullmatch(text)
        if match is None:
            raise InvalidVersionError(_diagnose(text))
        pre, build = match["pre"], match["build"]
        return cls(
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"]),
            parse_prerelease_ids(pre) if pre is not None else (),
            parse_build_ids(build) if build is not None else (),
        )

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(str(i) for i in self.pre)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    @property
    def is_prerelease(self) -> bool:
        """Whether the version has prerelease identifiers (``1.0.0-rc.1``)."""
        return bool(self.pre)

    def precedence_key(self) -> PrecedenceKey:
        """A tuple whose natural order is SemVer precedence (build metadata ignored)."""
        if not self.pre:
            return (self.major, self.minor, self.patch, 1, ())
        return (self.major, self.minor, self.patch, 0, tuple(_id_key(i) for i in self.pre))

    def sort_key(self) -> tuple[PrecedenceKey, tuple[_IdKey, ...]]:
        """A total order: precedence, then build metadata (none first).

        The build part orders like :meth:`build_key`, so sorting by ``sort_key()`` and sorting
        by ``(major, minor, patch, pre_key(), build_key())`` agree.
        """
        return (self.precedence_key(), tuple(_id_key(i) for i in _build_order_ids(self.build)))

    def pre_key(self) -> str:
        """The prerelease order key: lowercase hex whose string order is SemVer precedence.

        Returns:
            ``"ff"`` for a final release, above the key of every prerelease.
        """
        return _encode(self.pre) if self.pre else FINAL_PRE_KEY

    def build_key(self) -> str:
        """The build order key: lowercase hex, ``""`` without build metadata.

        Its string order equals the build part of :meth:`sort_key`.
        """
        return _encode(_build_order_ids(self.build))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence_key() < other.precedence_key()

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence_key() <= other.precedence_key()

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence_key() > other.precedence_key()

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence_key() >= other.precedence_key()


def compare(a: Version, b: Version) -> int:
    """Compare two versions by SemVer precedence.

    Returns:
        ``-1`` if ``a`` has lower precedence than ``b``, ``1`` if higher, ``0`` if equal
        (versions differing only in build metadata have equal precedence).
    """
    ka, kb = a.precedence_key(), b.precedence_key()
    return (ka > kb) - (ka < kb)


def pad_version(numbers: Sequence[int], pre: tuple[PrereleaseId, ...] = ()) -> Version:
    """``Version`` from 0 to 3 leading numbers, the missing ones zero (``(1,)`` → ``1.0.0``)."""
    major, minor, patch = (*numbers, 0, 0, 0)[:3]
    return Version(major, minor, patch, pre)
