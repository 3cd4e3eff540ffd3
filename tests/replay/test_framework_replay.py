"""Frameworks on top of the SDKs replay in model mode with no network: LangChain (chat completions,
streamed) and the OpenAI Agents SDK (the Responses API, streamed), recorded with `agenttrace run`
against the loopback scenario server, replayed with the server stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = REPO / "tests" / "frameworks" / "programs"
sys.path.insert(0, str(REPO / "tests" / "frameworks"))
from scenario_server import ScenarioServer  # noqa: E402


def agenttrace(args: list[str], home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTTRACE_", "OPENAI_"))}
    env.update(AGENTTRACE_HOME=str(home), PYTHONUNBUFFERED="1", OPENAI_AGENTS_DISABLE_TRACING="1", **extra)
    cmd = [sys.executable, "-m", "otel_agenttrace.cli", *args]
    return subprocess.run(cmd, cwd=PROGRAMS, env=env, capture_output=True, text=True, timeout=240, check=False)


@pytest.mark.parametrize(
    ("program", "module"), [("langchain_agent.py", "langchain_openai"), ("agents_sdk.py", "agents")]
)
def test_a_framework_run_replays_with_no_network(tmp_path: Path, program: str, module: str) -> None:
    pytest.importorskip(module)
    home = tmp_path / "home"
    with ScenarioServer() as server:
        recorded = agenttrace(
            ["run", "--", sys.executable, program, "sse"],
            home,
            SCENARIO_BASE_URL=server.base_url,
            AGENTTRACE_ENV_ALLOW="SCENARIO_*",
        )
        assert recorded.returncode == 0, recorded.stderr
        served = len(server.requests)
    assert served >= 3 and "Lisbon" in recorded.stdout

    done = agenttrace(["replay", "--last", "--json"], home)  # the server is gone: no listener at all
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["result"] == "reproduced" and report["comparison"]["equivalent"]
    assert recorded.stdout.strip() in done.stderr  # the program printed the same, from the recording
