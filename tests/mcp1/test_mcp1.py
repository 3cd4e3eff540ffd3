"""MCP on mcp 1.x: a real FastMCP server and ClientSession in one process, over the SDK's memory streams.

mcp 1.x makes no spans, so ours are the tool-call steps: `execute_tool {tool}` CLIENT around
`ClientSession.call_tool` and SERVER around the server's handling, one trace through `_meta`.
Runs in an environment with mcp < 2 (see docs/mcp.md and .ci/run); skipped under mcp 2.x.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import pytest

pytest.importorskip("mcp")
if int(version("mcp").split(".")[0]) >= 2:
    pytest.skip("mcp 1.x only (tests/test_mcp.py covers 2.x)", allow_module_level=True)

from mcp import types
from mcp.client.session import ClientSession
from mcp.server.fastmcp import FastMCP
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import McpError, UrlElicitationRequiredError
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.shared.session import RequestResponder
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from otel_agenttrace import AgentTraceInstrumentor
from otel_agenttrace import semconv as sc
from otel_agenttrace._capture import ContentMode

SECRET = "sk-proj-" + "Q7x" * 12


def make_server() -> FastMCP:
    server = FastMCP("agenttrace-test")

    @server.tool()
    def lookup(query: str, api_key: str) -> dict[str, str]:
        return {"answer": f"found {query}", "echo": api_key}

    @server.tool()
    def refuse(reason: str) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(type="text", text=reason)], isError=True)

    @server.tool()
    def explode(x: int) -> str:
        raise ValueError("kaboom")

    @server.tool()
    def authorize(x: int) -> str:
        # The one error a 1.x tool handler passes on as a JSON-RPC error instead of an isError result.
        raise UrlElicitationRequiredError(
            [types.ElicitRequestURLParams(message="sign in", url="https://example.invalid/a", elicitationId="e1")]
        )

    return server


async def call(tel: Any, name: str, arguments: dict[str, Any]) -> Any:
    """One tool call from inside an agent span; an exception of the call is re-raised as itself."""
    agent = tel.tracer_provider.get_tracer("test")
    outcome: Any = None
    async with create_connected_server_and_client_session(make_server()) as session:
        with agent.start_as_current_span("agent"):
            try:
                outcome = await session.call_tool(name, arguments)
            except Exception as exc:
                outcome = exc
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def tool_spans(tel: Any, tool: str) -> tuple[ReadableSpan, ReadableSpan]:
    spans = [s for s in tel.spans() if s.name == f"execute_tool {tool}"]
    assert len(spans) == 2, [s.name for s in tel.spans()]
    (client,) = [s for s in spans if s.kind is SpanKind.CLIENT]
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    return client, server


def content(span: ReadableSpan, key: str) -> Any:
    return json.loads(span.attributes[key])  # type: ignore[index, arg-type]


def _everything(span: ReadableSpan) -> str:
    values = [*map(str, span.attributes.values())]
    for event in span.events:
        values.extend(map(str, event.attributes.values()))
    return "\n".join(values)


async def test_client_and_server_spans_are_one_trace(tel: Any) -> None:
    result = await call(tel, "lookup", {"query": "whales", "api_key": "k"})
    assert result.structuredContent == {"answer": "found whales", "echo": "k"}

    client, server = tool_spans(tel, "lookup")
    (agent,) = [s for s in tel.spans() if s.name == "agent"]
    assert client.context.trace_id == server.context.trace_id == agent.context.trace_id
    assert client.parent.span_id == agent.context.span_id
    # The server handles the call in a task of its own: only `_meta` can have carried the parent.
    assert server.parent.span_id == client.context.span_id
    assert server.parent.is_remote
    # Nothing but the two tool steps (the SDK makes no spans of its own).
    assert sorted(s.name for s in tel.spans()) == ["agent", "execute_tool lookup", "execute_tool lookup"]


async def test_spans_are_complete_tool_call_steps(tel: Any) -> None:
    await call(tel, "lookup", {"query": "whales", "api_key": "k"})
    client, server = tool_spans(tel, "lookup")
    for span in (client, server):
        attrs = span.attributes
        assert attrs[sc.GEN_AI_OPERATION_NAME] == sc.Operation.EXECUTE_TOOL
        assert attrs[sc.GEN_AI_TOOL_NAME] == "lookup"
        assert attrs[sc.MCP_METHOD_NAME] == "tools/call"
        assert attrs[sc.GEN_AI_TOOL_CALL_ID] == attrs[sc.JSONRPC_REQUEST_ID]
        assert content(span, sc.GEN_AI_TOOL_CALL_ARGUMENTS) == {"query": "whales", "api_key": "k"}
        result = content(span, sc.GEN_AI_TOOL_CALL_RESULT)
        assert result["structuredContent"] == {"answer": "found whales", "echo": "k"}
        assert result["isError"] is False
        assert span.status.status_code is StatusCode.UNSET
    assert client.attributes[sc.GEN_AI_TOOL_CALL_ID] == server.attributes[sc.GEN_AI_TOOL_CALL_ID]


@pytest.mark.parametrize(("tool", "text"), [("refuse", "not today"), ("explode", "kaboom")])
async def test_error_result_sets_error_status(tel: Any, tool: str, text: str) -> None:
    arguments: dict[str, Any] = {"reason": "not today"} if tool == "refuse" else {"x": 1}
    result = await call(tel, tool, arguments)
    assert result.isError is True

    for span in tool_spans(tel, tool):
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[sc.ERROR_TYPE] == "tool_error"
        assert text in content(span, sc.GEN_AI_TOOL_CALL_RESULT)["content"][0]["text"]


async def test_error_response_propagates_unchanged(tel: Any) -> None:
    with pytest.raises(McpError) as info:
        await call(tel, "authorize", {"x": 1})
    code = info.value.error.code

    client, server = tool_spans(tel, "authorize")
    assert client.status.status_code is StatusCode.ERROR
    assert client.attributes[sc.ERROR_TYPE] == "McpError"
    assert [e.name for e in client.events] == ["exception"]
    assert server.status.status_code is StatusCode.ERROR
    assert server.attributes[sc.ERROR_TYPE] == str(code)
    assert content(client, sc.GEN_AI_TOOL_CALL_ARGUMENTS) == {"x": 1}


async def test_secrets_are_redacted_in_every_span(instrument: Callable[..., Any]) -> None:
    tel = instrument(ContentMode.SPAN_AND_EVENT)
    await call(tel, "lookup", {"query": "whales", "api_key": SECRET})
    assert all(SECRET not in _everything(s) for s in tel.spans())
    for span in tool_spans(tel, "lookup"):
        assert content(span, sc.GEN_AI_TOOL_CALL_ARGUMENTS)["api_key"] == "[REDACTED:openai_key]"
        assert content(span, sc.GEN_AI_TOOL_CALL_RESULT)["structuredContent"]["echo"] == "[REDACTED:openai_key]"
        (record,) = tel.details(span)  # the details event: one log record, emitted at the end
        assert sc.GEN_AI_TOOL_CALL_RESULT in record.attributes


async def test_no_content_mode_keeps_metadata_only(instrument: Callable[..., Any]) -> None:
    tel = instrument(ContentMode.NO_CONTENT)
    await call(tel, "lookup", {"query": "whales", "api_key": "k"})
    for span in tool_spans(tel, "lookup"):
        assert span.attributes[sc.GEN_AI_TOOL_NAME] == "lookup"
        assert not set(span.attributes) & sc.CONTENT_ATTRIBUTES
        assert "whales" not in _everything(span)


async def test_uninstrument_restores_the_sdk(tel: Any) -> None:
    AgentTraceInstrumentor().uninstrument()
    for owner, method in ((ClientSession, "call_tool"), (Server, "_handle_request"), (RequestResponder, "respond")):
        assert not hasattr(owner.__dict__[method], "__wrapped__"), method
    await call(tel, "lookup", {"query": "whales", "api_key": "k"})
    assert [s.name for s in tel.spans()] == ["agent"]


async def test_an_error_of_ours_never_reaches_the_caller(
    tel: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from otel_agenttrace import _lifecycle
    from otel_agenttrace.tools import _mcp_common

    def broken(result: Any) -> Any:
        raise RuntimeError("bug in the result mapping")

    monkeypatch.setattr(_lifecycle, "STRICT", False)
    monkeypatch.setattr(_mcp_common, "result_json", broken)
    with caplog.at_level("WARNING", logger="otel_agenttrace"):
        result = await call(tel, "lookup", {"query": "whales", "api_key": "k"})
    assert result.structuredContent["answer"] == "found whales"
    assert any("internal error" in r.getMessage() for r in caplog.records)
    # Both sides answered: the spans still end, one trace.
    client, server = tool_spans(tel, "lookup")
    assert client.end_time and server.end_time
    assert server.parent.span_id == client.context.span_id
