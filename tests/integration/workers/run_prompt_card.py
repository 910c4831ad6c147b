"""Worker for the prompt-card test: in a fresh process, load a PromptCard from the registry
``OPSML_TRACKING_URI`` names (a server: client mode), bind it and run it with an Agent
against the LLM API the environment points at. Prints the answer as JSON.

usage: run_prompt_card.py <uid> <question>
"""

from __future__ import annotations

import json
import sys

from opsml import CardRegistry, RegistryType
from opsml.llm import Agent


def main(uid: str, question: str) -> None:
    card = CardRegistry(RegistryType.Prompt).load_card(uid=uid)
    prompt = card.prompt.bind(question=question)
    response = Agent(prompt.provider).execute_prompt(prompt)
    print(
        json.dumps({"mode": str(CardRegistry(RegistryType.Prompt).mode), "answer": response.result})
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
