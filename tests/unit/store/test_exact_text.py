"""Versions, tags, uids, names and usernames compare and sort exactly on every database.

SemVer identifiers and tags are case sensitive, and lists are ordered as Python orders
strings (by code point), whatever the database's collation: MariaDB's default folds case,
accents and trailing spaces; PostgreSQL's ICU ``en-US`` puts ``a_b`` before ``a-b``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.errors import CardNotFoundError, VersionConflictError
from opsml.store import SqlStore
from opsml.store._auth import AuditEntry, AuthStore
from opsml.store._browse import card_names, space_summaries
from opsml.version import Version


def _register(
    registry: CardRegistry,
    version: str | None = None,
    *,
    space: str = "s",
    name: str = "n",
    tags: list[str] | None = None,
) -> PromptCard:
    card = PromptCard(
        prompt=Prompt(message="m"), space=space, name=name, version=version, tags=tags or []
    )
    registry.register_card(card)
    return card


def _versions(registry: CardRegistry, query: str) -> list[str]:
    return [r.version for r in registry.list_cards(space="s", name="n", version=query)]


def test_build_metadata_differing_in_case_makes_two_versions(collated_registry_env: str) -> None:
    prompts = CardRegistry(RegistryType.Prompt)
    upper = _register(prompts, "1.0.0+b.B")
    lower = _register(prompts, "1.0.0+b.b")
    assert upper.uid != lower.uid

    for card in (upper, lower):
        for query in (f"=={card.version}", str(card.version)):
            assert _versions(prompts, query) == [card.version], query
            assert prompts.load_card(space="s", name="n", version=query).uid == card.uid
    with pytest.raises(VersionConflictError):
        _register(prompts, "1.0.0+b.B")
    # Same precedence; ASCII puts "B" before "b", and the listing is highest first.
    assert _versions(prompts, "*") == ["1.0.0+b.b", "1.0.0+b.B"]


def test_prerelease_case_orders_by_ascii(collated_registry_env: str) -> None:
    prompts = CardRegistry(RegistryType.Prompt)
    lower = _register(prompts, "1.0.0-rc.1")  # registered first: insertion order is no hint
    upper = _register(prompts, "1.0.0-RC.1")
    assert Version.parse("1.0.0-RC.1") < Version.parse("1.0.0-rc.1")

    # No final release yet: "latest" is the highest prerelease.
    assert prompts.load_card(space="s", name="n").uid == lower.uid
    assert _versions(prompts, "*") == ["1.0.0-rc.1", "1.0.0-RC.1"]

    final = _register(prompts, "1.0.0")
    assert _versions(prompts, "*") == ["1.0.0", "1.0.0-rc.1", "1.0.0-RC.1"]
    assert prompts.load_card(space="s", name="n").uid == final.uid
    assert prompts.load_card(space="s", name="n", version=">=1.0.0-A, <1.0.0").uid == lower.uid
    assert prompts.load_card(space="s", name="n", version=">=1.0.0-A, <1.0.0-rc.1").uid == (
        upper.uid
    )
    assert _versions(prompts, ">1.0.0-RC.1") == ["1.0.0", "1.0.0-rc.1"]
    assert _versions(prompts, "<1.0.0-rc.1, >=1.0.0-0") == ["1.0.0-RC.1"]


def test_tags_are_case_accent_and_space_sensitive(collated_registry_env: str) -> None:
    prompts = CardRegistry(RegistryType.Prompt)
    # One card may carry all of these: they are different tags.
    a = _register(prompts, tags=["Prod", "prod", "prod ", "ß"])
    b = _register(prompts, tags=["prod"])
    c = _register(prompts, tags=["PROD", "s"])
    assert prompts.load_card(uid=a.uid).tags == ["Prod", "prod", "prod ", "ß"]

    def tagged(*tags: str) -> set[str]:
        return {r.uid for r in prompts.list_cards(space="s", tags=list(tags))}

    assert tagged("prod") == {a.uid, b.uid}
    assert tagged("Prod") == {a.uid}
    assert tagged("PROD") == {c.uid}
    assert tagged("prod ") == {a.uid}
    assert tagged("ß") == {a.uid}
    assert tagged("s") == {c.uid}
    assert tagged("Prod", "prod") == {a.uid}
    assert tagged("PROD", "prod") == set()

    b.tags = ["Prod"]
    prompts.update_card(b)
    assert tagged("Prod") == {a.uid, b.uid}
    assert tagged("prod") == {a.uid}


def test_uids_match_exactly(collated_registry_env: str) -> None:
    prompts = CardRegistry(RegistryType.Prompt)
    card = _register(prompts)
    assert prompts.load_card(uid=card.uid).uid == card.uid
    for wrong in (card.uid.upper(), card.uid + " ", card.uid + "\t"):
        assert len(prompts.list_cards(uid=wrong)) == 0, repr(wrong)
        with pytest.raises(CardNotFoundError):
            prompts.load_card(uid=wrong)


NAMES = ["ab", "a_b", "a-b", "a0", "a"]  # code point order: a, a-b, a0, a_b, ab


def test_spaces_and_names_list_in_code_point_order(collated_registry_env: str) -> None:
    prompts = CardRegistry(RegistryType.Prompt)
    for name in NAMES:
        _register(prompts, "1.0.0", space="s", name=name)
        _register(prompts, "1.0.0", space=name, name="n")

    # Equal versions: the tie is broken by space, then name.
    assert [r.name for r in prompts.list_cards(space="s")] == sorted(NAMES)
    assert [r.space for r in prompts.list_cards(name="n")] == sorted(NAMES)

    store = SqlStore.from_url(collated_registry_env)
    names = card_names(store, RegistryType.Prompt, "s", limit=2)
    names += card_names(store, RegistryType.Prompt, "s", after=names[-1].name, limit=10)
    assert [n.name for n in names] == sorted(NAMES)
    spaces: list[str] = []
    while page := space_summaries(store, after=spaces[-1] if spaces else None, limit=1):
        spaces += [s.space for s in page]
    assert spaces == sorted([*NAMES, "s"])


def test_usernames_sort_and_filter_exactly(collated_db_url: str) -> None:
    auth = AuthStore(SqlStore.from_url(collated_db_url))
    users = ["bob", "alice", "Alice", "al_ice", "al-ice"]
    for username in users:
        auth.create_user(username, "argon2-hash", is_admin=False)
    assert [u.username for u in auth.list_users()] == sorted(users)
    assert auth.get_user("ALICE") is None
    assert auth.get_user("alice ") is None

    for username in ("alice", "Alice", "alice ", "ålice"):
        auth.audit(AuditEntry(datetime.now(UTC), username, "login", "/login", "denied", 401, "::1"))
    for username in ("alice", "Alice", "alice ", "ålice"):
        assert [e.username for e in auth.audit_entries(username=username)] == [username]
