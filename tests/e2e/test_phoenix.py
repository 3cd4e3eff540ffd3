"""End to end with a real Arize Phoenix: `agenttrace run` forwards a demo run over OTLP/HTTP into a project,
then `list --from phoenix`, `show --from phoenix` and `dump --from phoenix` read it back.

Needs `phoenix` (pip install arize-phoenix): the executable named by $AGENTTRACE_PHOENIX_BIN, else `phoenix` on
PATH; skipped without one. `.ci/run` installs arize-phoenix in .venv-phoenix and runs this once:

    AGENTTRACE_PHOENIX_BIN=.venv-phoenix/bin/phoenix .venv/bin/python -m pytest -q -m phoenix tests/e2e
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = "agenttrace-e2e"
STARTUP_S = 180.0

pytestmark = pytest.mark.phoenix


def _phoenix_bin() -> str | None:
    return os.environ.get("AGENTTRACE_PHOENIX_BIN") or shutil.which("phoenix")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    executable = _phoenix_bin()
    if not executable or (not Path(executable).exists() and not shutil.which(executable)):
        pytest.skip("no phoenix executable (pip install arize-phoenix; or set AGENTTRACE_PHOENIX_BIN)")
    workdir = tmp_path_factory.mktemp("phoenix")
    port = _free_port()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(_free_port()),
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen([executable, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/v1/projects", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"phoenix did not start: {(workdir / 'server.log').read_text(errors='replace')[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _agenttrace(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "otel_agenttrace.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env or dict(os.environ))


def _core(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(s["id"], s["parent_id"], s["type"], s["name"], s["status"], s["usage"]) for s in doc["steps"]]


def test_a_run_sent_to_phoenix_reads_back(phoenix: str, tmp_path: Path) -> None:
    home = tmp_path / "store"
    env = {
        **os.environ,
        "AGENTTRACE_HOME": str(home),
        "AGENTTRACE_DEMO_STUB": "1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": phoenix,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
        "OTEL_RESOURCE_ATTRIBUTES": f"openinference.project.name={PROJECT}",
    }
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(name, None)
    ran = _agenttrace("run", "--", sys.executable, str(REPO / "examples" / "demo_agent.py"), env=env)
    assert ran.returncode == 0, ran.stderr
    local = json.loads(_agenttrace("dump", "--last", env=env).stdout)
    run_id = local["run_id"]

    remote_args = ("--from", "phoenix", phoenix, "--project", PROJECT)
    deadline = time.monotonic() + 60
    while True:  # Phoenix ingests asynchronously
        listed = _agenttrace("list", *remote_args, "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        runs = {r["run_id"]: r for r in json.loads(listed.stdout)}
        if run_id in runs and runs[run_id]["steps"] == len(local["steps"]):
            break
        assert time.monotonic() < deadline, (listed.stdout, local["steps"])
        time.sleep(1)
    row = runs[run_id]
    assert (row["workflow"], row["status"]) == (local["workflow"], "ok")
    usage = local["usage"]
    assert (row["input_tokens"], row["output_tokens"]) == (usage["input_tokens"], usage["output_tokens"])

    shown = _agenttrace("show", *remote_args, run_id, env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"run {run_id}  {local['workflow']}  ok")

    dumped = _agenttrace("dump", *remote_args, run_id, env=env)
    assert dumped.returncode == 0, dumped.stderr
    remote = json.loads(dumped.stdout)
    assert _core(remote) == _core(local)
    assert remote["final_output"] == local["final_output"]  # content was opted in, so it came back
    root = remote["steps"][0]
    assert root["type"] == "workflow" and root["input"] and root["output"]  # the run's input and output, on its root

    wrong = _agenttrace("list", "--from", "phoenix", phoenix, "--project", "no-such-project", env=env)
    assert wrong.returncode == 1 and len(wrong.stderr.splitlines()) == 1 and "no-such-project" in wrong.stderr
