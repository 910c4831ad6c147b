"""What a client sees of an error: a request id on every answer, database failures as a
generic detail naming that id (the full error in the server log), bodies of invalid text
refused, and malformed uids refused before the permission lookup reads the database."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from opsml import CardRegistry, ExperimentCard, RegistryType
from opsml.server import create_app
from opsml.store import open_engine


@pytest.fixture
def experiment_uid(sqlite_registry_env: Path) -> str:
    card = ExperimentCard(space="team", name="run")
    CardRegistry(RegistryType.Experiment).register_card(card)
    return str(card.uid)


@pytest.fixture
def client(experiment_uid: str) -> TestClient:
    return TestClient(create_app(), base_url="http://localhost")


def test_every_answer_carries_a_request_id(client: TestClient) -> None:
    ok = client.get("/opsml/api/healthcheck")
    missing = client.get("/opsml/api/data/cards/01900000-0000-7000-8000-000000000000")
    assert ok.headers["x-request-id"] != missing.headers["x-request-id"]
    assert len(ok.headers["x-request-id"]) == 16
    given = client.get("/opsml/api/healthcheck", headers={"x-request-id": "trace-1234abcd"})
    assert given.headers["x-request-id"] == "trace-1234abcd"  # a proxy's id is kept
    forged = client.get("/opsml/api/healthcheck", headers={"x-request-id": "a\tb<script>"})
    assert forged.headers["x-request-id"] not in ("a\tb<script>", "")


def test_a_database_failure_answers_a_request_id_and_logs_the_statement(
    client: TestClient, experiment_uid: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = open_engine(os.environ["OPSML_TRACKING_URI"])
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE opsml_experiment_hardware"))
    engine.dispose()
    with caplog.at_level(logging.ERROR, logger="opsml.server"):
        response = client.get(f"/opsml/api/experiment/cards/{experiment_uid}/hardware")
    assert response.status_code == 503  # the server failed: a client may retry
    rid = response.headers["x-request-id"]
    assert response.json() == {
        "error": "MetadataStoreError",
        "detail": f"the metadata store failed (request id {rid}; the server log has the details)",
    }
    logged = [r for r in caplog.records if rid in r.getMessage()]
    assert len(logged) == 1
    assert "no such table: opsml_experiment_hardware" in logged[0].getMessage()
    assert logged[0].exc_info is not None  # with the SQLAlchemy error and its statement

    page = client.get(f"/ui/experiment/{experiment_uid}")
    assert page.status_code == 503
    assert f"request id {page.headers['x-request-id']}" in page.text
    assert "no such table" not in page.text


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("/opsml/api/data/cards/%00", "uid must be a lowercase UUID"),
        ("/opsml/api/data/cards/%C3%A9/downloads", "uid must be a lowercase UUID"),
        ("/opsml/api/experiment/cards/nope/metrics", "uid must be a lowercase UUID"),
        ("/opsml/api/data/cards?space=%00", "query.space"),
        ("/opsml/api/data/cards?tags=a%00b", "contains control characters"),
        ("/opsml/api/data/cards?max_date=9999-12-31", None),  # no upper bound at all
    ],
)
def test_malformed_parameters_are_refused_before_the_database(
    client: TestClient, url: str, error: str | None
) -> None:
    response = client.get(url)
    if error is None:
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 422, response.text
    assert error in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"metrics": [{"name": "lo\\ud800ss", "value": 1.0}]}', 422),  # half a pair
        (b'{"metrics": [{"name": "\\udc00", "value": 1.0}]}', 422),
        (b'{"metrics": [{"name": "loss \xff", "value": 1.0}]}', 422),  # not UTF-8
        (b'{"metrics": [{"name": "\\ud83d\\ude00 \\\\ud800", "value": 1.0}]}', 200),
    ],
)
def test_json_bodies_must_hold_valid_unicode(
    client: TestClient, experiment_uid: str, body: bytes, status: int
) -> None:
    url = f"/opsml/api/experiment/cards/{experiment_uid}/metrics"
    response = client.post(url, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    if status == 422:
        assert response.json()["error"] == "InvalidArgumentError"
        assert "JSON body" in response.json()["detail"]
    else:
        assert [m["name"] for m in client.get(url).json()] == ["😀 \\ud800"]


def test_a_body_without_content_type_is_checked_too(
    client: TestClient, experiment_uid: str
) -> None:
    """FastAPI reads a body without a content type as JSON: it gets the same check."""
    url = f"/opsml/api/experiment/cards/{experiment_uid}/metrics"
    response = client.post(url, content=b'{"metrics": [{"name": "\\ud800", "value": 1}]}')
    assert response.status_code == 422, response.text
    assert "not valid Unicode" in response.json()["detail"]


def test_numbers_beyond_64_bits_are_refused_at_the_edge(
    client: TestClient, experiment_uid: str
) -> None:
    url = f"/opsml/api/experiment/cards/{experiment_uid}"
    put = client.put(
        f"{url}/artifacts/files/a.txt",
        params={"size": 2**63, "sha256": "0" * 64},
        content=b"",
    )
    assert put.status_code == 422
    assert "size" in put.json()["detail"]
    sample = (
        '{"samples": [{"created_at": "2024-01-01T00:00:00Z", "cpu_percent_utilization": 1,'
        ' "memory_used": 9223372036854775808}]}'
    )
    hardware = client.post(
        f"{url}/hardware", content=sample, headers={"content-type": "application/json"}
    )
    assert hardware.status_code == 422
    assert "memory_used" in hardware.json()["detail"]
    assert client.get(f"{url}/hardware").json() == []
