"""How long a dead or slow OTLP backend holds up exit (issue 9 item 9; the budget is 2 s).

    python bench/bench_shutdown.py

For each backend: a Forwarder with the real OTLP/HTTP exporter gets two batches (12 spans), then shutdown() is timed;
the table also shows the one line it logs. Backends: a closed port (connection refused, the exporter retries), an
endpoint that accepts but never answers, and a socket that never accepts (its backlog full).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_agenttrace.exporter._forward import Forwarder


def spans(n: int) -> list:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for i in range(n):
        provider.get_tracer("b").start_span(f"step {i}").end()
    return list(memory.get_finished_spans())


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "could not be forwarded" in record.getMessage():
            self.lines.append(record.getMessage())


def main() -> None:
    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)
    handler = Lines()
    logging.getLogger("otel_agenttrace").addHandler(handler)
    print("| backend | shutdown s | line at exit |")
    print("|---|---:|---|")
    for backend in ("closed port", "accepts, never answers", "never accepts"):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        if backend == "closed port":
            sock.close()
        else:
            sock.listen(0 if backend == "never accepts" else 16)
        if backend == "accepts, never answers":
            # Accept in the background and never reply.
            threading.Thread(target=sock.accept, daemon=True).start()
        forwarder = Forwarder(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces"), forward_content=False)
        forwarder.submit(spans(5))
        forwarder.submit(spans(7))
        time.sleep(0.3)
        handler.lines.clear()
        started = time.monotonic()
        forwarder.shutdown()
        took = time.monotonic() - started
        if backend != "closed port":
            sock.close()
        print(f"| {backend} | {took:.2f} | {handler.lines[0] if handler.lines else '-'} |")


if __name__ == "__main__":
    main()
