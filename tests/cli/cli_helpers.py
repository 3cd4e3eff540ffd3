"""Span records of made-up runs, their OTLP JSON encoding, and a loopback HTTP server for backend bodies."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from click.testing import Result

from otel_agenttrace import semconv as sc
from otel_agenttrace.exporter._records import SpanEvent, SpanRecord

REPO = Path(__file__).resolve().parents[2]
BACKENDS = REPO / "tests" / "data" / "backends"
SCHEMA_FILE = REPO / "semconv" / "run-trace.schema.json"

Invoke = Callable[..., Result]

BASE_NS = 1_795_428_000_000_000_000  # 2026-11-23T10:00:00Z
MS = 1_000_000

# Two runs share the prefix "abcd" so an abbreviation can be ambiguous; the third is unique.
WHALE_RUN = "abcd1111" + "0" * 23 + "1"
NIGHTLY_RUN = "abcd2222" + "0" * 23 + "2"
CRASHED_RUN = "feed" + "0" * 27 + "3"


def span(
    trace_id: str,
    span_id: str,
    parent: str | None,
    name: str,
    start_ms: float,
    duration_ms: float | None,
    attributes: Mapping[str, Any],
    *,
    kind: str = "INTERNAL",
    status: str = "UNSET",
    message: str | None = None,
    events: Sequence[SpanEvent] = (),
    base_ns: int = BASE_NS,
) -> SpanRecord:
    start = base_ns + int(start_ms * MS)
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent,
        name=name,
        kind=kind,
        start_ns=start,
        end_ns=None if duration_ms is None else start + int(duration_ms * MS),
        status=status,
        status_message=message,
        attributes=dict(attributes),
        events=list(events),
        resource={"service.name": "whale-agent"},
        scope="otel_agenttrace",
    )


def _messages(*parts: dict[str, Any], role: str = "assistant", finish: str | None = None) -> str:
    message: dict[str, Any] = {"role": role, "parts": list(parts)}
    if finish:
        message["finish_reason"] = finish
    return json.dumps([message])


def llm(
    trace_id: str,
    span_id: str,
    parent: str,
    start_ms: float,
    duration_ms: float,
    output: str,
    usage: tuple[int, int],
    model: str = "gpt-4o",
    base_ns: int = BASE_NS,
) -> SpanRecord:
    return span(
        trace_id,
        span_id,
        parent,
        f"chat {model}",
        start_ms,
        duration_ms,
        {
            sc.GEN_AI_OPERATION_NAME: sc.Operation.CHAT,
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: model,
            sc.GEN_AI_RESPONSE_MODEL: model,
            sc.GEN_AI_USAGE_INPUT_TOKENS: usage[0],
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: usage[1],
            sc.GEN_AI_OUTPUT_MESSAGES: output,
        },
        kind="CLIENT",
        base_ns=base_ns,
    )


def whale_run(trace_id: str = WHALE_RUN, base_ns: int = BASE_NS) -> list[SpanRecord]:
    """workflow -> node planner -> (llm asking for search, failing search tool, llm answering)."""
    root, node = "00f067aa0ba902b7", "53995c3f42cd8ad8"
    search_call = _messages(
        {"type": "tool_call", "id": "call_1", "name": "search", "arguments": {"q": "blue whale length"}},
        finish="tool_call",
    )
    answer = _messages({"type": "text", "content": "Blue whales grow up to about 30 m long."}, finish="stop")
    return [
        span(
            trace_id,
            root,
            None,
            "invoke_workflow whaleflow",
            0,
            2400,
            {sc.GEN_AI_OPERATION_NAME: sc.Operation.INVOKE_WORKFLOW, sc.GEN_AI_WORKFLOW_NAME: "whaleflow"},
            base_ns=base_ns,
        ),
        span(
            trace_id,
            node,
            root,
            "invoke_agent planner",
            1,
            2390,
            {sc.GEN_AI_OPERATION_NAME: sc.Operation.INVOKE_AGENT, sc.AGENTTRACE_NODE_NAME: "planner"},
            base_ns=base_ns,
        ),
        llm(trace_id, "5fb397be34d26b51", node, 3, 810, search_call, (400, 40), base_ns=base_ns),
        span(
            trace_id,
            "b7ad6b7169203331",
            node,
            "execute_tool search",
            815,
            1000,
            {
                sc.GEN_AI_OPERATION_NAME: sc.Operation.EXECUTE_TOOL,
                sc.GEN_AI_TOOL_NAME: "search",
                sc.GEN_AI_TOOL_CALL_ID: "call_1",
                sc.GEN_AI_TOOL_CALL_ARGUMENTS: json.dumps({"q": "blue whale length"}),
                sc.ERROR_TYPE: "TimeoutError",
            },
            status="ERROR",
            message="search backend timed out",
            base_ns=base_ns,
        ),
        llm(trace_id, "c8e2a1f0d4b39a77", node, 1820, 570, answer, (412, 55), base_ns=base_ns),
    ]


def nightly_run() -> list[SpanRecord]:
    """A failed run, one hour after the whale run: the root ends in error."""
    base = BASE_NS + 3600 * 1_000_000_000
    root = "1111aaaa2222bbbb"
    reply = _messages({"type": "text", "content": "Summary: nothing new."}, finish="stop")
    return [
        span(
            NIGHTLY_RUN,
            root,
            None,
            "invoke_workflow nightly",
            0,
            900,
            {sc.GEN_AI_OPERATION_NAME: sc.Operation.INVOKE_WORKFLOW, sc.GEN_AI_WORKFLOW_NAME: "nightly"},
            status="ERROR",
            message="RuntimeError: quota exhausted",
            base_ns=base,
        ),
        llm(NIGHTLY_RUN, "3333cccc4444dddd", root, 10, 500, reply, (100, 10), model="claude-sonnet-4", base_ns=base),
    ]


def crashed_run() -> tuple[list[SpanRecord], list[SpanRecord]]:
    """(finished spans, start records of spans that never ended): the newest run, killed mid-call."""
    base = BASE_NS + 7200 * 1_000_000_000
    root = "5555eeee6666ffff"
    finished = [
        llm(
            CRASHED_RUN,
            "7777aaaa8888bbbb",
            root,
            5,
            100,
            _messages({"type": "text", "content": "hi"}),
            (5, 1),
            base_ns=base,
        )
    ]
    started = [
        span(
            CRASHED_RUN,
            root,
            None,
            "invoke_workflow crashy",
            0,
            None,
            {sc.GEN_AI_OPERATION_NAME: sc.Operation.INVOKE_WORKFLOW, sc.GEN_AI_WORKFLOW_NAME: "crashy"},
            base_ns=base,
        ),
        llm(CRASHED_RUN, "9999cccc0000dddd", root, 200, 0, "", (0, 0), base_ns=base),
    ]
    started[1].end_ns = None
    return finished, started


# --- OTLP JSON (the Collector file exporter's format) -------------------------------------------------------------


def _any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _key_values(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _any_value(v)} for k, v in attributes.items()]


def otlp_line(records: Sequence[SpanRecord], base64_ids: bool = False) -> str:
    """One ExportTraceServiceRequest on one line, as the Collector's file exporter writes it."""

    def ident(hex_id: str) -> str:
        return base64.b64encode(bytes.fromhex(hex_id)).decode() if base64_ids else hex_id

    spans = []
    for r in records:
        item: dict[str, Any] = {
            "traceId": ident(r.trace_id),
            "spanId": ident(r.span_id),
            "name": r.name,
            "kind": f"SPAN_KIND_{r.kind}",
            "startTimeUnixNano": str(r.start_ns),
            "endTimeUnixNano": str(r.end_ns or r.start_ns),
            "attributes": _key_values(r.attributes),
            "status": {
                "code": f"STATUS_CODE_{r.status}",
                **({"message": r.status_message} if r.status_message else {}),
            },
        }
        if r.parent_id:
            item["parentSpanId"] = ident(r.parent_id)
        spans.append(item)
    request = {
        "resourceSpans": [
            {
                "resource": {"attributes": _key_values(records[0].resource if records else {})},
                "scopeSpans": [{"scope": {"name": "otel_agenttrace"}, "spans": spans}],
            }
        ]
    }
    return json.dumps(request, separators=(",", ":"))


# --- a backend on 127.0.0.1 -----------------------------------------------------------------------------------------


class Routes:
    """path -> (status, body bytes, content type); anything else is a 404 with a JSON error."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, str]] = {}
        self.requests: list[str] = []

    def json(self, path: str, body: Any, status: int = 200) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.routes[path] = (status, data, "application/json")

    def raw(self, path: str, body: bytes, status: int = 200, content_type: str = "text/plain") -> None:
        self.routes[path] = (status, body, content_type)


@contextmanager
def backend(routes: Routes) -> Iterator[str]:
    """Serve `routes` on 127.0.0.1 (ephemeral port); yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            routes.requests.append(self.path)
            status, body, content_type = routes.routes.get(
                self.path, (404, b'{"error":{"code":404,"message":"trace not found"}}', "application/json")
            )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def assert_one_line_error(result: Result, code: int = 1, *fragments: str) -> str:
    """The failure is exit `code`, nothing on stdout, one `agenttrace: error:` line on stderr containing `fragments`."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("agenttrace: error: "), lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]
