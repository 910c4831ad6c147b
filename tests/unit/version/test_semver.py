"""SemVer 2.0 parsing, precedence and the order keys the database sorts by."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsml.errors import InvalidVersionError
from opsml.version import FINAL_PRE_KEY, MAX_NUMBER, MAX_VERSION_LENGTH, Version, compare

# Small alphabets and numbers make equal identifiers (and ties) common.
numbers = st.integers(0, 12) | st.integers(0, MAX_NUMBER)
pre_ids = st.integers(0, 12) | st.integers(0, 10**12) | st.text("aAz-09", min_size=1, max_size=4)
pre_ids = pre_ids.filter(lambda i: not (isinstance(i, str) and i.isdigit()))
build_ids = st.text("abB-019", min_size=1, max_size=4)
versions = st.builds(
    Version,
    numbers,
    numbers,
    numbers,
    st.lists(pre_ids, max_size=4).map(tuple),
    st.lists(build_ids, max_size=3).map(tuple),
)


def spec_compare(a: str, b: str) -> int:
    """SemVer 2.0.0 §11, transcribed rule by rule, on the version strings."""
    # 11.1: build metadata does not figure into precedence.
    a_core, _, a_pre = a.split("+", maxsplit=1)[0].partition("-")
    b_core, _, b_pre = b.split("+", maxsplit=1)[0].partition("-")
    # 11.2: major, minor, patch compared numerically, left to right.
    for x, y in zip(a_core.split("."), b_core.split("."), strict=True):
        if int(x) != int(y):
            return -1 if int(x) < int(y) else 1
    # 11.3: a pre-release version has lower precedence than a normal version.
    if not a_pre or not b_pre:
        return (not a_pre) - (not b_pre)
    # 11.4: compare each dot separated identifier from left to right until a difference.
    a_ids, b_ids = a_pre.split("."), b_pre.split(".")
    for x, y in zip(a_ids, b_ids, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():  # 11.4.1 numerically
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():  # 11.4.3 numeric lower than alphanumeric
            return -1 if x.isdigit() else 1
        return -1 if x < y else 1  # 11.4.2 lexically in ASCII sort order
    # 11.4.4: a larger set of fields has a higher precedence, if all preceding are equal.
    return (len(a_ids) > len(b_ids)) - (len(a_ids) < len(b_ids))


def _sign(x: Any, y: Any) -> int:
    return int(x > y) - int(x < y)


@pytest.mark.parametrize(
    "text",
    [
        "0.0.0",
        "1.2.3",
        "10.20.30",
        "1.0.0-alpha",
        "1.0.0-0.3.7",
        "1.0.0-x.7.z.92",
        "1.0.0-x-y-z.--",
        "1.0.0-alpha+001",
        "1.0.0+20130313144700",
        "1.0.0-beta+exp.sha.5114f85",
        "1.0.0+21AF26D3----117B344092BD",
        f"{MAX_NUMBER}.0.0",
    ],
)
def test_valid_versions_round_trip(text: str) -> None:
    assert str(Version.parse(text)) == text


def test_parse_splits_identifiers() -> None:
    v = Version.parse("1.2.3-rc.1+build.007")
    assert v == Version(1, 2, 3, ("rc", 1), ("build", "007"))
    assert v.is_prerelease
    assert not Version.parse("1.2.3+b").is_prerelease


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "empty"),
        ("1", "MAJOR.MINOR.PATCH"),
        ("1.2", "MAJOR.MINOR.PATCH"),
        ("1.2.3.4", "MAJOR.MINOR.PATCH"),
        ("v1.2.3", "leading 'v'"),
        ("01.2.3", "leading zeros"),
        ("1.02.3", "leading zeros"),
        ("1.2.03", "leading zeros"),
        ("1.2.3-rc.01", "leading zeros"),
        (" 1.2.3", "whitespace"),
        ("1.2.3\n", "whitespace"),
        ("1.2.3-", "MAJOR.MINOR.PATCH"),
        ("1.2.3+", "MAJOR.MINOR.PATCH"),
        ("1.2.3-rc..1", "MAJOR.MINOR.PATCH"),
        ("1.2.3+b..1", "MAJOR.MINOR.PATCH"),
        ("1.2.3-rc_1", "MAJOR.MINOR.PATCH"),
        ("1.2.3-é", "MAJOR.MINOR.PATCH"),
        ("\uff11.2.3", "MAJOR.MINOR.PATCH"),  # a full-width digit is not a digit here
        ("1.2.3\x00", "MAJOR.MINOR.PATCH"),
        (f"{MAX_NUMBER + 1}.0.0", str(MAX_NUMBER)),
        ("1.0.0-" + "a" * MAX_VERSION_LENGTH, "longer than"),
    ],
)
def test_invalid_versions_explain_themselves(text: str, hint: str) -> None:
    with pytest.raises(InvalidVersionError, match=re.escape(hint)):
        Version.parse(text)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"major": -1, "minor": 0, "patch": 0},
        {"major": True, "minor": 0, "patch": 0},
        {"major": 0, "minor": MAX_NUMBER + 1, "patch": 0},
        {"major": 0, "minor": 0, "patch": 0, "pre": ("1",)},  # numeric ids are ints
        {"major": 0, "minor": 0, "patch": 0, "pre": (-1,)},
        {"major": 0, "minor": 0, "patch": 0, "pre": ("",)},
        {"major": 0, "minor": 0, "patch": 0, "pre": ["rc"]},
        {"major": 0, "minor": 0, "patch": 0, "build": ("a b",)},
        {"major": 0, "minor": 0, "patch": 0, "build": (1,)},
    ],
)
def test_constructor_rejects_what_parse_would(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidVersionError):
        Version(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, 1, b"1.2.3"])
def test_parse_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidVersionError, match="must be a string"):
        Version.parse(value)  # type: ignore[arg-type]


def test_spec_example_chain() -> None:
    chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
    ]
    parsed = [Version.parse(s) for s in chain]
    for low, high in itertools.pairwise(parsed):
        assert low < high
        assert high > low
        assert compare(low, high) == -1
        assert (low.major, low.minor, low.patch, low.pre_key()) < (
            high.major,
            high.minor,
            high.patch,
            high.pre_key(),
        )
    backwards = parsed[::-1]
    assert sorted(backwards) == parsed
    assert sorted(backwards, key=Version.sort_key) == parsed


def test_build_metadata_is_ignored_by_precedence_but_not_by_equality() -> None:
    a, b = Version.parse("1.0.0+a"), Version.parse("1.0.0+b")
    assert a != b
    assert len({a, b}) == 2
    assert a <= b
    assert b <= a
    assert not a < b
    assert not b < a
    assert compare(a, b) == 0
    assert a.sort_key() < b.sort_key()
    assert Version.parse("1.0.0") != Version.parse("1.0.0+0")


def test_final_release_key_tops_every_prerelease() -> None:
    assert Version.parse("1.0.0").pre_key() == FINAL_PRE_KEY == "ff"
    assert Version.parse("1.0.0").build_key() == ""
    assert Version.parse("1.0.0-zzzz.zzzz").pre_key() < FINAL_PRE_KEY


@pytest.mark.parametrize("section", ["-", "+"])
@pytest.mark.parametrize("unit", ["a.", "0.", "a-.", "10."])
def test_keys_fit_the_300_character_columns(section: str, unit: str) -> None:
    head = "0.0.0" + section
    text = head + (unit * MAX_VERSION_LENGTH)[: MAX_VERSION_LENGTH - len(head)].strip(".")
    version = Version.parse(text)
    assert len(str(version)) <= MAX_VERSION_LENGTH
    assert len(version.pre_key()) <= 300
    assert len(version.build_key()) <= 300


@settings(deadline=None)
@given(versions, versions)
def test_precedence_matches_the_spec(a: Version, b: Version) -> None:
    expected = spec_compare(str(a), str(b))
    assert compare(a, b) == expected
    assert (a < b) == (expected < 0)
    assert (a > b) == (expected > 0)
    assert (a <= b) == (expected <= 0)
    assert (a >= b) == (expected >= 0)


@settings(deadline=None)
@given(versions, versions)
def test_string_keys_order_like_precedence(a: Version, b: Version) -> None:
    def columns(v: Version) -> tuple[int, int, int, str]:
        return (v.major, v.minor, v.patch, v.pre_key())

    assert _sign(columns(a), columns(b)) == compare(a, b)
    assert _sign((*columns(a), a.build_key()), (*columns(b), b.build_key())) == _sign(
        a.sort_key(), b.sort_key()
    )
    for key in (a.pre_key(), a.build_key()):
        assert re.fullmatch("[0-9a-f]*", key)


@settings(deadline=None)
@given(versions, versions)
def test_sort_key_is_a_total_order_consistent_with_equality(a: Version, b: Version) -> None:
    assert (a.sort_key() == b.sort_key()) == (a == b)
    same_keys = (a.pre_key(), a.build_key()) == (b.pre_key(), b.build_key())
    assert same_keys == ((a.pre, a.build) == (b.pre, b.build))
    # SQL matches an exact build (``==1.0.0+b.B``) on its key alone: one key per build, so
    # ``b.B`` and ``b.b`` stay apart whatever the database's collation.
    assert (a.build_key() == b.build_key()) == (a.build == b.build)


@settings(deadline=None)
@given(versions)
def test_str_parse_round_trip(version: Version) -> None:
    assert Version.parse(str(version)) == version


@settings(deadline=None)
@given(st.text(max_size=40) | st.text("0123456789.-+abv", max_size=20))
def test_parse_only_raises_invalid_version_error(text: str) -> None:
    try:
        version = Version.parse(text)
    except InvalidVersionError:
        return
    assert str(version) == text
