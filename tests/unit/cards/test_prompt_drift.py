"""LLM drift profiles travel with PromptCards like every drift profile: saved as verified
``drift/<alias>.json`` files, loaded back with the card's identity, kept by update_card and
download_artifacts; their prompts are opsml prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import scouter  # noqa: F401  (LLM drift profiles need the monitoring extra)

from opsml import Card, CardRegistry, PromptCard, RegistryType, ServiceCard
from opsml.errors import IntegrityError, InvalidArgumentError
from opsml.llm import Agent, Prompt, Score, Task, Workflow
from opsml.llm._convert import from_scouter
from opsml.scouter.alert import AlertThreshold
from opsml.scouter.drift import LLMDriftConfig, LLMDriftProfile, LLMMetric
from opsml.types import DriftArgs


def _judge() -> Prompt:
    return Prompt(
        message="Rate how well ${response} answers ${input}, from 1 to 5.",
        model="gpt-4o",
        provider="openai",
        response_format=Score,
    )


def _card() -> PromptCard:
    prompt = Prompt(message="Answer: ${question}", model="openai:gpt-4o")
    card = PromptCard(prompt=prompt, space="team", name="qa")
    metric = LLMMetric(
        name="relevance", prompt=_judge(), value=3.0, alert_threshold=AlertThreshold.Below
    )
    card.create_drift_profile("quality", config=LLMDriftConfig(), metrics=[metric])
    return card


def test_llm_metrics_take_opsml_prompts_and_give_them_back(tmp_path: Path) -> None:
    metric = LLMMetric(
        name="relevance", prompt=_judge(), value=3.0, alert_threshold=AlertThreshold.Below
    )
    assert isinstance(metric, LLMMetric)
    assert from_scouter(metric.prompt) == _judge()
    with pytest.raises(InvalidArgumentError, match=r"expected an opsml\.llm\.Prompt"):
        LLMMetric(name="m", prompt="rate it", value=3.0, alert_threshold=AlertThreshold.Below)


def test_registered_profiles_load_back_verified_with_the_card_identity(
    registry_env: Path,
) -> None:
    card = _card()
    registry = CardRegistry(RegistryType.Prompt)
    registry.register_card(card, save_kwargs={"drift": DriftArgs(active=True)})

    assert card.manifest is not None
    assert set(card.manifest.files) == {"drift/quality.json"}
    assert card.drift_profile_uri_map is not None
    config = card.drift_profile["quality"].config
    assert (config.space, config.name, config.version) == ("team", "qa", card.version)

    loaded = registry.load_card(uid=card.uid)
    profile = loaded.drift_profile["quality"]  # read (and verified) on first use
    assert isinstance(profile, LLMDriftProfile)
    assert (profile.config.space, profile.config.name, profile.config.version) == (
        "team",
        "qa",
        card.version,
    )
    assert [m.name for m in profile.metrics] == ["relevance"]
    assert from_scouter(profile.metrics[0].prompt) == _judge()

    loaded.tags = ["reviewed"]
    registry.update_card(loaded)
    again = registry.load_card(uid=card.uid)
    assert again.tags == ["reviewed"]
    assert list(again.drift_profile) == ["quality"]


def test_a_flipped_byte_in_a_stored_profile_is_an_integrity_error(
    sqlite_registry_env: Path,
) -> None:
    card = _card()
    registry = CardRegistry(RegistryType.Prompt)
    registry.register_card(card)
    (stored,) = sqlite_registry_env.rglob("drift/quality.json")
    data = bytearray(stored.read_bytes())
    data[10] ^= 0x01
    stored.write_bytes(bytes(data))

    loaded = registry.load_card(uid=card.uid)
    assert loaded.prompt == card.prompt  # the prompt itself is metadata: still there
    with pytest.raises(IntegrityError):
        loaded.drift_profile  # noqa: B018


def test_a_card_without_profiles_writes_no_files(sqlite_registry_env: Path) -> None:
    card = PromptCard(prompt=Prompt(message="hi"), space="team", name="plain")
    CardRegistry(RegistryType.Prompt).register_card(card)
    assert card.drift_profile.is_empty()
    assert card.drift_profile_uri_map is None
    assert card.manifest is not None
    assert card.manifest.files == {}
    assert not list(sqlite_registry_env.rglob("drift"))


def test_bad_drift_arguments_register_nothing(sqlite_registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    with pytest.raises(InvalidArgumentError, match="must be a DriftArgs"):
        registry.register_card(_card(), save_kwargs={"drift": True})
    with pytest.raises(InvalidArgumentError, match="LLMDriftConfig"):
        _card().create_drift_profile("x", config=object(), metrics=[])
    with pytest.raises(InvalidArgumentError, match="LLMMetric"):
        _card().create_drift_profile("x", config=LLMDriftConfig(), metrics=["relevance"])
    with pytest.raises(InvalidArgumentError, match="alias"):
        _card().create_drift_profile("../x", config=LLMDriftConfig(), metrics=[])
    with pytest.raises(InvalidArgumentError, match="drift profile"):
        PromptCard(prompt=Prompt(message="hi"), drift_profile={"a": "not a profile"})
    assert len(registry.list_cards()) == 0


def test_a_profile_with_a_workflow_and_the_profile_given_directly(
    sqlite_registry_env: Path,
) -> None:
    agent = Agent("openai")
    workflow = Workflow(name="judge")
    workflow.add_agent(agent)
    workflow.add_tasks(
        [
            Task(
                agent.id, Prompt(message="${input} -> ${response}?", model="openai:gpt-4o"), id="a"
            ),
            Task(agent.id, _judge(), ["a"], id="relevance"),
        ]
    )
    metric = LLMMetric(name="relevance", value=5.0, alert_threshold=AlertThreshold.Below)
    profile = LLMDriftProfile(config=LLMDriftConfig(), metrics=[metric], workflow=workflow)
    card = PromptCard(
        prompt=Prompt(message="hi", model="openai:gpt-4o"),
        space="team",
        name="wf",
        drift_profile={"quality": profile},
    )
    registry = CardRegistry(RegistryType.Prompt)
    registry.register_card(card)

    stored = json.loads(registry.load_card(uid=card.uid).drift_profile["quality"].model_dump_json())
    assert sorted(stored["workflow"]["task_list"]["tasks"]) == ["a", "relevance"]  # a map


def test_save_from_path_and_download_keep_the_profiles(
    sqlite_registry_env: Path, tmp_path: Path
) -> None:
    card = _card()
    written = card.save(tmp_path / "saved" / "card.yaml")
    assert (tmp_path / "saved" / "drift" / "quality.json").is_file()
    again = PromptCard.from_path(written)
    assert [m.name for m in again.drift_profile["quality"].metrics] == ["relevance"]
    (tmp_path / "saved" / "drift" / "quality.json").write_text("{}")
    with pytest.raises(IntegrityError):
        PromptCard.from_path(written).drift_profile  # noqa: B018

    registry = CardRegistry(RegistryType.Prompt)
    registry.register_card(_card())
    folder = registry.load_card(name="qa").download_artifacts(tmp_path / "download")
    assert list(PromptCard.from_path(folder).drift_profile) == ["quality"]


def test_a_service_keeps_its_prompt_cards_profiles_offline(
    sqlite_registry_env: Path, tmp_path: Path
) -> None:
    card = _card()
    CardRegistry(RegistryType.Prompt).register_card(card)
    service = ServiceCard(space="team", name="bot", cards=[Card("qa", card=card)])
    CardRegistry(RegistryType.Service).register_card(service)
    folder = (
        CardRegistry(RegistryType.Service).load_card(uid=service.uid).download_artifacts(tmp_path)
    )
    assert (folder / "qa" / "drift" / "quality.json").is_file()

    offline = ServiceCard.from_path(folder)
    assert offline["qa"].prompt == card.prompt
    assert offline["qa"].drift_profile["quality"].config.name == "qa"


def test_prompt_cards_of_earlier_versions_still_load(sqlite_registry_env: Path) -> None:
    # card.json as opsml wrote it before prompt cards had drift profiles
    earlier = {
        "space": "team",
        "name": "old",
        "version": "1.0.0",
        "uid": "0192f0a6-0000-7000-8000-000000000000",
        "tags": [],
        "app_env": "development",
        "opsml_version": "0.1.0",
        "prompt": {
            "message": [{"content": "Hello ${name}", "role": "user"}],
            "system_instruction": [],
            "model_settings": {"model": "gpt-4o", "provider": "openai"},
            "response_format": None,
        },
        "experimentcard_uid": None,
        "registry_type": "prompt",
    }
    card = PromptCard.model_validate_json(json.dumps(earlier))
    assert card.drift_profile.is_empty()
    assert card.prompt.bind(name="Ada").message[0].content == "Hello Ada"
