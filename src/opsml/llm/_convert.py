"""opsml's :class:`~opsml.llm.Prompt` to scouter-ml's, and back: the boundary where a prompt
goes to the engine that runs it.

scouter-ml (extra ``llm``) runs prompts; its ``Prompt`` is a compiled class that only its own
objects are accepted as. opsml keeps one ``Prompt`` (a pydantic model that works without the
extra); :func:`to_scouter` builds the engine's copy of it from its JSON form, right before a
call, and :func:`from_scouter` reads the engine's prompts (a workflow's tasks, an LLM drift
profile's metrics) back as opsml prompts.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

from opsml._compat import LLM_EXTRA, scouter_required
from opsml.errors import InvalidArgumentError, SerializationError
from opsml.llm._content import AudioUrl, BinaryContent, DocumentUrl, ImageUrl, Score
from opsml.llm._prompt import Message, ModelSettings, Prompt

__all__ = ["from_scouter", "prompt_from_engine_json", "scouter_llm", "to_scouter"]

_SYSTEM_ROLE = "developer"
"""The role scouter-ml gives system instructions (OpenAI's name; Gemini reads it too)."""

_URL_KINDS: dict[str, tuple[str, type[ImageUrl | AudioUrl | DocumentUrl]]] = {
    "image-url": ("Image", ImageUrl),
    "audio-url": ("Audio", AudioUrl),
    "document-url": ("Document", DocumentUrl),
}
_BY_TAG = dict(_URL_KINDS.values())


def scouter_llm() -> Any:
    """The ``scouter.llm`` module.

    Raises:
        MissingDependencyError: scouter-ml is not installed (extra ``llm``).
    """
    with scouter_required(LLM_EXTRA):
        import scouter.llm

    return scouter.llm


@functools.cache
def _engine_version() -> str:
    llm = scouter_llm()
    sample = llm.Prompt(message="x", model="m", provider="openai")
    return str(json.loads(sample.model_dump_json())["version"])


def _content(message: Message) -> dict[str, Any]:
    content = message.content
    if isinstance(content, str):
        return {"Str": content}
    if isinstance(content, BinaryContent):
        return {
            "Binary": {
                "data": list(content.data),
                "media_type": content.media_type,
                "kind": content.kind,
            }
        }
    tag, _ = _URL_KINDS[content.kind]
    return {tag: {"url": content.url, "kind": content.kind}}


def _message(message: Message, role: str | None = None) -> dict[str, Any]:
    return {
        "content": _content(message),
        "role": role or message.role,
        "variables": message.variables,
    }


def _response_type(schema: dict[str, Any] | None) -> str:
    if schema is None:
        return "Null"
    if schema.get("title") == "Score" and set(schema.get("properties", {})) == set(
        Score.model_fields
    ):
        return "Score"
    return "Pydantic"


def to_scouter(prompt: Prompt) -> Any:
    """scouter-ml's copy of ``prompt``, for its Agent, Task and LLMMetric.

    Args:
        prompt: An opsml prompt (a scouter-ml prompt is returned as it is).

    Returns:
        A ``scouter.llm.Prompt``.

    Raises:
        MissingDependencyError: scouter-ml is not installed (extra ``llm``).
        InvalidArgumentError: ``prompt`` is not a Prompt, or scouter-ml refused it.
    """
    llm = scouter_llm()
    if isinstance(prompt, llm.Prompt):
        return prompt
    if not isinstance(prompt, Prompt):
        raise InvalidArgumentError(
            f"expected an opsml.llm.Prompt, got {type(prompt).__module__}.{type(prompt).__name__}"
        )
    settings = prompt.model_settings.model_dump(exclude_none=True)
    document = {
        "message": [_message(m) for m in prompt.message],
        "system_instruction": [_message(m, _SYSTEM_ROLE) for m in prompt.system_instruction],
        "model_settings": {"model": prompt.model, "provider": prompt.provider, **settings},
        "version": _engine_version(),
        "response_json_schema": prompt.response_format,
        "parameters": prompt.parameters,
        "response_type": _response_type(prompt.response_format),
    }
    try:
        return llm.Prompt.model_validate_json(json.dumps(document))
    except Exception as exc:  # scouter raises RuntimeError/ValueError with its own text
        raise InvalidArgumentError(f"scouter-ml refused the prompt: {exc}") from exc


def _from_content(content: Any) -> Any:
    if not isinstance(content, dict) or len(content) != 1:
        raise SerializationError(f"unknown prompt content {content!r:.200}")
    ((tag, value),) = content.items()
    if tag == "Str":
        return value
    if tag == "Binary":
        data = value["data"]
        raw = bytes(data) if isinstance(data, list) else base64.b64decode(data)
        return BinaryContent(raw, value["media_type"])
    cls = _BY_TAG.get(tag)
    if cls is None:
        raise SerializationError(f"unknown prompt content kind {tag!r}")
    return cls(value["url"])


def prompt_from_engine_json(document: dict[str, Any]) -> Prompt:
    """An opsml prompt from the JSON form of scouter-ml's ``Prompt``.

    Raises:
        SerializationError: The document is not such a prompt.
    """
    try:
        messages = [
            Message(_from_content(m["content"]), m.get("role", "user")) for m in document["message"]
        ]
        system = [Message(_from_content(m["content"])) for m in document["system_instruction"]]
        settings = {
            key: value
            for key, value in (document.get("model_settings") or {}).items()
            if key in ModelSettings.model_fields
        }
        return Prompt(
            message=messages,
            system_instruction=system or None,
            model_settings=ModelSettings(**settings),
            response_format=document.get("response_json_schema"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SerializationError(f"not a scouter-ml prompt: {exc}") from exc


def from_scouter(prompt: Any) -> Prompt:
    """The opsml prompt equal to scouter-ml's ``prompt`` (an opsml prompt is returned as it is).

    Raises:
        SerializationError: ``prompt`` cannot be read as a prompt.
    """
    if isinstance(prompt, Prompt):
        return prompt
    try:
        document = json.loads(prompt.model_dump_json())
    except (AttributeError, ValueError) as exc:
        raise SerializationError(f"not a scouter-ml prompt: {type(prompt).__name__}") from exc
    return prompt_from_engine_json(document)
