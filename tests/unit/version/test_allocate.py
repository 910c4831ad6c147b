"""Version allocation at registration (SPEC §4)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsml.errors import InvalidArgumentError, InvalidVersionError, VersionConflictError
from opsml.types import VersionType
from opsml.version import (
    RequestedVersion,
    Version,
    allocate_version,
    latest,
    parse_requested_version,
    validate_tag,
)

V = Version.parse
Major, Minor, Patch = VersionType.Major, VersionType.Minor, VersionType.Patch
Pre, Build, PreBuild = VersionType.Pre, VersionType.Build, VersionType.PreBuild


def allocate(
    existing: str,
    version_type: VersionType,
    requested: str | None = None,
    pre_tag: str | None = None,
    build_tag: str | None = None,
) -> str:
    versions = [V(v) for v in existing.split()]
    new = allocate_version(
        versions, version_type, requested=requested, pre_tag=pre_tag, build_tag=build_tag
    )
    return str(new)


@pytest.mark.parametrize(
    ("existing", "version_type", "expected"),
    [
        # First registration: bump from 0.0.0.
        ("", Minor, "0.1.0"),
        ("", Major, "1.0.0"),
        ("", Patch, "0.0.1"),
        ("", Pre, "0.0.1-rc.1"),
        ("", Build, "0.0.0+build.1"),
        ("", PreBuild, "0.0.1-rc.1+build.1"),
        # Major/Minor/Patch bump the highest final release, ignoring prereleases.
        ("0.1.0", Minor, "0.2.0"),
        ("0.1.0 1.0.0 0.9.0", Minor, "1.1.0"),
        ("1.2.3", Major, "2.0.0"),
        ("1.2.3", Patch, "1.2.4"),
        ("1.0.0 2.0.0-rc.1", Minor, "1.1.0"),
        ("1.0.0 2.0.0-rc.1", Major, "2.0.0"),
        ("1.0.0-rc.1", Minor, "0.1.0"),
        ("1.0.0 1.0.0+build.7", Patch, "1.0.1"),
        # Pre continues the highest prerelease series, or starts one on the next patch.
        ("1.0.0 1.1.0-rc.1", Pre, "1.1.0-rc.2"),
        ("1.0.0 1.1.0-rc.9 1.1.0-rc.10", Pre, "1.1.0-rc.11"),
        ("1.0.0", Pre, "1.0.1-rc.1"),
        ("1.0.0 1.0.0-rc.3", Pre, "1.0.1-rc.1"),
        ("2.0.0-alpha", Pre, "2.0.0-alpha.1"),
        ("2.0.0-alpha.beta.4", Pre, "2.0.0-alpha.beta.5"),
        ("2.0.0-7", Pre, "2.0.0-8"),
        ("1.1.0-rc.1 1.1.0-rc.1+build.1 1.1.0-rc.2+build.1", Pre, "1.1.0-rc.3"),
        # Build numbers the highest version's builds.
        ("1.0.0", Build, "1.0.0+build.1"),
        ("1.0.0 1.0.0+build.1 1.0.0+build.2", Build, "1.0.0+build.3"),
        ("1.0.0+build.1 0.9.0+build.5", Build, "1.0.0+build.2"),
        ("1.0.0 1.1.0-rc.2", Build, "1.1.0-rc.2+build.1"),
        ("1.0.0+build.01", Build, "1.0.0+build.2"),
        # PreBuild: Pre, then Build.
        ("1.0.0", PreBuild, "1.0.1-rc.1+build.1"),
        ("1.0.0 1.0.1-rc.1+build.1", PreBuild, "1.0.1-rc.2+build.1"),
    ],
)
def test_allocation_without_requested_version(
    existing: str, version_type: VersionType, expected: str
) -> None:
    assert allocate(existing, version_type) == expected


@pytest.mark.parametrize(
    ("existing", "version_type", "tags", "expected"),
    [
        ("", Minor, {"pre_tag": "rc"}, "0.1.0-rc.1"),
        ("1.0.0", Minor, {"pre_tag": "rc"}, "1.1.0-rc.1"),
        ("1.0.0 1.1.0-rc.1", Minor, {"pre_tag": "rc"}, "1.1.0-rc.2"),
        ("1.0.0 1.1.0-rc.1", Minor, {"pre_tag": "beta"}, "1.1.0-beta.1"),
        ("1.0.0 2.0.0-rc.1", Major, {"pre_tag": "rc"}, "2.0.0-rc.2"),
        ("1.0.0", Patch, {"pre_tag": "alpha.x"}, "1.0.1-alpha.x.1"),
        ("1.0.0", Pre, {"pre_tag": "beta"}, "1.0.1-beta.1"),
        # A different pre_tag starts its own series on the same release.
        ("1.1.0-alpha.3", Pre, {"pre_tag": "beta"}, "1.1.0-beta.1"),
        ("1.1.0-alpha.3 1.1.0-beta.1", Pre, {"pre_tag": "beta"}, "1.1.0-beta.2"),
        ("1.0.0+nightly.4", Build, {"build_tag": "nightly"}, "1.0.0+nightly.5"),
        ("1.0.0", Build, {"build_tag": "001"}, "1.0.0+001.1"),
        ("1.0.0", PreBuild, {"pre_tag": "b", "build_tag": "ci"}, "1.0.1-b.1+ci.1"),
        # build_tag with another bump is appended (OpsML 3 does the same).
        ("1.0.0", Minor, {"build_tag": "ci"}, "1.1.0+ci.1"),
        ("1.0.0", Minor, {"pre_tag": "rc", "build_tag": "ci"}, "1.1.0-rc.1+ci.1"),
    ],
)
def test_allocation_with_tags(
    existing: str, version_type: VersionType, tags: dict[str, str], expected: str
) -> None:
    assert allocate(existing, version_type, **tags) == expected


@pytest.mark.parametrize(
    ("existing", "version_type", "requested", "expected"),
    [
        ("0.5.0", Minor, "1", "1.0.0"),
        ("1.0.0 1.3.0 1.3.1 2.0.0", Minor, "1", "1.4.0"),
        ("1.0.0 1.3.0 2.0.0", Patch, "1", "1.3.1"),
        ("1.2.0 1.2.7 1.3.0", Patch, "1.2", "1.2.8"),
        ("1.1.0 1.3.0", Patch, "1.2", "1.2.0"),
        ("", Patch, "1.2", "1.2.0"),
        # A bump of a number the prefix pins falls to the first free number.
        ("1.3.0 2.0.0", Major, "1", "1.4.0"),
        ("1.2.3 1.3.0", Minor, "1.2", "1.2.4"),
        ("1.2.3", Major, "1.2", "1.2.4"),
        ("", Major, "3", "3.0.0"),
        # Prereleases inside the prefix do not count as releases.
        ("1.0.0-rc.1", Minor, "1", "1.0.0"),
        ("1.0.0 1.1.0-rc.1 2.0.0", Pre, "1", "1.1.0-rc.2"),
        ("1.0.0 2.0.0", Pre, "1", "1.0.1-rc.1"),
        ("2.0.0", Pre, "1", "1.0.0-rc.1"),
        ("1.4.2 2.0.0", Build, "1", "1.4.2+build.1"),
        ("", Build, "1.2", "1.2.0+build.1"),
        ("1.9.0", PreBuild, "1.2", "1.2.0-rc.1+build.1"),
        ("0.9.0", Minor, " 1 ", "1.0.0"),
    ],
)
def test_allocation_inside_a_prefix(
    existing: str, version_type: VersionType, requested: str, expected: str
) -> None:
    assert allocate(existing, version_type, requested) == expected


def test_prefix_with_pre_tag_continues_the_series() -> None:
    assert allocate("1.0.0 1.1.0-rc.1", Minor, "1", pre_tag="rc") == "1.1.0-rc.2"


@pytest.mark.parametrize("version_type", list(VersionType))
@pytest.mark.parametrize("requested", ["1.2.3", "1.2.3-rc.1", "1.2.3+b.1", "0.0.0"])
def test_full_version_is_used_as_given(version_type: VersionType, requested: str) -> None:
    assert allocate("1.0.0 1.2.3+other 2.0.0", version_type, requested) == requested


@pytest.mark.parametrize("requested", ["1.2.3", "1.2.3-rc.1", "1.2.3+b.1"])
def test_full_version_that_exists_is_a_conflict(requested: str) -> None:
    with pytest.raises(VersionConflictError, match=requested.replace("+", r"\+")):
        allocate(f"1.0.0 {requested}", Minor, requested)


def test_full_version_is_never_combined_with_tags() -> None:
    with pytest.raises(InvalidVersionError, match="given in full"):
        allocate("", Minor, "1.2.3", pre_tag="rc")
    with pytest.raises(InvalidVersionError, match="given in full"):
        allocate("", Build, "1.2.3", build_tag="b")


def test_pre_tag_does_not_apply_to_build() -> None:
    with pytest.raises(InvalidVersionError, match="PreBuild"):
        allocate("1.0.0", Build, pre_tag="rc")


@pytest.mark.parametrize("tag", ["", "rc..1", "rc_1", "rc.01", ".rc", "rc.", "rc 1", "é"])
def test_bad_pre_tags(tag: str) -> None:
    with pytest.raises(InvalidVersionError, match="pre_tag"):
        allocate("", Pre, pre_tag=tag)
    with pytest.raises(InvalidVersionError, match="pre_tag"):
        validate_tag(tag, "pre")


@pytest.mark.parametrize("tag", ["", "b..1", "b_1", "b+1", "b 1"])
def test_bad_build_tags(tag: str) -> None:
    with pytest.raises(InvalidVersionError, match="build_tag"):
        allocate("", Build, build_tag=tag)
    with pytest.raises(InvalidVersionError, match="build_tag"):
        validate_tag(tag, "build")


def test_good_tags_are_returned() -> None:
    assert validate_tag("rc.1-x", "pre") == "rc.1-x"
    assert validate_tag("007.sha-1", "build") == "007.sha-1"


def test_version_type_strings_are_accepted() -> None:
    assert allocate_version([], "pre_build") == V("0.0.1-rc.1+build.1")
    assert allocate_version([], "Major") == V("1.0.0")
    with pytest.raises(InvalidArgumentError, match="version_type"):
        allocate_version([], "huge")


def test_allocation_past_the_largest_number_is_an_error() -> None:
    with pytest.raises(InvalidVersionError, match="major"):
        allocate("2147483647.0.0", Major)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", RequestedVersion(prefix=(1,))),
        ("0.2", RequestedVersion(prefix=(0, 2))),
        (" 1.2 ", RequestedVersion(prefix=(1, 2))),
        ("1.2.3", RequestedVersion(version=V("1.2.3"))),
        ("1.2.3-rc.1+b.1", RequestedVersion(version=V("1.2.3-rc.1+b.1"))),
    ],
)
def test_parse_requested_version(text: str, expected: RequestedVersion) -> None:
    parsed = parse_requested_version(text)
    assert parsed == expected
    assert parsed.is_full == (expected.version is not None)
    assert str(parsed) == text.strip()


@pytest.mark.parametrize(
    "text", ["", "v1", "01", "1.02", "1.", "1.*", "^1", "1.x", "1.2-rc.1", "1.2.3.4", "-1", "a"]
)
def test_parse_requested_version_rejects(text: str) -> None:
    with pytest.raises(InvalidVersionError):
        parse_requested_version(text)


def test_requested_version_needs_exactly_one_form() -> None:
    with pytest.raises(InvalidVersionError):
        RequestedVersion()
    with pytest.raises(InvalidVersionError):
        RequestedVersion(prefix=(1,), version=V("1.0.0"))
    with pytest.raises(InvalidVersionError):
        RequestedVersion(prefix=(1, 2, 3))


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ("", None),
        ("0.1.0 1.0.0 0.9.0", "1.0.0"),
        ("1.0.0 2.0.0-rc.1", "1.0.0"),
        ("1.0.0-rc.1 1.0.0-rc.2 0.1.0-alpha", "1.0.0-rc.2"),
        ("1.0.0 1.0.0+build.2 1.0.0+build.1", "1.0.0+build.2"),
    ],
)
def test_latest(versions: str, expected: str | None) -> None:
    found = latest(V(v) for v in versions.split())
    assert (str(found) if found else None) == expected


# Small numbers and a few identifiers, so that series and prefixes collide a lot.
small = st.integers(0, 3)
existing_versions = st.lists(
    st.builds(
        Version,
        small,
        small,
        small,
        st.sampled_from([(), (), ("rc", 1), ("rc", 2), ("beta", 1), ("rc",), (1,), ("rc", "x")]),
        st.sampled_from([(), (), ("build", "1"), ("build", "2"), ("ci", "1"), ("build",)]),
    ),
    max_size=25,
)
tags = st.sampled_from([None, "rc", "beta", "1", "rc.x"])
build_tags = st.sampled_from([None, "build", "ci"])
requests = st.one_of(st.none(), st.sampled_from(["0", "1", "1.2", "3.0", "2.3.1", "1.2.3-rc.1"]))


@settings(deadline=None, max_examples=300)
@given(existing_versions, st.sampled_from(list(VersionType)), requests, tags, build_tags)
def test_never_returns_an_existing_version(
    existing: list[Version],
    version_type: VersionType,
    requested: str | None,
    pre_tag: str | None,
    build_tag: str | None,
) -> None:
    try:
        new = allocate_version(
            existing, version_type, requested=requested, pre_tag=pre_tag, build_tag=build_tag
        )
    except VersionConflictError:
        assert requested is not None
        assert V(requested) in existing
        return
    except InvalidVersionError:
        # Only the documented misuses: tags with a full version, pre_tag with Build.
        full = requested is not None and parse_requested_version(requested).is_full
        assert (full and (pre_tag or build_tag)) or (version_type is Build and pre_tag)
        return
    assert new not in existing
    if requested is not None:
        assert parse_requested_version(requested).contains(new)


@settings(deadline=None)
@given(existing_versions, st.lists(st.tuples(st.sampled_from(list(VersionType)), tags), max_size=8))
def test_repeated_allocation_keeps_finding_new_versions(
    existing: list[Version], steps: list[tuple[VersionType, str | None]]
) -> None:
    registered = list(existing)
    for version_type, pre_tag in steps:
        tag = None if version_type is Build else pre_tag
        new = allocate_version(registered, version_type, pre_tag=tag)
        assert new not in registered
        registered.append(new)


@settings(deadline=None)
@given(
    existing_versions, st.sampled_from([Major, Minor, Patch]), st.sampled_from([None, "1", "1.2"])
)
def test_bumps_land_above_every_release_in_scope(
    existing: list[Version], version_type: VersionType, requested: str | None
) -> None:
    new = allocate_version(existing, version_type, requested=requested)
    scope = [
        v for v in existing if requested is None or parse_requested_version(requested).contains(v)
    ]
    assert not new.is_prerelease
    assert all(new > v for v in scope if not v.is_prerelease)


@settings(deadline=None)
@given(existing_versions, st.sampled_from([None, "1", "1.2"]))
def test_pre_lands_above_everything_in_scope(
    existing: list[Version], requested: str | None
) -> None:
    new = allocate_version(existing, Pre, requested=requested)
    scope = [
        v for v in existing if requested is None or parse_requested_version(requested).contains(v)
    ]
    assert new.is_prerelease
    assert all(new > v for v in scope)
