"""Our export threads run with instrumentation suppressed, as the SDK's processors do: an HTTP client
instrumentation in the process must not trace the OTLP exporter's own requests as new runs."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_agenttrace.exporter._batch import RunSpanProcessor
from otel_agenttrace.exporter._forward import Forwarder


class Watching(SpanExporter):
    """Records, for every export and shutdown, whether an instrumentation would trace what it sends."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.seen.append(("export", is_instrumentation_enabled()))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.seen.append(("shutdown", is_instrumentation_enabled()))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _spans(n: int) -> list[ReadableSpan]:
    provider = TracerProvider()
    tracer = provider.get_tracer("test")
    spans = []
    for i in range(n):
        span = tracer.start_span(f"s{i}")
        span.end()
        spans.append(span)
    return spans


def test_the_forwarder_exports_and_shuts_down_with_instrumentation_suppressed() -> None:
    watching = Watching()
    forwarder = Forwarder(watching, forward_content=False)
    forwarder.submit(_spans(3))
    assert forwarder.force_flush(5000)
    forwarder.shutdown(5000)
    assert watching.seen == [("export", False), ("shutdown", False)]
    assert is_instrumentation_enabled()  # the caller's context is untouched


def test_the_batch_processor_exports_with_instrumentation_suppressed() -> None:
    watching = Watching()
    processor = RunSpanProcessor(watching, schedule_delay_s=0.01)
    for span in _spans(3):
        processor.on_end(span)
    assert processor.force_flush(5000)
    processor.shutdown()
    exports = [enabled for what, enabled in watching.seen if what == "export"]
    assert exports and not any(exports)
    assert is_instrumentation_enabled()
