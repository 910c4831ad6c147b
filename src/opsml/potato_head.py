"""OpsML 3's ``opsml.potato_head``: an alias of :mod:`opsml.llm`, with the same names."""

from opsml.llm import (
    Agent,
    AudioUrl,
    BinaryContent,
    DocumentUrl,
    ImageUrl,
    Message,
    ModelSettings,
    Prompt,
    Provider,
    PyTask,
    Score,
    Task,
    Workflow,
    WorkflowResult,
)
from opsml.llm import __all__ as __all__  # noqa: PLC0414
from opsml.llm import __getattr__ as __getattr__  # noqa: PLC0414 - the engine's names, lazily

_EAGER = (Agent, AudioUrl, BinaryContent, DocumentUrl, ImageUrl, Message, ModelSettings)
_EAGER_TOO = (Prompt, Provider, PyTask, Score, Task, Workflow, WorkflowResult)
