"""The process behind :class:`~opsml.mock.LLMTestServer`: an OpenAI- and Gemini-compatible
HTTP endpoint on loopback that answers every request deterministically.

Run as ``python -m opsml.mock._llm_server [--reply TEXT]``: it binds a free port on
127.0.0.1, prints ``listening on http://127.0.0.1:<port>`` and serves until it is stopped.

How it answers (the same request always gets the same answer):

* ``POST .../chat/completions`` (OpenAI): a request offering ``tools`` gets a call of the
  tool named ``final_result`` (pydantic-ai's structured output) or else of the first tool,
  with arguments made from the tool's JSON schema; a request with a ``json_schema``
  ``response_format`` gets a JSON document made from that schema; anything else gets the
  reply text.
* ``POST .../models/<model>:generateContent`` (Gemini): the same, with the schema of
  ``generationConfig.responseSchema`` / ``responseJsonSchema``.
* ``GET /mock/requests``: every request received so far (``path`` and JSON ``body``), so a
  test can check what was sent; ``DELETE /mock/requests`` forgets them.

A document made from a schema takes, for each field: its ``const``, ``default`` or first
``enum`` value if there is one; else for an integer or number its ``maximum`` (or
``minimum``, or 1); for a string ``"mock"``; for a boolean ``true``; for an array one item;
for an object every property.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["DEFAULT_REPLY", "example_from_schema", "main"]

DEFAULT_REPLY = "Hello! How can I assist you today?"
"""The text answer, as OpsML 3's mock server gives it."""

REQUESTS_PATH = "/mock/requests"
_MAX_DEPTH = 12


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return target if isinstance(target, dict) else {}
    return schema


def example_from_schema(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A JSON value that satisfies ``schema`` (for the schemas structured outputs use).

    Args:
        schema: A JSON schema.
        root: The document holding ``$defs`` for ``$ref`` (default: ``schema``).
        depth: Recursion depth (recursive schemas stop with ``None``).

    Returns:
        The value (see the module's docstring for the rules).
    """
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    root = schema if root is None else root
    schema = _resolve(schema, root)
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key, []) if _resolve(o, root).get("type") != "null"]
        if options:
            return example_from_schema(options[0], root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind in ("integer", "number"):
        value = schema.get("maximum", schema.get("minimum", 1))
        return int(value) if kind == "integer" else float(value)
    if kind == "string":
        return "mock"
    if kind == "boolean":
        return True
    if kind == "array":
        return [example_from_schema(schema.get("items", {}), root, depth + 1)]
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {
            name: example_from_schema(prop, root, depth + 1) for name, prop in properties.items()
        }
    return None


def _words(value: Any) -> int:
    return len(json.dumps(value).split())


def _openai_answer(body: dict[str, Any], reply: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply, "refusal": None}
    finish = "stop"
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and "function" in t]
    response_format = body.get("response_format") or {}
    if tools:
        chosen = next((t for t in tools if t["function"].get("name") == "final_result"), tools[0])[
            "function"
        ]
        arguments = example_from_schema(chosen.get("parameters", {}))
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": "call_mock_0",
                "type": "function",
                "function": {"name": chosen.get("name"), "arguments": json.dumps(arguments)},
            }
        ]
        finish = "tool_calls"
    elif response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema", {})
        message["content"] = json.dumps(example_from_schema(schema))
    prompt_tokens = _words(body.get("messages", []))
    completion_tokens = _words(message)
    return {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "mock"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
    }


def _gemini_answer(body: dict[str, Any], model: str, reply: str) -> dict[str, Any]:
    config = body.get("generationConfig") or body.get("generation_config") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    text = json.dumps(example_from_schema(schema)) if schema else reply
    prompt_tokens = _words(body.get("contents", []))
    completion_tokens = len(text.split())
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": text}]},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": completion_tokens,
            "totalTokenCount": prompt_tokens + completion_tokens,
        },
        "modelVersion": model,
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read :data:`REQUESTS_PATH` instead of a log."""

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == REQUESTS_PATH:
            with self.server.lock:
                self._send(200, list(self.server.received))
        elif self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": "mock", "object": "model"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_DELETE(self) -> None:
        if self.path.rstrip("/") == REQUESTS_PATH:
            with self.server.lock:
                self.server.received.clear()
            self._send(200, [])
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, {"error": {"message": "the body is not JSON"}})
            return
        if not isinstance(body, dict):
            self._send(400, {"error": {"message": "the body must be a JSON object"}})
            return
        path = self.path.split("?", 1)[0]
        with self.server.lock:
            self.server.received.append({"path": path, "body": body})
        if path.endswith("/chat/completions"):
            self._send(200, _openai_answer(body, self.server.reply))
        elif path.endswith(":generateContent"):
            model = path.rsplit("/", 1)[-1].split(":", 1)[0]
            self._send(200, _gemini_answer(body, model, self.server.reply))
        else:
            self._send(404, {"error": {"message": f"no route {path}"}})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, reply: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.reply = reply
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()


def main(argv: list[str] | None = None) -> None:
    """Serve until stopped (the entry point of ``python -m opsml.mock._llm_server``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reply", default=DEFAULT_REPLY, help="the text answer")
    args = parser.parse_args(argv)
    server = _Server(args.reply)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
