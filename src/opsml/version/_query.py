"""Version queries (SPEC §4): ``*``, ``1.*``, ``^1.2``, ``~1.2.3``, ``>=1.2, <2``, ``1.2.3``.

A query is parsed into a conjunction of comparators ``(op, Version)``. A partial version
stands for the block of versions that start with it: ``1.2`` is every ``1.2.x`` including its
prereleases, i.e. ``>=1.2.0-0 <1.3.0-0`` (``0`` is the lowest prerelease there is). Bounds
are written with ``-0`` so that, when prereleases are in play, ``1.*`` never reaches into
``2.0.0-rc.1``; for final releases this is the familiar ``>=1.2.0 <1.3.0``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

from opsml.errors import InvalidVersionError
from opsml.version._semver import MAX_NUMBER, Version, compare, pad_version

__all__ = ["MAX_QUERY_LENGTH", "Comparator", "ComparatorOp", "VersionQuery"]

MAX_QUERY_LENGTH = 256
"""Longest version query accepted."""

ComparatorOp: TypeAlias = Literal[">=", ">", "<", "<=", "=="]

_ANY = frozenset({"", "*", "x", "X"})
_RANGE_OPS: dict[str, ComparatorOp] = {">=": ">=", ">": ">", "<": "<", "<=": "<="}
_WS = " \t\n\r\f\v"
_TERM_RE = re.compile(r"(>=|<=|==|=|>|<|\^|~)?[ \t\n\r\f\v]*([^ \t\n\r\f\v,<>=^~]+)")
_PART_RE = re.compile(r"0|[1-9][0-9]*|[xX*]")
_FLOOR = (0,)
"""Prerelease identifiers of the lowest version with a given MAJOR.MINOR.PATCH."""
_LOWEST = Version(0, 0, 0, _FLOOR)
"""The lowest version there is: ``< 0.0.0-0`` matches nothing, ``>= 0.0.0-0`` everything."""


@dataclass(frozen=True, slots=True)
class Comparator:
    """One condition of a query: ``op`` applied to ``version`` by SemVer precedence.

    ``==`` with a version that has build metadata matches only that exact build; without
    build metadata it matches every build of the version.

    Attributes:
        op: One of ``>=``, ``>``, ``<``, ``<=``, ``==``.
        version: The version compared against.
    """

    op: ComparatorOp
    version: Version

    def matches(self, version: Version) -> bool:
        """Whether ``version`` satisfies this comparator."""
        if self.op == "==" and self.version.build:
            return version == self.version
        c = compare(version, self.version)
        if self.op == ">=":
            return c >= 0
        if self.op == ">":
            return c > 0
        if self.op == "<":
            return c < 0
        if self.op == "<=":
            return c <= 0
        return c == 0

    def __str__(self) -> str:
        return f"{self.op}{self.version}"


@dataclass(frozen=True, slots=True)
class VersionQuery:
    """A parsed version query; build one with :meth:`VersionQuery.parse`.

    Attributes:
        comparators: Conditions that must all hold; empty for "any version".
        includes_prerelease: Whether prereleases can match. True only when the query names a
            prerelease (e.g. ``>=1.0.0-rc.1``) or places no constraint at all.
        text: The query as given (stripped), ``"*"`` for "any version".
    """

    comparators: tuple[Comparator, ...] = ()
    includes_prerelease: bool = True
    text: str = "*"

    @classmethod
    def parse(cls, text: str | None) -> VersionQuery:
        """Parse a version query.

        ``None``, ``""``, ``"*"``, ``"x"`` and ``"latest"`` place no constraint. Otherwise
        the query is one or more terms separated by commas and/or whitespace, all of which
        must hold. A term is an optional operator (``>=``, ``>``, ``<``, ``<=``, ``=``,
        ``==``, ``^``, ``~``) followed by a version that may be partial (``1``, ``1.2``) or
        end in a wildcard (``1.*``, ``1.2.x``); build metadata is only allowed in an exact
        version (``1.2.3+build.1``).

        Args:
            text: The query.

        Returns:
            The query.

        Raises:
            InvalidVersionError: The query is malformed, longer than 256 characters, or
                names a number above ``MAX_NUMBER``.
        """
        if text is None:
            return cls()
        if not isinstance(text, str):
            raise InvalidVersionError(
                f"a version query must be a string, got {type(text).__name__}"
            )
        if len(text) > MAX_QUERY_LENGTH:
            raise InvalidVersionError(f"version query is longer than {MAX_QUERY_LENGTH} characters")
        if "\x00" in text:
            raise InvalidVersionError("version query contains a NUL character")
        stripped = text.strip(_WS)
        if stripped in _ANY or stripped.lower() == "latest":
            return cls()
        comparators: list[Comparator] = []
        names_prerelease = False
        for op, version_text in _terms(stripped):
            term, named = _expand(op, version_text, stripped)
            comparators.extend(term)
            names_prerelease = names_prerelease or named
        return cls(
            tuple(comparators),
            includes_prerelease=names_prerelease or not comparators,
            text=stripped,
        )

    @property
    def is_any(self) -> bool:
        """Whether the query places no constraint (every version matches, prereleases too)."""
        return not self.comparators

    @property
    def exact_build(self) -> str | None:
        """The build metadata an exact query pins (``"build.1"`` for ``1.2.3+build.1``)."""
        for comparator in self.comparators:
            if comparator.op == "==" and comparator.version.build:
                return ".".join(comparator.version.build)
        return None

    def matches(self, version: Version) -> bool:
        """Whether ``version`` satisfies the query, prerelease rule included."""
        if version.is_prerelease and not self.includes_prerelease:
            return False
        return all(comparator.matches(version) for comparator in self.comparators)

    def __str__(self) -> str:
        return self.text


def _error(query: str, reason: str) -> InvalidVersionError:
    return InvalidVersionError(f"invalid version query {query!r}: {reason}")


def _terms(query: str) -> list[tuple[str, str]]:
    """Split a query into ``(operator, version text)`` terms."""
    terms: list[tuple[str, str]] = []
    for raw_part in query.split(","):
        part = raw_part.strip(_WS)
        if not part:
            raise _error(query, "empty comparator (stray comma?)")
        pos = 0
        while pos < len(part):
            match = _TERM_RE.match(part, pos)
            if match is None:
                raise _error(
                    query,
                    f"cannot read {part[pos:]!r}: expected a version, optionally after one "
                    "of >=, >, <, <=, =, ==, ^, ~",
                )
            pos = match.end()
            if pos < len(part) and part[pos] not in _WS:
                raise _error(query, "separate comparators with a comma or a space")
            terms.append((match[1] or "", match[2]))
            while pos < len(part) and part[pos] in _WS:
                pos += 1
    return terms


def _expand(op: str, text: str, query: str) -> tuple[list[Comparator], bool]:
    """Turn one term into comparators; also say whether it names a prerelease."""
    if "-" in text or "+" in text:
        try:
            version = Version.parse(text)
        except InvalidVersionError as exc:
            raise _error(query, str(exc)) from exc
        if version.build and op not in ("", "=", "=="):
            raise _error(query, "build metadata is only allowed in an exact version")
        return _full(op, version), version.is_prerelease
    parts = text.split(".")
    if len(parts) > 3 or not all(_PART_RE.fullmatch(p) for p in parts):
        raise _error(
            query,
            f"{text!r} is not a version: expected up to three dot-separated numbers "
            "without leading zeros, or a wildcard (*, x) in place of a number",
        )
    given: list[int] = []
    for part in parts:
        if part in ("*", "x", "X"):
            break
        given.append(_number(part, query))
    if len(given) < len(parts) and any(p not in ("*", "x", "X") for p in parts[len(given) :]):
        raise _error(query, f"in {text!r}, a wildcard can only be followed by wildcards")
    if len(given) == 3:
        return _full(op, pad_version(given)), False
    if not given:
        if op in ("", "=", "==", "^", "~"):
            return [], False
        raise _error(query, f"{op!r} needs a version, not a wildcard")
    return _partial(op, tuple(given)), False


def _number(part: str, query: str) -> int:
    value = int(part)
    if value > MAX_NUMBER:
        raise _error(query, f"{part} is larger than the largest version number {MAX_NUMBER}")
    return value


def _full(op: str, version: Version) -> list[Comparator]:
    if op in ("", "=", "=="):
        return [Comparator("==", version)]
    if op in _RANGE_OPS:
        return [Comparator(_RANGE_OPS[op], version)]
    major, minor, patch = version.major, version.minor, version.patch
    if op == "~":
        upper = _block_end((major, minor))
    elif major:
        upper = _block_end((major,))
    elif minor:
        upper = _block_end((0, minor))
    else:
        upper = _block_end((0, 0, patch))
    return [Comparator(">=", version), *_below(upper)]


def _partial(op: str, given: tuple[int, ...]) -> list[Comparator]:
    start = pad_version(given, _FLOOR)
    end = _block_end(given)
    if op in ("", "=", "==", "~"):
        return [Comparator(">=", start), *_below(end)]
    if op == "^":
        # The first non-zero number given is the one that may not change; "^0" / "^0.0"
        # keep every number given.
        nonzero = next((i for i, n in enumerate(given) if n), len(given) - 1)
        return [Comparator(">=", start), *_below(_block_end(given[: nonzero + 1]))]
    if op == ">=":
        return [Comparator(">=", start)]
    if op == "<":
        return [Comparator("<", start)]
    if op == "<=":
        return _below(end)
    # ">": above the whole block.
    return [Comparator(">=", end)] if end is not None else [Comparator("<", _LOWEST)]


def _block_end(prefix: tuple[int, ...]) -> Version | None:
    """The lowest version above every version starting with ``prefix`` (None: no such)."""
    if prefix[-1] == MAX_NUMBER:
        return _block_end(prefix[:-1]) if len(prefix) > 1 else None
    return pad_version((*prefix[:-1], prefix[-1] + 1), _FLOOR)


def _below(end: Version | None) -> list[Comparator]:
    if end is None:
        # Nothing lies above the block. Keep a (trivially true) comparator so the query is
        # not "any" and still excludes prereleases.
        return [Comparator(">=", _LOWEST)]
    return [Comparator("<", end)]
