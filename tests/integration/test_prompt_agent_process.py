"""A PromptCard registered through a real server is loaded in client mode by a fresh process
and run by an Agent against the LLM test server (another real process): the answer is the
test server's, and what the server received is the card's prompt."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import scouter  # noqa: F401  (the llm extra: the core-only run leaves this module out)

from opsml import CardRegistry, PromptCard, RegistryType
from opsml.llm import ModelSettings, Prompt
from opsml.mock import LLMTestServer, OpsmlTestServer

WORKER = Path(__file__).parent / "workers" / "run_prompt_card.py"
REPLY = "Registered prompts run."


@pytest.mark.client
def test_a_registered_prompt_runs_in_a_fresh_process(tmp_path: Path) -> None:
    with OpsmlTestServer(base_path=tmp_path / "server"), LLMTestServer(reply=REPLY) as llm:
        prompt = Prompt(
            message="Answer briefly: ${question}",
            model="gpt-4o-mini",
            provider="openai",
            system_instruction="You are a support agent.",
            model_settings=ModelSettings(temperature=0.0),
        )
        card = PromptCard(prompt=prompt, space="support", name="faq")
        CardRegistry(RegistryType.Prompt).register_card(card)

        result = subprocess.run(
            [sys.executable, str(WORKER), str(card.uid), "How do I reset my password?"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"mode": "client", "answer": REPLY}
        (sent,) = llm.requests
        assert sent["body"]["model"] == "gpt-4o-mini"
        assert sent["body"]["temperature"] == 0.0
        assert [m["content"][0]["text"] for m in sent["body"]["messages"]] == [
            "You are a support agent.",
            "Answer briefly: How do I reset my password?",
        ]
