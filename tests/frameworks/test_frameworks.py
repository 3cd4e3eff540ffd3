"""Real agent frameworks under `agenttrace run`, against a loopback OpenAI-compatible server.

Each case runs a small program (tests/frameworks/programs/) as a subprocess, once: LangChain
ChatOpenAI with a tool (chat completions), the OpenAI Agents SDK (Responses API) and Pydantic AI
(chat completions), each non-streaming (JSON) and streaming (SSE), and Pydantic AI once more with its
own OpenTelemetry instrumentation on. With no configuration, the program prints exactly what it
prints bare (EXPECTED, the output of the bare program), nothing of ours reaches stderr as a traceback
or an internal error, and the store holds one run whose schema-valid dump has the scenario's 3 LLM
steps with output and exact tokens, and its 2 tool steps with names, arguments and results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from otel_agenttrace.cli import cli

from .scenario_server import FINAL, TOTAL_INPUT, TOTAL_OUTPUT, USAGE, WEATHER, ScenarioServer

HERE = Path(__file__).parent
PROGRAMS = HERE / "programs"
SCHEMA = json.loads((HERE.parents[1] / "semconv" / "run-trace.schema.json").read_text("utf-8"))

_LANGCHAIN = (
    "tool get_weather({'city': 'Lisbon'}) -> sunny, 21 C",
    "tool get_weather({'city': 'Paris'}) -> rain, 12 C",
    f"answer: {FINAL}",
    f"tokens: {USAGE[2][0]}",
)
_AGENTS = (
    "tool get_weather(Lisbon) -> sunny, 21 C",
    "tool get_weather(Paris) -> rain, 12 C",
    f"answer: {FINAL}",
    f"tokens: {TOTAL_INPUT}",
)
_PYDANTIC = (*_AGENTS[:3], f"tokens: {TOTAL_INPUT} {TOTAL_OUTPUT}")


@dataclass(frozen=True)
class Case:
    program: str
    module: str  # the framework, skipped when not installed
    route: str
    expected: tuple[str, ...]
    args: tuple[str, ...] = ()


CASES = {
    "langchain": Case("langchain_agent.py", "langchain_openai", "/v1/chat/completions", _LANGCHAIN),
    "openai-agents": Case("agents_sdk.py", "agents", "/v1/responses", _AGENTS),
    "pydantic-ai": Case("pydantic_ai_agent.py", "pydantic_ai", "/v1/chat/completions", _PYDANTIC),
    "pydantic-ai-instrumented": Case(
        "pydantic_ai_agent.py", "pydantic_ai", "/v1/chat/completions", _PYDANTIC, ("instrumented",)
    ),
}


@pytest.fixture(scope="module")
def server() -> Iterator[ScenarioServer]:
    with ScenarioServer() as s:
        yield s


@dataclass
class Outcome:
    case: Case
    mode: str
    proc: subprocess.CompletedProcess[str]
    runs: list[dict[str, Any]]
    doc: dict[str, Any]
    requests: list[tuple[str, dict[str, Any]]]


def _run(case: Case, mode: str, server: ScenarioServer, home: Path) -> Outcome:
    pytest.importorskip(case.module)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTTRACE_", "OPENAI_"))}
    # Not strict: the user's path, where an internal error is logged (and then fails the stderr check).
    env.update(SCENARIO_BASE_URL=server.base_url, AGENTTRACE_HOME=str(home), PYTHONUNBUFFERED="1")
    before = len(server.requests)
    cmd = [sys.executable, "-m", "otel_agenttrace.cli", "run", "--", sys.executable, case.program, mode, *case.args]
    proc = subprocess.run(cmd, cwd=PROGRAMS, env=env, capture_output=True, text=True, timeout=120)
    runner = CliRunner()
    listing = runner.invoke(cli, ["list", "--home", str(home), "--json"], catch_exceptions=False)
    runs = json.loads(listing.output) if listing.exit_code == 0 and listing.output.strip() else []
    dump = runner.invoke(cli, ["dump", "--last", "--home", str(home)], catch_exceptions=False)
    assert dump.exit_code == 0, dump.output
    return Outcome(case, mode, proc, runs, json.loads(dump.output), server.requests[before:])


@pytest.fixture(scope="module")
def outcomes() -> dict[tuple[str, str], Outcome]:
    return {}


@pytest.fixture(params=[(name, mode) for name in CASES for mode in ("json", "sse")], ids=lambda p: f"{p[0]}-{p[1]}")
def outcome(
    request: pytest.FixtureRequest,
    outcomes: dict[tuple[str, str], Outcome],
    server: ScenarioServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Outcome:
    """One subprocess per framework and mode, shared by the assertions below."""
    key = request.param
    if key not in outcomes:
        outcomes[key] = _run(CASES[key[0]], key[1], server, tmp_path_factory.mktemp("home"))
    return outcomes[key]


def test_the_program_runs_as_it_does_bare(outcome: Outcome) -> None:
    assert outcome.proc.returncode == 0, outcome.proc.stderr
    assert tuple(outcome.proc.stdout.splitlines()) == outcome.case.expected
    assert "Traceback" not in outcome.proc.stderr
    assert "internal error" not in outcome.proc.stderr


def test_the_program_talked_to_the_scenario(outcome: Outcome) -> None:
    assert [route for route, _ in outcome.requests] == [outcome.case.route] * 3
    assert [bool(r.get("stream")) for _, r in outcome.requests] == [outcome.mode == "sse"] * 3


def test_one_run_with_exact_tokens(outcome: Outcome) -> None:
    assert len(outcome.runs) == 1
    doc = outcome.doc
    jsonschema.validate(doc, SCHEMA)
    assert doc["usage"]["input_tokens"] == TOTAL_INPUT
    assert doc["usage"]["output_tokens"] == TOTAL_OUTPUT
    assert doc["final_output"] == FINAL


def test_three_llm_steps_with_output_and_tokens(outcome: Outcome) -> None:
    llm = [s for s in outcome.doc["steps"] if s["type"] == "llm_call"]
    assert len(llm) == 3
    for step, (tokens_in, tokens_out) in zip(llm, USAGE, strict=True):
        assert step["usage"]["input_tokens"] == tokens_in
        assert step["usage"]["output_tokens"] == tokens_out
        assert step["model"] == "gpt-4o-mini"
        assert step["output"] and step["output"][0]["role"] == "assistant"
    calls = [p for s in llm[:2] for p in s["output"][0]["parts"] if p["type"] == "tool_call"]
    assert [(c["name"], c["arguments"]) for c in calls] == [
        ("get_weather", {"city": "Lisbon"}),
        ("get_weather", {"city": "Paris"}),
    ]
    text = [p["content"] for p in llm[2]["output"][0]["parts"] if p["type"] == "text"]
    assert text == [FINAL]


def test_tool_steps_with_names_arguments_and_results(outcome: Outcome) -> None:
    tools = [s for s in outcome.doc["steps"] if s["type"] == "tool_call"]
    assert [(s["name"], s["input"], s["output"]) for s in tools] == [
        ("execute_tool get_weather", {"city": city}, WEATHER[city]) for city in ("Lisbon", "Paris")
    ]
    assert all(s["status"] == "ok" for s in tools)
    # each tool step comes after the LLM step that asked for it, and before the next one
    kinds = [s["type"] for s in outcome.doc["steps"] if s["type"] in ("llm_call", "tool_call")]
    assert kinds == ["llm_call", "tool_call", "llm_call", "tool_call", "llm_call"]
