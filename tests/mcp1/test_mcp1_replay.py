"""MCP tool calls on mcp 1.x recorded and replayed: the CallToolResult (isError included) and the McpError
come back from the recording and the server runs no tool; `tools="live"` asks it again.
Runs in an environment with mcp < 2 (see .ci/run); tests/replay/test_mcp_replay.py covers 2.x."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")
if int(version("mcp").split(".")[0]) >= 2:
    pytest.skip("mcp 1.x only (tests/replay/test_mcp_replay.py covers 2.x)", allow_module_level=True)

from mcp import types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.server.fastmcp import FastMCP
from mcp.shared.exceptions import McpError, UrlElicitationRequiredError
from mcp.shared.memory import create_connected_server_and_client_session
from replay.conftest import Recorder

import otel_agenttrace
from otel_agenttrace import workflow
from otel_agenttrace._capture import policy_from_env
from otel_agenttrace.replay._runner import comparable
from otel_agenttrace.replay.compare import compare_runs

SERVER_SCRIPT = Path(__file__).parent.parent / "replay" / "mcp_counter_server.py"


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    rec = Recorder(tmp_path / "home", policy_from_env({}))
    yield rec
    rec.close()


def make_server(calls: list[str]) -> FastMCP:
    server = FastMCP("replay-test")

    @server.tool()
    def bump(by: int) -> dict[str, int]:
        calls.append("bump")
        return {"value": len(calls) * by}

    @server.tool()
    def refuse(reason: str) -> types.CallToolResult:
        calls.append("refuse")
        return types.CallToolResult(content=[types.TextContent(type="text", text=reason)], isError=True)

    @server.tool()
    def authorize(x: int) -> str:
        calls.append("authorize")
        raise UrlElicitationRequiredError(
            [types.ElicitRequestURLParams(message="sign in", url="https://example.invalid/a", elicitationId="e1")]
        )

    return server


async def program(server: FastMCP) -> list[Any]:
    outcomes: list[Any] = []
    with workflow("mcp1-agent"):
        async with create_connected_server_and_client_session(server) as session:
            outcomes.append(await session.call_tool("bump", {"by": 3}))
            outcomes.append(await session.call_tool("refuse", {"reason": "not today"}))
            try:
                await session.call_tool("authorize", {"x": 1})
            except McpError as exc:
                outcomes.append((type(exc).__name__, exc.error.code, exc.error.message, exc.error.data))
    return outcomes


async def test_mcp1_results_and_errors_replay_without_the_server(recorder: Recorder) -> None:
    calls: list[str] = []
    original = await program(make_server(calls))
    assert calls == ["bump", "refuse", "authorize"]
    assert original[0].structuredContent == {"value": 3} and original[1].isError is True
    doc = recorder.run()
    tools = doc["recording"]["tools"]
    assert [t["name"] for t in tools] == ["bump", "refuse", "authorize"]
    assert tools[0]["result_type"] == "mcp.CallToolResult"
    assert tools[1]["result"]["isError"] is True
    assert tools[2]["error"]["data"]["code"] == original[2][1]

    with otel_agenttrace.replay(doc) as r:
        replayed = await program(make_server(calls))
    r.assert_reproduced()
    assert calls == ["bump", "refuse", "authorize"]  # the server ran no tool
    assert replayed == original
    assert type(replayed[0]) is types.CallToolResult
    again = recorder.run()
    tool_steps = [s for s in again["steps"] if s["type"] == "tool_call"]
    assert [s["attributes"].get("agenttrace.replay.mode") for s in tool_steps] == ["replay"] * 3
    # The server's own execute_tool spans (children of the client's) are not expected of the replay.
    assert len([s for s in doc["steps"] if s["type"] == "tool_call"]) == 6
    comparison = compare_runs(comparable(doc, r.engine.replayed_spans), comparable(again))
    assert comparison.equivalent, comparison.first_divergence

    with otel_agenttrace.replay(doc, tools="live") as r:
        live = await program(make_server(calls))
    assert calls == ["bump", "refuse", "authorize"] * 2
    assert live[0].structuredContent == {"value": 12}


async def test_mcp1_stdio_server_is_not_asked_in_model_mode(recorder: Recorder, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    params = StdioServerParameters(
        command=sys.executable, args=[str(SERVER_SCRIPT)], env={"COUNTER_FILE": str(counter)}
    )

    async def run() -> Any:
        with workflow("stdio"):
            async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                return await session.call_tool("count", {"step": 2})

    first = await run()
    assert first.structuredContent == {"count": 2} and counter.read_text() == "2"
    doc = recorder.run()
    with otel_agenttrace.replay(doc) as r:
        assert (await run()) == first
    r.assert_reproduced()
    assert counter.read_text() == "2"
    with otel_agenttrace.replay(doc, tools="live"):
        assert (await run()).structuredContent == {"count": 4}
    assert counter.read_text() == "4"
