"""Shared fixtures: a real SDK TracerProvider/MeterProvider with in-memory readers, and the
instrumentor installed on them for the length of one test."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Bugs in our wrappers must fail tests instead of being logged and swallowed.
os.environ.setdefault("AGENTTRACE_STRICT", "1")
sys.path.insert(0, str(Path(__file__).parent))

from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from otel_agenttrace import AgentTraceInstrumentor  # noqa: E402
from otel_agenttrace._capture import CapturePolicy, ContentMode, policy_from_env  # noqa: E402


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
        return [s for s in self.spans() if s.instrumentation_scope and s.instrumentation_scope.name == "otel_agenttrace"]

    def only_span(self) -> ReadableSpan:
        spans = self.llm_spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def metric_points(self, name: str) -> list:
        data = self.metric_reader.get_metrics_data()
        points = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points


@pytest.fixture
def instrument() -> Iterator[Callable[..., Telemetry]]:
    """Call it (optionally with a capture policy or run_root=True) to instrument for this test."""
    instrumentor = AgentTraceInstrumentor()

    def install(policy: CapturePolicy | ContentMode | None = None, run_root: bool = False) -> Telemetry:
        tel = Telemetry()
        if isinstance(policy, ContentMode):
            policy = CapturePolicy(mode=policy)
        instrumentor.instrument(
            tracer_provider=tel.tracer_provider,
            meter_provider=tel.meter_provider,
            capture_policy=policy or policy_from_env({}),
            run_root=run_root,
        )
        return tel

    yield install
    instrumentor.uninstrument()


@pytest.fixture
def tel(instrument: Callable[..., Telemetry]) -> Telemetry:
    """Instrumented with the default policy (content captured locally)."""
    return instrument()
