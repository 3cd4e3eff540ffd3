"""LangGraph with no configuration: the graph and its nodes become steps, and what runs in a node
carries the node's name.

Under `agenttrace run` (a subprocess, once per kind): a hand-built StateGraph (plain Python nodes
around a ChatOpenAI node and a tool node) and LangChain's `create_agent`, each through `invoke`,
`ainvoke`, `stream` and `astream` (stream_mode "values"), against the loopback scenario server. The
program prints what it prints bare, nothing of ours reaches stderr, and the one run's schema-valid
dump has, per invocation, the graph step, one node step per node execution, the 3 LLM steps (exact
tokens) and the 2 tool steps (names, arguments, results), each under and named after its node.

In process: a node's exception passes through unchanged and marks its node and graph failed; an
interrupt, a `Command` and a resume are no failures; a stream left early ends its span and leaves
nothing attached; subgraphs nest; switched off, nothing is patched.
"""

from __future__ import annotations

import asyncio
import json
import operator
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypedDict

import jsonschema
import pytest
from click.testing import CliRunner
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from oteltest import Telemetry

from otel_agenttrace import semconv as sc
from otel_agenttrace.cli import cli

from .scenario_server import CITIES, FINAL, TOTAL_INPUT, TOTAL_OUTPUT, USAGE, WEATHER, ScenarioServer

pytest.importorskip("langgraph")

HERE = Path(__file__).parent
PROGRAMS = HERE / "programs"
SCHEMA = json.loads((HERE.parents[1] / "semconv" / "run-trace.schema.json").read_text("utf-8"))

MODES = ("invoke", "ainvoke", "stream", "astream")
# What the program prints bare: the same for every entry point.
EXPECTED = tuple(
    f"{mode}: {line}"
    for mode in MODES
    for line in (
        "tool get_weather({'city': 'Lisbon'}) -> sunny, 21 C",
        "tool get_weather({'city': 'Paris'}) -> rain, 12 C",
        f"answer: {FINAL}",
        f"tokens: {TOTAL_INPUT} {TOTAL_OUTPUT}",
    )
)


@dataclass(frozen=True)
class Shape:
    graph: str  # the graph's name
    nodes: tuple[str, ...]  # node executions, in order
    llm_node: str  # the node the LLM calls run in


SHAPES = {
    "graph": Shape("weather_graph", ("prepare", "agent", "tools", "agent", "tools", "agent", "report"), "agent"),
    "agent": Shape("weather_agent", ("model", "tools", "model", "tools", "model"), "model"),
}
# One subprocess per kind (slow end to end: once, not per variant), running the four entry points one
# after the other (sync, async, and streaming stream_mode "values" of both); the hand-built graph's
# LLM answers as JSON, the agent's as SSE.
CASES = (("graph", "json"), ("agent", "sse"))


@dataclass
class Outcome:
    shape: Shape
    proc: subprocess.CompletedProcess[str]
    runs: list[dict[str, Any]]
    doc: dict[str, Any]
    shown: str

    def invocations(self) -> list[list[dict[str, Any]]]:
        """The steps under each graph step (the graph step first), one list per entry point."""
        steps = self.doc["steps"]
        root = steps[0]
        graphs = [s for s in steps if s["type"] == "node" and s["parent_id"] == root["id"]]
        out = []
        for graph in graphs:
            inside = {graph["id"]}
            for step in steps:  # chronological: a parent comes before its children
                if step["parent_id"] in inside:
                    inside.add(step["id"])
            out.append([s for s in steps if s["id"] in inside])
        return out


@pytest.fixture(scope="module")
def server() -> Iterator[ScenarioServer]:
    with ScenarioServer() as s:
        yield s


@pytest.fixture(scope="module")
def outcomes() -> dict[tuple[str, str], Outcome]:
    return {}


@pytest.fixture(params=CASES, ids="-".join)
def outcome(
    request: pytest.FixtureRequest,
    outcomes: dict[tuple[str, str], Outcome],
    server: ScenarioServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Outcome:
    """One subprocess per case, shared by the assertions below."""
    key = request.param
    if key[0] == "agent":
        pytest.importorskip("langchain.agents")
    if key not in outcomes:
        home = tmp_path_factory.mktemp("home")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTTRACE_", "OPENAI_"))}
        env.update(SCENARIO_BASE_URL=server.base_url, AGENTTRACE_HOME=str(home), PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "otel_agenttrace.cli", "run", "--", sys.executable, "langgraph_agent.py", *key]
        proc = subprocess.run(cmd, cwd=PROGRAMS, env=env, capture_output=True, text=True, timeout=240)
        runner = CliRunner()
        listing = runner.invoke(cli, ["list", "--home", str(home), "--json"], catch_exceptions=False)
        runs = json.loads(listing.output) if listing.exit_code == 0 and listing.output.strip() else []
        dump = runner.invoke(cli, ["dump", "--last", "--home", str(home)], catch_exceptions=False)
        assert dump.exit_code == 0, dump.output
        show = runner.invoke(cli, ["show", "--last", "--home", str(home)], catch_exceptions=False)
        outcomes[key] = Outcome(SHAPES[key[0]], proc, runs, json.loads(dump.output), show.output)
    return outcomes[key]


def test_the_program_runs_as_it_does_bare(outcome: Outcome) -> None:
    assert outcome.proc.returncode == 0, outcome.proc.stderr
    assert tuple(outcome.proc.stdout.splitlines()) == EXPECTED
    assert "Traceback" not in outcome.proc.stderr
    assert "internal error" not in outcome.proc.stderr


def test_one_valid_run_with_exact_tokens(outcome: Outcome) -> None:
    assert len(outcome.runs) == 1
    doc = outcome.doc
    jsonschema.validate(doc, SCHEMA)
    assert doc["status"] == "ok"
    assert doc["usage"] == {"input_tokens": len(MODES) * TOTAL_INPUT, "output_tokens": len(MODES) * TOTAL_OUTPUT}
    assert doc["final_output"] == FINAL


def test_each_graph_invocation_and_node_execution_is_a_step(outcome: Outcome) -> None:
    invocations = outcome.invocations()
    assert len(invocations) == len(MODES)  # invoke, ainvoke, stream, astream: one graph step each
    for steps in invocations:
        graph = steps[0]
        assert (graph["type"], graph["name"], graph["node"], graph["status"]) == (
            "node",
            f"invoke_agent {outcome.shape.graph}",
            outcome.shape.graph,
            "ok",
        )
        nodes = [s for s in steps if s["type"] == "node" and s["parent_id"] == graph["id"]]
        assert tuple(s["node"] for s in nodes) == outcome.shape.nodes
        assert all(s["status"] == "ok" for s in nodes)
        assert [s["id"] for s in steps if s["type"] == "node"] == [graph["id"]] + [s["id"] for s in nodes]


def test_llm_steps_run_in_their_node_with_exact_tokens(outcome: Outcome) -> None:
    by_id = {s["id"]: s for s in outcome.doc["steps"]}
    for steps in outcome.invocations():
        llm = [s for s in steps if s["type"] == "llm_call"]
        assert [(s["usage"]["input_tokens"], s["usage"]["output_tokens"]) for s in llm] == list(USAGE)
        for step in llm:
            assert step["node"] == outcome.shape.llm_node
            assert by_id[step["parent_id"]]["type"] == "node"
            assert by_id[step["parent_id"]]["node"] == outcome.shape.llm_node
            assert step["model"] == "gpt-4o-mini"
        calls = [p for s in llm[:2] for p in s["output"][0]["parts"] if p["type"] == "tool_call"]
        assert [(c["name"], c["arguments"]) for c in calls] == [("get_weather", {"city": c}) for c in CITIES]
        assert [p["content"] for p in llm[2]["output"][0]["parts"] if p["type"] == "text"] == [FINAL]


def test_tool_steps_run_in_the_tools_node(outcome: Outcome) -> None:
    by_id = {s["id"]: s for s in outcome.doc["steps"]}
    for steps in outcome.invocations():
        tools = [s for s in steps if s["type"] == "tool_call"]
        assert [(s["name"], s["input"], s["output"], s["node"]) for s in tools] == [
            ("execute_tool get_weather", {"city": city}, WEATHER[city], "tools") for city in CITIES
        ]
        assert all(by_id[s["parent_id"]]["node"] == "tools" and s["status"] == "ok" for s in tools)
        kinds = [s["type"] for s in steps if s["type"] in ("llm_call", "tool_call")]
        assert kinds == ["llm_call", "tool_call", "llm_call", "tool_call", "llm_call"]


def test_show_names_the_node_of_each_call(outcome: Outcome) -> None:
    llm_lines = [line for line in outcome.shown.splitlines() if " llm " in line]
    tool_lines = [line for line in outcome.shown.splitlines() if " tool " in line]
    assert len(llm_lines) == 3 * len(MODES)
    assert all(f"[{outcome.shape.llm_node}]" in line for line in llm_lines)
    assert len(tool_lines) == 2 * len(MODES) and all("[tools]" in line for line in tool_lines)


# --- in process ---------------------------------------------------------------------------------------------------


class State(TypedDict, total=False):
    x: int
    answer: int


def _graph_spans(tel: Telemetry) -> list[ReadableSpan]:
    return [
        s
        for s in tel.spans()
        if s.attributes and s.attributes.get(sc.GEN_AI_OPERATION_NAME) == sc.Operation.INVOKE_AGENT
    ]


def _summary(tel: Telemetry) -> list[tuple[str, str, StatusCode]]:
    """(node name, node type, status) of the graph and node spans, in start order."""
    spans = sorted(_graph_spans(tel), key=lambda s: s.start_time or 0)
    return [
        (str(s.attributes[sc.AGENTTRACE_NODE_NAME]), str(s.attributes[sc.AGENTTRACE_NODE_TYPE]), s.status.status_code)
        for s in spans
        if s.attributes
    ]


def _parent_names(tel: Telemetry) -> dict[str, str | None]:
    spans = _graph_spans(tel)
    names = {s.context.span_id: str(s.attributes[sc.AGENTTRACE_NODE_NAME]) for s in spans if s.attributes}
    return {
        str(s.attributes[sc.AGENTTRACE_NODE_NAME]): names.get(s.parent.span_id) if s.parent else None
        for s in spans
        if s.attributes
    }


class Fan(TypedDict, total=False):
    items: list[int]
    done: Annotated[list[int], operator.add]


class Boom(Exception):
    pass


def _failing_graph(asynchronous: bool) -> Any:
    from langgraph.graph import START, StateGraph

    error = Boom("node failed")

    def first(state: State) -> State:
        return {"x": state["x"] + 1}

    def fail(state: State) -> State:
        raise error

    async def afail(state: State) -> State:
        raise error

    graph = StateGraph(State).add_node("first", first).add_node("fail", afail if asynchronous else fail)
    return graph.add_edge(START, "first").add_edge("first", "fail").compile(name="failing"), error


@pytest.mark.parametrize("entry", ["invoke", "ainvoke", "stream", "astream"])
def test_a_node_exception_passes_through_unchanged_and_fails_its_steps(
    instrument: Callable[..., Telemetry], entry: str
) -> None:
    tel = instrument()
    graph, error = _failing_graph(entry.startswith("a"))

    async def run() -> None:
        if entry == "invoke":
            graph.invoke({"x": 1})
        elif entry == "ainvoke":
            await graph.ainvoke({"x": 1})
        elif entry == "stream":
            list(graph.stream({"x": 1}, stream_mode="values"))
        else:
            [c async for c in graph.astream({"x": 1}, stream_mode="values")]

    with pytest.raises(Boom) as raised:
        asyncio.run(run())
    assert raised.value is error
    assert _summary(tel) == [
        ("failing", "graph", StatusCode.ERROR),
        ("first", "node", StatusCode.UNSET),
        ("fail", "node", StatusCode.ERROR),
    ]
    failed = [s for s in _graph_spans(tel) if s.status.status_code is StatusCode.ERROR]
    assert {s.attributes[sc.ERROR_TYPE] for s in failed if s.attributes} == {"Boom"}
    assert not trace.get_current_span().get_span_context().is_valid  # nothing of ours left attached


def _interrupting_graph() -> Any:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import interrupt

    def ask(state: State) -> State:
        return {"answer": int(interrupt("how much?"))}

    graph = StateGraph(State).add_node("ask", ask).add_edge(START, "ask")
    return graph.compile(checkpointer=InMemorySaver(), name="asking")


def test_an_interrupt_and_its_resume_are_not_failures(instrument: Callable[..., Telemetry]) -> None:
    from langgraph.types import Command

    tel = instrument()
    graph = _interrupting_graph()
    config = {"configurable": {"thread_id": "t1"}}
    first = graph.invoke({"x": 1}, config)
    assert [i.value for i in first["__interrupt__"]] == ["how much?"]
    assert graph.invoke(Command(resume=7), config) == {"x": 1, "answer": 7}
    assert _summary(tel) == [
        ("asking", "graph", StatusCode.UNSET),
        ("ask", "node", StatusCode.UNSET),  # interrupted: ended, not failed
        ("asking", "graph", StatusCode.UNSET),
        ("ask", "node", StatusCode.UNSET),
    ]
    assert not any(s.attributes and sc.ERROR_TYPE in s.attributes for s in tel.spans())


async def test_an_async_interrupt_is_not_a_failure(instrument: Callable[..., Telemetry]) -> None:
    tel = instrument()
    graph = _interrupting_graph()
    chunks = [c async for c in graph.astream({"x": 1}, {"configurable": {"thread_id": "t2"}}, stream_mode="updates")]
    assert "__interrupt__" in chunks[-1]
    assert [status for _, _, status in _summary(tel)] == [StatusCode.UNSET, StatusCode.UNSET]


def test_commands_and_a_subgraph_command_to_its_parent_are_not_failures(instrument: Callable[..., Telemetry]) -> None:
    from langgraph.graph import START, StateGraph
    from langgraph.types import Command

    def escape(state: State) -> Command:
        return Command(graph=Command.PARENT, goto="done", update={"x": state["x"] + 1})

    inner = StateGraph(State).add_node("escape", escape).add_edge(START, "escape").compile(name="inner")

    def route(state: State) -> Command:
        return Command(goto="sub", update={"x": state["x"] * 10})

    def done(state: State) -> State:
        return {"answer": state["x"]}

    outer = StateGraph(State).add_node("route", route, destinations=("sub",))
    outer = outer.add_node("sub", inner, destinations=("done",)).add_node("done", done).add_edge(START, "route")
    tel = instrument()
    assert outer.compile(name="outer").invoke({"x": 1}) == {"x": 11, "answer": 11}
    assert _summary(tel) == [
        ("outer", "graph", StatusCode.UNSET),
        ("route", "node", StatusCode.UNSET),
        ("sub", "node", StatusCode.UNSET),
        ("inner", "graph", StatusCode.UNSET),  # left by a ParentCommand: control flow, not an error
        ("escape", "node", StatusCode.UNSET),
        ("done", "node", StatusCode.UNSET),
    ]
    assert _parent_names(tel) == {
        "outer": None,
        "route": "outer",
        "sub": "outer",
        "inner": "sub",
        "escape": "inner",
        "done": "outer",
    }


def _counting_graph() -> Any:
    from langgraph.graph import START, StateGraph

    def step(state: State) -> State:
        return {"x": state["x"] + 1}

    def again(state: State) -> str:
        return "step" if state["x"] < 5 else "__end__"

    graph = StateGraph(State).add_node("step", step).add_edge(START, "step")
    return graph.add_conditional_edges("step", again).compile(name="counter")


def test_a_stream_left_early_ends_its_span_and_leaves_nothing_attached(instrument: Callable[..., Telemetry]) -> None:
    tel = instrument()
    graph = _counting_graph()
    stream = graph.stream({"x": 1}, stream_mode="values")
    assert next(stream) == {"x": 1}
    assert next(stream) == {"x": 2}
    # between chunks the consumer's context is its own
    assert not trace.get_current_span().get_span_context().is_valid
    stream.close()
    assert _summary(tel) == [("counter", "graph", StatusCode.UNSET), ("step", "node", StatusCode.UNSET)]
    never = graph.stream({"x": 1})
    del never  # never iterated: nothing ran, no span
    assert len(_summary(tel)) == 2


async def test_an_async_stream_left_early_ends_its_span(instrument: Callable[..., Telemetry]) -> None:
    tel = instrument()
    stream = _counting_graph().astream({"x": 1}, stream_mode="values")
    async for chunk in stream:
        if chunk["x"] == 3:
            break
    assert not trace.get_current_span().get_span_context().is_valid
    await stream.aclose()
    assert _summary(tel) == [
        ("counter", "graph", StatusCode.UNSET),
        ("step", "node", StatusCode.UNSET),
        ("step", "node", StatusCode.UNSET),
    ]


def test_switched_off_nothing_is_patched(instrument: Callable[..., Telemetry], monkeypatch: pytest.MonkeyPatch) -> None:
    from langgraph.pregel import Pregel, _runner

    monkeypatch.setenv("AGENTTRACE_FRAMEWORKS", "-langgraph")
    tel = instrument()
    assert _counting_graph().invoke({"x": 1}) == {"x": 5}
    assert _summary(tel) == []
    assert not hasattr(Pregel.stream, "__wrapped__")
    assert not hasattr(_runner.run_with_retry, "__wrapped__")


def test_uninstrument_unwraps(instrument: Callable[..., Telemetry]) -> None:
    from langgraph.pregel import Pregel, _runner

    from otel_agenttrace import AgentTraceInstrumentor

    instrument()
    assert hasattr(Pregel.stream, "__wrapped__") and hasattr(_runner.arun_with_retry, "__wrapped__")
    AgentTraceInstrumentor().uninstrument()
    assert not hasattr(Pregel.stream, "__wrapped__")
    assert not hasattr(Pregel.astream, "__wrapped__")
    assert not hasattr(_runner.run_with_retry, "__wrapped__")
    assert not hasattr(_runner.arun_with_retry, "__wrapped__")


def _program(monkeypatch: pytest.MonkeyPatch, server: ScenarioServer) -> Any:
    import importlib.util

    monkeypatch.setenv("SCENARIO_BASE_URL", server.base_url)
    spec = importlib.util.spec_from_file_location("langgraph_agent_program", PROGRAMS / "langgraph_agent.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _llm_nodes(tel: Telemetry) -> list[str | None]:
    """For each LLM span, the name of the node span it is a child of."""
    names = {s.context.span_id: s.attributes.get(sc.AGENTTRACE_NODE_NAME) for s in _graph_spans(tel) if s.attributes}
    llm = [
        s for s in tel.spans() if s.kind is SpanKind.CLIENT and s.attributes and sc.GEN_AI_PROVIDER_NAME in s.attributes
    ]
    return [names.get(s.parent.span_id) if s.parent else None for s in sorted(llm, key=lambda s: s.start_time or 0)]


async def test_token_streaming_paths_keep_llm_calls_in_their_node(
    instrument: Callable[..., Telemetry], monkeypatch: pytest.MonkeyPatch, server: ScenarioServer
) -> None:
    """`astream(stream_mode="messages")` and `astream_events` (which runs each node through its own
    `astream`, LangGraph's other task path) still make the LLM calls children of their node. One
    event loop for both: langchain-openai keeps its async HTTP client across calls."""
    program = _program(monkeypatch, server)
    tel = instrument()
    graph = program.build_graph(stream=True, asynchronous=True)
    state = {"question": program.QUESTION}
    tokens = [m async for m, _ in graph.astream(state, stream_mode="messages")]
    assert "".join(str(t.content) for t in tokens).endswith(FINAL)
    events = [e async for e in graph.astream_events(state, version="v2")]
    assert any(e["event"] == "on_chat_model_stream" for e in events)
    assert _llm_nodes(tel) == ["agent"] * 6
    assert [n for n, _, _ in _summary(tel)] == ["weather_graph", *SHAPES["graph"].nodes] * 2


def test_send_fan_out_and_functional_tasks_are_steps(instrument: Callable[..., Telemetry]) -> None:
    from langgraph.func import entrypoint, task
    from langgraph.graph import START, StateGraph
    from langgraph.types import Send

    def spread(state: Fan) -> list[Any]:
        return [Send("square", {"items": [i]}) for i in state["items"]]

    def square(state: Fan) -> Fan:
        return {"done": [state["items"][0] ** 2]}

    tel = instrument()
    graph = StateGraph(Fan).add_node("square", square).add_conditional_edges(START, spread, ["square"])
    assert sorted(graph.compile(name="fan").invoke({"items": [2, 3]})["done"]) == [4, 9]

    @task
    def double(x: int) -> int:
        return 2 * x

    @entrypoint()
    def workflow(x: int) -> int:
        return double(x).result() + 1

    assert workflow.invoke(5) == 11
    assert [(n, t) for n, t, _ in _summary(tel)] == [
        ("fan", "graph"),
        ("square", "node"),
        ("square", "node"),
        ("LangGraph", "graph"),  # an entrypoint's graph has the default name; its task is the function
        ("workflow", "node"),
        ("double", "node"),
    ]
    assert _parent_names(tel)["double"] == "workflow"
    # code locations: the node's function (sync or async, for `bundle`), never LangGraph's own
    located = {
        str(s.attributes[sc.AGENTTRACE_NODE_NAME]): s.attributes.get(sc.CODE_FUNCTION_NAME)
        for s in _graph_spans(tel)
        if s.attributes
    }
    assert located["square"] == f"{__name__}.test_send_fan_out_and_functional_tasks_are_steps.<locals>.square"
    assert str(located["double"]).endswith(".<locals>.double")
    assert located["fan"] is None


def test_retries_of_a_node_are_one_step(instrument: Callable[..., Telemetry]) -> None:
    from langgraph.graph import START, StateGraph
    from langgraph.types import RetryPolicy

    attempts: list[int] = []

    def flaky(state: State) -> State:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return {"x": len(attempts)}

    retry = RetryPolicy(max_attempts=3, initial_interval=0.001, jitter=False)
    graph = StateGraph(State).add_node("flaky", flaky, retry_policy=retry).add_edge(START, "flaky")
    tel = instrument()
    assert graph.compile(name="retrying").invoke({"x": 0}) == {"x": 3}
    assert _summary(tel) == [("retrying", "graph", StatusCode.UNSET), ("flaky", "node", StatusCode.UNSET)]


def test_a_node_that_is_an_unhashable_callable_is_a_step(instrument: Callable[..., Telemetry]) -> None:
    from dataclasses import dataclass as plain_dataclass

    from langgraph.graph import START, StateGraph

    @plain_dataclass
    class Step:  # eq=True and no hash: unhashable
        add: int

        def __call__(self, state: State) -> State:
            return {"x": state["x"] + self.add}

    tel = instrument()
    graph = StateGraph(State).add_node("step", Step(2)).add_edge(START, "step")
    assert graph.compile(name="callable").invoke({"x": 1}) == {"x": 3}
    assert _summary(tel) == [("callable", "graph", StatusCode.UNSET), ("step", "node", StatusCode.UNSET)]


def test_a_release_without_the_node_seam_is_reported(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import importlib

    from otel_agenttrace.frameworks import langgraph as support

    pregel = importlib.import_module("langgraph.pregel")
    real = importlib.import_module

    def moved(name: str, package: str | None = None) -> Any:
        if name == "langgraph.pregel._runner":
            raise ModuleNotFoundError(name)
        return real(name, package)

    with caplog.at_level("WARNING", logger="otel_agenttrace"):
        support._check_runner(None, pregel)()  # type: ignore[arg-type]
        assert caplog.messages == []
        monkeypatch.setattr(importlib, "import_module", moved)
        support._check_runner(None, pregel)()  # type: ignore[arg-type]
    (line,) = caplog.messages
    assert line.endswith("has no langgraph.pregel._runner; graphs are traced, their nodes are not")
