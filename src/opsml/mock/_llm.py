"""LLMTestServer: a deterministic OpenAI- and Gemini-compatible server process, for tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from types import TracebackType
from typing import Any

from opsml.errors import ServerUnavailableError
from opsml.mock._llm_server import DEFAULT_REPLY, REQUESTS_PATH
from opsml.mock._process import restore_env, stop_process

__all__ = ["LLMTestServer"]

_KEY = "mock-api-key"


class LLMTestServer:
    """Start a loopback server that answers OpenAI's and Gemini's chat APIs
    deterministically, and point the providers' variables of this process (and the processes
    it starts) at it: ``OPENAI_API_URL`` and ``OPENAI_BASE_URL`` (the ``openai`` SDK's, so
    pydantic-ai uses it too), ``GEMINI_API_URL``, and ``OPENAI_API_KEY`` / ``GEMINI_API_KEY``
    when they are unset. On exit the server stops and the variables are restored.

    How it answers (``opsml.mock._llm_server``): the text ``reply`` to a plain request; a JSON
    document made from the schema to a structured-output request (``response_format=Score``
    gets ``{"score": 1, "reason": "mock"}``); a call of the offered tool to a request with
    tools. :attr:`requests` lists what it received.

    Example:
        ```python
        with LLMTestServer() as server:
            response = Agent("openai").execute_prompt(prompt)
            assert response.result == server.reply
        ```

    Args:
        reply: The text answer (default OpsML 3's ``"Hello! How can I assist you today?"``).
        startup_timeout: Seconds to wait for the server to listen.
    """

    def __init__(self, reply: str = DEFAULT_REPLY, startup_timeout: float = 30.0) -> None:
        self.reply = reply
        self._timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._saved: dict[str, str | None] = {}
        self.url = ""

    def start_server(self) -> None:
        """Start the server process and set the providers' variables.

        Raises:
            ServerUnavailableError: The server did not start listening in time.
        """
        process = subprocess.Popen(
            [sys.executable, "-m", "opsml.mock._llm_server", "--reply", self.reply],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._process = process
        line: list[str] = []
        # The server prints its address once it listens (it binds port 0: the kernel picks a
        # free port, so no other process can take it in between).
        reader = threading.Thread(
            target=lambda: line.append(process.stdout.readline() if process.stdout else ""),
            daemon=True,
        )
        reader.start()
        reader.join(self._timeout)
        if not line or not line[0].startswith("listening on "):
            self.stop_server()
            raise ServerUnavailableError("the LLM test server did not start")
        self.url = line[0].removeprefix("listening on ").strip()
        variables = {
            "OPENAI_API_URL": f"{self.url}/v1",
            "OPENAI_BASE_URL": f"{self.url}/v1",
            "GEMINI_API_URL": f"{self.url}/v1beta/models",
        }
        for name in ("OPENAI_API_KEY", "GEMINI_API_KEY"):
            if not os.environ.get(name):
                variables[name] = _KEY
        self._saved = {name: os.environ.get(name) for name in variables}
        os.environ.update(variables)

    def stop_server(self) -> None:
        """Stop the server and restore the variables."""
        restore_env(self._saved)
        self._saved = {}
        self.url = ""
        if self._process is not None:
            stop_process(self._process)
            self._process = None

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The requests received so far: ``{"path": ..., "body": {...}}`` each, in order."""
        if not self.url:
            return []
        with urllib.request.urlopen(f"{self.url}{REQUESTS_PATH}", timeout=10) as answer:
            received: list[dict[str, Any]] = json.load(answer)
        return received

    def __enter__(self) -> LLMTestServer:
        self.start_server()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_server()
