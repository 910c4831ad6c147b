"""The bad-input corpus against every route of a real server, in every path parameter, every
string query parameter and every name field of the request bodies: never a 500, never a
traceback, never a file outside the card's storage."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from opsml import CardRegistry, DataCard, NumpyData, RegistryType
from opsml.mock import OpsmlTestServer

pytestmark = pytest.mark.client

CORPUS = [
    "../../../../etc/passwd",
    "..\\..\\..\\etc\\passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "file:///etc/passwd",
    "file:%2f%2f%2fetc%2fpasswd",
    "data.npy;x=y",
    "data.npy%3Bjsessionid=1",
    "data.npy#frag",
    "data.npy%23frag",
    "data.npy?x=1",
    "data.npy%3fx=1",
    "data.npy%00.txt",
    "x\x00y",
    "%00",
    "a" * 5000,
    "ünïcødé-名前",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[OpsmlTestServer]:
    with OpsmlTestServer(base_path=tmp_path / "server") as srv:
        yield srv


def _routes(base: str) -> list[tuple[str, str, dict[str, Any]]]:
    spec = httpx.get(f"{base}/opsml/api/openapi.json").json()
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "delete", "patch")
    ]


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)(:path)?}", lambda m: values[m.group(1)], path)


def _check(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), what
        body = response.json()
        assert set(body) == {"error", "detail"}, (what, body)
        assert "Traceback" not in response.text
    assert "root:x:0:0" not in response.text, what


def test_corpus_against_every_route_and_field(server: OpsmlTestServer, tmp_path: Path) -> None:
    base = server.server_uri
    card = DataCard(interface=NumpyData(data=np.arange(4)), space="team", name="target")
    CardRegistry(RegistryType.Data).register_card(card)
    good = {
        "registry": "data",
        "uid": str(card.uid),
        "path": "data.npy",
        "username": "admin",
        "token_id": "0123456789abcdef",
    }
    before = set(tmp_path.rglob("*"))
    sent = 0
    with httpx.Client(timeout=30) as http:
        for method, path, operation in _routes(base):
            params = [p for p in operation.get("parameters", []) if p["in"] in ("path", "query")]
            names = [p["name"] for p in params if p["in"] == "path"]
            queries = [
                p["name"]
                for p in params
                if p["in"] == "query" and p.get("schema", {}).get("type", "string") != "integer"
            ]
            body = {"card": {"space": "team", "name": "x"}} if method in ("POST", "PUT") else None
            for evil in CORPUS:
                for target in [*names, *(f"?{q}" for q in queries)]:
                    values = {**good}
                    query: dict[str, str] = {}
                    if target.startswith("?"):
                        query[target[1:]] = evil
                    else:
                        values[target] = evil
                    url = _fill(path, values)
                    try:
                        request = http.build_request(
                            method, httpx.URL(f"{base}{url}"), params=query, json=body
                        )
                    except (httpx.InvalidURL, UnicodeEncodeError):
                        continue  # not even sendable: no server can receive it
                    _check(http.send(request), f"{method} {url} {query}")
                    sent += 1
            for field in ("space", "name", "version"):
                if (method in ("POST", "PUT") and "{uid}" not in path) or path.endswith("reserve"):
                    for evil in CORPUS:
                        bad = {"card": {"space": "team", "name": "x", field: evil}}
                        url = _fill(path, good)
                        _check(http.request(method, f"{base}{url}", json=bad), f"{path} {field}")
                        sent += 1
        for evil in CORPUS:  # the login and user-management fields
            _check(
                http.post(
                    f"{base}/opsml/api/auth/token", json={"username": evil, "password": evil}
                ),
                "login",
            )
            _check(
                http.post(
                    f"{base}/opsml/api/users", json={"username": evil, "password": "password-123"}
                ),
                "user",
            )
    assert sent > 500
    created = set(tmp_path.rglob("*")) - before
    storage = tmp_path / "server"
    assert all(storage in p.parents or p == storage for p in created), sorted(created)[:5]
    assert not list(tmp_path.rglob("passwd"))
