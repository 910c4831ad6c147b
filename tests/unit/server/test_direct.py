"""Routes that skip FastAPI's dependency solving answer exactly as FastAPI would."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi import Path as PathParam
from fastapi.testclient import TestClient

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.server import create_app
from opsml.server._direct import DirectRoute, direct_get


@pytest.fixture
def client(sqlite_registry_env: Path) -> TestClient:
    return TestClient(create_app(), base_url="http://localhost")  # type: ignore[arg-type]


def test_card_read_is_a_direct_route_and_keeps_its_api(client: TestClient) -> None:
    card = PromptCard(prompt=Prompt(message="hi"), space="s", name="p")
    CardRegistry(RegistryType.Prompt).register_card(card)
    app = client.app
    assert isinstance(app, FastAPI)
    route = next(
        r
        for r in app.router.routes
        if getattr(r, "path", "") == "/opsml/api/{registry}/cards/{uid}"
    )
    assert isinstance(route, DirectRoute)

    got = client.get(f"/opsml/api/prompt/cards/{card.uid}")
    assert got.status_code == 200
    assert got.json()["uid"] == card.uid
    # The same 422 as FastAPI's validation: each bad path parameter named, JSON body.
    bad = client.get("/opsml/api/nope/cards/not-a-uid")
    assert bad.status_code == 422
    body = bad.json()
    assert body["error"] == "InvalidArgumentError"
    assert "path.registry" in body["detail"]
    assert "path.uid" in body["detail"]
    # Still documented.
    spec = client.get("/opsml/api/openapi.json").json()
    assert "get" in spec["paths"]["/opsml/api/{registry}/cards/{uid}"]


def test_the_guard_answers_before_validation(
    sqlite_registry_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_AUTH", "true")
    monkeypatch.setenv("OPSML_DEFAULT_USERNAME", "admin")
    monkeypatch.setenv("OPSML_DEFAULT_PASSWORD", "s3cret-pw")
    client = TestClient(create_app(), base_url="http://localhost")  # type: ignore[arg-type]
    for url in ("/opsml/api/prompt/cards/not-a-uid", "/opsml/api/model/cards/x/files/a.bin"):
        answer = client.get(url)
        assert answer.status_code == 401, url
        assert answer.json()["error"] == "AuthenticationError"


def test_a_route_that_needs_fastapi_is_refused_when_built() -> None:
    router = APIRouter()

    async def with_query(request: Request, name: str, limit: int = 3) -> Response:
        return Response()

    with pytest.raises(TypeError, match="DirectRoute takes an async endpoint"):
        direct_get(router, "/things/{name}")(with_query)

    def not_async(request: Request, name: Annotated[str, PathParam()]) -> Response:
        return Response()

    with pytest.raises(TypeError, match="DirectRoute takes an async endpoint"):
        direct_get(router, "/sync/{name}")(not_async)
