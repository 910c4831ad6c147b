"""The version query language of SPEC §4."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsml.errors import InvalidVersionError
from opsml.version import MAX_NUMBER, Comparator, Version, VersionQuery, compare

V = Version.parse

small = st.integers(0, 4)
versions = st.builds(
    Version,
    small,
    small,
    small,
    st.lists(st.sampled_from(["rc", "alpha", 0, 1, 2]), max_size=2).map(tuple),
    st.lists(st.sampled_from(["b", "1"]), max_size=2).map(tuple),
)
prefixes = st.lists(small, min_size=1, max_size=2).map(tuple)


@pytest.mark.parametrize(
    ("query", "matching", "not_matching"),
    [
        ("1", ["1.0.0", "1.9.9", "1.2.3+b"], ["0.9.9", "2.0.0", "1.2.0-rc.1", "2.0.0-rc.1"]),
        ("1.*", ["1.0.0", "1.9.9"], ["0.9.9", "2.0.0", "1.2.0-rc.1"]),
        ("1.x", ["1.0.0", "1.9.9"], ["0.9.9", "2.0.0"]),
        ("1.X", ["1.0.0", "1.9.9"], ["0.9.9", "2.0.0"]),
        ("1.x.x", ["1.0.0", "1.9.9"], ["0.9.9", "2.0.0"]),
        ("1.2", ["1.2.0", "1.2.9"], ["1.1.9", "1.3.0", "1.2.0-rc.1"]),
        ("1.2.*", ["1.2.0", "1.2.9"], ["1.1.9", "1.3.0"]),
        ("1.2.x", ["1.2.0", "1.2.9"], ["1.1.9", "1.3.0"]),
        ("^1.2.3", ["1.2.3", "1.9.0"], ["1.2.2", "2.0.0", "1.5.0-rc.1"]),
        ("^0.2.3", ["0.2.3", "0.2.9"], ["0.2.2", "0.3.0"]),
        ("^0.0.3", ["0.0.3"], ["0.0.2", "0.0.4"]),
        ("^1.2", ["1.2.0", "1.99.0"], ["1.1.9", "2.0.0"]),
        ("^1", ["1.0.0", "1.5.0"], ["0.9.0", "2.0.0"]),
        ("^0.2", ["0.2.0", "0.2.5"], ["0.1.9", "0.3.0"]),
        ("^0", ["0.0.0", "0.9.9"], ["1.0.0"]),
        ("^0.0", ["0.0.0", "0.0.9"], ["0.1.0"]),
        ("~1.2.3", ["1.2.3", "1.2.9"], ["1.2.2", "1.3.0"]),
        ("~1.2", ["1.2.0", "1.2.9"], ["1.1.9", "1.3.0"]),
        ("~1", ["1.0.0", "1.9.0"], ["0.9.0", "2.0.0"]),
        (">=1.2, <2", ["1.2.0", "1.9.9"], ["1.1.9", "2.0.0", "1.5.0-rc.1"]),
        (">=1.2 <2", ["1.2.0", "1.9.9"], ["1.1.9", "2.0.0"]),
        ("  >= 1.2 ,\t< 2  ", ["1.2.0", "1.9.9"], ["1.1.9", "2.0.0"]),
        (">=1.2", ["1.2.0", "7.0.0"], ["1.1.9"]),
        (">1.2.3", ["1.2.4", "2.0.0"], ["1.2.3", "1.2.3+b"]),
        (">1.2", ["1.3.0"], ["1.2.9"]),
        ("<2", ["1.9.9"], ["2.0.0"]),
        ("<1.2", ["1.1.9"], ["1.2.0"]),
        ("<=1.4.0", ["1.4.0", "1.4.0+b"], ["1.4.1"]),
        ("<=1.2", ["1.2.9"], ["1.3.0"]),
        ("=1.2.3", ["1.2.3", "1.2.3+b.1"], ["1.2.4"]),
        ("==1.2.3", ["1.2.3"], ["1.2.4"]),
        ("1.2.3", ["1.2.3", "1.2.3+b"], ["1.2.4", "1.2.3-rc.1"]),
        ("1.2.3-rc.1", ["1.2.3-rc.1", "1.2.3-rc.1+b"], ["1.2.3", "1.2.3-rc.2"]),
        ("1.2.3+build.1", ["1.2.3+build.1"], ["1.2.3", "1.2.3+build.2"]),
        # Prereleases match once the query names one; ranges still bound them.
        (">=1.0.0-rc.1", ["1.0.0-rc.1", "1.0.0", "1.1.0-alpha"], ["1.0.0-beta"]),
        ("^1.2.3-rc.1", ["1.2.3-rc.2", "1.5.0", "1.6.0-rc.1"], ["2.0.0-rc.1", "1.2.3-beta"]),
        ("1.2, >=1.2.0-beta", ["1.2.0-beta", "1.2.0-rc.1", "1.2.9"], ["1.3.0-rc.1", "1.2.0-alpha"]),
        (f"<={MAX_NUMBER}", [f"{MAX_NUMBER}.{MAX_NUMBER}.0"], []),
        (f">{MAX_NUMBER}", [], [f"{MAX_NUMBER}.{MAX_NUMBER}.{MAX_NUMBER}", "0.0.0"]),
    ],
)
def test_spec_examples(query: str, matching: list[str], not_matching: list[str]) -> None:
    parsed = VersionQuery.parse(query)
    assert not parsed.is_any
    for text in matching:
        assert parsed.matches(V(text)), f"{query!r} should match {text}"
    for text in not_matching:
        assert not parsed.matches(V(text)), f"{query!r} should not match {text}"


@pytest.mark.parametrize("query", [None, "", "   ", "*", " * ", "x", "latest", "LATEST"])
def test_any_matches_everything(query: str | None) -> None:
    parsed = VersionQuery.parse(query)
    assert parsed.is_any
    assert parsed.includes_prerelease
    assert str(parsed) == "*"
    for text in ["0.0.0", "1.0.0-rc.1", "3.2.1+b"]:
        assert parsed.matches(V(text))


def test_partial_versions_expand_to_blocks() -> None:
    def comparators(query: str) -> list[str]:
        return [str(c) for c in VersionQuery.parse(query).comparators]

    # A partial version is every version starting with it; "-0" is the lowest prerelease.
    assert comparators("1.2") == [">=1.2.0-0", "<1.3.0-0"]
    assert comparators("^1.2") == [">=1.2.0-0", "<2.0.0-0"]
    assert comparators("^0.2") == [">=0.2.0-0", "<0.3.0-0"]
    assert comparators("~1") == comparators("1.*") == [">=1.0.0-0", "<2.0.0-0"]
    assert comparators(">1.2") == [">=1.3.0-0"]
    assert comparators("<=1.2") == ["<1.3.0-0"]
    assert comparators("<2") == ["<2.0.0-0"]
    assert comparators("^1.2.3") == [">=1.2.3", "<2.0.0-0"]
    assert comparators("1.2.3") == ["==1.2.3"]


def test_prereleases_only_when_named() -> None:
    assert not VersionQuery.parse("^1.0").includes_prerelease
    assert VersionQuery.parse(">=1.0.0-rc.1, <2").includes_prerelease
    assert not VersionQuery.parse("^1.0").matches(V("1.1.0-rc.1"))


def test_exact_build() -> None:
    assert VersionQuery.parse("1.2.3+build.1").exact_build == "build.1"
    assert VersionQuery.parse("==1.2.3-rc.1+b").exact_build == "b"
    assert VersionQuery.parse("1.2.3").exact_build is None
    assert VersionQuery.parse("^1.2.3").exact_build is None


def test_comparators_are_exposed() -> None:
    parsed = VersionQuery.parse(">1.2.3-rc.1, <=2.0.0")
    assert parsed.comparators == (
        Comparator(">", V("1.2.3-rc.1")),
        Comparator("<=", V("2.0.0")),
    )
    assert str(parsed) == ">1.2.3-rc.1, <=2.0.0"


@pytest.mark.parametrize(
    "query",
    [
        "^",
        "~",
        ">=",
        ",",
        "1.2,",
        ">=1.2,,<2",
        "1.2.3.4",
        ">=a",
        "1..2",
        "1.",
        ".1",
        "~>1",
        "=>1",
        "> = 1",
        "1.2<2",
        "01",
        "1.02",
        "^01.2.3",
        "1.2.3-rc.01",
        "v1.2.3",
        "1.*.3",
        "*.1",
        ">*",
        "<=x",
        "1.2-rc.1",
        "1 - 2",
        "^1.2.3+b",
        ">=1.2.3+b",
        "1.2.3\x00",
        "\x00",
        "1.2.3 || 2",
        "^1.2\u00a01",
        str(MAX_NUMBER + 1),
        f"^1.{MAX_NUMBER + 1}",
        "1" * 257,
        ">=1.0.0, " * 40,
    ],
)
def test_malformed_queries_raise_invalid_version_error(query: str) -> None:
    with pytest.raises(InvalidVersionError, match="version query"):
        VersionQuery.parse(query)


@pytest.mark.parametrize("value", [1, 1.2, b"1.2", ["1"]])
def test_non_string_queries_raise_invalid_version_error(value: object) -> None:
    with pytest.raises(InvalidVersionError, match="must be a string"):
        VersionQuery.parse(value)  # type: ignore[arg-type]


@settings(deadline=None, max_examples=300)
@given(st.text(max_size=30) | st.text("0129.*xX^~<>=, -+rcv\x00", max_size=24))
def test_parse_only_raises_invalid_version_error(text: str) -> None:
    try:
        parsed = VersionQuery.parse(text)
    except InvalidVersionError:
        return
    parsed.matches(Version(1, 2, 3))


def _text(prefix: tuple[int, ...]) -> str:
    return ".".join(map(str, prefix))


def _in_block(version: Version, prefix: tuple[int, ...]) -> bool:
    return (version.major, version.minor)[: len(prefix)] == prefix


@settings(deadline=None)
@given(prefixes, versions, st.sampled_from(["", "=", "==", "~", "{}.*", "{}.x"]))
def test_partial_version_matches_its_block(
    prefix: tuple[int, ...], version: Version, form: str
) -> None:
    text = form.format(_text(prefix)) if "{}" in form else form + _text(prefix)
    expected = _in_block(version, prefix) and not version.is_prerelease
    assert VersionQuery.parse(text).matches(version) == expected


@settings(deadline=None)
@given(prefixes, versions)
def test_partial_comparators_partition_versions(prefix: tuple[int, ...], version: Version) -> None:
    text = _text(prefix)

    # Name a prerelease below everything so prereleases take part too.
    def m(q: str) -> bool:
        return VersionQuery.parse(f"{q}, >=0.0.0-0").matches(version)

    below, inside, above = m(f"<{text}"), m(f"={text}"), m(f">{text}")
    assert below + inside + above == 1
    assert m(f"<={text}") == (below or inside)
    assert m(f">={text}") == (inside or above)
    assert inside == _in_block(version, prefix)


@settings(deadline=None)
@given(versions, versions, st.sampled_from([">=", ">", "<", "<=", "=="]))
def test_full_version_comparators_follow_precedence(
    bound: Version, version: Version, op: str
) -> None:
    bound = Version(bound.major, bound.minor, bound.patch, bound.pre)
    c = compare(version, bound)
    holds = {">=": c >= 0, ">": c > 0, "<": c < 0, "<=": c <= 0, "==": c == 0}[op]
    allowed = bound.is_prerelease or not version.is_prerelease
    assert VersionQuery.parse(f"{op}{bound}").matches(version) == (holds and allowed)


@settings(deadline=None)
@given(versions, versions)
def test_caret_and_tilde(base: Version, version: Version) -> None:
    base = Version(base.major, base.minor, base.patch)
    if version.is_prerelease:
        return
    fixed = 1 if base.major else 2 if base.minor else 3
    same = (version.major, version.minor, version.patch)[:fixed] == (
        base.major,
        base.minor,
        base.patch,
    )[:fixed]
    assert VersionQuery.parse(f"^{base}").matches(version) == (version >= base and same)
    same_minor = (version.major, version.minor) == (base.major, base.minor)
    assert VersionQuery.parse(f"~{base}").matches(version) == (version >= base and same_minor)
