"""Prompts for LLM APIs (OpsML 3 names): ``Prompt``, ``Message`` and what it can hold
(text, ``ImageUrl``, ``AudioUrl``, ``DocumentUrl``, ``BinaryContent``), ``ModelSettings``,
``Provider``, and ``Score`` (the response format of evaluation prompts)."""

from opsml.llm._content import AudioUrl, BinaryContent, DocumentUrl, ImageUrl, Provider, Score
from opsml.llm._prompt import Message, ModelSettings, Prompt

__all__ = [
    "AudioUrl",
    "BinaryContent",
    "DocumentUrl",
    "ImageUrl",
    "Message",
    "ModelSettings",
    "Prompt",
    "Provider",
    "Score",
]
