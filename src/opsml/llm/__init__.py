"""Prompts for LLM APIs (OpsML 3 names): ``Prompt``, ``Message``, ``ModelSettings``."""

from opsml.llm._prompt import Message, ModelSettings, Prompt

__all__ = ["Message", "ModelSettings", "Prompt"]
