"""A real SDK TracerProvider and MeterProvider with in-memory readers, for tests to read back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_agenttrace._beside import CHANNEL, with_content


class LocalContentExporter(InMemorySpanExporter):
    """An in-memory exporter that, like the run-trace exporter, takes the content kept beside each span
    (the content switch unset) and keeps the span with it: what the local run trace would record."""

    def __init__(self) -> None:
        super().__init__()
        CHANNEL.open()
        self._open = True

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return super().export([with_content(span, CHANNEL.take(span)) for span in spans])

    def shutdown(self) -> None:
        if self._open:
            self._open = False
            CHANNEL.close()
        super().shutdown()


class Telemetry:
    """What a test reads back: finished spans and metric points.

    `local_content=True` (the default) reads spans as the local run trace gets them, content beside
    the span included; False reads them as any other exporter does (no run-trace exporter open)."""

    def __init__(self, local_content: bool = True) -> None:
        self.exporter = LocalContentExporter() if local_content else InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        # gen_ai.client.inference.operation.details events are log records (EVENT_ONLY, SPAN_AND_EVENT)
        self.log_exporter = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader])

    def close(self) -> None:
        self.exporter.shutdown()
        self.logger_provider.shutdown()

    def details(self, span: ReadableSpan | None = None) -> list[Any]:
        """The details log records (each an SDK LogRecord), all or those of one span."""
        records = [
            d.log_record
            for d in self.log_exporter.get_finished_logs()
            if details_name(d.log_record) == "gen_ai.client.inference.operation.details"
        ]
        if span is None:
            return records
        ctx = span.get_span_context()
        return [r for r in records if r.span_id == ctx.span_id and r.trace_id == ctx.trace_id]

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def llm_spans(self) -> list[ReadableSpan]:
        return [
            s for s in self.spans() if s.instrumentation_scope and s.instrumentation_scope.name == "otel_agenttrace"
        ]

    def only_span(self) -> ReadableSpan:
        spans = self.llm_spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def metric_points(self, name: str) -> list:
        flush_metrics()
        data = self.metric_reader.get_metrics_data()
        points = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points


def details_name(record: Any) -> str | None:
    name = getattr(record, "event_name", None)
    return name or (record.attributes or {}).get("event.name")


def flush_metrics() -> None:
    """The instrumentation records metrics off the caller's thread: record what is queued now."""
    from otel_agenttrace import AgentTraceInstrumentor

    if AgentTraceInstrumentor.telemetry is not None:
        AgentTraceInstrumentor.telemetry.flush_metrics()


class GlobalSpanRelay(SpanProcessor):
    """Hands spans made on the global tracer provider (the mcp SDK takes its tracer from it) to the exporter
    of the test that runs now (`target`); installed on that provider once per process."""

    def __init__(self) -> None:
        self.target: Any = None
        self._installed = False

    def install(self) -> None:
        if self._installed:
            return
        if not isinstance(trace.get_tracer_provider(), TracerProvider):
            trace.set_tracer_provider(TracerProvider())
        provider = trace.get_tracer_provider()
        assert isinstance(provider, TracerProvider)
        provider.add_span_processor(self)
        self._installed = True

    def on_end(self, span: ReadableSpan) -> None:
        if self.target is not None:
            self.target.export([span])


RELAY = GlobalSpanRelay()
