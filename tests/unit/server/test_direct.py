"""Routes that skip FastAPI's dependency solving answer exactly as FastAPI would."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, FastAPI, Header, Query, Request, Response
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


_NAME = r"^[a-z0-9][a-z0-9_-]{0,127}$"


async def _listing(
    request: Request,
    registry: Annotated[str, PathParam(pattern="^(model|data)$")],
    must: Annotated[int | None, Query()],
    uid: Annotated[str | None, Query(pattern="^[0-9a-f-]{36}$")] = None,
    space: Annotated[str | None, Query(pattern=_NAME)] = None,
    version: Annotated[str | None, Query(max_length=8)] = None,
    max_date: date | None = None,
    tags: Annotated[list[Annotated[str, Query(max_length=5)]] | None, Query()] = None,
    sort_by_timestamp: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    order: Annotated[str, Query(validate_default=True, pattern="^(asc|desc)$")] = "asc",
) -> Response:
    values = {
        "registry": registry,
        "uid": uid,
        "space": space,
        "version": version,
        "max_date": str(max_date),
        "tags": tags,
        "sort_by_timestamp": sort_by_timestamp,
        "limit": limit,
        "order": order,
        "must": must,
    }
    return Response(json.dumps(values), media_type="application/json")


@pytest.mark.parametrize(
    "query",
    [
        "must=1",
        "",  # the required parameter missing
        "must=&limit=",
        "must=x&limit=0&sort_by_timestamp=maybe&max_date=2026-13-01",
        "must=1&tags=a&tags=bb&tags=",
        "must=1&tags=toolongtag&tags=ok",
        "must=1&sort_by_timestamp=on&limit=100&max_date=2026-12-04",
        "must=1&sort_by_timestamp=0&limit=101",
        "must=1&space=Bad Space&uid=nope&version=123456789",
        "must=1&space=ok&space=second&order=up",
        "must=1&order=desc&uid=01234567-89ab-cdef-0123-456789abcdef",
        "must=1&limit=1e3&limit=2",
        "must=1&unknown=1",
    ],
)
@pytest.mark.parametrize("registry", ["model", "nope"])
def test_query_parameters_read_exactly_as_fastapi_reads_them(registry: str, query: str) -> None:
    app = FastAPI()
    plain, direct = APIRouter(), APIRouter()
    plain.add_api_route("/plain/{registry}", _listing, methods=["GET"])
    direct_get(direct, "/direct/{registry}")(_listing)
    app.include_router(plain)
    app.include_router(direct)
    assert isinstance(direct.routes[0], DirectRoute)
    client = TestClient(app)
    want = client.get(f"/plain/{registry}?{query}")
    got = client.get(f"/direct/{registry}?{query}")
    assert (got.status_code, got.json()) == (want.status_code, want.json())


def test_a_route_that_needs_fastapi_is_refused_when_built() -> None:
    router = APIRouter()

    async def with_header(request: Request, name: str, agent: str = Header()) -> Response:
        return Response()

    with pytest.raises(TypeError, match="DirectRoute takes an async endpoint"):
        direct_get(router, "/things/{name}")(with_header)

    def not_async(request: Request, name: Annotated[str, PathParam()]) -> Response:
        return Response()

    with pytest.raises(TypeError, match="DirectRoute takes an async endpoint"):
        direct_get(router, "/sync/{name}")(not_async)
