"""Version allocation at registration (SPEC §4), as a pure function of the existing versions.

The database enforces uniqueness; this module makes sure the version it proposes is free in
the set it was given, so a retry after a lost race converges.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from opsml.errors import InvalidArgumentError, InvalidVersionError, VersionConflictError
from opsml.types import VersionType
from opsml.version._semver import (
    MAX_NUMBER,
    MAX_VERSION_LENGTH,
    PrereleaseId,
    Version,
    compare,
    pad_version,
    parse_build_ids,
    parse_prerelease_ids,
)

__all__ = [
    "RequestedVersion",
    "allocate_version",
    "latest",
    "parse_requested_version",
    "validate_tag",
]

_DEFAULT_PRE_TAG = ("rc",)
_DEFAULT_BUILD_TAG = ("build",)
_WS = " \t\n\r\f\v"
_NUMBER_RE = re.compile(r"0|[1-9][0-9]*")
_LEVEL = {VersionType.Major: 0, VersionType.Minor: 1, VersionType.Patch: 2}


@dataclass(frozen=True, slots=True)
class RequestedVersion:
    """What a user put in ``card.version`` before registration.

    Either a full version, used as given, or a prefix (``"1"``, ``"1.2"``) that the new
    version is allocated inside. Build one with :func:`parse_requested_version`.

    Attributes:
        prefix: ``(major,)`` or ``(major, minor)`` for a prefix; ``()`` for a full version.
        version: The full version; ``None`` for a prefix.

    Raises:
        InvalidVersionError: On construction, unless exactly one of the two is given.
    """

    prefix: tuple[int, ...] = ()
    version: Version | None = None

    def __post_init__(self) -> None:
        if (self.version is None) == (not self.prefix) or len(self.prefix) > 2:
            raise InvalidVersionError(
                "a requested version is either a full version or a prefix of 1 or 2 numbers"
            )
        if not all(type(n) is int and 0 <= n <= MAX_NUMBER for n in self.prefix):
            raise InvalidVersionError(f"version numbers run from 0 to {MAX_NUMBER}")

    @property
    def is_full(self) -> bool:
        """Whether a full version was given (it will be used exactly as given)."""
        return self.version is not None

    def contains(self, version: Version) -> bool:
        """Whether ``version`` lies inside this prefix (a full request contains only itself)."""
        if self.version is not None:
            return version == self.version
        return (version.major, version.minor)[: len(self.prefix)] == self.prefix

    def __str__(self) -> str:
        return str(self.version) if self.version is not None else ".".join(map(str, self.prefix))


def parse_requested_version(text: str) -> RequestedVersion:
    """Parse ``card.version``: a prefix ``"1"`` / ``"1.2"`` or a full SemVer version.

    Surrounding whitespace is ignored.

    Args:
        text: ``"1"``, ``"1.2"``, ``"1.2.3"``, ``"1.2.3-rc.1"``, ``"1.2.3+build.1"``...

    Returns:
        The requested version.

    Raises:
        InvalidVersionError: Anything else (wildcards and ranges are for queries, not here).
    """
    if not isinstance(text, str):
        raise InvalidVersionError(f"a version must be a string, got {type(text).__name__}")
    stripped = text.strip(_WS)
    parts = stripped.split(".")
    if len(parts) <= 2 and not any(c in stripped for c in "-+"):
        if len(stripped) > MAX_VERSION_LENGTH or not all(_NUMBER_RE.fullmatch(p) for p in parts):
            raise InvalidVersionError(
                f"invalid version {text!r}: expected a full version ('1.2.3', '1.2.3-rc.1') "
                "or a prefix to allocate inside ('1', '1.2'), numbers without leading zeros"
            )
        return RequestedVersion(prefix=tuple(int(p) for p in parts))
    return RequestedVersion(version=Version.parse(stripped))


def validate_tag(tag: str, kind: Literal["pre", "build"]) -> str:
    """Check a ``pre_tag`` or ``build_tag`` before anything is written.

    Args:
        tag: Dot-separated identifiers of ``[0-9A-Za-z-]`` (``"rc"``, ``"alpha.beta"``).
        kind: ``"pre"`` (numbers may not have leading zeros) or ``"build"``.

    Returns:
        ``tag`` unchanged.

    Raises:
        InvalidVersionError: The tag is not valid SemVer prerelease/build text.
    """
    if not isinstance(tag, str):
        raise InvalidVersionError(f"{kind}_tag must be a string, got {type(tag).__name__}")
    if kind == "pre":
        parse_prerelease_ids(tag, "pre_tag")
    else:
        parse_build_ids(tag, "build_tag")
    return tag


def allocate_version(
    existing: Iterable[Version],
    version_type: VersionType | str,
    *,
    requested: RequestedVersion | str | None = None,
    pre_tag: str | None = None,
    build_tag: str | None = None,
) -> Version:
    """Choose the version of a card being registered (SPEC §4); never one in ``existing``.

    Without ``requested``, Major/Minor/Patch bump the highest final release (``0.0.0`` when
    there is none); ``pre_tag`` turns the result into ``X-<pre_tag>.N``, continuing an
    existing ``X-<pre_tag>.N`` series. Pre continues the highest version's prerelease series
    (or starts ``-<pre_tag or "rc">.1`` on the next patch), Build adds
    ``+<build_tag or "build">.N`` to the highest version, PreBuild does Pre then Build. A
    ``build_tag`` given with another type is appended the same way.

    A prefix ``requested`` (``"1"``, ``"1.2"``) restricts all of this to the versions inside
    it, and starts at ``1.0.0`` / ``1.2.0`` when it holds no final release; a bump of a
    number the prefix pins (Major under ``"1"``, Major or Minor under ``"1.2"``) bumps the
    first number it leaves free instead. A full ``requested`` is returned as given.

    Args:
        existing: Every registered version of the card's space and name.
        version_type: A :class:`~opsml.types.VersionType` or its string (``"minor"``).
        requested: The card's version, parsed or as text; ``None`` when unset.
        pre_tag: Prerelease identifiers for Major/Minor/Patch/Pre/PreBuild.
        build_tag: Build identifiers (default ``"build"`` for Build and PreBuild).

    Returns:
        The new version.

    Raises:
        VersionConflictError: ``requested`` is a full version that already exists.
        InvalidVersionError: A malformed tag or ``requested``; a tag combined with a full
            version; ``pre_tag`` with Build; or a number overflowing ``MAX_NUMBER``.
        InvalidArgumentError: ``version_type`` is not a version type.
    """
    vtype = _version_type(version_type)
    pre_ids = parse_prerelease_ids(pre_tag, "pre_tag") if pre_tag is not None else None
    build_ids = parse_build_ids(build_tag, "build_tag") if build_tag is not None else None
    if isinstance(requested, str):
        requested = parse_requested_version(requested)
    versions = list(existing)

    if requested is not None and requested.version is not None:
        if pre_tag is not None or build_tag is not None:
            raise InvalidVersionError(
                f"version {requested.version} is given in full; pre_tag and build_tag only "
                "apply when opsml allocates the version"
            )
        if requested.version in versions:
            raise VersionConflictError(f"version {requested.version} is already registered")
        return requested.version

    prefix = requested.prefix if requested is not None else ()
    scope = versions if requested is None else [v for v in versions if requested.contains(v)]

    if vtype is VersionType.Build:
        if pre_ids is not None:
            raise InvalidVersionError("pre_tag does not apply to VersionType.Build; use PreBuild")
        highest = max(scope, key=Version.sort_key, default=None)
        base = pad_version(prefix) if highest is None else Version(*_numbers(highest), highest.pre)
        return _with_build(base, scope, build_ids or _DEFAULT_BUILD_TAG)
    if vtype in (VersionType.Pre, VersionType.PreBuild):
        new = _next_prerelease(scope, prefix, pre_ids)
    else:
        new = _bump(scope, prefix, _LEVEL[vtype], pre_ids)
    if vtype is VersionType.PreBuild or build_ids is not None:
        return _with_build(new, scope, build_ids or _DEFAULT_BUILD_TAG)
    return new


def latest(versions: Iterable[Version]) -> Version | None:
    """The version ``load_card`` picks when none is asked for.

    Returns:
        The highest final release; the highest prerelease if there is no final release;
        ``None`` for no versions. Ties in precedence go to the highest build metadata.
    """
    pool = list(versions)
    finals = [v for v in pool if not v.is_prerelease]
    return max(finals or pool, key=Version.sort_key, default=None)


def _version_type(value: VersionType | str) -> VersionType:
    try:
        return VersionType(value)
    except ValueError as exc:
        choices = ", ".join(repr(t.value) for t in VersionType)
        raise InvalidArgumentError(
            f"unknown version_type {value!r}; use a VersionType or one of {choices}"
        ) from exc


def _numbers(version: Version) -> tuple[int, int, int]:
    return (version.major, version.minor, version.patch)


def _bump(
    scope: list[Version],
    prefix: tuple[int, ...],
    level: int,
    pre_ids: tuple[PrereleaseId, ...] | None,
) -> Version:
    """Major/Minor/Patch: bump the highest final release at ``level`` (0, 1, 2)."""
    level = max(level, len(prefix))
    finals = [v for v in scope if not v.is_prerelease]
    if not finals and prefix:
        target = pad_version(prefix)
    else:
        base = max(finals, key=Version.precedence_key, default=Version(0, 0, 0))
        numbers = list(_numbers(base))
        numbers[level] += 1
        numbers[level + 1 :] = [0] * (2 - level)
        target = pad_version(numbers)
    return target if pre_ids is None else _next_in_series(target, pre_ids, scope)


def _next_prerelease(
    scope: list[Version], prefix: tuple[int, ...], pre_ids: tuple[PrereleaseId, ...] | None
) -> Version:
    """Pre: continue the highest prerelease series, or start one on the next patch."""
    highest = max(scope, key=Version.sort_key, default=None)
    if highest is not None and highest.is_prerelease:
        core = Version(*_numbers(highest))
        if pre_ids is not None:
            tag = pre_ids
        elif isinstance(highest.pre[-1], int):
            tag = highest.pre[:-1]
        else:
            tag = highest.pre
        return _next_in_series(core, tag, scope)
    if highest is not None:
        core = Version(highest.major, highest.minor, highest.patch + 1)
    else:
        core = pad_version(prefix) if prefix else Version(0, 0, 1)
    return _next_in_series(core, pre_ids if pre_ids is not None else _DEFAULT_PRE_TAG, scope)


def _next_in_series(core: Version, tag: tuple[PrereleaseId, ...], scope: list[Version]) -> Version:
    """``core-<tag>.N`` with N one above every existing ``core-<tag>.N`` (any build)."""
    n = 1
    for v in scope:
        last = v.pre[-1] if len(v.pre) == len(tag) + 1 else None
        if isinstance(last, int) and v.pre[:-1] == tag and _numbers(v) == _numbers(core):
            n = max(n, last + 1)
    return Version(*_numbers(core), (*tag, n))


def _with_build(base: Version, scope: list[Version], tag: tuple[str, ...]) -> Version:
    """``base+<tag>.N`` with N one above every ``+<tag>.N`` of a version equal to ``base``."""
    taken = (
        int(v.build[-1])
        for v in scope
        if compare(v, base) == 0
        and len(v.build) == len(tag) + 1
        and v.build[:-1] == tag
        and v.build[-1].isdigit()
    )
    n = 1 + max(taken, default=0)
    return Version(*_numbers(base), base.pre, (*tag, str(n)))
