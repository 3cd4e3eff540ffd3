"""Loopback servers that answer like Tempo, Jaeger and Phoenix do (bodies recorded from or shaped exactly like
the real APIs, in tests/data/backends), and misbehaving servers: slow, dripping, oversized, HTML."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .cli_helpers import BACKENDS

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"  # the run in tempo-*/jaeger-* samples
PHOENIX_TRACE = "5075042ee28e03d173b2e22e6c50616e"  # the run in phoenix-spans-otlpv1-page*.json (Phoenix 20.26.1)
SERVICE = "whaleflow-agent"

Answer = tuple[int, bytes, str]  # status, body, content type
Handler = Callable[[str, dict[str, list[str]], dict[str, str]], Answer]


def sample(name: str) -> Any:
    return json.loads((BACKENDS / name).read_text(encoding="utf-8"))


def js(body: Any, status: int = 200) -> Answer:
    return status, json.dumps(body).encode(), "application/json"


class Recorder:
    """What the fake backend was asked: paths, parsed queries, headers."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.queries: list[dict[str, list[str]]] = []
        self.headers: list[dict[str, str]] = []


@contextmanager
def serve(handler: Handler) -> Iterator[tuple[str, Recorder]]:
    """Serve `handler(path, query, headers)` on 127.0.0.1; yields (base URL, recorder)."""
    seen = Recorder()

    class Handler_(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(parts.query)
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen.paths.append(parts.path)
            seen.queries.append(query)
            seen.headers.append(headers)
            status, body, content_type = handler(parts.path, query, headers)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that hung up on purpose (a refused body); CliRunner would capture the traceback

    server = Server(("127.0.0.1", 0), Handler_)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def not_found() -> Answer:
    return js({"error": {"code": 404, "message": "not found"}}, 404)


# --- each backend's API -----------------------------------------------------------------------------------------


def tempo_api(path: str, query: dict[str, list[str]], headers: dict[str, str]) -> Answer:
    """Tempo 2.x: /api/search (TraceQL) and /api/v2/traces/{id}."""
    if path == "/api/search":
        trace = sample("tempo-api-v2-traces.json")["trace"]
        root = trace["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        return js(
            {
                "traces": [
                    {
                        "traceID": TRACE.lstrip("0"),
                        "rootServiceName": SERVICE,
                        "rootTraceName": root["name"],
                        "startTimeUnixNano": root["startTimeUnixNano"],
                        "durationMs": 2391,
                        "spanSets": [
                            {
                                "spans": [
                                    {
                                        "spanID": "00f067aa0ba902b7",
                                        "startTimeUnixNano": root["startTimeUnixNano"],
                                        "durationNanos": "2391500000",
                                    }
                                ],
                                "matched": 1,
                            }
                        ],
                    }
                ],
                "metrics": {"inspectedBytes": "15432", "completedJobs": 1, "totalJobs": 1},
            }
        )
    if path == f"/api/v2/traces/{TRACE}":
        return js(sample("tempo-api-v2-traces.json"))
    return not_found()


def jaeger_v3_api(path: str, query: dict[str, list[str]], headers: dict[str, str]) -> Answer:
    """Jaeger v2's api/v3: services, operations, traces (search) and traces/{id}."""
    if path == "/api/v3/services":
        return js({"services": [SERVICE, "jaeger-all-in-one"]})
    if path == "/api/v3/operations":
        if query.get("service") == [SERVICE]:
            return js(
                {
                    "operations": [
                        {"name": "invoke_workflow whaleflow", "spanKind": "internal"},
                        {"name": "chat gpt-4o", "spanKind": "client"},
                    ]
                }
            )
        return js({"operations": [{"name": "/api/traces", "spanKind": "server"}]})
    if path == "/api/v3/traces":
        if query.get("query.service_name") == [SERVICE] and query.get("query.operation_name") == [
            "invoke_workflow whaleflow"
        ]:
            return js(sample("jaeger-api-v3-traces.json"))
        return js({"error": {"code": 404, "message": "No traces found"}}, 404)
    if path == f"/api/v3/traces/{TRACE}":
        return js(sample("jaeger-api-v3-traces.json"))
    return not_found()


def jaeger_v1_api(path: str, query: dict[str, list[str]], headers: dict[str, str]) -> Answer:
    """Jaeger v1's JSON API: /api/services, /api/services/{s}/operations, /api/traces (search), /api/traces/{id}."""
    if path == "/api/services":
        return js({"data": [SERVICE], "total": 1, "limit": 0, "offset": 0, "errors": None})
    if path == f"/api/services/{SERVICE}/operations":
        return js({"data": ["chat gpt-4o", "invoke_workflow whaleflow"], "total": 2, "limit": 0, "offset": 0})
    if path == "/api/traces" and query.get("operation") == ["invoke_workflow whaleflow"]:
        return js(sample("jaeger-api-traces.json"))
    if path == f"/api/traces/{TRACE}":
        return js(sample("jaeger-api-traces.json"))
    return js({"data": None, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": 404, "msg": "not found"}]}, 404)


def phoenix_api(path: str, query: dict[str, list[str]], headers: dict[str, str]) -> Answer:
    """Phoenix 20.26: /v1/projects/{project}/spans/otlpv1, paged by next_cursor (pages recorded from a real one)."""
    if path != "/v1/projects/default/spans/otlpv1":
        if path.startswith("/v1/projects/"):
            return 404, b"Project with name nope not found", "text/plain"
        return 404, b'{"detail":"Not Found"}', "application/json"
    pages = [sample(f"phoenix-spans-otlpv1-page{i}.json") for i in (1, 2, 3)]
    if query.get("parent_id") == ["null"]:
        roots = [s for page in pages for s in page["data"] if s["parent_span_id"] is None]
        if query.get("status_code") == ["ERROR"]:
            roots = []
        return js({"data": roots, "next_cursor": None})
    if query.get("trace_id") != [PHOENIX_TRACE]:
        return js({"data": [], "next_cursor": None})
    cursor = (query.get("cursor") or [None])[0]
    index = {None: 0, pages[0]["next_cursor"]: 1, pages[1]["next_cursor"]: 2}.get(cursor)
    if index is None:
        return js({"detail": "Invalid cursor"}, 422)
    return js(pages[index])


# --- misbehaving servers ----------------------------------------------------------------------------------------


@contextmanager
def raw_server(respond: Callable[[socket.socket], None]) -> Iterator[str]:
    """A TCP server on 127.0.0.1 whose every connection is handed to `respond` (after the request is read)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def loop() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=_handle, args=(conn,), daemon=True).start()

    def _handle(conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                conn.recv(65536)
                respond(conn)
            except OSError:
                pass

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def dripping(interval: float, total: float) -> Callable[[socket.socket], None]:
    """Headers, then one byte of body every `interval` seconds for `total` seconds."""

    def respond(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        end = time.monotonic() + total
        while time.monotonic() < end:
            conn.sendall(b" ")
            time.sleep(interval)

    return respond


def silent(seconds: float) -> Callable[[socket.socket], None]:
    def respond(conn: socket.socket) -> None:
        time.sleep(seconds)

    return respond


def endless_body(conn: socket.socket) -> None:
    """A chunked body without end (no Content-Length to refuse up front)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"[" + b"0," * 32767 + b"0"
    piece = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    for _ in range(10_000):
        conn.sendall(piece)
