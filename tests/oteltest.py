"""A real SDK TracerProvider and MeterProvider with in-memory readers, for tests to read back."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


class Telemetry:
    """What a test reads back: finished spans and metric points."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader])

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


def flush_metrics() -> None:
    """The instrumentation records metrics off the caller's thread: record what is queued now."""
    from otel_agenttrace import AgentTraceInstrumentor

    if AgentTraceInstrumentor.telemetry is not None:
        AgentTraceInstrumentor.telemetry.flush_metrics()
