from __future__ import annotations

import pytest

from opsml.cards import validate_name
from opsml.errors import InvalidNameError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("My-Space", "my-space"),
        ("MySpace", "myspace"),
        ("Team_A", "team_a"),
        ("x", "x"),
        ("0abc", "0abc"),
    ],
)
def test_valid_names_are_lowercased_only(given: str, expected: str) -> None:
    assert validate_name(given) == expected


@pytest.mark.parametrize(
    "bad",
    ["a/b", "../x", "", "x y", "My Space", "-lead", "_lead", "a.b", "a\x00b", "é", "x" * 129],
)
def test_invalid_names_raise_and_say_what_is_allowed(bad: str) -> None:
    with pytest.raises(InvalidNameError, match="a-z, 0-9"):
        validate_name(bad)


def test_longest_allowed_name() -> None:
    assert validate_name("x" * 128) == "x" * 128


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidNameError, match="string"):
        validate_name(3)
