"""What a prompt message can hold besides text (OpsML 3 names), the providers, and ``Score``.

A :class:`~opsml.llm.Message` holds text, or one of :class:`ImageUrl`, :class:`AudioUrl`,
:class:`DocumentUrl` (a link the LLM API fetches) or :class:`BinaryContent` (bytes sent
inline). Each records its ``kind`` (OpsML's tag, kept in the saved prompt) and knows its
``media_type`` and ``format``, inferred from the URL's file name or given.
"""

from __future__ import annotations

import base64
import mimetypes
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, field_serializer

from opsml.errors import InvalidArgumentError
from opsml.types import NamedStrEnum

__all__ = ["AudioUrl", "BinaryContent", "DocumentUrl", "ImageUrl", "Provider", "Score"]


class Provider(NamedStrEnum):
    """The LLM provider a prompt is written for (``Prompt(provider=Provider.OpenAI)``)."""

    OpenAI = "openai"
    Gemini = "gemini"


class Score(BaseModel):
    """A score and the reason for it: the response format of an evaluation prompt.

    Example:
        ```python
        from opsml.llm import Prompt, Score

        prompt = Prompt(message="Rate this answer from 1 to 5", model="openai:gpt-4o",
                        response_format=Score)
        assert "score" in prompt.response_json_schema
        assert Score.model_validate_json('{"score": 4, "reason": "clear"}').score == 4
        ```

    Attributes:
        score: The score.
        reason: Why.
    """

    model_config = ConfigDict(extra="forbid")

    score: int
    reason: str


def _media_type(url: str, family: str | None, what: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidArgumentError(f"{what} needs a URL, got {url!r}")
    guessed, _ = mimetypes.guess_type(url.split("?", 1)[0].split("#", 1)[0])
    if guessed is None:
        raise InvalidArgumentError(
            f"{what}: cannot tell the media type of {url!r} from its file name (e.g. .png, "
            ".mp3, .pdf)"
        )
    is_media = guessed.split("/", 1)[0] in ("image", "audio")
    if (family is None and is_media) or (family is not None and not guessed.startswith(family)):
        raise InvalidArgumentError(f"{what}: {url!r} is {guessed}, not {family or 'a document'}")
    return guessed


class _UrlContent(BaseModel):
    """A link to content the LLM API fetches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: ClassVar[str | None] = None
    """The media types it takes (``image/``), ``None`` for documents."""

    url: str
    kind: str

    @property
    def media_type(self) -> str:
        """The media type inferred from the URL's file name, e.g. ``image/png``."""
        return _media_type(self.url, self.family, type(self).__name__)

    @property
    def format(self) -> str:
        """The format: the media type's subtype, e.g. ``png``."""
        return self.media_type.split("/", 1)[1]

    def __str__(self) -> str:
        return self.url


class ImageUrl(_UrlContent):
    """An image by URL (``.png``, ``.jpg``, ``.gif``, ``.webp``, ...).

    Args:
        url: The image's URL; its file name tells the media type.
        kind: OpsML's tag, always ``"image-url"``.

    Raises:
        InvalidArgumentError: The URL does not name an image file.
    """

    family: ClassVar[str | None] = "image/"
    kind: Literal["image-url"] = "image-url"

    def __init__(self, url: str, kind: Literal["image-url"] = "image-url") -> None:
        _media_type(url, "image/", "ImageUrl")
        super().__init__(url=url, kind=kind)


class AudioUrl(_UrlContent):
    """A sound file by URL (``.mp3``, ``.wav``, ``.ogg``, ...).

    Args:
        url: The audio's URL; its file name tells the media type.
        kind: OpsML's tag, always ``"audio-url"``.

    Raises:
        InvalidArgumentError: The URL does not name an audio file.
    """

    family: ClassVar[str | None] = "audio/"
    kind: Literal["audio-url"] = "audio-url"

    def __init__(self, url: str, kind: Literal["audio-url"] = "audio-url") -> None:
        _media_type(url, "audio/", "AudioUrl")
        super().__init__(url=url, kind=kind)


class DocumentUrl(_UrlContent):
    """A document by URL (``.pdf``, ``.txt``, ``.csv``, ``.html``, ...).

    Args:
        url: The document's URL; its file name tells the media type.
        kind: OpsML's tag, always ``"document-url"``.

    Raises:
        InvalidArgumentError: The URL names no known file type, or an image or sound.
    """

    kind: Literal["document-url"] = "document-url"

    def __init__(self, url: str, kind: Literal["document-url"] = "document-url") -> None:
        _media_type(url, None, "DocumentUrl")
        super().__init__(url=url, kind=kind)


class BinaryContent(BaseModel):
    """Content sent inline as bytes (saved base64-encoded with the prompt).

    Args:
        data: The bytes (or their base64 text, as a saved prompt holds them).
        media_type: Their media type, e.g. ``image/png``.
        kind: OpsML's tag, ``"binary"``.

    Raises:
        InvalidArgumentError: ``data`` is not bytes, or ``media_type`` is not ``type/subtype``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: bytes
    media_type: str
    kind: Literal["binary"] = "binary"

    def __init__(
        self, data: bytes | str, media_type: str, kind: Literal["binary"] = "binary"
    ) -> None:
        if isinstance(data, str):  # a saved prompt holds the bytes as base64 text
            try:
                data = base64.b64decode(data, validate=True)
            except ValueError as exc:
                raise InvalidArgumentError("BinaryContent data is not base64 text") from exc
        if not isinstance(data, bytes | bytearray):
            raise InvalidArgumentError(f"BinaryContent needs bytes, got {type(data).__name__}")
        if not isinstance(media_type, str) or media_type.count("/") != 1:
            raise InvalidArgumentError(
                f"BinaryContent needs a media type like 'image/png', got {media_type!r}"
            )
        super().__init__(data=bytes(data), media_type=media_type, kind=kind)

    @field_serializer("data")
    def _encode(self, value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")

    @property
    def format(self) -> str:
        """The media type's subtype, e.g. ``png``."""
        return self.media_type.split("/", 1)[1]

    def __str__(self) -> str:
        return f"<{self.media_type}, {len(self.data)} bytes>"
