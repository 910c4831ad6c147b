"""Messages that hold media or documents, providers and ``Score`` (OpsML 3's prompt names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsml import CardRegistry, PromptCard, RegistryType
from opsml.errors import InvalidArgumentError
from opsml.llm import (
    AudioUrl,
    BinaryContent,
    DocumentUrl,
    ImageUrl,
    Message,
    Prompt,
    Provider,
    Score,
)


def test_url_contents_know_their_media_type() -> None:
    image = ImageUrl(url="https://example.com/cat.png")
    assert (image.kind, image.media_type, image.format) == ("image-url", "image/png", "png")
    audio = AudioUrl("https://example.com/a/b/song.mp3?sig=1")
    assert (audio.kind, audio.media_type, audio.format) == ("audio-url", "audio/mpeg", "mpeg")
    doc = DocumentUrl("https://example.com/report.pdf")
    assert (doc.kind, doc.media_type, doc.format) == ("document-url", "application/pdf", "pdf")


@pytest.mark.parametrize(
    ("make", "url"),
    [
        (ImageUrl, "https://example.com/song.mp3"),
        (AudioUrl, "https://example.com/cat.png"),
        (DocumentUrl, "https://example.com/cat.png"),
        (ImageUrl, "https://example.com/no-suffix"),
        (ImageUrl, ""),
    ],
)
def test_a_url_of_the_wrong_kind_is_refused(make: type[ImageUrl], url: str) -> None:
    with pytest.raises(InvalidArgumentError):
        make(url)


def test_binary_content_checks_its_arguments() -> None:
    blob = BinaryContent(data=b"\x89PNG", media_type="image/png")
    assert (blob.kind, blob.format, blob.data) == ("binary", "png", b"\x89PNG")
    assert BinaryContent(data="AAE=", media_type="image/png").data == b"\x00\x01"  # base64 text
    with pytest.raises(InvalidArgumentError, match="base64"):
        BinaryContent(data="not base64!", media_type="image/png")
    with pytest.raises(InvalidArgumentError, match="bytes"):
        BinaryContent(data=123, media_type="image/png")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        BinaryContent(data=b"x", media_type="png")


def test_messages_hold_content_and_survive_a_save(tmp_path: Path) -> None:
    prompt = Prompt(
        message=[
            "Describe ${thing} in this picture",
            ImageUrl("https://example.com/cat.jpg"),
            Message(BinaryContent(b"\x00\x01", "application/octet-stream")),
        ],
        model="gpt-4o",
        provider=Provider.OpenAI,
    )
    assert prompt.model_identifier == "openai:gpt-4o"
    assert prompt.parameters == ["thing"]
    bound = prompt.bind(thing="the cat")
    assert bound.message[0].unwrap() == "Describe the cat in this picture"
    assert bound.message[1].unwrap() == ImageUrl("https://example.com/cat.jpg")
    for path in (tmp_path / "p.json", tmp_path / "p.yaml"):
        again = Prompt.from_path(bound.save_prompt(path))
        assert [m.content for m in again.message] == [m.content for m in bound.message]
        assert again.message[2].content.data == b"\x00\x01"  # type: ignore[union-attr]


def test_a_message_refuses_other_content() -> None:
    with pytest.raises(InvalidArgumentError, match="ImageUrl"):
        Message(3)  # type: ignore[arg-type]


def test_score_is_a_response_format() -> None:
    prompt = Prompt(message="Rate it", model="openai:gpt-4o", response_format=Score)
    assert prompt.response_json_schema is not None
    assert '"reason"' in prompt.response_json_schema
    score = Score.model_validate_json('{"score": 5, "reason": "concise"}')
    assert (score.score, score.reason) == (5, "concise")
    assert Provider("gemini") is Provider.Gemini


def test_a_prompt_card_keeps_media_messages(sqlite_registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    prompt = Prompt(message=["What is this?", ImageUrl("https://example.com/x.webp")])
    card = PromptCard(prompt=prompt, space="team-a", name="vision")
    registry.register_card(card)
    loaded = registry.load_card(uid=card.uid)
    assert loaded.prompt.message[1].content == ImageUrl("https://example.com/x.webp")
