"""A program with the real opentelemetry-instrumentation-requests, under `agenttrace run`, forwarding over
OTLP/HTTP (which the exporter sends with `requests`): its own HTTP calls are `span` steps of its one run,
and the exporter's requests are not traced (they would be runs of their own)."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from otlp_receiver import OTLPReceiver

from otel_agenttrace.exporter.store import RunStore

pytest.importorskip("opentelemetry.instrumentation.requests")

# No explicit workflow: the process's run root is the parent of any span started with no active span, so a
# traced exporter request would land inside this run. The pause lets a batch be forwarded mid-run.
PROGRAM = """
import sys, time
import requests
import otel_agenttrace

@otel_agenttrace.tool("fetch")
def fetch(url):
    return requests.get(url, timeout=5).status_code

first = fetch(sys.argv[1])
time.sleep(1.0)
print(first, fetch(sys.argv[1] + "missing"))
"""


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404 if self.path.endswith("missing") else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_requests_spans_join_the_run_and_the_exporter_is_not_traced(tmp_path: Path, site: str) -> None:
    (tmp_path / "fetcher.py").write_text(PROGRAM)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTTRACE_"))}
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(name, None)
    with OTLPReceiver() as receiver:
        env.update(
            {
                "AGENTTRACE_HOME": str(tmp_path / "runs"),
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            }
        )
        done = subprocess.run(
            [sys.executable, "-m", "otel_agenttrace.cli", "run", "--", sys.executable, "fetcher.py", site],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["200", "404"]
        forwarded = list(receiver.spans)
    with RunStore(tmp_path / "runs") as store:
        runs = store.list_runs(limit=10)
        assert [r.workflow for r in runs] == ["fetcher"]  # no run made of the exporter's own POSTs
        records = store.spans(runs[0].run_id)
    http = sorted((r for r in records if r.scope == "opentelemetry.instrumentation.requests"), key=lambda r: r.start_ns)
    assert [r.name for r in http] == ["GET", "GET"]
    tools = {r.span_id: r for r in records if r.name == "execute_tool fetch"}
    assert all(r.parent_id in tools for r in http)  # each under the tool call that made it
    assert not [r.name for r in records if r.name.startswith("POST")]  # the exporter's requests are not traced
    assert {s.name for s in forwarded} >= {"GET", "execute_tool fetch", "invoke_workflow fetcher"}
    assert not [s.name for s in forwarded if s.name.startswith("POST")]
