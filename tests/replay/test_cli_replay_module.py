"""`agenttrace run -- python -m pkg ARGS` then `agenttrace replay RUN`, as subprocesses: the replay re-runs
`python -m pkg ARGS` (the package's relative imports work only that way), and its tool calls — a
`@tool` with a side effect and an MCP tool on a stdio server — are answered from the recording: the
counters they keep do not move; with `--tools live` they do."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

mcp = pytest.importorskip("mcp")
if not hasattr(mcp, "Client"):
    pytest.skip("mcp 2.x only", allow_module_level=True)

from .test_cli_replay import agenttrace  # noqa: E402

SERVER = Path(__file__).with_name("mcp_counter_server.py")

MAIN = """\
import sys

from .work import run

print(run(int(sys.argv[1]), sys.argv[2]))
"""

WORK = """\
import asyncio
import os
import sys
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from otel_agenttrace import tool, workflow


@tool
def bump(by: int) -> dict:
    path = Path(os.environ["TOOL_COUNTER"])
    value = int(path.read_text() if path.exists() else "0") + by
    path.write_text(str(value))
    return {{"value": value}}


async def ask(step: int) -> dict:
    params = StdioServerParameters(
        command=sys.executable, args=[{server!r}], env={{"COUNTER_FILE": os.environ["MCP_COUNTER"]}}
    )
    async with Client(params) as client:
        result = await client.call_tool("count", {{"step": step}})
        return result.structured_content


def run(by: int, label: str) -> str:
    with workflow("pkg-" + label):
        return f"{{label}}: {{bump(by)}} {{asyncio.run(ask(by))}}"
"""


def test_python_m_pkg_is_replayed_as_python_m_pkg(tmp_path: Path) -> None:
    package = tmp_path / "agentpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(MAIN)
    (package / "work.py").write_text(textwrap.dedent(WORK.format(server=str(SERVER))))
    tool_counter, mcp_counter = tmp_path / "tool-count", tmp_path / "mcp-count"
    env = {"TOOL_COUNTER": str(tool_counter), "MCP_COUNTER": str(mcp_counter)}
    home = str(tmp_path / "home")

    done = agenttrace(["--home", home, "run", "--", sys.executable, "-m", "agentpkg", "2", "first"], tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "first: {'value': 2} {'count': 2}"
    dump = agenttrace(["--home", home, "dump", "--last", "--with-recording"], tmp_path)
    assert dump.returncode == 0, dump.stderr
    doc = json.loads(dump.stdout)
    assert doc["command"]["orig_argv"][1:] == ["-m", "agentpkg", "2", "first"]
    assert [t["name"] for t in doc["recording"]["tools"]] == ["bump", "count"]

    other = tmp_path / "elsewhere"  # replay runs in the recorded working directory, wherever it is started
    other.mkdir()
    replay = agenttrace(["--home", home, "replay", doc["run_id"], "--json"], other, **env)
    assert replay.returncode == 0, (replay.stdout, replay.stderr)
    outcome = json.loads(replay.stdout)
    assert outcome["result"] == "reproduced" and outcome["comparison"]["equivalent"] is True
    assert "first: {'value': 2} {'count': 2}" in replay.stderr  # the program's stdout, moved aside by --json
    assert (tool_counter.read_text(), mcp_counter.read_text()) == ("2", "2")  # no tool ran

    live = agenttrace(["--home", home, "replay", doc["run_id"], "--tools", "live"], other, **env)
    assert (tool_counter.read_text(), mcp_counter.read_text()) == ("4", "4")  # both ran for real
    assert live.returncode == 1, (live.stdout, live.stderr)  # their results differ from the recording


def test_the_recorded_interpreter_command_line_is_what_runs(tmp_path: Path) -> None:
    from otel_agenttrace.replay._runner import ReplayTrouble, recorded_command

    def command(**recorded: object) -> list[str]:
        argv, cwd = recorded_command({"run_id": "r", "command": {"argv": ["x"], "cwd": str(tmp_path), **recorded}})
        assert argv[0] == sys.executable and cwd == str(tmp_path)
        return argv[1:]

    py = "/usr/bin/python3"
    assert command(orig_argv=[py, "-X", "dev", "-u", "-m", "pkg", "a"]) == ["-X", "dev", "-u", "-m", "pkg", "a"]
    assert command(orig_argv=[py, "-W", "error", "agent.py", "--flag"]) == ["-W", "error", "agent.py", "--flag"]
    assert command(orig_argv=[py, "-c", "print(1)", "a"]) == ["-c", "print(1)", "a"]
    assert command(argv=["agent.py", "a"]) == ["agent.py", "a"]  # recorded before orig_argv was
    for bad in ([py], [py, "-"], [py, "-u"], [py, "-c", "key = '[REDACTED:openai_key]'"]):
        with pytest.raises(ReplayTrouble):
            command(orig_argv=bad)
    with pytest.raises(ReplayTrouble, match="python -m"):
        command(argv=["-m", "a"])  # an old recording of `python -m pkg a` under sitecustomize
