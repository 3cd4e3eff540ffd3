"""MCP on mcp 2.x: a real MCPServer and a real client in one process, no network.

mcp 2.x makes its own spans (CLIENT `MCP send tools/call {tool}`, SERVER `tools/call {tool}`) through
the global tracer provider and carries trace context in `_meta`; we must complete those spans and add
none. mcp 1.x is covered by tests/mcp1/, in an environment of its own (see docs/mcp.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

mcp = pytest.importorskip("mcp")
if not hasattr(mcp, "Client"):  # mcp 1.x: tests/mcp1/ covers it
    pytest.skip("mcp 2.x only", allow_module_level=True)

from mcp import Client, MCPError  # noqa: E402
from mcp.server.mcpserver import MCPServer  # noqa: E402
from mcp.types import CallToolResult, TextContent  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan  # noqa: E402
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402
from oteltest import RELAY  # noqa: E402

from otel_agenttrace import AgentTraceInstrumentor  # noqa: E402
from otel_agenttrace import semconv as sc  # noqa: E402
from otel_agenttrace._capture import ContentMode  # noqa: E402

SECRET = "sk-proj-" + "Q7x" * 12
SDK_SCOPE = "mcp-python-sdk"


@pytest.fixture
def traced(instrument: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """Like `instrument`, and the SDK's own spans land in the same in-memory exporter."""
    RELAY.install()

    def install(policy: Any = None) -> Any:
        tel = instrument(policy)
        RELAY.target = tel.exporter
        return tel

    yield install
    RELAY.target = None


class _Hidden:
    """A method the SDK still calls but that `hasattr` on the class does not find."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            raise AttributeError("_resolve_pending")
        return self.fn.__get__(instance, owner)


def make_server() -> MCPServer:
    server = MCPServer("agenttrace-test")

    @server.tool()
    def lookup(query: str, api_key: str) -> dict[str, str]:
        return {"answer": f"found {query}", "echo": api_key}

    @server.tool()
    def refuse(reason: str) -> CallToolResult:
        return CallToolResult(content=[TextContent(type="text", text=reason)], is_error=True)

    @server.tool()
    def explode(x: int) -> str:
        raise ValueError("kaboom")

    @server.tool()
    def deny(x: int) -> str:
        raise MCPError(code=-32042, message="denied")

    return server


async def call(tel: Any, name: str, arguments: dict[str, Any], mode: str = "legacy") -> Any:
    """One tool call from inside an agent span, over the SDK's in-memory transport.
    An exception of the call is re-raised as itself, outside the client's task group."""
    agent = tel.tracer_provider.get_tracer("test")
    outcome: Any = None
    async with Client(make_server(), mode=mode) as client:
        with agent.start_as_current_span("agent"):
            try:
                outcome = await client.call_tool(name, arguments)
            except Exception as exc:
                outcome = exc
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def by_name(tel: Any, name: str) -> ReadableSpan:
    spans = [s for s in tel.spans() if s.name == name]
    assert len(spans) == 1, [s.name for s in tel.spans()]
    return spans[0]


def tool_spans(tel: Any, tool: str) -> tuple[ReadableSpan, ReadableSpan]:
    return by_name(tel, f"MCP send tools/call {tool}"), by_name(tel, f"tools/call {tool}")


def content(span: ReadableSpan, key: str) -> Any:
    return json.loads(span.attributes[key])  # type: ignore[index, arg-type]


async def test_client_and_server_spans_are_one_trace_and_no_span_is_added(traced: Callable[..., Any]) -> None:
    tel = traced()
    result = await call(tel, "lookup", {"query": "whales", "api_key": "k"})
    assert result.structured_content == {"answer": "found whales", "echo": "k"}

    client, server = tool_spans(tel, "lookup")
    agent = by_name(tel, "agent")
    assert client.kind is SpanKind.CLIENT and server.kind is SpanKind.SERVER
    assert client.instrumentation_scope.name == server.instrumentation_scope.name == SDK_SCOPE
    # The handshake happens before the agent span; everything the call does is in the agent's trace.
    assert client.context.trace_id == server.context.trace_id == agent.context.trace_id
    assert client.parent.span_id == agent.context.span_id
    assert server.parent.span_id == client.context.span_id
    # One span per step: nothing of ours besides the SDK's spans.
    assert tel.llm_spans() == []
    names = [s.name for s in tel.spans() if s.name.endswith("tools/call lookup")]
    assert sorted(names) == ["MCP send tools/call lookup", "tools/call lookup"]


async def test_client_span_is_a_complete_tool_call_step(traced: Callable[..., Any]) -> None:
    tel = traced()
    await call(tel, "lookup", {"query": "whales", "api_key": "k"})
    client, server = tool_spans(tel, "lookup")

    attrs = client.attributes
    assert attrs[sc.GEN_AI_OPERATION_NAME] == sc.Operation.EXECUTE_TOOL
    assert attrs[sc.GEN_AI_TOOL_NAME] == "lookup"
    assert attrs[sc.MCP_METHOD_NAME] == "tools/call"
    # The JSON-RPC id is the call's id, the same on both sides.
    assert attrs[sc.GEN_AI_TOOL_CALL_ID] == attrs[sc.JSONRPC_REQUEST_ID]
    assert server.attributes[sc.GEN_AI_TOOL_CALL_ID] == attrs[sc.GEN_AI_TOOL_CALL_ID]
    assert content(client, sc.GEN_AI_TOOL_CALL_ARGUMENTS) == {"query": "whales", "api_key": "k"}
    result = content(client, sc.GEN_AI_TOOL_CALL_RESULT)
    assert result["structuredContent"] == {"answer": "found whales", "echo": "k"}
    assert result["content"][0]["type"] == "text"
    assert result["isError"] is False
    assert client.status.status_code is StatusCode.UNSET

    assert server.attributes[sc.GEN_AI_TOOL_NAME] == "lookup"
    assert content(server, sc.GEN_AI_TOOL_CALL_ARGUMENTS) == {"query": "whales", "api_key": "k"}
    assert content(server, sc.GEN_AI_TOOL_CALL_RESULT)["structuredContent"]["answer"] == "found whales"


@pytest.mark.parametrize(("tool", "text"), [("refuse", "not today"), ("explode", "Error executing tool explode")])
async def test_error_result_sets_error_status_on_client_span(traced: Callable[..., Any], tool: str, text: str) -> None:
    tel = traced()
    arguments: dict[str, Any] = {"reason": "not today"} if tool == "refuse" else {"x": 1}
    result = await call(tel, tool, arguments)
    assert result.is_error is True

    client, server = tool_spans(tel, tool)
    for span in (client, server):
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[sc.ERROR_TYPE] == "tool_error"
    assert content(client, sc.GEN_AI_TOOL_CALL_RESULT)["content"][0]["text"] == text
    assert content(client, sc.GEN_AI_TOOL_CALL_RESULT)["isError"] is True


async def test_error_response_propagates_unchanged(traced: Callable[..., Any]) -> None:
    tel = traced()
    with pytest.raises(MCPError) as info:
        await call(tel, "deny", {"x": 1})
    assert info.value.error.code == -32042 and info.value.error.message == "denied"

    client, _ = tool_spans(tel, "deny")
    assert client.status.status_code is StatusCode.ERROR
    assert client.attributes[sc.GEN_AI_TOOL_NAME] == "deny"
    assert content(client, sc.GEN_AI_TOOL_CALL_ARGUMENTS) == {"x": 1}
    assert sc.GEN_AI_TOOL_CALL_RESULT not in client.attributes


def _everything(span: ReadableSpan) -> str:
    values = [*map(str, span.attributes.values())]
    for event in span.events:
        values.extend(map(str, event.attributes.values()))
    return "\n".join(values)


async def test_secrets_are_redacted_in_every_span(traced: Callable[..., Any]) -> None:
    tel = traced(ContentMode.SPAN_AND_EVENT)
    await call(tel, "lookup", {"query": "whales", "api_key": SECRET})
    spans = tel.spans()
    assert all(SECRET not in _everything(s) for s in spans)

    client, server = tool_spans(tel, "lookup")
    for span in (client, server):
        assert content(span, sc.GEN_AI_TOOL_CALL_ARGUMENTS)["api_key"] == "[REDACTED:openai_key]"
        assert content(span, sc.GEN_AI_TOOL_CALL_RESULT)["structuredContent"]["echo"] == "[REDACTED:openai_key]"
        # The key once in the arguments, twice in the result (structuredContent and its text block).
        assert span.attributes[sc.AGENTTRACE_CONTENT_REDACTIONS] == 3
        (record,) = tel.details(span)  # the details event: one log record, emitted at the end
        assert sc.GEN_AI_TOOL_CALL_RESULT in record.attributes
        assert SECRET not in str(dict(record.attributes))


async def test_no_content_mode_keeps_metadata_only(traced: Callable[..., Any]) -> None:
    tel = traced(ContentMode.NO_CONTENT)
    await call(tel, "lookup", {"query": "whales", "api_key": "k"})
    client, server = tool_spans(tel, "lookup")
    for span in (client, server):
        assert span.attributes[sc.GEN_AI_TOOL_NAME] == "lookup"
        assert sc.GEN_AI_TOOL_CALL_ID in span.attributes
        assert not set(span.attributes) & sc.CONTENT_ATTRIBUTES
        assert "whales" not in _everything(span)


async def test_in_process_direct_mode_enriches_the_server_span(traced: Callable[..., Any]) -> None:
    """`Client(server)` by default skips JSON-RPC: no client span; the server span is the tool step."""
    tel = traced()
    await call(tel, "lookup", {"query": "whales", "api_key": "k"}, mode="auto")
    assert not [s for s in tel.spans() if s.name.startswith("MCP send")]
    server = by_name(tel, "tools/call lookup")
    agent = by_name(tel, "agent")
    assert server.context.trace_id == agent.context.trace_id
    assert server.parent.span_id == agent.context.span_id
    assert server.attributes[sc.GEN_AI_TOOL_CALL_ID]
    assert server.attributes[sc.GEN_AI_TOOL_TYPE] == "function"
    assert content(server, sc.GEN_AI_TOOL_CALL_ARGUMENTS)["query"] == "whales"
    assert content(server, sc.GEN_AI_TOOL_CALL_RESULT)["structuredContent"]["answer"] == "found whales"
    assert tel.llm_spans() == []


async def test_uninstrument_restores_the_sdk(traced: Callable[..., Any]) -> None:
    import mcp.server._otel
    import mcp.shared._otel
    import mcp.shared.jsonrpc_dispatcher
    from mcp.client.session import ClientSession

    originals = (
        ClientSession.__dict__["call_tool"],
        mcp.shared.jsonrpc_dispatcher.JSONRPCDispatcher.__dict__["_resolve_pending"],
        mcp.server._otel.OpenTelemetryMiddleware.__dict__["__call__"],
    )
    tel = traced()
    assert ClientSession.__dict__["call_tool"] is not originals[0]
    assert mcp.shared.jsonrpc_dispatcher.otel_span is not mcp.shared._otel.otel_span

    AgentTraceInstrumentor().uninstrument()
    assert mcp.shared.jsonrpc_dispatcher.otel_span is mcp.shared._otel.otel_span
    assert (
        ClientSession.__dict__["call_tool"],
        mcp.shared.jsonrpc_dispatcher.JSONRPCDispatcher.__dict__["_resolve_pending"],
        mcp.server._otel.OpenTelemetryMiddleware.__dict__["__call__"],
    ) == originals

    await call(tel, "lookup", {"query": "whales", "api_key": "k"})
    client, server = tool_spans(tel, "lookup")
    assert sc.GEN_AI_TOOL_NAME not in client.attributes
    assert not set(server.attributes) & sc.CONTENT_ATTRIBUTES


async def test_a_missing_hook_is_logged_once_and_the_rest_still_works(
    traced: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher

    from otel_agenttrace import _patch_table

    monkeypatch.setattr(_patch_table, "_reported", set())
    # As if a later 2.x no longer had the method: the instrumentor cannot find it, the SDK still works.
    original = JSONRPCDispatcher.__dict__["_resolve_pending"]
    monkeypatch.setattr(JSONRPCDispatcher, "_resolve_pending", _Hidden(original))
    with caplog.at_level("WARNING", logger="otel_agenttrace"):
        tel = traced()
    warnings = [r.getMessage() for r in caplog.records if "lacks" in r.getMessage()]
    assert len(warnings) == 1 and "JSONRPCDispatcher._resolve_pending" in warnings[0]

    await call(tel, "lookup", {"query": "whales", "api_key": "k"})
    client, _ = tool_spans(tel, "lookup")
    assert client.attributes[sc.GEN_AI_TOOL_NAME] == "lookup"
    assert content(client, sc.GEN_AI_TOOL_CALL_ARGUMENTS)["query"] == "whales"
    assert sc.GEN_AI_TOOL_CALL_RESULT not in client.attributes


async def test_an_error_of_ours_never_reaches_the_caller(
    traced: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from otel_agenttrace import _lifecycle
    from otel_agenttrace.tools import _mcp_v2

    def broken(result: Any) -> Any:
        raise RuntimeError("bug in the result mapping")

    monkeypatch.setattr(_lifecycle, "STRICT", False)
    monkeypatch.setattr(_mcp_v2, "result_json", broken)
    tel = traced()
    with caplog.at_level("WARNING", logger="otel_agenttrace"):
        result = await call(tel, "lookup", {"query": "whales", "api_key": "k"})
    assert result.structured_content["answer"] == "found whales"
    assert any("internal error" in r.getMessage() for r in caplog.records)
    client, server = tool_spans(tel, "lookup")
    assert client.attributes[sc.GEN_AI_TOOL_NAME] == server.attributes[sc.GEN_AI_TOOL_NAME] == "lookup"
