"""Running prompts: ``Agent``, ``Task``, ``Workflow`` (OpsML 3 names), on scouter-ml's engine.

Each class here checks its input completely before anything is sent: an unknown provider,
a prompt with unbound ``${var}`` placeholders, a prompt without a model, a task of an agent
the workflow does not have, a dependency on a task it does not have, or dependencies that
form a cycle all raise :class:`~opsml.errors.InvalidArgumentError` at the call, and no
request leaves the process. Only then is the prompt handed to scouter-ml (extra ``llm``),
which makes the HTTP calls; its failures become :class:`~opsml.errors.LLMError`.

Binding is opsml's (``docs/prompts.md``): a workflow's ``global_context`` is bound into each
task's prompt with :meth:`Prompt.bind`'s rules, and a name that no task's prompt has is an
error. A task's dependencies reach it as the conversation so far: each dependency's answer is
sent before the task's own messages, as scouter-ml does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opsml._uuid import uuid7
from opsml.errors import InvalidArgumentError, LLMError, OpsmlError, SerializationError
from opsml.llm._content import Provider
from opsml.llm._convert import from_scouter, prompt_from_engine_json, scouter_llm, to_scouter
from opsml.llm._prompt import Message, Prompt, _messages

__all__ = ["Agent", "PyTask", "Task", "Workflow", "WorkflowResult"]

_PROVIDERS = tuple(p.value for p in Provider)


def _provider_name(provider: object) -> str:
    name = str(getattr(provider, "value", provider)).rpartition(".")[2].lower()
    if not isinstance(provider, str | Provider) or name not in _PROVIDERS:
        raise InvalidArgumentError(
            f"unknown provider {provider!r}: opsml.llm runs prompts with "
            f"{', '.join(map(repr, _PROVIDERS))} (opsml.llm.Provider)"
        )
    return name


def _engine_call(what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, **kwargs)
    except OpsmlError:
        raise
    except Exception as exc:  # scouter-ml raises RuntimeError with the API's answer
        raise LLMError(f"{what} failed: {exc}") from exc


def _check_prompt(prompt: object, where: str) -> Prompt:
    """An opsml prompt; scouter-ml's own (e.g. an ``LLMMetric``'s ``prompt``) is read as one."""
    if isinstance(prompt, Prompt):
        return prompt
    if type(prompt).__name__ == "Prompt" and hasattr(prompt, "model_dump_json"):
        return from_scouter(prompt)
    raise InvalidArgumentError(f"{where} needs an opsml.llm.Prompt, got {type(prompt).__name__}")


def _check_runnable(prompt: Prompt, provider: str, model: str | None, where: str) -> None:
    """Refuse, before anything is sent, a prompt the provider cannot be asked."""
    if prompt.parameters:
        names = ", ".join(f"${{{name}}}" for name in prompt.parameters)
        raise InvalidArgumentError(
            f"{where} has unbound variables {names}: bind them first, e.g. "
            f"prompt.bind({prompt.parameters[0]}=...)"
        )
    if prompt.provider not in ("undefined", provider):
        raise InvalidArgumentError(
            f"{where} is written for provider {prompt.provider!r}, but the agent calls {provider!r}"
        )
    if model is None and prompt.model == "undefined":
        raise InvalidArgumentError(
            f"{where} names no model: give Prompt(model=...) or execute_prompt(model=...)"
        )


class Agent:
    """Calls one LLM provider: runs prompts and tasks.

    The API key and endpoint come from the provider's usual variables (``OPENAI_API_KEY``,
    ``OPENAI_API_URL``; ``GEMINI_API_KEY``, ``GEMINI_API_URL``); inside
    :class:`opsml.mock.LLMTestServer` they point at the test server.

    Example:
        ```python
        agent = Agent(Provider.OpenAI, system_instruction="Answer briefly.")
        response = agent.execute_prompt(prompt.bind(question="Why?"))
        print(response.result)
        ```

    Args:
        provider: ``Provider.OpenAI``, ``Provider.Gemini`` or their names.
        system_instruction: System message(s) sent before every prompt's own.

    Raises:
        InvalidArgumentError: The provider is unknown, or a system instruction is not text.
        MissingDependencyError: scouter-ml is not installed (extra ``llm``).
    """

    def __init__(
        self,
        provider: Provider | str,
        system_instruction: str | Message | Sequence[str | Message] | None = None,
    ) -> None:
        self._provider = _provider_name(provider)
        self._system = (
            []
            if system_instruction is None
            else _messages(system_instruction, True, "system_instruction")
        )
        texts: list[str] = []
        for message in self._system:
            if not isinstance(message.content, str):
                raise InvalidArgumentError("an agent's system instruction must be text")
            texts.append(message.content)
        llm = scouter_llm()
        self._engine = _engine_call("creating the agent", llm.Agent, self._provider, texts or None)

    @property
    def id(self) -> str:
        """The agent's id (a UUIDv7), what a :class:`Task` names as ``agent_id``."""
        return str(self._engine.id)

    @property
    def provider(self) -> str:
        """The provider's name, e.g. ``"openai"``."""
        return self._provider

    @property
    def system_instruction(self) -> list[Message]:
        """The system messages sent before every prompt's own."""
        return [m.model_copy() for m in self._system]

    def execute_prompt(
        self, prompt: Prompt, output_type: Any = None, model: str | None = None
    ) -> Any:
        """Send ``prompt`` to the provider and return its answer.

        Args:
            prompt: A prompt with every variable bound.
            output_type: A pydantic model class (or ``Score``) to parse the answer into;
                ``response.result`` is then an instance of it.
            model: A model to use instead of the prompt's.

        Returns:
            scouter-ml's ``AgentResponse``: ``result`` (text, or ``output_type``),
            ``token_usage``, ``id``.

        Raises:
            InvalidArgumentError: The prompt has unbound variables, names another provider,
                or no model (nothing is sent).
            LLMError: The provider's API failed or refused the request.
        """
        checked = _check_prompt(prompt, "execute_prompt")
        _check_runnable(checked, self._provider, model, "the prompt")
        return _engine_call(
            f"{self._provider} call",
            self._engine.execute_prompt,
            to_scouter(checked),
            output_type=output_type,
            model=model,
        )

    def execute_task(self, task: Task, output_type: Any = None, model: str | None = None) -> Any:
        """Run one task's prompt (its dependencies are not run; use a :class:`Workflow`).

        Args:
            task: The task.
            output_type: As for :meth:`execute_prompt`.
            model: As for :meth:`execute_prompt`.

        Returns:
            scouter-ml's ``AgentResponse``.

        Raises:
            InvalidArgumentError: Not a Task, or its prompt cannot be sent (see
                :meth:`execute_prompt`).
            LLMError: The provider's API failed.
        """
        if not isinstance(task, Task):
            raise InvalidArgumentError(f"execute_task needs a Task, got {type(task).__name__}")
        return self.execute_prompt(task.prompt, output_type, model)

    def __repr__(self) -> str:
        return f"Agent(provider={self._provider!r}, id={self.id!r})"


class Task:
    """One step of a :class:`Workflow`: a prompt, the agent that runs it, and the tasks whose
    answers it needs first.

    Args:
        agent_id: The :attr:`Agent.id` of the agent that runs it.
        prompt: The prompt.
        dependencies: ids of the tasks that run before it.
        id: The task's id (a UUIDv7 when omitted).
        max_retries: How often the engine retries a failed call (default 3).

    Raises:
        InvalidArgumentError: An argument has the wrong type.
    """

    def __init__(
        self,
        agent_id: str,
        prompt: Prompt,
        dependencies: Sequence[str] | None = None,
        id: str | None = None,
        max_retries: int = 3,
    ) -> None:
        if not isinstance(agent_id, str) or not agent_id:
            raise InvalidArgumentError(f"Task agent_id must be an agent's id, got {agent_id!r}")
        deps = list(dependencies or [])
        if not all(isinstance(d, str) and d for d in deps):
            raise InvalidArgumentError(f"Task dependencies must be task ids, got {deps!r}")
        if id is not None and (not isinstance(id, str) or not id):
            raise InvalidArgumentError(f"Task id must be a non-empty string, got {id!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidArgumentError(f"max_retries must be an int >= 0, got {max_retries!r}")
        self.agent_id = agent_id
        self.prompt = _check_prompt(prompt, "Task").model_copy(deep=True)
        self.dependencies = list(dict.fromkeys(deps))
        self.id = id or uuid7()
        self.max_retries = max_retries

    def add_dependency(self, task_id: str) -> None:
        """Make this task wait for ``task_id`` (before it is added to a workflow)."""
        if not isinstance(task_id, str) or not task_id:
            raise InvalidArgumentError(f"a dependency is a task id, got {task_id!r}")
        if task_id not in self.dependencies:
            self.dependencies.append(task_id)

    def __repr__(self) -> str:
        return (
            f"Task(id={self.id!r}, agent_id={self.agent_id!r}, dependencies={self.dependencies!r})"
        )


class PyTask:
    """A task of a :class:`WorkflowResult`: what ran and what it answered.

    Attributes:
        id: The task's id.
        agent_id: The agent that ran it.
        dependencies: The tasks it waited for.
        prompt: The prompt that was sent (bound).
        status: The engine's ``TaskStatus`` (``Completed`` after a successful run).
        result: The answer: text, or an instance of the task's output type.
    """

    def __init__(
        self,
        id: str,
        agent_id: str,
        dependencies: list[str],
        prompt: Prompt,
        status: Any,
        result: Any,
    ) -> None:
        self.id = id
        self.agent_id = agent_id
        self.dependencies = dependencies
        self.prompt = prompt
        self.status = status
        self.result = result

    def __repr__(self) -> str:
        return f"PyTask(id={self.id!r}, status={self.status!r}, result={self.result!r:.80})"


class WorkflowResult:
    """What :meth:`Workflow.run` returns.

    Attributes:
        tasks: Every task by id, in the order they ran, with its answer.
        events: The engine's ``TaskEvent`` list (start and end of each task).
    """

    def __init__(self, tasks: dict[str, PyTask], events: list[Any]) -> None:
        self.tasks = tasks
        self.events = events

    def __repr__(self) -> str:
        return f"WorkflowResult(tasks={list(self.tasks)!r})"


def _cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    """A dependency cycle in ``graph`` (task -> dependencies), as a path, or ``None``."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


class Workflow:
    """Tasks run by agents in the order their dependencies give.

    Example:
        ```python
        agent = Agent("openai")
        workflow = Workflow(name="review")
        workflow.add_agent(agent)
        workflow.add_tasks([
            Task(agent_id=agent.id, prompt=draft, id="draft"),
            Task(agent_id=agent.id, prompt=critique, id="critique", dependencies=["draft"]),
        ])
        result = workflow.run(global_context={"topic": "tides"})
        print(result.tasks["critique"].result)
        ```

    Args:
        name: The workflow's name.
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"a workflow needs a name, got {name!r}")
        self.name = name
        self._agents: dict[str, Agent] = {}
        self._tasks: dict[str, Task] = {}
        self._output_types: dict[str, Any] = {}

    @property
    def agents(self) -> dict[str, Agent]:
        """The workflow's agents by id."""
        return dict(self._agents)

    @property
    def tasks(self) -> dict[str, Task]:
        """The workflow's tasks by id, dependencies before the tasks that need them."""
        return dict(self._tasks)

    @property
    def is_workflow(self) -> bool:
        """Always ``True`` (OpsML 3 compatible marker)."""
        return True

    def add_agent(self, agent: Agent) -> None:
        """Add an agent the workflow's tasks can name.

        Raises:
            InvalidArgumentError: Not an :class:`Agent`.
        """
        if not isinstance(agent, Agent):
            raise InvalidArgumentError(f"add_agent needs an Agent, got {type(agent).__name__}")
        self._agents[agent.id] = agent

    def add_task(self, task: Task, output_type: Any = None) -> None:
        """Add one task (its dependencies must be in the workflow already).

        Args:
            task: The task.
            output_type: A pydantic model class (or ``Score``) to parse its answer into.

        Raises:
            InvalidArgumentError: See :meth:`add_tasks`.
        """
        self._add([task])
        if output_type is not None:
            self._output_types[task.id] = output_type

    def add_tasks(self, tasks: Iterable[Task]) -> None:
        """Add tasks; a task may depend on another of the same call, in any order.

        Raises:
            InvalidArgumentError: Not a list of Tasks, a task id is taken or repeated, a task
                names an agent the workflow does not have or a task that does not exist,
                or the dependencies form a cycle. Nothing is added then.
        """
        self._add(list(tasks))

    def _add(self, tasks: list[Task]) -> None:
        new: dict[str, Task] = {}
        for task in tasks:
            if not isinstance(task, Task):
                raise InvalidArgumentError(f"a workflow holds Tasks, got {type(task).__name__}")
            if task.id in self._tasks or task.id in new:
                raise InvalidArgumentError(f"the workflow already has a task {task.id!r}")
            if task.agent_id not in self._agents:
                raise InvalidArgumentError(
                    f"task {task.id!r} names agent {task.agent_id!r}, which the workflow does "
                    "not have: add_agent(agent) first"
                )
            new[task.id] = task
        graph = {tid: list(t.dependencies) for tid, t in {**self._tasks, **new}.items()}
        for task in new.values():
            missing = [d for d in task.dependencies if d not in graph]
            if missing:
                raise InvalidArgumentError(
                    f"task {task.id!r} depends on {', '.join(map(repr, missing))}, which the "
                    "workflow does not have"
                )
        cycle = _cycle(graph)
        if cycle:
            raise InvalidArgumentError(
                f"the tasks' dependencies form a cycle: {' -> '.join(cycle)}"
            )
        for task_id in _topological(graph):
            if task_id in new:
                self._tasks[task_id] = new[task_id]

    def execution_plan(self) -> dict[int, list[str]]:
        """The order of a run: step number to the tasks that can run in it."""
        plan: dict[int, list[str]] = {}
        level: dict[str, int] = {}
        for task_id, task in self._tasks.items():
            level[task_id] = 1 + max((level[d] for d in task.dependencies), default=0)
            plan.setdefault(level[task_id], []).append(task_id)
        return plan

    def _bound_prompts(self, global_context: Mapping[str, Any] | None) -> dict[str, Prompt]:
        context = dict(global_context or {})
        used: set[str] = set()
        prompts: dict[str, Prompt] = {}
        for task_id, task in self._tasks.items():
            values = {k: v for k, v in context.items() if k in task.prompt.parameters}
            used.update(values)
            prompt = task.prompt.bind(**values) if values else task.prompt
            agent = self._agents[task.agent_id]
            _check_runnable(prompt, agent.provider, None, f"the prompt of task {task_id!r}")
            prompts[task_id] = prompt
        unused = sorted(set(context) - used)
        if unused:
            raise InvalidArgumentError(
                f"global_context names {', '.join(map(repr, unused))}, which no task's "
                "prompt has as a variable"
            )
        return prompts

    def _engine(self, prompts: Mapping[str, Prompt]) -> Any:
        llm = scouter_llm()
        engine = llm.Workflow(self.name)
        for agent in self._agents.values():
            engine.add_agent(agent._engine)
        for task_id, task in self._tasks.items():
            engine_task = llm.Task(
                agent_id=task.agent_id,
                prompt=to_scouter(prompts[task_id]),
                id=task_id,
                dependencies=task.dependencies,
                max_retries=task.max_retries,
            )
            engine.add_task(engine_task, self._output_types.get(task_id))
        return engine

    def run(self, global_context: Mapping[str, Any] | None = None) -> WorkflowResult:
        """Run every task, each after its dependencies, and return every answer.

        Args:
            global_context: Values bound into every task's prompt that has the variable
                (opsml's binding rules: a str as it is, anything else as JSON).

        Returns:
            The tasks with their answers.

        Raises:
            InvalidArgumentError: The workflow has no task, a prompt keeps unbound
                variables after the context is bound, or the context names a variable no
                prompt has (nothing is sent).
            LLMError: A provider's API failed (a task failed after its retries).
        """
        if not self._tasks:
            raise InvalidArgumentError(f"workflow {self.name!r} has no task to run")
        prompts = self._bound_prompts(global_context)
        engine = self._engine(prompts)
        outcome = _engine_call(f"workflow {self.name!r}", engine.run)
        tasks: dict[str, PyTask] = {}
        for task_id, task in self._tasks.items():
            ran = outcome.tasks[task_id]
            tasks[task_id] = PyTask(
                id=task_id,
                agent_id=task.agent_id,
                dependencies=list(task.dependencies),
                prompt=prompts[task_id],
                status=ran.status,
                result=ran.result,
            )
        events = list(outcome.events)
        failed = [tid for tid, t in tasks.items() if str(t.status).rpartition(".")[2] == "Failed"]
        if failed:
            errors = sorted(
                {str(e.details.error) for e in events if e.task_id in failed and e.details.error}
            )
            raise LLMError(
                f"workflow {self.name!r} failed: task {', '.join(map(repr, failed))} failed"
                + (f" ({'; '.join(errors)})" if errors else "")
            )
        return WorkflowResult(tasks=tasks, events=events)

    def model_dump_json(self) -> str:
        """The workflow as scouter-ml's JSON (prompts unbound), as LLM drift profiles hold it."""
        return str(
            self._engine({tid: t.prompt for tid, t in self._tasks.items()}).model_dump_json()
        )

    def to_scouter(self) -> Any:
        """scouter-ml's copy of this workflow (what an ``LLMDriftProfile`` holds)."""
        return self._engine({tid: t.prompt for tid, t in self._tasks.items()})

    @staticmethod
    def model_validate_json(
        json_string: str, output_types: Mapping[str, Any] | None = None
    ) -> Workflow:
        """Rebuild a workflow from :meth:`model_dump_json`'s JSON.

        Args:
            json_string: The JSON.
            output_types: Output types by task id (Python classes are not in the JSON).

        Raises:
            SerializationError: The JSON is not a workflow.
        """
        try:
            document = json.loads(json_string)
            workflow = Workflow(document["name"])
            ids: dict[str, str] = {}
            for old_id, agent in document["agents"].items():
                rebuilt = Agent(str(agent["provider"]).lower())
                workflow.add_agent(rebuilt)
                ids[old_id] = rebuilt.id
            entries = document["task_list"]["tasks"]
            tasks = [
                Task(
                    agent_id=ids[entry["agent_id"]],
                    prompt=prompt_from_engine_json(entry["prompt"]),
                    dependencies=entry.get("dependencies") or [],
                    id=task_id,
                    max_retries=int(entry.get("max_retries", 3)),
                )
                for task_id, entry in entries.items()
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationError(f"not a workflow's JSON: {exc}") from exc
        workflow.add_tasks(tasks)
        for task_id, output_type in (output_types or {}).items():
            workflow._output_types[task_id] = output_type
        return workflow

    def __repr__(self) -> str:
        return f"Workflow(name={self.name!r}, tasks={list(self._tasks)!r})"


def _topological(graph: Mapping[str, list[str]]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> None:
        if node in seen:
            return
        seen.add(node)
        for dep in graph.get(node, []):
            visit(dep)
        order.append(node)

    for node in graph:
        visit(node)
    return order


def engine_workflow(workflow: object) -> Any:
    """scouter-ml's workflow for ``workflow`` (an opsml Workflow, or scouter's as it is)."""
    return workflow.to_scouter() if isinstance(workflow, Workflow) else workflow
