from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import opsml.server._state as _state_module
from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.experiment import start_experiment
from opsml.server import create_app


@pytest.fixture
def client(sqlite_registry_env: Path) -> TestClient:
    registry = CardRegistry(RegistryType.Prompt)
    for message in ("a", "b"):
        registry.register_card(PromptCard(prompt=Prompt(message=message), space="s", name="p"))
    return TestClient(create_app(), base_url="http://localhost")  # type: ignore[arg-type]


def test_healthcheck(client: TestClient) -> None:
    response = client.get("/opsml/api/healthcheck")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_list_and_get_cards(client: TestClient) -> None:
    listed = client.get("/opsml/api/prompt/cards", params={"space": "s", "name": "p"}).json()
    assert [c["version"] for c in listed] == ["0.2.0", "0.1.0"]
    card = client.get(f"/opsml/api/prompt/cards/{listed[0]['uid']}").json()
    assert card["prompt"]["message"][0]["content"] == "b"


@pytest.mark.parametrize(
    ("url", "status", "error"),
    [
        ("/opsml/api/prompt/cards/01900000-0000-7000-8000-000000000000", 404, "CardNotFoundError"),
        ("/opsml/api/prompt/cards/not-a-uid", 422, "InvalidArgumentError"),
        ("/opsml/api/nope/cards", 422, "InvalidArgumentError"),
        ("/opsml/api/prompt/cards?version=^", 422, "InvalidVersionError"),
        ("/opsml/api/prompt/cards?space=../etc", 422, "InvalidArgumentError"),
        ("/opsml/api/prompt/card?space=x%20y", 422, "InvalidArgumentError"),
        ("/opsml/api/prompt/cards?limit=0", 422, "InvalidArgumentError"),
    ],
)
def test_errors_are_json_with_status(client: TestClient, url: str, status: int, error: str) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "Traceback" not in response.text


def test_html_pages(client: TestClient) -> None:
    home = client.get("/")
    assert home.status_code == 200
    assert "prompt" in home.text
    page = client.get("/ui/prompt", params={"space": "s", "version": "0.1.*"})
    assert page.status_code == 200
    assert "0.1.0" in page.text
    assert "0.2.0" not in page.text
    uid = client.get("/opsml/api/prompt/cards").json()[0]["uid"]
    card = client.get(f"/ui/prompt/{uid}")
    assert card.status_code == 200
    assert "Metadata" in card.text


def test_read_routes_answer_what_local_mode_returns(client: TestClient) -> None:
    """The read routes answer stored card JSON and records encoded without models: the same
    cards and records a local registry returns."""
    with start_experiment(space="s", name="run") as exp:
        exp.register_card(PromptCard(prompt=Prompt(message="c"), space="s", name="q"))
    for registry_type, params in (
        (RegistryType.Prompt, {"space": "s"}),
        (RegistryType.Experiment, {"name": "run"}),
    ):
        local = CardRegistry(registry_type)
        listed = client.get(f"/opsml/api/{registry_type.value}/cards", params=params)
        assert listed.json() == [r.model_dump() for r in local.list_cards(**params)]
    prompts = CardRegistry(RegistryType.Prompt)
    card = prompts.load_card(space="s", name="p", version="0.1.*")
    query = {"space": "s", "name": "p", "version": "0.1.*"}
    assert client.get("/opsml/api/prompt/card", params=query).json() == json.loads(
        card.model_dump_json()
    )
    assert client.get(f"/opsml/api/prompt/cards/{card.uid}").json() == json.loads(
        card.model_dump_json()
    )


def test_card_reads_do_not_wait_for_a_writer(client: TestClient, sqlite_url: str) -> None:
    """On SQLite a card's record is read on the event loop (no thread hop); a writer holding
    the database's write lock must not hold those reads up (WAL: readers never wait), and
    they see only what is committed."""
    import sqlite3

    uid = client.get("/opsml/api/prompt/cards").json()[0]["uid"]
    writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("PRAGMA busy_timeout=0")
    try:
        writer.execute("BEGIN IMMEDIATE")  # the write lock, held until the rollback
        writer.execute("UPDATE opsml_prompt_registry SET tags = '[\"uncommitted\"]'")
        answer = client.get(f"/opsml/api/prompt/cards/{uid}")
        listed = client.get("/opsml/api/prompt/cards", params={"space": "s"})
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert answer.status_code == 200
    assert answer.json()["uid"] == uid
    assert len(listed.json()) == 2
    assert all("uncommitted" not in record["tags"] for record in listed.json())


def test_a_serving_worker_starts_its_threads_before_the_first_request(
    sqlite_registry_env: Path,
) -> None:
    """Threads started under load stall the event loop (``ServerState.start_threads``):
    the server starts all of them as it starts serving, and requests start none."""
    app = create_app()  # type: ignore[call-arg]
    state = app.state.opsml
    executor = state._threads
    assert len(executor._threads) == 0  # an app that only answers test requests starts none
    with TestClient(app, base_url="http://localhost") as client:
        started = set(executor._threads)
        assert len(started) == _state_module._THREADS
        assert all(t.is_alive() for t in started)
        for _ in range(5):
            assert client.get("/opsml/api/prompt/cards").status_code == 200
        assert set(executor._threads) == started


@pytest.fixture
def pg_card(postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> PromptCard:
    """A PostgreSQL registry (local mode) holding one card in space ``team-a``."""
    monkeypatch.setenv("OPSML_TRACKING_URI", postgres_url)
    monkeypatch.setenv("OPSML_STORAGE_URI", str(tmp_path / "registries"))
    card = PromptCard(prompt=Prompt(message="hello"), space="team-a", name="greeting")
    CardRegistry(RegistryType.Prompt).register_card(card)
    return card


def _no_thread_hop(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every call the server sends to a worker thread from now on."""
    hops: list[str] = []
    original = _state_module.ServerState.run

    async def run(self: Any, fn: Any, *args: Any) -> Any:
        hops.append(getattr(fn, "__qualname__", repr(fn)))
        return await original(self, fn, *args)

    monkeypatch.setattr(_state_module.ServerState, "run", run)
    return hops


@pytest.mark.postgres
def test_card_metadata_on_postgresql_is_read_on_the_event_loop(
    pg_card: PromptCard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET card metadata awaits its read on the event loop (no hop to a worker thread),
    answers what local mode loads, and the loop's connections close with the server."""
    app = create_app()  # type: ignore[call-arg]
    state = app.state.opsml
    assert state.loop_reads is not None
    with TestClient(app, base_url="http://localhost") as client:
        hops = _no_thread_hop(monkeypatch)
        answer = client.get(f"/opsml/api/prompt/cards/{pg_card.uid}")
        assert answer.status_code == 200, answer.text
        loaded = CardRegistry(RegistryType.Prompt).load_card(uid=str(pg_card.uid))
        assert answer.json() == json.loads(loaded.model_dump_json())
        missing = client.get("/opsml/api/prompt/cards/01900000-0000-7000-8000-000000000000")
        assert missing.status_code == 404
        assert missing.json()["error"] == "CardNotFoundError"
        by_query = client.get(
            "/opsml/api/prompt/card", params={"name": "greeting", "version": "0.*"}
        )
        assert by_query.json() == answer.json()
        none = client.get("/opsml/api/prompt/card", params={"name": "greeting", "version": "2.*"})
        assert none.status_code == 404
        assert none.json()["error"] == "CardNotFoundError"
        listed = client.get("/opsml/api/prompt/cards", params={"space": "team-a"}).json()
        assert [r["uid"] for r in listed] == [str(pg_card.uid)]
        assert listed[0]["version"] == "0.1.0"
        assert hops == []
        # a long listing is turned into JSON in a worker thread (the loop keeps serving)
        long = client.get("/opsml/api/prompt/cards", params={"limit": 101})
        assert long.json() == listed
        assert hops == ["LocalBackend.list_card_fields"]
        assert state.loop_reads.open_connections() == 1
    assert state.loop_reads.open_connections() == 0  # closed as the server stops


@pytest.mark.postgres
def test_card_permissions_on_postgresql_hold_on_the_event_loop(
    pg_card: PromptCard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Auth on: the token's check and the card's space are read on the loop; a user with
    grants in another space is refused, a revoked grant takes effect on the next request."""
    from opsml.server._config import ServerConfig
    from opsml.settings import OpsmlConfig

    config = ServerConfig(
        opsml=OpsmlConfig.from_env(), auth=True, username="root", password="root-password-1"
    )
    app = create_app(config)
    url = f"/opsml/api/prompt/cards/{pg_card.uid}"
    with TestClient(app, base_url="http://localhost") as client:

        def token(username: str, password: str) -> dict[str, str]:
            response = client.post(
                "/opsml/api/auth/token", json={"username": username, "password": password}
            )
            assert response.status_code == 200, response.text
            return {"authorization": f"Bearer {response.json()['access_token']}"}

        root = token("root", "root-password-1")
        for user, grants in (("reader", ["team-a:read"]), ("other", ["team-b:read"])):
            created = client.post(
                "/opsml/api/users",
                json={"username": user, "password": "password-123", "grants": grants},
                headers=root,
            )
            assert created.status_code == 200, created.text
        reader, other = token("reader", "password-123"), token("other", "password-123")

        assert client.get(url).status_code == 401
        assert client.get(url, headers=reader).status_code == 200  # verified (a thread)
        assert client.get(url, headers=other).status_code == 403  # verified, then refused
        hops = _no_thread_hop(monkeypatch)
        for _ in range(3):  # remembered: the epoch and the card, both on the loop
            answer = client.get(url, headers=reader)
            assert answer.status_code == 200
            assert answer.json()["uid"] == str(pg_card.uid)
        assert hops == []
        listing = "/opsml/api/prompt/cards"
        assert [r["uid"] for r in client.get(listing, headers=reader).json()] == [str(pg_card.uid)]
        assert client.get(listing, headers=other).json() == []  # other spaces are left out
        query = {"name": "greeting"}
        assert client.get("/opsml/api/prompt/card", params=query, headers=reader).is_success
        hidden = client.get("/opsml/api/prompt/card", params=query, headers=other)
        assert hidden.status_code == 404
        assert "hello" not in hidden.text
        assert hops == []
        denied = client.get(url, headers=other)
        assert denied.status_code == 403
        assert denied.json()["error"] == "PermissionDeniedError"
        assert "greeting" not in denied.text
        assert "hello" not in denied.text

        revoked = client.put(
            "/opsml/api/users/reader",
            json={"grants": ["team-b:read"]},
            headers=root,
        )
        assert revoked.status_code == 200, revoked.text
        assert client.get(url, headers=reader).status_code == 403
