"""`_profile.profile` against a run with known timings, and `agenttrace profile` on it."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from otel_agenttrace._cost import annotate
from otel_agenttrace._profile import profile
from otel_agenttrace.cli import cli
from tests.profile.handmade import handmade_run


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return annotate(handmade_run())


@pytest.fixture(scope="module")
def prof(doc: dict[str, Any]) -> dict[str, Any]:
    return profile(doc, top=3)


def rows(p: dict[str, Any], table: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in p[table]}


def test_time_by_component_total_self_and_wall(prof: dict[str, Any]) -> None:
    assert prof["duration_ms"] == 1000.0
    c = rows(prof, "components")
    assert set(c) == {"workflow", "node", "llm", "tool", "http"}
    assert (c["llm"]["count"], c["llm"]["total_ms"], c["llm"]["wall_ms"]) == (3, 190.0, 190.0)
    # five tool calls; fetch_a, fetch_b and fetch_c overlap: 860 ms of calls in 580 ms of wall time
    assert (c["tool"]["count"], c["tool"]["total_ms"], c["tool"]["wall_ms"]) == (5, 860.0, 580.0)
    assert c["tool"]["self_ms"] == 860.0 - 350.0  # fetch_b's HTTP call is not its own time
    assert (c["tool"]["errors"], c["tool"]["retries"]) == (1, 1)
    assert (c["http"]["count"], c["http"]["total_ms"]) == (1, 350.0)  # another tracer's span belongs to the run
    assert (c["node"]["count"], c["node"]["total_ms"], c["node"]["wall_ms"]) == (4, 1100.0, 1000.0)
    assert c["workflow"]["self_ms"] == 0.0
    assert (c["llm"]["input_tokens"], c["llm"]["output_tokens"]) == (350, 35)


def test_nodes_models_and_tools(prof: dict[str, Any]) -> None:
    nodes = rows(prof, "nodes")
    assert nodes["executor"]["total_ms"] == 700.0 and nodes["executor"]["self_ms"] == 120.0
    assert nodes["planner"]["self_ms"] == 70.0  # 200 minus its llm call (30) and the nested critic (100)
    assert nodes["executor"]["tool_calls"] == 5 and nodes["executor"]["errors"] == 0
    assert nodes["critic"]["llm_calls"] == 1 and nodes["critic"]["input_tokens"] == 200
    models = rows(prof, "models")
    assert (models["gpt-4o"]["count"], models["gpt-4o"]["total_ms"]) == (2, 110.0)
    assert (models["gpt-4o"]["input_tokens"], models["gpt-4o"]["output_tokens"]) == (300, 30)
    assert models["gpt-4o"]["cost"]["amount"] > 0  # priced from genai-prices, offline
    tools = rows(prof, "tools")
    assert (tools["search"]["count"], tools["search"]["errors"], tools["search"]["total_ms"]) == (2, 1, 80.0)
    assert tools["fetch_b"]["max_ms"] == 500.0


def test_slowest_steps_leave_out_the_run_itself(prof: dict[str, Any]) -> None:
    assert [(r["name"], r["duration_ms"]) for r in prof["slowest"]] == [
        ("invoke_agent executor", 700.0),
        ("execute_tool fetch_b", 500.0),
        ("GET", 350.0),
    ]
    assert prof["slowest"][1]["self_ms"] == 150.0


def test_critical_path_follows_the_longest_branch_of_the_fan_out(prof: dict[str, Any]) -> None:
    path = prof["critical_path"]
    assert sum(s["duration_ms"] for s in path) == pytest.approx(1000.0)
    names = [s["name"] for s in path]
    assert "execute_tool fetch_b" in names and "GET" in names
    assert "execute_tool fetch_a" not in names and "execute_tool fetch_c" not in names
    # chronological, contiguous segments
    assert all(abs(a["start_ms"] + a["duration_ms"] - b["start_ms"]) < 1e-6 for a, b in itertools.pairwise(path))
    assert prof["critical_path_by_component"] == {"http": 350.0, "tool": 230.0, "node": 230.0, "llm": 190.0}
    # the failed search and its retry ran one after the other: both on the path
    assert names.count("execute_tool search") == 2


def test_concurrency_counts_outermost_calls(prof: dict[str, Any]) -> None:
    assert prof["concurrency"] == {
        "work_steps": 8,  # the HTTP span runs inside fetch_b: not a step of its own here
        "busy_ms": 770.0,
        "idle_ms": 230.0,
        "parallel_ms": 200.0,  # fetch_a and fetch_b together (fetch_c inside that time)
        "max_in_flight": 3,
        "mean_in_flight": round(1050 / 770, 3),
    }


def test_errors_and_retries(prof: dict[str, Any], doc: dict[str, Any]) -> None:
    assert [e["name"] for e in prof["errors"]] == ["execute_tool search"]
    (retry,) = prof["retries"]
    assert retry["name"] == "execute_tool search" and retry["start_ms"] == 270.0
    assert retry["retry_of"] == prof["errors"][0]["id"]


def test_cli_text_and_json(tmp_path: Path, doc: dict[str, Any]) -> None:
    from otel_agenttrace.cli.dump import render

    run = tmp_path / "run.json"
    run.write_text(render(doc), encoding="utf-8")
    runner = CliRunner()
    done = runner.invoke(cli, ["profile", "--from", str(run), "--json", "--top", "2"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert len(data["slowest"]) == 2 and data["concurrency"]["max_in_flight"] == 3
    done = runner.invoke(cli, ["profile", "--from", str(run)])
    assert done.exit_code == 0, done.output
    text = done.output
    for heading in ("time by component", "by model", "by tool", "by node", "slowest", "critical path", "concurrency"):
        assert heading in text
    assert "critical path (http 35%, node 23%, tool 23%, llm 19%)" in text
    assert "↻" in text and "fetch_b" in text


def test_cli_bad_run_is_one_line(tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["--home", str(tmp_path), "profile", "--last"])
    assert done.exit_code == 1
    assert done.output.count("\n") == 1 and "no runs recorded yet" in done.output


def test_a_run_that_never_ended_and_a_lone_span() -> None:
    doc = handmade_run()
    cut = next(s for s in doc["steps"] if s["name"] == "execute_tool fetch_b")
    cut["duration_ms"], cut["status"] = None, "incomplete"  # counts until the end of the run
    p = profile(doc)
    assert next(r for r in p["tools"] if r["name"] == "fetch_b")["total_ms"] == 700.0
    assert sum(s["duration_ms"] for s in p["critical_path"]) == pytest.approx(1000.0)
    lone = {
        "run_id": "ab",
        "steps": [
            {
                "id": "1",
                "parent_id": None,
                "type": "span",
                "name": "x",
                "index": 0,
                "relative_ms": 0.0,
                "duration_ms": 5.0,
                "status": "ok",
                "attributes": {},
            }
        ],
    }
    p = profile(lone)
    assert p["slowest"] == [] and p["critical_path"][0]["duration_ms"] == 5.0
    assert p["concurrency"]["busy_ms"] == 5.0
    assert profile({"run_id": "empty", "steps": []})["critical_path"] == []
