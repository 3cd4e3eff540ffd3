"""Spans of another OpenTelemetry instrumentation in a run: they belong to it, as `span` steps, and
appear in `profile` (as http time), `show` and the view.

The HTTP client spans are made by hand, by a tracer of another instrumentation scope, with the
attributes opentelemetry-instrumentation-requests sets, around real requests to a loopback server, so
that their timings are exact; test_requests_instrumentation.py runs the real package end to end.
"""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

import otel_agenttrace
from otel_agenttrace._profile import profile
from otel_agenttrace.cli.show import render
from tests.replay.conftest import Recorder


class _Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200 if self.path != "/missing" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def run(tmp_path: Path, server: str) -> Iterator[dict[str, Any]]:
    from otel_agenttrace._capture import policy_from_env

    recorder = Recorder(tmp_path / "home", policy_from_env({}))
    client = recorder.provider.get_tracer("opentelemetry.instrumentation.requests", "0.66b2")

    def get(url: str) -> int:
        # What opentelemetry-instrumentation-requests records (its default, the older HTTP conventions).
        with client.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes={"http.method": "GET"}) as span:
            span.set_attribute("http.url", url)
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    status = answer.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            span.set_attribute("http.status_code", status)
            if status >= 400:
                span.set_status(Status(StatusCode.ERROR))
            return status

    try:

        @otel_agenttrace.tool
        def fetch(path: str) -> int:
            return get(server + path)

        with otel_agenttrace.workflow("fetcher"), otel_agenttrace.node("reader"):
            assert fetch("/a") == 200
            assert get(server + "/missing") == 404
        assert trace.get_current_span() is trace.INVALID_SPAN
        yield recorder.run()
    finally:
        recorder.close()


def test_requests_spans_are_span_steps_of_the_run(run: dict[str, Any]) -> None:
    spans = [s for s in run["steps"] if s["type"] == "span"]
    assert [s["name"] for s in spans] == ["GET", "GET"]
    by_id = {s["id"]: s for s in run["steps"]}
    assert by_id[spans[0]["parent_id"]]["type"] == "tool_call"  # inside the tool that made the request
    assert by_id[spans[1]["parent_id"]]["type"] == "node"
    assert all(s["node"] == "reader" for s in spans)
    attrs = spans[1]["attributes"]  # the old HTTP conventions unless OTEL_SEMCONV_STABILITY_OPT_IN=http
    assert attrs.get("http.response.status_code", attrs.get("http.status_code")) == 404


def test_profile_counts_them_as_http(run: dict[str, Any]) -> None:
    p = profile(run)
    http = next(r for r in p["components"] if r["name"] == "http")
    assert http["count"] == 2 and http["total_ms"] > 0
    tool = next(r for r in p["components"] if r["name"] == "tool")
    assert tool["self_ms"] < tool["total_ms"]  # the HTTP call is not the tool's own time
    assert p["concurrency"]["work_steps"] == 2  # the tool call, and the request made outside it


def test_show_prints_them_and_can_fold_them(run: dict[str, Any]) -> None:
    lines = render(run)
    span_lines = [line for line in lines if " span " in line]
    assert len(span_lines) == 2 and any("GET 127.0.0.1" in line and "404" in line for line in span_lines)
    folded = render(run, spans=False)
    assert not any(" span " in line for line in folded)
    assert any("+1 span" in line for line in folded if " tool " in line)
    assert any("2 spans folded (--spans shows them)" in line for line in folded)


def test_the_view_holds_them(run: dict[str, Any]) -> None:
    from otel_agenttrace import view

    page = view.render(run)
    assert '"type":"span"' in page and "GET 127.0.0.1" in page  # the step and its summary
