"""`agenttrace replay` end to end, as a user runs it: the README demo recorded with `agenttrace run`
against the stub server, the stub stopped (no listener at all), then replayed as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_agenttrace.exporter._schema import validate

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "examples"))
import stub_server  # noqa: E402
from stub_server import StubServer  # noqa: E402

TIMEOUT_S = 240


def hermetic_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTTRACE_", "OPENAI_", "ANTHROPIC_"))}
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_COLOR"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def agenttrace(args: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**hermetic_env(), **extra}
    return subprocess.run(
        [sys.executable, "-m", "otel_agenttrace.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


class Recorded:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.home = tmp / "home"
        with StubServer() as stub:
            self.base_url = stub.base_url
            done = agenttrace(
                ["--home", str(self.home), "run", "--", sys.executable, str(REPO / "examples" / "demo_agent.py")],
                tmp,
                AGENTTRACE_DEMO_BASE_URL=stub.base_url,
                AGENTTRACE_ENV_ALLOW="AGENTTRACE_DEMO_*",
            )
        assert done.returncode == 0, done.stderr
        self.stdout = done.stdout
        dump = agenttrace(["--home", str(self.home), "dump", "--last", "--with-recording"], tmp)
        assert dump.returncode == 0, dump.stderr
        self.doc: dict[str, Any] = json.loads(dump.stdout)

    def replay(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return agenttrace(["--home", str(self.home), "replay", self.doc["run_id"], *args], self.tmp, **env)

    def copy_of_demo(self, name: str, file: str, old: str, new: str) -> Path:
        """A copy of examples/ with one edit: a new version of the agent."""
        target = self.tmp / name
        shutil.copytree(REPO / "examples", target, ignore=shutil.ignore_patterns("__pycache__"))
        path = target / "agentapp" / file
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return target / "demo_agent.py"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    yield Recorded(tmp_path_factory.mktemp("demo"))


def test_the_recording_holds_the_exchanges_tools_and_command(recorded: Recorded) -> None:
    doc = recorded.doc
    validate(doc)  # dump --with-recording output matches the published schema
    assert doc["schema_version"] == 2
    assert doc["command"]["argv"] == [str(REPO / "examples" / "demo_agent.py")]
    assert doc["command"]["env"] == {"AGENTTRACE_DEMO_BASE_URL": recorded.base_url}
    recording = doc["recording"]
    llm_steps = [s for s in doc["steps"] if s["type"] == "llm_call"]
    assert len(recording["exchanges"]) == len(llm_steps) == 5
    assert {x["path"] for x in recording["exchanges"]} == {"/v1/chat/completions"}
    assert [x["node"] for x in recording["exchanges"]] == [s["node"] for s in llm_steps]
    assert [t["name"] for t in recording["tools"]] == ["search_docs", "get_weather", "get_weather"]
    atlantis = recording["tools"][2]
    assert atlantis["arguments"] == {"city": "Atlantis"}


def test_model_mode_with_no_listener_reproduces(recorded: Recorded) -> None:
    done = recorded.replay()  # the stub is stopped: any request would fail to connect
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(recorded.stdout)  # the program's own output, then the report
    assert "reproduced" in done.stdout and "0 changed, 0 added, 0 removed" in done.stdout


def test_a_one_word_prompt_change_diverges_at_that_step(recorded: Recorded) -> None:
    script = recorded.copy_of_demo("changed", "nodes.py", "into short steps", "into small steps")
    done = recorded.replay("--json", "--", sys.executable, str(script))
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)  # the program's stdout went to stderr
    assert report["result"] == "diverged" and report["original"] == recorded.doc["run_id"]
    assert report["replay"] not in (None, recorded.doc["run_id"])
    first = report["comparison"]["first_divergence"]
    assert first["node"] == "planner" and first["type"] == "llm_call" and first["kind"] == "changed"
    assert first["changes"][0]["field"].startswith("input/")
    assert "short steps" in first["changes"][0]["a"] and "small steps" in first["changes"][0]["b"]
    engine = [d for d in report["divergences"] if d["kind"] == "request"]
    assert engine and engine[0]["node"] == "planner"


def test_an_extra_llm_call_exhausts_the_recording(recorded: Recorded) -> None:
    script = recorded.copy_of_demo(
        "extra",
        "pipeline.py",
        "    return Writer(provider).run(question, findings)",
        "    Writer(provider).run(question, findings)\n    return Writer(provider).run(question, findings)",
    )
    done = recorded.replay("--", sys.executable, str(script))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "exhausted" in done.stdout
    assert "ReplayDivergence" in done.stderr  # raised into the program, which stopped


def test_live_mode_replays_tools_and_reports_the_first_different_output(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = stub_server.script

    def other_answers(request: dict[str, Any]) -> dict[str, Any]:
        turn = original(request)
        if not request.get("tools"):
            turn = {**turn, "content": "Lisbon: rain. Jaeger takes OTLP on 4317."}
        return turn

    monkeypatch.setattr(stub_server, "script", other_answers)
    with StubServer() as stub:
        done = recorded.replay("--mode", "live", "--json", AGENTTRACE_DEMO_BASE_URL=stub.base_url)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    first = report["comparison"]["first_divergence"]
    assert first["node"] == "writer" and first["type"] == "llm_call"
    assert first["changes"][0]["field"].startswith("output")
    assert "Lisbon: rain." in json.dumps(first["changes"][0]["b"])
    assert report["comparison"]["counts"]["added"] == 0 and report["comparison"]["counts"]["removed"] == 0


def test_trouble_is_exit_2_on_one_line(recorded: Recorded, tmp_path: Path) -> None:
    unknown = agenttrace(["--home", str(recorded.home), "replay", "ffffffff"], tmp_path)
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1 and "ffffffff" in unknown.stderr
    v1 = agenttrace(["replay", str(REPO / "tests" / "data" / "run-trace-v1.json")], tmp_path)
    assert v1.returncode == 2 and "has no recording" in v1.stderr and v1.stderr.count("\n") == 1
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({**recorded.doc, "schema_version": 99}), encoding="utf-8")
    refused = agenttrace(["replay", str(newer)], tmp_path)
    assert refused.returncode == 2 and "schema_version 99" in refused.stderr and refused.stderr.count("\n") == 1


def test_strict_stops_the_program_at_the_changed_request(recorded: Recorded) -> None:
    script = recorded.copy_of_demo("strict", "nodes.py", "into short steps", "into small steps")
    done = recorded.replay("--strict", "--json", "--", sys.executable, str(script))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ReplayDivergence" in done.stderr and "differs from the recording at /messages/0/content" in done.stderr
    report = json.loads(done.stdout)
    assert report["result"] == "diverged" and report["divergences"][0]["kind"] == "request"


def test_a_program_that_fails_where_the_original_did_not_is_exit_4(recorded: Recorded) -> None:
    done = recorded.replay("--", sys.executable, "-c", "raise SystemExit(5)")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "failed" in done.stdout and "exited with 5" in done.stdout
