"""LLMTestServer: a real loopback process that answers OpenAI's and Gemini's chat APIs the
same way every time, and points the providers' variables at itself only while it runs."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

import pytest

from opsml.mock import LLMTestServer
from opsml.mock._llm_server import DEFAULT_REPLY, example_from_schema


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: dict[str, Any] = json.load(answer)
    return result


def test_it_sets_the_provider_variables_only_while_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "mine")
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with LLMTestServer() as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert os.environ["OPENAI_API_URL"] == os.environ["OPENAI_BASE_URL"] == f"{server.url}/v1"
        assert os.environ["GEMINI_API_URL"] == f"{server.url}/v1beta/models"
        assert os.environ["OPENAI_API_KEY"] == "mine"  # a key the user set is kept
        assert os.environ["GEMINI_API_KEY"]
    assert os.environ["OPENAI_API_KEY"] == "mine"
    assert "OPENAI_BASE_URL" not in os.environ
    assert "GEMINI_API_KEY" not in os.environ


def test_the_same_request_gets_the_same_answer() -> None:
    with LLMTestServer() as server:
        chat = f"{server.url}/v1/chat/completions"
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        first, second = _post(chat, body), _post(chat, body)
        assert first == second
        assert first["choices"][0]["message"]["content"] == DEFAULT_REPLY

        tools = {
            **body,
            "tools": [
                {"type": "function", "function": {"name": "lookup", "parameters": {}}},
                {
                    "type": "function",
                    "function": {
                        "name": "final_result",
                        "parameters": {
                            "type": "object",
                            "properties": {"date": {"type": "string"}},
                        },
                    },
                },
            ],
        }
        call = _post(chat, tools)["choices"][0]
        assert call["finish_reason"] == "tool_calls"
        function = call["message"]["tool_calls"][0]["function"]
        assert (function["name"], json.loads(function["arguments"])) == (
            "final_result",
            {"date": "mock"},
        )

        gemini = _post(
            f"{server.url}/v1beta/models/gemini-2.5:generateContent",
            {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        )
        assert gemini["candidates"][0]["content"]["parts"][0]["text"] == DEFAULT_REPLY
        assert [r["path"] for r in server.requests] == [
            "/v1/chat/completions",
            "/v1/chat/completions",
            "/v1/chat/completions",
            "/v1beta/models/gemini-2.5:generateContent",
        ]
    assert server.requests == []  # stopped: nothing to ask


def test_documents_made_from_schemas() -> None:
    schema = {
        "$defs": {"Level": {"enum": ["low", "high"]}},
        "type": "object",
        "properties": {
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "ratio": {"type": "number", "minimum": 0.5},
            "count": {"type": "integer"},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "level": {"$ref": "#/$defs/Level"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "string"}]},
            "fixed": {"const": 7},
            "given": {"type": "string", "default": "d"},
        },
    }
    assert example_from_schema(schema) == {
        "score": 5,
        "ratio": 0.5,
        "count": 1,
        "ok": True,
        "tags": ["mock"],
        "level": "low",
        "maybe": "mock",
        "fixed": 7,
        "given": "d",
    }
    recursive = {"type": "object", "properties": {"child": {"$ref": "#"}}}
    assert json.dumps(example_from_schema(recursive))  # ends, however deep
