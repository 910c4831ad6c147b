"""The prompt page shows the messages, model settings, response format and the LLM metrics
of the card's drift profiles."""

from __future__ import annotations

import html
from pathlib import Path

import scouter  # noqa: F401  (LLM drift profiles need the monitoring extra)
from fastapi.testclient import TestClient

from opsml import CardRegistry, PromptCard, RegistryType
from opsml.llm import ImageUrl, Message, ModelSettings, Prompt, Score
from opsml.scouter.alert import AlertThreshold
from opsml.scouter.drift import LLMDriftConfig, LLMMetric
from opsml.server import create_app


def test_prompt_page_shows_the_prompt_and_its_llm_metrics(sqlite_registry_env: Path) -> None:
    prompt = Prompt(
        message=[
            "Describe <this> for ${audience}",
            Message("Earlier answer", role="assistant"),
            ImageUrl("https://example.com/cat.png"),
        ],
        model="openai:gpt-4o",
        system_instruction="You are a careful describer.",
        model_settings=ModelSettings(temperature=0.25, max_tokens=120),
        response_format=Score,
    )
    judge = Prompt(
        message="Does ${response} answer ${input}? Score 1-5.",
        model="gemini-2.5-flash",
        provider="gemini",
        response_format=Score,
    )
    card = PromptCard(prompt=prompt, space="team", name="describe")
    card.create_drift_profile(
        "quality",
        config=LLMDriftConfig(),
        metrics=[
            LLMMetric(
                name="faithfulness",
                prompt=judge,
                value=4.0,
                alert_threshold=AlertThreshold.Below,
                alert_threshold_value=0.5,
            )
        ],
    )
    plain = PromptCard(prompt=Prompt(message="hi"), space="team", name="plain")
    registry = CardRegistry(RegistryType.Prompt)
    registry.register_card(card)
    registry.register_card(plain)
    client = TestClient(create_app(), base_url="http://localhost")

    page = html.unescape(client.get(f"/ui/prompt/{card.uid}").text)

    assert "You are a careful describer." in page
    assert "Describe <this> for ${audience}" in page
    assert '<p class="role">assistant</p>' in page
    assert "image-url: https://example.com/cat.png" in page
    assert '<th scope="row">temperature</th><td>0.25</td>' in page
    assert '"title": "Score"' in page  # the response format
    metrics = page[page.index("LLM metrics of quality") :]
    assert "<td>faithfulness</td><td>4.0</td><td>Below (by 0.5)</td>" in metrics
    assert "gemini/gemini-2.5-flash" in metrics
    assert "Does ${response} answer ${input}? Score 1-5." in metrics
    assert f"/ui/prompt/{card.uid}/files/drift/quality.json" in page

    empty = client.get(f"/ui/prompt/{plain.uid}").text
    assert "card.create_drift_profile(alias, config, metrics)" in empty
