"""The process-level run root carries the run's first input and latest output messages when content goes on
spans (GenAI conventions: opt-in on invocation spans), so a backend's run list can show them (issue 15)."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_agenttrace import semconv as sc
from otel_agenttrace._lifecycle import RunRoot

FIRST = '[{"role": "user", "parts": [{"type": "text", "content": "first"}]}]'
SECOND = '[{"role": "user", "parts": [{"type": "text", "content": "second"}]}]'
OUT_1 = '[{"role": "assistant", "parts": [{"type": "text", "content": "draft"}]}]'
OUT_2 = '[{"role": "assistant", "parts": [{"type": "text", "content": "final"}]}]'


def test_first_input_and_latest_output_go_on_the_root() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    root = RunRoot(tracer, name="flow")
    ctx = root.context()
    for inputs, output in ((FIRST, OUT_1), (SECOND, OUT_2)):
        with tracer.start_as_current_span("chat m", context=ctx) as call:
            root.note_content(call, {sc.GEN_AI_INPUT_MESSAGES: inputs, sc.GEN_AI_OUTPUT_MESSAGES: output})
    other = trace.set_span_in_context(trace.INVALID_SPAN)
    with (
        tracer.start_as_current_span("invoke_workflow other", context=other),
        tracer.start_as_current_span("chat m") as elsewhere,
    ):
        root.note_content(elsewhere, {sc.GEN_AI_OUTPUT_MESSAGES: "[]"})  # another trace: not this run's
    root.end()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    attributes = spans["invoke_workflow flow"].attributes or {}
    assert attributes[sc.GEN_AI_INPUT_MESSAGES] == FIRST
    assert attributes[sc.GEN_AI_OUTPUT_MESSAGES] == OUT_2


def test_no_content_no_attributes() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    root = RunRoot(provider.get_tracer("t"), name="flow")
    root.context()
    root.end()
    (span,) = exporter.get_finished_spans()
    assert sc.GEN_AI_INPUT_MESSAGES not in (span.attributes or {})
