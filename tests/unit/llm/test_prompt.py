"""Prompt, Message and ModelSettings: binding, serialisation, files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from opsml.errors import InvalidArgumentError, SerializationError
from opsml.llm import Message, ModelSettings, Prompt


class Answer(BaseModel):
    score: int
    reason: str


@pytest.fixture
def prompt() -> Prompt:
    return Prompt(
        message=["Summarise ${document} for ${audience}.", Message("Keep it under ${n} words")],
        model="gpt-4o",
        provider="openai",
        system_instruction="You write for ${audience}.",
        model_settings=ModelSettings(temperature=0.2, max_tokens=200),
        response_format=Answer,
    )


def test_prompt_exposes_messages_model_and_settings(prompt: Prompt) -> None:
    assert [m.content for m in prompt.message] == [
        "Summarise ${document} for ${audience}.",
        "Keep it under ${n} words",
    ]
    assert [m.role for m in prompt.message] == ["user", "user"]
    assert [(m.role, m.content) for m in prompt.system_instruction] == [
        ("system", "You write for ${audience}.")
    ]
    assert (prompt.model, prompt.provider) == ("gpt-4o", "openai")
    assert prompt.model_identifier == "openai:gpt-4o"
    assert prompt.model_settings.temperature == 0.2
    assert prompt.model_settings.max_tokens == 200
    assert prompt.parameters == ["audience", "document", "n"]
    assert prompt.response_format == Answer.model_json_schema()
    assert json.loads(prompt.response_json_schema or "") == Answer.model_json_schema()


def test_bind_returns_a_new_prompt_and_leaves_the_original(prompt: Prompt) -> None:
    bound = prompt.bind(document="the report", audience="engineers")

    assert [m.content for m in bound.message] == [
        "Summarise the report for engineers.",
        "Keep it under ${n} words",
    ]
    assert bound.system_instruction[0].content == "You write for engineers."
    assert bound.parameters == ["n"]
    assert prompt.message[0].content == "Summarise ${document} for ${audience}."
    assert prompt.parameters == ["audience", "document", "n"]
    bound.model_settings.temperature = 1.0
    assert prompt.model_settings.temperature == 0.2


def test_bind_renders_non_strings_as_json(prompt: Prompt) -> None:
    bound = prompt.bind(n=50, document=["a", "b"], audience=True)

    assert bound.message[0].content == 'Summarise ["a", "b"] for true.'
    assert bound.message[1].content == "Keep it under 50 words"


def test_bind_accepts_opsml3_positional_form_and_placeholders_named_name() -> None:
    prompt = Prompt(message="Hello ${name}, ${value}!")

    assert prompt.bind("name", "Ada").message[0].content == "Hello Ada, ${value}!"
    assert prompt.bind(name="Ada", value=1).message[0].content == "Hello Ada, 1!"


def test_binding_is_a_single_pass() -> None:
    prompt = Prompt(message="${a} and ${b}")

    assert prompt.bind(a="${b}", b="x").message[0].content == "${b} and x"


def test_other_dollar_text_is_left_alone() -> None:
    prompt = Prompt(message="Costs $5 or {json} or $name or ${ spaced } and ${x}")

    assert prompt.parameters == ["x"]
    assert prompt.bind(x=1).message[0].content == "Costs $5 or {json} or $name or ${ spaced } and 1"


def test_binding_an_unknown_name_is_an_error(prompt: Prompt) -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"no placeholder named 'documnet'.*\$\{document\}"
    ):
        prompt.bind(documnet="typo")
    with pytest.raises(InvalidArgumentError, match="at least one variable"):
        prompt.bind()
    with pytest.raises(InvalidArgumentError, match="value is missing"):
        prompt.bind("document")
    with pytest.raises(InvalidArgumentError, match="JSON-serialisable"):
        prompt.bind(document=object())


def test_bind_mut_changes_the_prompt_in_place(prompt: Prompt) -> None:
    result = prompt.bind_mut("n", 10)

    assert result is prompt
    assert prompt.message[1].content == "Keep it under 10 words"


def test_message_bind() -> None:
    message = Message("Dear ${name}")

    assert message.bind(name="Ada").content == "Dear Ada"
    assert message.bind("name", "Ada").unwrap() == "Dear Ada"
    assert message.content == "Dear ${name}"
    assert message.variables == ["name"]
    with pytest.raises(InvalidArgumentError, match="no placeholder named 'nme'"):
        message.bind(nme="Ada")
    assert message.bind_mut(name="Bo") is message
    assert message.content == "Dear Bo"


def test_prompt_copies_the_messages_it_is_given() -> None:
    message = Message("Hi ${x}")
    prompt = Prompt(message=message)

    message.bind_mut(x="there")

    assert prompt.message[0].content == "Hi ${x}"


def test_message_forms_and_roles() -> None:
    prompt = Prompt(
        message=[
            "question",
            Message("earlier answer", role="assistant"),
            {"content": "follow-up", "role": "user"},
        ],
        system_instruction=[Message("rule one"), "rule two"],
    )

    assert [(m.role, m.content) for m in prompt.message] == [
        ("user", "question"),
        ("assistant", "earlier answer"),
        ("user", "follow-up"),
    ]
    assert [m.role for m in prompt.system_instruction] == ["system", "system"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"message": []}, "at least one message"),
        ({"message": 3}, "message must be a str"),
        ({"message": "x", "system_instruction": [None]}, "system_instruction must be"),
        ({"message": "x", "response_format": "json"}, "response_format must be"),
        ({"message": "x", "model_settings": 0.2}, "model_settings must be"),
        ({"message": "x", "model_settings": {"temprature": 1}}, "invalid model_settings"),
        (
            {"message": "x", "model": "gpt-4o", "model_settings": ModelSettings(model="o3")},
            "conflicts with model_settings.model",
        ),
    ],
)
def test_invalid_arguments_are_clear_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        Prompt(**kwargs)  # type: ignore[arg-type]


def test_model_and_provider_defaults_and_sources() -> None:
    assert Prompt(message="x").model_identifier == "undefined:undefined"
    assert Prompt(message="x", model="openai:gpt-4o").model_identifier == "openai:gpt-4o"
    from_settings = Prompt(message="x", model_settings=ModelSettings(model="m", provider="p"))
    assert from_settings.model_identifier == "p:m"
    agreeing = Prompt(message="x", model="m", model_settings={"model": "m", "seed": 7})
    assert (agreeing.model, agreeing.model_settings.seed) == ("m", 7)


def test_json_round_trip(prompt: Prompt) -> None:
    restored = Prompt.model_validate_json(prompt.model_dump_json())

    assert restored == prompt
    assert restored.model_identifier == "openai:gpt-4o"
    assert restored.bind(n=3).message[1].content == "Keep it under 3 words"


def test_model_settings_round_trip_and_reject_unknown_fields() -> None:
    settings = ModelSettings(temperature=0.5, stop_sequences=["END"], extra_body={"k": [1]})

    assert ModelSettings.model_validate_json(settings.model_dump_json()) == settings
    with pytest.raises(ValueError, match="temprature"):
        ModelSettings(temprature=0.5)  # type: ignore[call-arg]


@pytest.mark.parametrize("name", ["prompt.yaml", "prompt.yml", "prompt.json", "PROMPT.JSON"])
def test_save_and_load_files(prompt: Prompt, tmp_path: Path, name: str) -> None:
    written = prompt.save_prompt(tmp_path / name)

    assert written == tmp_path / name
    assert Prompt.from_path(written) == prompt


def test_saved_files_are_in_the_format_their_suffix_says(prompt: Prompt, tmp_path: Path) -> None:
    import yaml

    json_text = prompt.save_prompt(tmp_path / "p.json").read_text(encoding="utf-8")
    yaml_text = prompt.save_prompt(tmp_path / "p.yaml").read_text(encoding="utf-8")

    assert json.loads(json_text) == yaml.safe_load(yaml_text)
    assert not yaml_text.lstrip().startswith("{")


def test_save_prompt_defaults_to_prompt_json_in_the_working_directory(
    prompt: Prompt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert prompt.save_prompt() == tmp_path / "prompt.json"
    assert prompt.save_prompt(tmp_path) == tmp_path / "prompt.json"
    assert Prompt.from_path("prompt.json") == prompt


def test_hand_written_yaml_uses_the_constructor_arguments(tmp_path: Path) -> None:
    path = tmp_path / "greeting.yaml"
    path.write_text(
        "message: Hello ${name}\n"
        "model: openai:gpt-4o-mini\n"
        "system_instruction: Be brief.\n"
        "model_settings:\n"
        "  temperature: 0.1\n",
        encoding="utf-8",
    )

    prompt = Prompt.from_path(path)

    assert prompt.model_identifier == "openai:gpt-4o-mini"
    assert prompt.bind(name="Ada").message[0].content == "Hello Ada"
    assert prompt.system_instruction[0].content == "Be brief."
    assert prompt.model_settings.temperature == 0.1


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("p.json", "{not json", "not valid JSON"),
        ("p.yaml", "message: [unclosed", "not valid YAML"),
        ("p.yaml", "- just\n- a list\n", "must hold a mapping"),
        ("p.json", '{"mesage": "typo"}', "does not describe a prompt"),
        ("p.json", '{"message": []}', "does not describe a prompt"),
    ],
)
def test_bad_files_are_serialization_errors(
    tmp_path: Path, name: str, content: str, match: str
) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")

    with pytest.raises(SerializationError, match=match):
        Prompt.from_path(tmp_path / name)


def test_file_errors(prompt: Prompt, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"\.yaml, \.yml or \.json"):
        prompt.save_prompt(tmp_path / "prompt.txt")
    with pytest.raises(InvalidArgumentError, match=r"\.yaml, \.yml or \.json"):
        Prompt.from_path(tmp_path / "prompt.txt")
    with pytest.raises(SerializationError, match="could not read prompt"):
        Prompt.from_path(tmp_path / "missing.yaml")
    with pytest.raises(SerializationError, match="could not write prompt"):
        prompt.save_prompt(tmp_path / "no" / "such" / "dir.json")
