"""A call traced twice counts once in every summary: Pydantic AI with its own OpenTelemetry instrumentation
(`Agent.instrument_all()`) under `agenttrace run`, against the loopback scenario server.

Pydantic AI's `chat` span wraps our SDK span for each of the 3 calls. `dump` shows one step per call;
the run line that `agenttrace run` prints and `agenttrace list` (tokens, steps, cost) must say the
same, not twice the tokens (they are summed by the store as spans arrive, children first).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from otel_agenttrace._cost import annotate
from otel_agenttrace.cli import cli
from otel_agenttrace.exporter._peers import step_type_of
from otel_agenttrace.exporter.store import RunStore

from .scenario_server import TOTAL_INPUT, TOTAL_OUTPUT, ScenarioServer

PROGRAMS = Path(__file__).parent / "programs"


@pytest.mark.parametrize("mode", ["json", "sse"])
def test_list_and_the_run_line_count_each_call_once_as_dump_does(tmp_path: Path, mode: str) -> None:
    pytest.importorskip("pydantic_ai")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTTRACE_", "OPENAI_"))}
    with ScenarioServer() as server:
        env.update(SCENARIO_BASE_URL=server.base_url, AGENTTRACE_HOME=str(home), PYTHONUNBUFFERED="1")
        program = [sys.executable, "pydantic_ai_agent.py", mode, "instrumented"]
        proc = subprocess.run(
            [sys.executable, "-m", "otel_agenttrace.cli", "run", "--", *program],
            cwd=PROGRAMS,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == f"tokens: {TOTAL_INPUT} {TOTAL_OUTPUT}"  # what Pydantic AI counted

    runner = CliRunner()
    (listed,) = json.loads(runner.invoke(cli, ["list", "--home", str(home), "--json"], catch_exceptions=False).output)
    doc = json.loads(runner.invoke(cli, ["dump", "--last", "--home", str(home)], catch_exceptions=False).output)
    with RunStore(home, read_only=True) as store:
        spans = store.spans(doc["run_id"])
    llm_spans = [s for s in spans if step_type_of(s.attributes) == "llm_call"]
    assert {s.scope for s in llm_spans} >= {"otel_agenttrace", "pydantic-ai"}  # both instrumentations traced
    assert len(llm_spans) == 6
    assert [s["type"] for s in doc["steps"]].count("llm_call") == 3

    assert (doc["usage"]["input_tokens"], doc["usage"]["output_tokens"]) == (TOTAL_INPUT, TOTAL_OUTPUT)
    assert (listed["input_tokens"], listed["output_tokens"]) == (TOTAL_INPUT, TOTAL_OUTPUT)
    assert listed["steps"] == len(doc["steps"])
    assert listed["cost"] == annotate(doc).get("cost")  # what `show` prices
    line = next(line for line in proc.stderr.splitlines() if "tokens in/out" in line)
    assert f"tokens in/out {TOTAL_INPUT}/{TOTAL_OUTPUT} " in line
    assert re.search(rf"\b{len(doc['steps'])} steps\b", line), line
