"""The one search box: substrings of space and name, tags and version queries in one query,
and only cards of readable spaces."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.errors import InvalidArgumentError
from opsml.server import create_app
from opsml.server.ui._search import parse_search


@pytest.fixture
def client(sqlite_registry_env: Path) -> TestClient:
    registry = CardRegistry(RegistryType.Prompt)
    for space, name, tags in (
        ("team-a", "ranker", ["stage:prod"]),
        ("team-a", "ranker", []),
        ("team-a", "churn", []),
        ("team-b", "axb", []),
        ("team-b", "a_b", ["stage:prod"]),
    ):
        registry.register_card(
            PromptCard(prompt=Prompt(message="hi"), space=space, name=name, tags=tags)
        )
    return TestClient(create_app(), base_url="http://localhost")


def _found(client: TestClient, q: str) -> list[str]:
    page = client.get("/ui/prompt", params={"q": q}).text
    assert 'role="alert"' not in page, q
    return re.findall(r'<td><a href="/ui/prompt\?space=[^"]+">([^<]+)</a></td>', page)


def test_one_box_finds_by_substring_tag_and_version(client: TestClient) -> None:
    assert _found(client, "rank") == ["ranker", "ranker"]
    assert _found(client, "ANK") == ["ranker", "ranker"]
    assert sorted(_found(client, "team-b")) == ["a_b", "axb"]
    assert _found(client, "a/ch") == ["churn"]
    assert _found(client, "a_b") == ["a_b"]  # "_" is no wildcard
    assert sorted(_found(client, "stage:prod")) == ["a_b", "ranker"]
    assert _found(client, "ranker v0.2.*") == ["ranker"]
    assert _found(client, "name:rank tag:stage:prod") == ["ranker"]
    assert _found(client, "space:b") == ["a_b", "axb"]
    assert _found(client, "nothing-like-it") == []


def test_a_bad_query_is_explained(client: TestClient) -> None:
    page = client.get("/ui/prompt", params={"q": '"open'})
    assert page.status_code == 200
    assert "cannot read the search" in page.text
    assert "one version query" in client.get("/ui/prompt", params={"q": "v1 ^2"}).text


def test_parse_search() -> None:
    search = parse_search('team/rank "two words" env:prod version:^1.2')
    assert search.contains == [("space", "team"), ("name", "rank"), ("any", "two words")]
    assert search.tags == ["env:prod"]
    assert search.version == "^1.2"
    with pytest.raises(InvalidArgumentError):
        parse_search("'")


def test_a_reader_finds_only_cards_of_readable_spaces(
    client: TestClient, ui_login: Callable[[str], TestClient]
) -> None:
    reader = ui_login("bob")
    assert _found(reader, "stage:prod") == ["ranker"]
    assert _found(reader, "team-b") == []
    assert _found(reader, "a") == ["churn", "ranker", "ranker"]
