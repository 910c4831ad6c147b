"""The server's log lines: JSON or text, and never a token or a password."""

from __future__ import annotations

import io
import json
import logging

import pytest

from opsml.server._logging import log_config

API_TOKEN = "opsml_0123456789abcdef_AbCdEfGhIjKlMnOpQrStUvWxYz-12345"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def _emit(log_format: str, *args: object, **extra: object) -> str:
    """One record through the handler ``log_config`` describes (without configuring the
    process's loggers)."""
    config = log_config(log_format)
    assert config["handlers"]["default"]["filters"] == ["redact"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(config["filters"]["redact"]["()"]())
    handler.setFormatter(config["formatters"]["opsml"]["()"]())
    logger = logging.getLogger("opsml.server.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        logger.info(*args, extra=extra)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return stream.getvalue()


def test_json_lines_carry_the_fields() -> None:
    line = _emit("json", "GET %s %d", "/opsml/api/healthz", 200, route="/x/{uid}", status=200)
    entry = json.loads(line)
    assert entry["message"] == "GET /opsml/api/healthz 200"
    assert (entry["level"], entry["logger"]) == ("info", "opsml.server.test")
    assert (entry["route"], entry["status"]) == ("/x/{uid}", 200)
    assert entry["time"].endswith("Z")


def test_text_lines_for_people() -> None:
    line = _emit("text", "started", job="gc")
    assert line.rstrip().endswith("INFO opsml.server.test: started job=gc")


@pytest.mark.parametrize(
    "message",
    [
        f"Authorization: Bearer {JWT}",
        f"token {JWT} refused",
        "password=hunter2-hunter2 in a URL",
        '{"refresh_token": "abc123abc123"}',
        f"api token {API_TOKEN} was used",
        '"GET /ui/oidc/callback?code=abc123abc123&state=hunter2-hunter2 HTTP/1.1" 200',
        '{"device_code": "abc123abc123", "user_code": "hunter2-hunter2"}',
    ],
)
@pytest.mark.parametrize("log_format", ["json", "text"])
def test_tokens_and_passwords_are_redacted(message: str, log_format: str) -> None:
    out = _emit(log_format, "%s", message)
    for secret in (JWT, "hunter2-hunter2", "abc123abc123", API_TOKEN):
        assert secret not in out
    assert "[redacted]" in out


def test_auto_is_json_when_standard_error_is_not_a_terminal() -> None:
    formatter = log_config("auto")["formatters"]["opsml"]["()"]
    assert formatter.__name__ == "JsonFormatter"  # pytest captures standard error


def test_table_names_are_not_mistaken_for_tokens() -> None:
    out = _emit("text", "querying opsml_experiment_parameters failed")
    assert "opsml_experiment_parameters" in out
