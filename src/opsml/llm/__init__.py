"""Prompts for LLM APIs and the agents that run them (OpsML 3's ``opsml.llm``).

Always available: ``Prompt``, ``Message`` and what it can hold (text, ``ImageUrl``,
``AudioUrl``, ``DocumentUrl``, ``BinaryContent``), ``ModelSettings``, ``Provider`` and
``Score``: building, binding, saving and loading prompts needs no extra.

Running them needs the extra ``llm`` (scouter-ml): ``Agent``, ``Task``, ``Workflow``,
``WorkflowResult``, ``PyTask`` (opsml's classes, which check their input before anything is
sent) and the engine's result types ``AgentResponse``, ``ChatResponse``, ``Usage``,
``PromptTokenDetails``, ``CompletionTokenDetails``, ``TaskEvent``, ``EventDetails``,
``TaskStatus`` and ``TaskList`` (scouter-ml's own). Without the extra, using one of these
raises :class:`~opsml.errors.MissingDependencyError` naming ``llm``.
"""

from typing import Any

from opsml.llm._agent import Agent, PyTask, Task, Workflow, WorkflowResult
from opsml.llm._content import AudioUrl, BinaryContent, DocumentUrl, ImageUrl, Provider, Score
from opsml.llm._prompt import Message, ModelSettings, Prompt

_ENGINE_NAMES = (
    "AgentResponse",
    "ChatResponse",
    "CompletionTokenDetails",
    "EventDetails",
    "PromptTokenDetails",
    "TaskEvent",
    "TaskList",
    "TaskStatus",
    "Usage",
)

__all__ = [
    "Agent",
    "AgentResponse",
    "AudioUrl",
    "BinaryContent",
    "ChatResponse",
    "CompletionTokenDetails",
    "DocumentUrl",
    "EventDetails",
    "ImageUrl",
    "Message",
    "ModelSettings",
    "Prompt",
    "PromptTokenDetails",
    "Provider",
    "PyTask",
    "Score",
    "Task",
    "TaskEvent",
    "TaskList",
    "TaskStatus",
    "Usage",
    "Workflow",
    "WorkflowResult",
]


def __getattr__(name: str) -> Any:
    if name in _ENGINE_NAMES:
        from opsml.llm._convert import scouter_llm

        return getattr(scouter_llm(), name)
    raise AttributeError(f"module 'opsml.llm' has no attribute {name!r}")
