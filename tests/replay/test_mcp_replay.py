"""MCP tool calls (mcp 2.x) recorded and replayed: the result (a real CallToolResult, isError included) and
the MCP error come back from the recording, and the server is never asked (its tools count their calls,
or refuse to run at all). mcp 1.x: tests/mcp1/test_mcp1_replay.py, in its own environment."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

mcp = pytest.importorskip("mcp")
if not hasattr(mcp, "Client"):  # mcp 1.x: tests/mcp1/ covers it
    pytest.skip("mcp 2.x only", allow_module_level=True)

from mcp import Client, MCPError  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402
from mcp.server.mcpserver import MCPServer  # noqa: E402
from mcp.types import CallToolResult, TextContent  # noqa: E402
from oteltest import RELAY  # noqa: E402

import otel_agenttrace  # noqa: E402
from otel_agenttrace import workflow  # noqa: E402
from otel_agenttrace.replay._runner import comparable  # noqa: E402
from otel_agenttrace.replay.compare import compare_runs  # noqa: E402

SERVER_SCRIPT = Path(__file__).with_name("mcp_counter_server.py")


@pytest.fixture
def mcp_recorder(recorder: Any) -> Iterator[Any]:
    RELAY.install()
    RELAY.target = recorder.exporter
    yield recorder
    RELAY.target = None


def make_server(calls: list[str]) -> MCPServer:
    """`calls` gets one entry per tool the server runs: a replay that asks the server shows up there."""
    server = MCPServer("replay-test")

    @server.tool()
    def bump(by: int) -> dict[str, int]:
        calls.append("bump")
        return {"value": len(calls) * by}

    @server.tool()
    def refuse(reason: str) -> CallToolResult:
        calls.append("refuse")
        return CallToolResult(content=[TextContent(type="text", text=reason)], is_error=True)

    @server.tool()
    def deny(x: int) -> str:
        calls.append("deny")
        raise MCPError(code=-32042, message="denied", data={"why": "policy"})

    return server


async def program(server: Any, mode: str = "legacy") -> list[Any]:
    outcomes: list[Any] = []
    with workflow("mcp-agent"):
        async with Client(server, mode=mode) as client:
            outcomes.append(await client.call_tool("bump", {"by": 3}))
            outcomes.append(await client.call_tool("refuse", {"reason": "not today"}))
            try:
                await client.call_tool("deny", {"x": 1})
            except MCPError as exc:
                outcomes.append(("MCPError", exc.code, exc.message, exc.data))
    return outcomes


def tool_steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in doc["steps"] if s["type"] == "tool_call"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])  # JSON-RPC over memory streams; direct in-process
async def test_mcp_results_and_errors_replay_without_the_server(mcp_recorder: Any, mode: str) -> None:
    calls: list[str] = []
    original = await program(make_server(calls), mode)
    assert calls == ["bump", "refuse", "deny"]
    assert original[0].structured_content == {"value": 3}
    assert original[1].is_error is True
    assert original[2] == ("MCPError", -32042, "denied", {"why": "policy"})
    doc = mcp_recorder.run()
    tools = doc["recording"]["tools"]
    assert [t["name"] for t in tools] == ["bump", "refuse", "deny"]
    assert tools[0]["result_type"] == "mcp.CallToolResult"
    assert tools[0]["result"]["structuredContent"] == {"value": 3}
    assert tools[1]["result"]["isError"] is True and tools[1]["result"]["content"][0]["text"] == "not today"
    assert tools[2]["error"]["type"] == "mcp.shared.exceptions.MCPError"
    assert tools[2]["error"]["data"] == {"code": -32042, "message": "denied", "data": {"why": "policy"}}

    with otel_agenttrace.replay(doc) as r:  # model mode: every tools/call answered from the recording
        replayed = await program(make_server(calls), mode)
    r.assert_reproduced()
    assert calls == ["bump", "refuse", "deny"]  # the server ran no tool
    assert replayed == original
    assert all(type(a) is type(b) for a, b in zip(replayed, original, strict=True))  # the real mcp types
    again = mcp_recorder.run()
    assert [s["attributes"].get("agenttrace.replay.mode") for s in tool_steps(again)] == ["replay"] * 3
    # What ran inside the tools in the original (the server's own spans) is not expected of the replay,
    # and MCP protocol chatter (initialize, notifications, tools/list) is not compared.
    comparison = compare_runs(comparable(doc, r.engine.replayed_spans), comparable(again))
    assert comparison.equivalent, comparison.first_divergence

    with otel_agenttrace.replay(doc, tools="live") as r:
        live = await program(make_server(calls), mode)
    assert calls == ["bump", "refuse", "deny"] * 2  # --tools live: the server is asked again
    assert live[0].structured_content == {"value": 12}  # 4 calls so far, by 3
    r.assert_reproduced()


async def test_a_server_that_cannot_answer_is_not_needed(mcp_recorder: Any) -> None:
    """Replay against a server whose every tool fails: the replayed results are still the recorded ones."""
    calls: list[str] = []
    original = await program(make_server(calls))
    doc = mcp_recorder.run()

    def unreachable(by: int = 0, reason: str = "", x: int = 0) -> str:
        raise AssertionError("the server was asked")

    broken = MCPServer("replay-test")
    for name in ("bump", "refuse", "deny"):
        broken.add_tool(unreachable, name=name)
    with otel_agenttrace.replay(doc) as r:
        assert await program(broken) == original
    r.assert_reproduced()


async def test_stdio_server_is_not_asked_in_model_mode(mcp_recorder: Any, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    params = StdioServerParameters(
        command=sys.executable, args=[str(SERVER_SCRIPT)], env={"COUNTER_FILE": str(counter)}
    )

    async def run() -> Any:
        with workflow("stdio"):
            async with Client(params) as client:
                return await client.call_tool("count", {"step": 2})

    first = await run()
    assert first.structured_content == {"count": 2} and counter.read_text() == "2"
    doc = mcp_recorder.run()
    with otel_agenttrace.replay(doc) as r:
        assert (await run()) == first
    r.assert_reproduced()
    assert counter.read_text() == "2"
    with otel_agenttrace.replay(doc, tools="live"):
        assert (await run()).structured_content == {"count": 4}
    assert counter.read_text() == "4"


async def test_other_arguments_are_a_divergence_and_more_calls_exhaust(mcp_recorder: Any) -> None:
    calls: list[str] = []
    await program(make_server(calls))
    doc = mcp_recorder.run()
    with otel_agenttrace.replay(doc) as r:
        async with Client(make_server(calls), mode="legacy") as client:
            served = await client.call_tool("bump", {"by": 5})  # other arguments: served by order, reported
            assert served.structured_content == {"value": 3}
            with pytest.raises(otel_agenttrace.replay.ReplayDivergence, match="called more often"):
                await client.call_tool("bump", {"by": 3})
    assert [d.kind for d in r.divergences][:2] == ["tool", "exhausted"]
    assert r.divergences[0].field == "/by"
    assert calls == ["bump", "refuse", "deny"]


async def test_a_secret_in_an_mcp_result_or_error_never_reaches_the_recording(mcp_recorder: Any) -> None:
    secret = "sk-proj-" + "Q7x" * 12
    server = MCPServer("secrets")

    @server.tool()
    def leak(api_key: str) -> dict[str, str]:
        return {"echo": api_key}

    @server.tool()
    def leak_error(api_key: str) -> str:
        raise MCPError(code=-32001, message=f"bad key {api_key}", data={"key": api_key})

    with workflow("secrets"):
        async with Client(server, mode="legacy") as client:
            result = await client.call_tool("leak", {"api_key": secret})
            with pytest.raises(MCPError):
                await client.call_tool("leak_error", {"api_key": secret})
    assert result.structured_content == {"echo": secret}
    doc = mcp_recorder.run()
    assert secret not in json.dumps(doc["recording"])
    leak_record, error_record = doc["recording"]["tools"]
    assert leak_record["result"]["structuredContent"]["echo"].startswith("[REDACTED")
    assert error_record["error"]["data"]["data"]["key"].startswith("[REDACTED")
    with otel_agenttrace.replay(doc) as r:
        async with Client(server, mode="legacy") as client:
            replayed = await client.call_tool("leak", {"api_key": secret})
            with pytest.raises(MCPError) as info:
                await client.call_tool("leak_error", {"api_key": secret})
    r.assert_reproduced()
    assert replayed.structured_content["echo"].startswith("[REDACTED")  # the marker, as for LLM content
    assert secret not in info.value.message and info.value.code == -32001
