"""Agents and workflows run opsml prompts against the LLM test server (a real HTTP process);
bad input is refused at the call with nothing sent."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import scouter  # noqa: F401  (the llm extra: the core-only run leaves this module out)
from pydantic import BaseModel

from opsml.errors import InvalidArgumentError, LLMError
from opsml.llm import Agent, Message, ModelSettings, Prompt, Provider, Score, Task, Workflow
from opsml.mock import LLMTestServer

REPLY = "The tide turns twice a day."


@pytest.fixture(scope="module")
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer(reply=REPLY) as running:
        yield running


@pytest.fixture
def llm(server: LLMTestServer) -> LLMTestServer:
    """The server, with its request log emptied."""
    request = urllib.request.Request(f"{server.url}/mock/requests", method="DELETE")
    urllib.request.urlopen(request, timeout=10).close()
    return server


def _texts(request: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (m["role"], "".join(part["text"] for part in m["content"]))
        for m in request["body"]["messages"]
    ]


def test_an_agent_runs_an_opsml_prompt_and_returns_the_answer(llm: LLMTestServer) -> None:
    prompt = Prompt(
        message="Why does the tide ${verb}?",
        model="gpt-4o",
        provider="openai",
        system_instruction="Answer in one sentence.",
        model_settings=ModelSettings(temperature=0.0, max_tokens=50),
    )
    response = Agent(Provider.OpenAI).execute_prompt(prompt.bind(verb="turn"))

    assert response.result == REPLY
    (sent,) = llm.requests
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["model"] == "gpt-4o"
    assert sent["body"]["temperature"] == 0.0
    assert sent["body"]["max_completion_tokens"] == 50
    assert _texts(sent) == [
        ("developer", "Answer in one sentence."),
        ("user", "Why does the tide turn?"),
    ]


def test_structured_output_and_gemini(llm: LLMTestServer) -> None:
    class Verdict(BaseModel):
        score: int
        reason: str

    judge = Prompt(message="Rate it", model="openai:gpt-4o", response_format=Score)
    scored = Agent("openai").execute_prompt(judge, output_type=Score)
    assert isinstance(scored.result, Score)
    assert scored.result == Score(score=1, reason="mock")

    gemini = Prompt(message="Rate it", model="gemini-2.5-flash", provider="gemini")
    answer = Agent("gemini").execute_prompt(gemini, output_type=None)
    assert answer.result == REPLY
    verdict = Agent("gemini").execute_prompt(
        Prompt(message="Rate it", model="gemini:gemini-2.5-flash", response_format=Verdict),
        output_type=Verdict,
    )
    assert verdict.result == Verdict(score=1, reason="mock")
    assert [r["path"] for r in llm.requests][1:] == [
        "/v1beta/models/gemini-2.5-flash:generateContent"
    ] * 2


def test_scouter_ml_prompts_are_read_as_opsml_prompts(llm: LLMTestServer) -> None:
    from scouter.llm import Prompt as EnginePrompt

    engine = EnginePrompt(message="Hello", model="gpt-4o", provider="openai")
    task = Task("agent", engine, id="t")  # type: ignore[arg-type]
    assert task.prompt == Prompt(message="Hello", model="openai:gpt-4o")
    assert Agent("openai").execute_prompt(engine).result == REPLY  # type: ignore[arg-type]


def test_an_agents_system_instruction_goes_first(llm: LLMTestServer) -> None:
    agent = Agent("openai", system_instruction="You are terse.")
    assert agent.system_instruction == [Message("You are terse.", role="system")]
    agent.execute_prompt(Prompt(message="Hi", model="openai:gpt-4o", system_instruction="Be kind."))
    assert _texts(llm.requests[0])[:2] == [
        ("developer", "You are terse."),
        ("developer", "Be kind."),
    ]


def test_a_workflow_of_three_dependent_tasks_runs_them_in_order(llm: LLMTestServer) -> None:
    agent = Agent("openai")
    workflow = Workflow(name="review")
    workflow.add_agent(agent)
    model = "openai:gpt-4o"
    workflow.add_tasks(  # added out of order: the workflow orders them
        [
            Task(
                agent.id, Prompt(message="Polish the draft", model=model), ["critique"], id="polish"
            ),
            Task(agent.id, Prompt(message="Draft a note on ${topic}", model=model), id="draft"),
            Task(
                agent.id,
                Prompt(message="Critique the draft", model=model),
                ["draft"],
                id="critique",
            ),
        ]
    )
    assert workflow.execution_plan() == {1: ["draft"], 2: ["critique"], 3: ["polish"]}

    result = workflow.run(global_context={"topic": "tides"})

    assert list(result.tasks) == ["draft", "critique", "polish"]
    assert {task_id: t.result for task_id, t in result.tasks.items()} == dict.fromkeys(
        ["draft", "critique", "polish"], REPLY
    )
    assert all(str(t.status) == "TaskStatus.Completed" for t in result.tasks.values())
    assert result.tasks["draft"].prompt.message[0].content == "Draft a note on tides"
    sent = [_texts(r) for r in llm.requests]
    assert sent == [
        [("user", "Draft a note on tides")],
        [("assistant", REPLY), ("user", "Critique the draft")],  # the dependency's answer first
        [("assistant", REPLY), ("user", "Polish the draft")],
    ]


def _refused(llm: LLMTestServer, call: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        call()
    assert llm.requests == []  # nothing was sent


def test_bad_input_is_refused_before_anything_is_sent(llm: LLMTestServer) -> None:
    agent = Agent("openai")
    unbound = Prompt(message="Summarise ${document} for ${reader}", model="openai:gpt-4o")

    _refused(llm, lambda: Agent("anthropic"), "unknown provider 'anthropic'")
    _refused(llm, lambda: Agent(42), "unknown provider 42")  # type: ignore[arg-type]
    _refused(
        llm,
        lambda: agent.execute_prompt(unbound),
        r"unbound variables \$\{document\}, \$\{reader\}",
    )
    _refused(llm, lambda: agent.execute_prompt(Prompt(message="hi")), "names no model")
    _refused(
        llm,
        lambda: agent.execute_prompt(Prompt(message="hi", model="gemini:g")),
        "written for provider 'gemini'",
    )
    _refused(llm, lambda: agent.execute_prompt("hi"), "needs an opsml.llm.Prompt")  # type: ignore[arg-type]

    workflow = Workflow(name="w")
    workflow.add_agent(agent)
    ok = Prompt(message="hi", model="openai:gpt-4o")
    cycle = [
        Task(agent.id, ok, ["c"], id="a"),
        Task(agent.id, ok, ["a"], id="b"),
        Task(agent.id, ok, ["b"], id="c"),
    ]
    _refused(llm, lambda: workflow.add_tasks(cycle), "form a cycle: a -> c -> b -> a")
    _refused(llm, lambda: workflow.add_task(Task(agent.id, ok, ["x"], id="y")), "depends on 'x'")
    _refused(llm, lambda: workflow.add_task(Task("nobody", ok, id="z")), "names agent 'nobody'")
    assert workflow.tasks == {}  # a refused batch adds nothing
    _refused(llm, workflow.run, "has no task")

    workflow.add_tasks([Task(agent.id, unbound, id="s"), Task(agent.id, ok, ["s"], id="t")])
    _refused(llm, workflow.run, r"task 's' has unbound variables \$\{document\}, \$\{reader\}")
    _refused(
        llm,
        lambda: workflow.run(global_context={"document": "d", "reader": "r", "readr": "x"}),
        "'readr', which no task's prompt has",
    )
    _refused(llm, lambda: workflow.add_task(Task(agent.id, ok, id="s")), "already has a task 's'")


def test_a_failing_api_is_an_llm_error(llm: LLMTestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    with pytest.raises(LLMError, match="openai call failed"):
        Agent("openai").execute_prompt(Prompt(message="hi", model="openai:gpt-4o"))
    agent = Agent("openai")
    workflow = Workflow(name="down")
    workflow.add_agent(agent)
    workflow.add_task(Task(agent.id, Prompt(message="hi", model="openai:gpt-4o"), id="t"))
    with pytest.raises(LLMError, match="workflow 'down' failed"):
        workflow.run()


def test_a_workflow_round_trips_through_json(llm: LLMTestServer) -> None:
    agent = Agent("openai")
    workflow = Workflow(name="w")
    workflow.add_agent(agent)
    first = Prompt(message="one ${x}", model="openai:gpt-4o", system_instruction="s")
    workflow.add_tasks([Task(agent.id, first, id="a"), Task(agent.id, first, ["a"], id="b")])

    again = Workflow.model_validate_json(workflow.model_dump_json())

    assert again.name == "w"
    assert list(again.tasks) == ["a", "b"]
    assert again.tasks["b"].dependencies == ["a"]
    assert again.tasks["a"].prompt == first
    assert again.run(global_context={"x": 1}).tasks["b"].result == REPLY
