"""CardList for notebooks and scripts: dicts, pandas and polars frames, a repr that shows
the cards, an HTML table; every card has a short repr and an HTML view."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsml import CardRegistry, PromptCard, RegistryType
from opsml.cards import CardList
from opsml.llm import Prompt


@pytest.fixture
def listed(sqlite_registry_env: Path) -> CardList:
    registry = CardRegistry(RegistryType.Prompt)
    for name in ("ranker", "ranker", "greeter"):
        card = PromptCard(prompt=Prompt(message="hi"), space="team-a", name=name, tags=["k:v"])
        registry.register_card(card)
    return registry.list_cards(space="team-a")


def test_to_dicts_has_every_record_field(listed: CardList) -> None:
    rows = listed.to_dicts()
    assert sorted((r["name"], r["version"]) for r in rows) == [
        ("greeter", "0.1.0"),
        ("ranker", "0.1.0"),
        ("ranker", "0.2.0"),
    ]
    assert all(r["tags"] == ["k:v"] and r["registry_type"] == "prompt" for r in rows)
    assert {"uid", "space", "created_at"} <= set(rows[0])


@pytest.mark.needs("pandas")
def test_to_pandas(listed: CardList) -> None:
    frame = listed.to_pandas()
    assert len(frame) == 3
    assert sorted(frame["version"]) == ["0.1.0", "0.1.0", "0.2.0"]
    assert list(frame.columns)[:3] == ["uid", "created_at", "app_env"]


@pytest.mark.needs("polars")
def test_to_polars(listed: CardList) -> None:
    frame = listed.to_polars()
    assert frame.height == 3
    assert sorted(frame["name"].to_list()) == ["greeter", "ranker", "ranker"]


@pytest.mark.needs("pandas", "polars")
def test_an_empty_list_gives_empty_frames_with_the_columns() -> None:
    empty: CardList = CardList([])
    assert empty.to_dicts() == []
    assert len(empty.to_pandas()) == 0
    assert "uid" in empty.to_pandas().columns
    assert empty.to_polars().height == 0
    assert "uid" in empty.to_polars().columns


def test_repr_shows_the_cards(listed: CardList) -> None:
    text = repr(listed)
    assert text.startswith("CardList(3 cards):\n  prompt card team-a/")
    assert all(f"({record.uid})" in text for record in listed)
    many: CardList = CardList(list(listed) * 5)
    assert repr(many).endswith("... and 5 more")


def test_repr_html_is_an_escaped_table() -> None:
    card = PromptCard(prompt=Prompt(message="hi"), space="a", name="b", tags=["<script>x"])
    table = CardList([card])._repr_html_()
    assert table.startswith("<table><caption>1 card</caption>")
    assert "&lt;script&gt;x" in table
    assert "<script>" not in table


def test_a_card_has_a_short_repr_and_an_html_view(sqlite_registry_env: Path) -> None:
    card = PromptCard(prompt=Prompt(message="hi"), space="team-a", name="ranker")
    assert repr(card) == "PromptCard(space='team-a', name='ranker', version=None, uid=None)"
    CardRegistry(RegistryType.Prompt).register_card(card)
    assert repr(card) == (
        f"PromptCard(space='team-a', name='ranker', version='0.1.0', uid='{card.uid}')"
    )
    view = card._repr_html_()
    assert "<caption>PromptCard</caption>" in view
    assert f"<tr><th>uid</th><td>{card.uid}</td></tr>" in view
    assert "<tr><th>created</th>" in view


def test_as_table_keeps_uids_whole_when_piped(
    listed: CardList, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")  # a narrow terminal setting must not wrap the uids
    listed.as_table()
    out = capsys.readouterr().out
    for record in listed:
        (line,) = [line for line in out.splitlines() if record.uid in line]
        assert record.version in line
