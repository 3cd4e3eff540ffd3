"""A LangGraph agent run replays in model mode with no network: `create_agent` streamed (SSE), recorded
with `agenttrace run` against the loopback scenario server, replayed with the server stopped. The node
steps the replay makes align one to one with the recording's (LLM requests match per node)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .scenario_server import ScenarioServer

PROGRAMS = Path(__file__).parent / "programs"


def agenttrace(args: list[str], home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTTRACE_", "OPENAI_"))}
    env.update(AGENTTRACE_HOME=str(home), PYTHONUNBUFFERED="1", **extra)
    cmd = [sys.executable, "-m", "otel_agenttrace.cli", *args]
    return subprocess.run(cmd, cwd=PROGRAMS, env=env, capture_output=True, text=True, timeout=240, check=False)


def test_a_langgraph_agent_replays_with_no_network(tmp_path: Path) -> None:
    pytest.importorskip("langchain.agents")
    home = tmp_path / "home"
    with ScenarioServer() as server:
        recorded = agenttrace(
            ["run", "--", sys.executable, "langgraph_agent.py", "agent", "sse", "stream"],
            home,
            SCENARIO_BASE_URL=server.base_url,
            AGENTTRACE_ENV_ALLOW="SCENARIO_*",
        )
        assert recorded.returncode == 0, recorded.stderr
        assert len(server.requests) == 3

    done = agenttrace(["replay", "--last", "--json"], home)  # the server is gone: no listener at all
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["result"] == "reproduced" and report["comparison"]["equivalent"]
    assert recorded.stdout.strip() in done.stderr  # the program printed the same, from the recording
    nodes = [(s["kind"], s["node"]) for s in report["comparison"]["steps"] if s["type"] == "node"]
    expected = ["weather_agent", "model", "tools", "model", "tools", "model"]
    assert nodes == [("same", node) for node in expected]
