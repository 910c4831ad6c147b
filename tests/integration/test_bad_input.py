"""The bad-input corpus against every route of a real server, on SQLite, PostgreSQL and
MariaDB: every path parameter, every query parameter and every field of every request body
(found by walking the server's OpenAPI schema, so a new route is covered without editing
this file), and the web UI's pages. Never a 5xx, never a traceback, never a word of SQL in
a response, never a file outside the card's storage; numbers out of range are refused with
a 4xx."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from opsml import CardRegistry, DataCard, ExperimentCard, NumpyData, RegistryType, errors
from opsml.errors import OpsmlError
from opsml.mock import OpsmlTestServer
from opsml.server.ui._routes import install_ui

pytestmark = [pytest.mark.client, pytest.mark.slow]

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
    "\x00",
    "%C3%A9",
    "%FF%FE",
    "a" * 256,
    "a" * 5000,
    "ünïcødé-名前",
    "é",
    "\ud800",  # a lone surrogate: not UTF-8 at all (sendable in JSON bodies only)
    "' OR 1=1 --",
    "<script>alert(1)</script>",
]

BIG_INTEGERS = [  # outside signed 64 bits: no database column can hold them
    "1180591620717411303424",
    "-1180591620717411303424",
    "9223372036854775808",
    "-9223372036854775809",
]
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e309", "-1e309"]
EDGES = [  # legal for some fields, out of range for others: never a 5xx
    "-1",
    "0",
    "1.5",
    "9223372036854775807",
    "-9223372036854775808",
    "1e300",
    "5e-324",
    '"12"',
    "true",
    "null",
    "9" * 5000,  # more digits than Python converts by default
]
DATES = ["0001-01-01", "9999-12-31", "0000-00-00", "99999-01-01", "2024-02-30"]
DATETIMES = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z",
    "1e20",
    "-62135596801",
    "99999999999999999999",
]
CARD_FIELDS = ["space", "name", "version", "uid", "app_env", "tags", "experimentcard_uid"]

# What a database error looks like when it leaks: SQLAlchemy's wrapper, a driver's name,
# a statement. Keywords are matched in upper case only (pages have <select> elements).
_SQL = re.compile(
    r"\[SQL:|\[parameters:|sqlalche\.me|psycopg|pymysql|sqlite3|collation"
    r"|DataError|OperationalError|ProgrammingError|\bSELECT\s.+?\sFROM\s|\bINSERT INTO\b"
    r"|\bUPDATE\s+\w+\s+SET\b",
    re.IGNORECASE,
)
_SQL_KEYWORDS = re.compile(r"\bSELECT\s.+?\sFROM\s|\bINSERT INTO\b|\bUPDATE\s+\w+\s+SET\b")
_NUMBER = "@@number@@"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpsmlTestServer]:
    """A real server process with authentication on, on each database."""
    env = {
        "OPSML_AUTH": "true",
        "OPSML_DEFAULT_USERNAME": "admin",
        "OPSML_DEFAULT_PASSWORD": "admin-password-1",
        "OPSML_LOGIN_ATTEMPTS": "100000",
    }
    if request.param != "sqlite":
        env["OPSML_TRACKING_URI"] = request.getfixturevalue(f"{request.param}_url")
    with OpsmlTestServer(base_path=tmp_path / "server", env=env) as srv:
        yield srv


def _problem(response: httpx.Response, refused: bool) -> str:
    """What is wrong with an answer to bad input ("" when nothing)."""
    text, status = response.text, response.status_code
    if status >= 500:
        return f"{status} {text[:300]}"
    if "Traceback" in text or "root:x:0:0" in text:
        return f"{status} leaks a traceback or a file: {text[:300]}"
    leaked = (_SQL_KEYWORDS if status < 400 else _SQL).search(text)
    if leaked is not None:
        return f"{status} shows database text {leaked.group(0)!r}: {text[:300]}"
    if refused and not 400 <= status < 500:
        return f"{status}: accepted a value out of range"
    if status >= 400 and "json" in response.headers.get("content-type", ""):
        body = response.json()
        error = getattr(errors, str(body.get("error")), OpsmlError)
        fields = getattr(error, "_wire_fields", ())  # what an error class carries besides
        if not {"error", "detail"} <= set(body) <= {"error", "detail", *fields}:
            return f"{status} error body is not {{error, detail}}: {text[:300]}"
    elif status >= 400 and not response.headers["content-type"].startswith("text/html"):
        return f"{status} error is neither JSON nor a page"
    return ""


@dataclass
class Target:
    """The server under test, a logged-in session and the cards the routes point at."""

    base: str
    http: httpx.Client
    values: dict[str, dict[str, str]]  # path parameter values, per route tag
    log: Path  # the server's output
    card_json: dict[str, Any]
    sent: int = 0
    failures: list[str] = field(default_factory=list)

    def check(self, response: httpx.Response, what: str, refused: bool = False) -> None:
        """Record what is wrong with ``response`` (all problems are reported at the end)."""
        self.sent += 1
        problem = _problem(response, refused)
        if problem:
            self.failures.append(f"{what}: {problem}")

    def send(
        self,
        method: str,
        url: str,
        what: str,
        params: dict[str, str] | None = None,
        body: str | None = None,
        refused: bool = False,
    ) -> None:
        try:
            request = self.http.build_request(
                method,
                httpx.URL(f"{self.base}{url}"),
                params=params,
                content=body.encode("utf-8", "surrogatepass") if body is not None else None,
                headers={"content-type": "application/json"} if body is not None else None,
            )
        except (httpx.InvalidURL, UnicodeEncodeError):
            return  # not even sendable: no server can receive it
        try:
            response = self.http.send(request)
        except httpx.TransportError as exc:  # the server dropped the connection
            self.sent += 1
            self.failures.append(f"{what}: no answer ({type(exc).__name__})")
            return
        self.check(response, what, refused)


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)(:path)?}", lambda m: values[m.group(1)], path)


def _deref(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _deref(options[0], spec)
    return schema


def _kind(schema: dict[str, Any]) -> str:
    """``integer``, ``number``, ``date``, ``date-time``, ``string``, ``boolean``, ``any``…"""
    if schema.get("format") in ("date", "date-time"):
        return str(schema["format"])
    return str(schema.get("type", "any"))


_GOOD_STRINGS = {
    "sha256": "0" * 64,
    "username": "fuzzer",
    "password": "password-123",
    "grants": "team:read",
    "pre_tag": "rc",
    "build_tag": "b",
    "version_type": "minor",
}


def _example(
    schema: dict[str, Any],
    spec: dict[str, Any],
    target: Target,
    leaves: list[tuple[tuple[str | int, ...], str]],
    at: tuple[str | int, ...] = (),
) -> Any:
    """A valid instance of ``schema``; every scalar leaf (and every key of a free-form map)
    is recorded in ``leaves`` with its kind, to be replaced by bad values one at a time."""
    schema = _deref(schema, spec)
    kind = _kind(schema)
    field = next((str(p) for p in reversed(at) if isinstance(p, str)), "")
    if field == "card" and kind == "object":
        minimal = {"space": "team", "name": "fuzz"}
        for name in CARD_FIELDS:
            leaves.append(((*at, name, 0) if name == "tags" else (*at, name), "string"))
        return minimal
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            leaves.append(((*at, "@key"), "key"))
            return {"data.npy": _example(extra, spec, target, leaves, (*at, "data.npy"))}
        return {
            name: _example(prop, spec, target, leaves, (*at, name))
            for name, prop in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [_example(schema.get("items", {}), spec, target, leaves, (*at, 0))]
    leaves.append((at, kind))
    return {
        "integer": max(int(schema.get("minimum", 1)), 1),
        "number": 1.0,
        "boolean": False,
        "date": "2024-01-01",
        "date-time": "2024-01-01T00:00:00Z",
        "any": 1,
    }.get(kind, "@uid@" if field == "uid" else _GOOD_STRINGS.get(field, "fuzz"))


def _replace(document: Any, at: tuple[str | int, ...], value: Any) -> Any:
    """A copy of ``document`` with the leaf at ``at`` replaced (``@key``: the map's key)."""
    if not at:
        return value
    head, rest = at[0], at[1:]
    if isinstance(document, list):
        items = list(document)
        items[int(head)] = _replace(items[int(head)], rest, value)
        return items
    copy = dict(document)
    if rest == ("@key",):
        copy[head] = {value: next(iter(document[head].values()))}
    elif head == "tags" and rest == (0,):
        copy["tags"] = [value]
    else:
        copy[head] = _replace(copy.get(head, {}), rest, value)
    return copy


def _dump(body: Any) -> str:
    """JSON with a fresh uid wherever ``@uid@`` stands (a reservation is new each time)."""
    text = json.dumps(body)
    while '"@uid@"' in text:
        text = text.replace('"@uid@"', json.dumps(str(uuid.uuid4())), 1)
    return text


def _bad_numbers(kind: str) -> list[tuple[str, bool]]:
    """(JSON literal, must be refused) for a leaf of ``kind``."""
    if kind == "integer":
        return [(v, True) for v in BIG_INTEGERS + NON_FINITE] + [(v, False) for v in EDGES]
    if kind == "number":
        return [(v, True) for v in NON_FINITE] + [(v, False) for v in BIG_INTEGERS + EDGES]
    if kind == "any":  # a parameter's value: any JSON scalar, numbers within bounds
        return [(v, True) for v in BIG_INTEGERS + NON_FINITE] + [(v, False) for v in EDGES]
    if kind == "date":
        return [(json.dumps(v), False) for v in DATES]
    if kind == "date-time":
        return [(json.dumps(v), False) for v in DATETIMES]
    return []


@pytest.fixture
def target(server: OpsmlTestServer) -> Iterator[Target]:
    """A data card, an experiment card, a second user and an admin session."""
    base = server.server_uri
    data = DataCard(interface=NumpyData(data=np.arange(4)), space="team", name="target")
    CardRegistry(RegistryType.Data).register_card(data)
    experiment = ExperimentCard(space="team", name="run")
    CardRegistry(RegistryType.Experiment).register_card(experiment)
    login = {"username": "admin", "password": "admin-password-1"}
    token = httpx.post(f"{base}/opsml/api/auth/token", json=login).json()["access_token"]
    http = httpx.Client(timeout=60, headers={"authorization": f"Bearer {token}"})
    created = http.post(
        f"{base}/opsml/api/users", json={"username": "fuzzer", "password": "password-123"}
    )
    assert created.status_code == 200, created.text
    card_json = http.get(f"{base}/opsml/api/data/cards/{data.uid}").json()
    common = {
        "path": "data.npy",
        "username": "fuzzer",
        "token_id": "0123456789abcdef",
        "space": "team",
        "name": "target",
        "alias": "prod",
        "webhook_id": "0123456789abcdef0123456789abcdef",
    }
    try:
        yield Target(
            base=base,
            http=http,
            values={
                "cards": {**common, "registry": "data", "uid": str(data.uid)},
                "experiments": {**common, "registry": "experiment", "uid": str(experiment.uid)},
            },
            card_json=card_json,
            log=server.base_path / "server.log" if server.base_path else Path(),
        )
    finally:
        http.close()


def _operations(target: Target) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    spec = target.http.get(f"{target.base}/opsml/api/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "delete", "patch"):
                yield method.upper(), path, operation, spec


def _good(target: Target, operation: dict[str, Any]) -> dict[str, str]:
    tags = operation.get("tags", [])
    return target.values["experiments" if "experiments" in tags else "cards"]


def test_every_route_and_field_on_every_database(target: Target, tmp_path: Path) -> None:
    before = set(tmp_path.rglob("*"))
    for method, path, operation, spec in _operations(target):
        good = _good(target, operation)
        params = [p for p in operation.get("parameters", []) if p["in"] in ("path", "query")]
        query_good = {
            p["name"]: str(_example(p.get("schema", {}), spec, target, [], (p["name"],)))
            for p in params
            if p["in"] == "query" and p.get("required")
        }
        leaves: list[tuple[tuple[str | int, ...], str]] = []
        body_schema = (
            operation.get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema")
        )
        body = None
        if body_schema is not None:
            body = _example(body_schema, spec, target, leaves)
            if method == "PUT" and isinstance(body, dict) and "card" in body:
                body["card"] = {**target.card_json}
        url_good = _fill(path, good)
        # Strings in every path and query parameter.
        for param in params:
            kind = _kind(_deref(param.get("schema", {}), spec))
            for evil in CORPUS:
                values, query = {**good}, {**query_good}
                if param["in"] == "path":
                    values[param["name"]] = evil
                else:
                    query[param["name"]] = evil
                target.send(
                    method,
                    _fill(path, values),
                    f"{method} {path} {param['name']}={evil[:40]!r}",
                    params=query,
                    body=_dump(body) if body is not None else None,
                )
            for literal, refused in _bad_numbers(kind):
                value = json.loads(literal) if kind in ("date", "date-time") else literal
                query = {**query_good, param["name"]: str(value)}
                target.send(
                    method,
                    url_good,
                    f"{method} {path} ?{param['name']}={value}",
                    params=query,
                    refused=refused and param["in"] == "query",
                )
        # Every leaf of the body: strings from the corpus, numbers out of range.
        for at, kind in leaves:
            what = f"{method} {path} body {'.'.join(map(str, at))}"
            if kind in ("string", "key", "any"):
                for evil in CORPUS:
                    target.send(method, url_good, what, query_good, _dump(_replace(body, at, evil)))
            for literal, refused in _bad_numbers(kind):
                text = _dump(_replace(body, at, _NUMBER)).replace(f'"{_NUMBER}"', literal)
                target.send(method, url_good, f"{what}={literal}", query_good, text, refused)
    for evil in CORPUS:  # the login form, without a token
        login = json.dumps({"username": evil, "password": evil})
        target.check(
            httpx.post(
                f"{target.base}/opsml/api/auth/token",
                content=login.encode("utf-8", "surrogatepass"),
                headers={"content-type": "application/json"},
            ),
            "login",
        )
    for evil in CORPUS:  # a token nobody issued, as a bearer token and as the UI's cookie
        for headers in ({"authorization": f"Bearer {evil}"}, {"cookie": f"opsml_token={evil}"}):
            try:
                response = httpx.get(f"{target.base}/opsml/api/auth/me", headers=headers)
            except (UnicodeEncodeError, httpx.LocalProtocolError):
                continue  # not a header anyone can send
            target.check(response, f"token {evil[:40]!r}", refused=True)
    _ui_pages(target)
    assert not target.failures, "\n".join(
        [f"{len(target.failures)} of {target.sent} answers wrong:", *target.failures[:400]]
    )
    assert target.sent > 3000
    log = target.log.read_text(errors="replace")
    assert "audit log write failed" not in log  # bad requests are audited like any other
    created = set(tmp_path.rglob("*")) - before
    storage = tmp_path / "server"
    assert all(storage in p.parents or p == storage for p in created), sorted(created)[:5]
    assert not list(tmp_path.rglob("passwd"))


def _ui_routes() -> list[APIRoute]:
    app = FastAPI()
    install_ui(app)
    return [r for r in app.routes if isinstance(r, APIRoute) and "GET" in (r.methods or ())]


def _ui_pages(target: Target) -> None:
    """Every page of the web UI, with the corpus in every path and query parameter."""
    good = {**target.values["cards"], "space": "team"}
    for route in _ui_routes():
        names = [p.name for p in route.dependant.path_params]
        queries = [p.name for p in route.dependant.query_params]
        for evil in CORPUS:
            for name in names:
                target.send("GET", _fill(route.path, {**good, name: evil}), f"{route.path} {name}")
            for name in queries:
                target.send(
                    "GET", _fill(route.path, good), f"{route.path} ?{name}", params={name: evil}
                )


def test_the_reported_requests(target: Target) -> None:
    """The reproductions of issue 14: each answers 4xx without database text."""
    base, http = target.base, target.http
    for url, params in [
        ("/opsml/api/data/cards/%00", None),  # PostgreSQL refused the NUL: 503 with SQL
        ("/opsml/api/data/cards/%C3%A9", None),  # MariaDB: "Illegal mix of collations"
        ("/opsml/api/data/cards", {"tags": "\x00"}),
        ("/opsml/api/experiment/cards/%00/metrics", None),
    ]:
        response = http.get(f"{base}{url}", params=params)
        assert response.status_code == 422, (url, response.text)
        assert response.json()["error"] == "InvalidArgumentError"
        assert _SQL.search(response.text) is None, response.text

    page = http.get(f"{base}/ui/data", params={"tag": "\x00"})
    assert page.status_code == 200  # the page shows the filter's error next to the form
    assert "contains control characters" in page.text
    assert _SQL.search(page.text) is None

    uid = target.values["experiments"]["uid"]
    url = f"{base}/opsml/api/experiment/cards/{uid}/metrics"
    metric = '{"metrics": [{"name": "loss", "value": 1.0, "step": 1180591620717411303424}]}'
    response = http.post(url, content=metric, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert "step" in response.json()["detail"]
    assert http.get(url).json() == []  # nothing half-stored
