"""`agenttrace run`: the child's environment, exit codes, and end to end as real processes.

The end-to-end test runs `agenttrace run -- python examples/demo_agent.py` (the demo starts its own
OpenAI-compatible stub on 127.0.0.1), then `agenttrace dump --last`, and validates the JSON against
semconv/run-trace.schema.json.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from otel_agenttrace._defaults import service_name
from otel_agenttrace.cli import run

from .cli_helpers import REPO

DEMO = REPO / "examples" / "demo_agent.py"
TIMEOUT_S = 120


# --- the environment ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (["python", "examples/demo_agent.py", "--x"], "demo_agent"),
        (["/usr/bin/python3.12", "-u", "-W", "ignore", "agent.py"], "agent"),
        (["python3", "-m", "my_pkg.agent", "arg"], "my_pkg.agent"),
        (["python", "-mmy_agent"], "my_agent"),
        (["python", "-c", "print(1)"], "python"),
        (["pypy3"], "pypy3"),
        (["./bin/my-agent", "--fast"], "my-agent"),
        (["uvicorn.exe", "app:api"], "uvicorn"),
    ],
)
def test_service_name(command: list[str], name: str) -> None:
    assert service_name(command) == name


def test_child_environment_defaults() -> None:
    child = run.child_environment(
        {"PATH": "/bin", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "x"}, ["python", "a.py"], "/h", None, "o1"
    )
    assert child == {
        "OTEL_PYTHON_DISTRO": "agenttrace",
        "OTEL_PYTHON_CONFIGURATOR": "agenttrace",
        "AGENTTRACE_RUN_ORIGIN": "o1",
        "PATH": "/bin",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "x",
        "OTEL_TRACES_EXPORTER": "agenttrace",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_SERVICE_NAME": "a",
        "AGENTTRACE_HOME": "/h",
    }


def test_child_environment_keeps_what_the_user_set() -> None:
    user = {
        "OTEL_TRACES_EXPORTER": "agenttrace,console",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_BSP_SCHEDULE_DELAY": "5000",
        "OTEL_SERVICE_NAME": "svc",
        "AGENTTRACE_WORKFLOW": "from-env",
        "OTEL_PYTHON_DISTRO": "distro",
        "OTEL_PYTHON_CONFIGURATOR": "distro",
    }
    child = run.child_environment(user, ["python", "a.py"], "/h", None, "o1")
    assert child == {**user, "AGENTTRACE_HOME": "/h", "AGENTTRACE_RUN_ORIGIN": "o1"}
    assert run.child_environment(user, ["a"], "/h", "nightly")["AGENTTRACE_WORKFLOW"] == "nightly"
    resource = {"OTEL_RESOURCE_ATTRIBUTES": "service.name=mine,team=ml"}
    assert "OTEL_SERVICE_NAME" not in run.child_environment(resource, ["python", "a.py"], "/h", None)
    # An OTLP endpoint: metrics and logs go there too, over the spec's default protocol.
    endpoint = run.child_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, ["a"], "/h", None)
    assert endpoint["OTEL_METRICS_EXPORTER"] == endpoint["OTEL_LOGS_EXPORTER"] == "otlp_proto_http"


def test_launcher_is_opentelemetry_instrument_next_to_the_interpreter() -> None:
    argv = run.launcher("/usr/bin/env")
    assert argv[-1] == "/usr/bin/env"
    assert Path(argv[0]).name == "opentelemetry-instrument" or argv[:2] == [sys.executable, "-c"]


# --- real processes -------------------------------------------------------------------------------------------


def _entry_points_dir(tmp_path: Path) -> Path | None:
    """When otel-agenttrace is not installed, a dist-info that registers its entry points for the child."""
    if entry_points(group="opentelemetry_traces_exporter", name="agenttrace"):
        return None
    dist = tmp_path / "entry-points" / "otel_agenttrace_test-0.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: otel-agenttrace-test\nVersion: 0.0.0\n")
    (dist / "entry_points.txt").write_text(
        "[opentelemetry_instrumentor]\nagenttrace = otel_agenttrace.instrumentor:AgentTraceInstrumentor\n\n"
        "[opentelemetry_traces_exporter]\nagenttrace = otel_agenttrace.exporter.run_trace:RunTraceExporter\n"
    )
    return dist.parent


@pytest.fixture
def child_env(tmp_path: Path) -> dict[str, str]:
    """A hermetic environment: no OTLP endpoint, no API key, the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTTRACE_", "OPENAI_", "ANTHROPIC_"))}
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_COLOR"):
        env.pop(name, None)
    paths = [str(REPO)]
    extra = _entry_points_dir(tmp_path)
    if extra is not None:
        paths.append(str(extra))
    env["PYTHONPATH"] = os.pathsep.join(paths + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
    env["AGENTTRACE_DEMO_STUB"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def agenttrace(args: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_agenttrace.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def test_exit_code_is_the_childs(child_env: dict[str, str], tmp_path: Path) -> None:
    done = agenttrace(["run", "--", sys.executable, "-c", "import sys; sys.exit(3)"], child_env, tmp_path)
    assert done.returncode == 3, done.stderr
    assert done.stderr.splitlines()[-1].startswith("agenttrace: no run recorded in ")


@pytest.mark.skipif(os.name != "posix", reason="signals as exit codes are POSIX")
def test_death_by_signal_is_128_plus_the_signal(child_env: dict[str, str], tmp_path: Path) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    done = agenttrace(["run", "--", sys.executable, "-c", code], child_env, tmp_path)
    assert done.returncode == 128 + signal.SIGTERM


@pytest.mark.skipif(os.name != "posix", reason="process groups and SIGINT are POSIX")
def test_ctrl_c_reaches_the_program_and_run_still_reports(child_env: dict[str, str], tmp_path: Path) -> None:
    # 'ready' is printed inside the try: a SIGINT that arrives any time after the test reads it lands in the try.
    program = (
        "import time\n"
        "try:\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    raise\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "otel_agenttrace.cli", "run", "--", sys.executable, "-c", program],
        env=child_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    out, err = child.communicate(timeout=TIMEOUT_S)
    assert out == "interrupted\n"
    assert child.returncode == 128 + signal.SIGINT
    assert err.splitlines()[-1].startswith("agenttrace: no run recorded")


def test_command_not_found(child_env: dict[str, str], tmp_path: Path) -> None:
    done = agenttrace(["run", "--", "no-such-command-here", "x"], child_env, tmp_path)
    assert done.returncode == 127
    assert done.stderr == "agenttrace: error: command not found: no-such-command-here\n"
    assert done.stdout == ""


def test_missing_command_is_a_usage_error(child_env: dict[str, str], tmp_path: Path) -> None:
    done = agenttrace(["run"], child_env, tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("agenttrace: error: Missing argument")


def test_the_child_sees_the_instrumented_environment(child_env: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "show_env.py"
    script.write_text(
        "import json, os, sys\n"
        "keys = [k for k in os.environ if k.startswith(('OTEL_', 'AGENTTRACE_'))]\n"
        "print(json.dumps({k: os.environ[k] for k in keys}))\n"
        "print(json.dumps(sys.argv[1:]))\n"
    )
    home = tmp_path / "runs"
    env = {**child_env, "OTEL_TRACES_EXPORTER": "console", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "agenttrace"}
    done = agenttrace(
        ["run", "--workflow", "nightly", "--home", "runs", "--", sys.executable, str(script), "--flag", "value"],
        env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    seen, argv = (json.loads(line) for line in done.stdout.splitlines()[-2:])
    assert seen["OTEL_TRACES_EXPORTER"] == "console"  # the user's choice stays
    assert seen["OTEL_METRICS_EXPORTER"] == seen["OTEL_LOGS_EXPORTER"] == "none"
    assert seen["OTEL_BSP_SCHEDULE_DELAY"] == "200"
    assert seen["OTEL_SERVICE_NAME"] == "show_env"
    assert seen["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] == "agenttrace"
    assert seen["AGENTTRACE_WORKFLOW"] == "nightly"
    assert seen["AGENTTRACE_HOME"] == str(home)
    assert argv == ["--flag", "value"]
    assert "does not include agenttrace" in done.stderr


def _missing_module() -> str | None:
    for module in ("otel_agenttrace.instrumentor", "otel_agenttrace.exporter.run_trace"):
        if importlib.util.find_spec(module) is None:
            return module
    return None


@pytest.mark.skipif(_missing_module() is not None, reason=f"end to end needs {_missing_module()}, not written yet")
def test_demo_agent_end_to_end(child_env: dict[str, str], tmp_path: Path, schema_validator: Any) -> None:
    done = agenttrace(["run", "--", sys.executable, str(DEMO)], child_env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Lisbon: sunny" in done.stdout  # the demo's own output passes through
    report = [line for line in done.stderr.splitlines() if line.startswith("agenttrace: run ")]
    assert len(report) == 1, done.stderr
    short_id = report[0].split()[2]

    dumped = agenttrace(["dump", "--last"], child_env, tmp_path)
    assert dumped.returncode == 0, dumped.stderr
    doc = json.loads(dumped.stdout)
    schema_validator.validate(doc)
    assert doc["run_id"].startswith(short_id)
    assert doc["status"] == "ok"
    assert doc["workflow"].startswith("demo_agent")
    assert doc["service"] == {"name": "demo_agent"}

    root, *rest = doc["steps"]
    assert root["type"] == "workflow" and root["parent_id"] is None
    # workflow → nodes (from [tool.agenttrace] targets in examples/pyproject.toml) → LLM calls and tools
    nodes = {s["name"]: s for s in rest if s["type"] == "node"}
    assert list(nodes) == ["invoke_agent planner", "invoke_agent executor", "invoke_agent writer"]
    assert all(n["parent_id"] == root["id"] for n in nodes.values())
    llm_calls = [s for s in rest if s["type"] == "llm_call"]
    # planner (1) + executor (3: search, weather x2, done) + the streamed final answer (1):
    # the app's BaseProvider.generate and the SDK call inside it are ONE step
    assert len(llm_calls) == 5
    assert [s["node"] for s in llm_calls] == ["planner", "executor", "executor", "executor", "writer"]
    assert all(s["parent_id"] == nodes[f"invoke_agent {s['node']}"]["id"] for s in llm_calls)
    assert all(s["provider"] == "openai" and s["usage"]["input_tokens"] > 0 for s in llm_calls)
    assert llm_calls[-1]["request"].get("stream") is True
    tools = [s for s in rest if s["type"] == "tool_call"]
    assert [(t["name"], t["status"]) for t in tools] == [
        ("execute_tool search_docs", "ok"),
        ("execute_tool get_weather", "ok"),
        ("execute_tool get_weather", "error"),
    ]
    assert all(t["node"] == "executor" for t in tools)
    assert "no forecast for 'Atlantis'" in tools[-1]["error"]["message"]

    def tool_calls(step: dict[str, Any]) -> list[tuple[str, Any]]:
        return [
            (p["name"], p["arguments"]) for m in step["output"] or [] for p in m["parts"] if p["type"] == "tool_call"
        ]

    assert [tool_calls(s) for s in llm_calls] == [
        [
            (
                "submit_plan",
                {
                    "steps": [
                        "Search the docs for how to send agent traces to Jaeger",
                        "Get the weather in Lisbon",
                        "Get the weather in Atlantis",
                    ]
                },
            )
        ],
        [("search_docs", {"query": "send traces to jaeger"})],
        [("get_weather", {"city": "Lisbon"}), ("get_weather", {"city": "Atlantis"})],
        [],
        [],
    ]
    # The failed tool call went back to the model as a tool result.
    responses = [p for m in llm_calls[3]["input"] for p in m["parts"] if p["type"] == "tool_call_response"]
    assert len(responses) == 3
    assert any("no forecast for 'Atlantis'" in json.dumps(p) for p in responses)
    assert doc["final_output"] and "Atlantis" in doc["final_output"]

    shown = agenttrace(["show", short_id], child_env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert '→ get_weather(city="Lisbon"), get_weather(city="Atlantis")' in shown.stdout
    listed = agenttrace(["list", "--json"], child_env, tmp_path)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [doc["run_id"]]
