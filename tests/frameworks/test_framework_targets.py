"""Framework support as target rows: selection, patching when imported, unwrapping, peers' tool spans."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from opentelemetry.sdk.trace import TracerProvider
from oteltest import Telemetry

from otel_agenttrace import semconv as sc
from otel_agenttrace.frameworks import FRAMEWORKS, FrameworkSelectionError, framework_targets, selected
from otel_agenttrace.frameworks._peers import peer_tool_span_active


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", list(FRAMEWORKS)),
        ("all", list(FRAMEWORKS)),
        ("none", []),
        ("langchain", ["langchain"]),
        (" Pydantic-AI , langchain ", ["pydantic-ai", "langchain"]),
        ("-openai-agents", ["langchain", "langgraph", "pydantic-ai"]),
    ],
)
def test_frameworks_are_switchable(value: str, expected: list[str]) -> None:
    assert selected({"AGENTTRACE_FRAMEWORKS": value}) == expected


def test_an_unknown_framework_is_named() -> None:
    with pytest.raises(FrameworkSelectionError, match="'crewai'"):
        selected({"AGENTTRACE_FRAMEWORKS": "langchain,crewai"})
    assert framework_targets({"AGENTTRACE_FRAMEWORKS": "crewai"}) == []  # logged, the program goes on


def test_a_framework_module_imports_no_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys, otel_agenttrace.frameworks as f; f.framework_targets();"
        "print(sorted(m for m in ('langchain_core', 'langgraph', 'agents', 'pydantic_ai') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _tool_spans(tel: Telemetry) -> list[tuple[str, object, object, object]]:
    return [
        (
            s.attributes.get(sc.GEN_AI_TOOL_NAME),
            s.attributes.get(sc.GEN_AI_TOOL_CALL_ID),
            s.attributes.get(sc.GEN_AI_TOOL_CALL_ARGUMENTS),
            s.attributes.get(sc.GEN_AI_TOOL_CALL_RESULT),
        )
        for s in tel.spans()
        if s.attributes and s.attributes.get(sc.GEN_AI_OPERATION_NAME) == "execute_tool"
    ]


def test_langchain_tools_with_no_configuration(instrument: Callable[..., Telemetry]) -> None:
    tools = pytest.importorskip("langchain_core.tools")

    @tools.tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    tel = instrument()
    assert get_weather.invoke({"city": "Lisbon"}) == "sunny in Lisbon"
    message = get_weather.invoke({"name": "get_weather", "args": {"city": "Oslo"}, "id": "call_7", "type": "tool_call"})
    assert message.content == "sunny in Oslo"
    spans = _tool_spans(tel)
    assert [(n, c) for n, c, _, _ in spans] == [("get_weather", None), ("get_weather", "call_7")]
    assert ['"Lisbon"' in str(a) for _, _, a, _ in spans] == [True, False]
    assert [r for _, _, _, r in spans] == ["sunny in Lisbon", "sunny in Oslo"]  # the output, not the ToolMessage
    located = {s.attributes.get(sc.CODE_FUNCTION_NAME) for s in tel.spans() if s.name == "execute_tool get_weather"}
    assert located == {f"{__name__}.test_langchain_tools_with_no_configuration.<locals>.get_weather"}  # not LangChain's


async def test_langchain_async_tools(instrument: Callable[..., Telemetry]) -> None:
    tools = pytest.importorskip("langchain_core.tools")

    @tools.tool
    async def lookup(term: str) -> str:
        """Look a term up."""
        return term.upper()

    tel = instrument()
    assert await lookup.ainvoke({"term": "otel"}) == "OTEL"
    assert [(n, r) for n, _, _, r in _tool_spans(tel)] == [("lookup", "OTEL")]


def test_uninstrument_and_switching_off_leave_langchain_alone(
    instrument: Callable[..., Telemetry], monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = pytest.importorskip("langchain_core.tools")
    monkeypatch.setenv("AGENTTRACE_FRAMEWORKS", "-langchain")
    tel = instrument()

    @tools.tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    assert echo.invoke({"text": "x"}) == "x"
    assert _tool_spans(tel) == []
    assert not hasattr(tools.BaseTool.run, "__wrapped__")


def test_a_peer_tool_span_is_recognised() -> None:
    provider = TracerProvider()
    with provider.get_tracer("pydantic-ai").start_as_current_span(
        "execute_tool get_weather", attributes={sc.GEN_AI_OPERATION_NAME: "execute_tool"}
    ):
        assert peer_tool_span_active()
    with provider.get_tracer("otel_agenttrace").start_as_current_span(
        "execute_tool get_weather", attributes={sc.GEN_AI_OPERATION_NAME: "execute_tool"}
    ):
        assert not peer_tool_span_active()  # ours: a nested target is handled by the nesting rule
    with provider.get_tracer("pydantic-ai").start_as_current_span(
        "chat m", attributes={"gen_ai.operation.name": "chat"}
    ):
        assert not peer_tool_span_active()
    assert not peer_tool_span_active()


def test_agents_sdk_agents_tools_handoffs_and_guardrails(instrument: Callable[..., Telemetry]) -> None:
    tracing = pytest.importorskip("agents.tracing")
    from agents import SpanError

    tel = instrument()
    with tracing.trace("workflow"):
        with tracing.agent_span("triage"):
            with tracing.guardrail_span("no_secrets", triggered=False):
                pass
            with tracing.function_span("lookup") as tool:
                tool.span_data.input = '{"q": "otel"}'  # the SDK fills the input after starting the span
                tool.span_data.output = "found"
            with tracing.handoff_span(from_agent="triage", to_agent="writer"):
                pass
            with tracing.function_span("broken", input="{}") as failing:
                failing.set_error(SpanError(message="tool failed", data=None))
        with tracing.agent_span("writer"):
            pass
    spans = {s.name: s for s in tel.spans()}
    assert set(spans) == {
        "invoke_agent triage",
        "invoke_agent no_secrets",
        "execute_tool lookup",
        "execute_tool handoff",
        "execute_tool broken",
        "invoke_agent writer",
    }
    triage = spans["invoke_agent triage"]
    assert triage.attributes[sc.AGENTTRACE_NODE_TYPE] == "agent"
    assert spans["invoke_agent no_secrets"].attributes[sc.AGENTTRACE_NODE_TYPE] == "guardrail"
    for name in ("invoke_agent no_secrets", "execute_tool lookup", "execute_tool handoff", "execute_tool broken"):
        assert spans[name].parent is not None and spans[name].parent.span_id == triage.context.span_id
    assert spans["invoke_agent writer"].parent is None or spans["invoke_agent writer"].parent.span_id != (
        triage.context.span_id
    )  # our context was left when the triage agent ended
    lookup = spans["execute_tool lookup"].attributes
    assert '"otel"' in lookup[sc.GEN_AI_TOOL_CALL_ARGUMENTS] and "found" in lookup[sc.GEN_AI_TOOL_CALL_RESULT]
    assert "writer" in spans["execute_tool handoff"].attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS]
    broken = spans["execute_tool broken"]
    assert broken.status.status_code.name == "ERROR" and broken.attributes[sc.ERROR_TYPE] == "ToolError"
    from opentelemetry import trace as otel_trace

    assert not otel_trace.get_current_span().get_span_context().is_valid  # nothing of ours left current
