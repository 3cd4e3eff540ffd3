"""A real OTLP trace receiver on 127.0.0.1 for tests: HTTP/protobuf and gRPC.

    with OTLPReceiver("http") as receiver:          # or "grpc"
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
        ...
        assert receiver.wait_for_spans(3)
        attrs = span_attributes(receiver.spans[0])

`receiver.unavailable = True` makes it answer 503 (HTTP) / UNAVAILABLE (gRPC); `receiver.hold()`
makes every request wait until `receiver.release()`, to stand in for a stalled backend.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

_HOLD_LIMIT_S = 30.0  # a held request is let go after this, so a forgotten release() cannot hang a test run


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def span_attributes(span: Any) -> dict[str, Any]:
    """Attributes of a protobuf Span (or Span.Event) as a plain dict."""
    return {kv.key: any_value(kv.value) for kv in span.attributes}


class OTLPReceiver:
    def __init__(self, protocol: Literal["http", "grpc"] = "http") -> None:
        self.protocol = protocol
        self.spans: list[Span] = []
        self.requests = 0  # every export request that arrived, answered or not
        self.unavailable = False
        self._held = threading.Event()
        self._held.set()
        self._cond = threading.Condition()
        self._http: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._grpc: grpc.Server | None = None
        self.port = 0

    # -- control --------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The base endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT takes it."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def traces_endpoint(self) -> str:
        """The traces endpoint, as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT takes it."""
        return f"{self.endpoint}/v1/traces" if self.protocol == "http" else self.endpoint

    def hold(self) -> None:
        self._held.clear()

    def release(self) -> None:
        self._held.set()

    def wait_for_spans(self, count: int, timeout: float = 20.0) -> bool:
        return self._wait(lambda: len(self.spans) >= count, timeout)

    def wait_for_requests(self, count: int, timeout: float = 20.0) -> bool:
        return self._wait(lambda: self.requests >= count, timeout)

    def _wait(self, predicate: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    # -- receiving ------------------------------------------------------------------------------

    def _arrived(self) -> None:
        with self._cond:
            self.requests += 1
            self._cond.notify_all()

    def _accept(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        spans = [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
        with self._cond:
            self.spans.extend(spans)
            self._cond.notify_all()

    def _wait_if_held(self) -> None:
        self._held.wait(_HOLD_LIMIT_S)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> OTLPReceiver:
        if self.protocol == "http":
            self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
            self._http.daemon_threads = True
            self.port = self._http.server_address[1]
            self._http_thread = threading.Thread(target=self._http.serve_forever, name="OTLPReceiverHTTP", daemon=True)
            self._http_thread.start()
        else:
            self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
            trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Servicer(self), self._grpc)
            self.port = self._grpc.add_insecure_port("127.0.0.1:0")
            self._grpc.start()
        return self

    def stop(self) -> None:
        self.release()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._grpc is not None:
            self._grpc.stop(grace=None).wait(5)
            self._grpc = None

    def __enter__(self) -> OTLPReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(receiver: OTLPReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver._arrived()
            receiver._wait_if_held()
            if self.path != "/v1/traces":
                self._reply(404, b"")
                return
            if receiver.unavailable:
                self._reply(503, b"")
                return
            encoding = (self.headers.get("Content-Encoding") or "").lower()
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            request = trace_service_pb2.ExportTraceServiceRequest()
            request.ParseFromString(body)
            receiver._accept(request)
            self._reply(200, trace_service_pb2.ExportTraceServiceResponse().SerializeToString())

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Servicer(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OTLPReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:
        self._receiver._arrived()
        self._receiver._wait_if_held()
        if self._receiver.unavailable:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the test receiver refuses")
        self._receiver._accept(request)
        return trace_service_pb2.ExportTraceServiceResponse()
