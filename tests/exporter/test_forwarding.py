"""Forwarding to a real OTLP receiver on 127.0.0.1 over HTTP/protobuf and gRPC: content stripping, a backend
that is down, refusing or stalled, and queue overflow. The local store must never depend on the backend."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_agenttrace import semconv as sc
from otel_agenttrace.environment_variables import AGENTTRACE_FORWARD, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
from otel_agenttrace.exporter._forward import Forwarder, exporter_from_env, forward_name_from_env, strip_content
from otel_agenttrace.exporter.run_trace import RunTraceExporter
from otel_agenttrace.exporter.store import RunStore
from tests.otlp_receiver import OTLPReceiver, span_attributes

PROMPT = '[{"role":"user","parts":[{"type":"text","content":"my secret question"}]}]'
ANSWER = '[{"role":"assistant","parts":[{"type":"text","content":"a private answer"}]}]'

_OTLP_ENV = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_TRACES_EXPORTER",
    AGENTTRACE_FORWARD,
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _OTLP_ENV:
        monkeypatch.delenv(name, raising=False)


def point_at(monkeypatch: pytest.MonkeyPatch, protocol: str, endpoint: str) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc" if protocol == "grpc" else "http/protobuf")
    # A backend that is down is retried until this timeout: keep the tests short.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")


@pytest.fixture(params=["http", "grpc"])
def receiver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[OTLPReceiver]:
    with OTLPReceiver(request.param) as r:
        point_at(monkeypatch, request.param, r.endpoint)
        yield r


def agent_run(provider: TracerProvider) -> str:
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(
        "invoke_workflow wf", attributes={sc.GEN_AI_OPERATION_NAME: sc.Operation.INVOKE_WORKFLOW}
    ) as root:
        with tracer.start_as_current_span(
            "chat gpt-4o",
            kind=trace_api.SpanKind.CLIENT,
            attributes={
                sc.GEN_AI_OPERATION_NAME: sc.Operation.CHAT,
                sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
                sc.GEN_AI_INPUT_MESSAGES: PROMPT,
                sc.GEN_AI_OUTPUT_MESSAGES: ANSWER,
            },
        ) as llm:
            llm.add_event("content", {sc.GEN_AI_INPUT_MESSAGES: PROMPT, "kept": 1})
        with tracer.start_as_current_span(
            "execute_tool search",
            attributes={sc.GEN_AI_TOOL_NAME: "search", sc.GEN_AI_TOOL_CALL_ARGUMENTS: '{"q": "secret"}'},
        ):
            pass
        return f"{root.get_span_context().trace_id:032x}"


def pipeline(home: Path) -> tuple[TracerProvider, RunTraceExporter]:
    exporter = RunTraceExporter(store=home)  # forward target and content policy from the environment
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
    return provider, exporter


def assert_run_complete(home: Path, run_id: str) -> None:
    with RunStore(home) as store:
        run = store.run(run_id)
        assert run is not None and (run.status, run.steps) == ("ok", 3)
        llm = next(r for r in store.spans(run_id) if r.name == "chat gpt-4o")
        # The local store keeps content whatever is forwarded.
        assert llm.attributes[sc.GEN_AI_INPUT_MESSAGES] == PROMPT


def test_spans_arrive_with_content_stripped_by_default(tmp_path: Path, receiver: OTLPReceiver) -> None:
    provider, exporter = pipeline(tmp_path)
    assert exporter.forwarder is not None
    expected = HTTPExporter if receiver.protocol == "http" else GRPCExporter
    assert isinstance(exporter.forwarder.exporter, expected)
    run_id = agent_run(provider)
    provider.shutdown()

    assert receiver.wait_for_spans(3)
    spans = {s.name: s for s in receiver.spans}
    assert {s.trace_id.hex() for s in receiver.spans} == {run_id}
    llm = span_attributes(spans["chat gpt-4o"])
    assert llm[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert sc.CONTENT_ATTRIBUTES.isdisjoint(llm)
    assert sc.CONTENT_ATTRIBUTES.isdisjoint(span_attributes(spans["execute_tool search"]))
    (event,) = spans["chat gpt-4o"].events
    assert span_attributes(event) == {"kept": 1}
    assert_run_complete(tmp_path, run_id)


@pytest.mark.parametrize("mode", ["SPAN_ONLY", "span_and_event"])
def test_content_is_forwarded_when_the_user_opts_in(
    tmp_path: Path, receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, mode)
    provider, _ = pipeline(tmp_path)
    agent_run(provider)
    provider.shutdown()

    assert receiver.wait_for_spans(3)
    spans = {s.name: s for s in receiver.spans}
    llm = span_attributes(spans["chat gpt-4o"])
    assert (llm[sc.GEN_AI_INPUT_MESSAGES], llm[sc.GEN_AI_OUTPUT_MESSAGES]) == (PROMPT, ANSWER)
    assert span_attributes(spans["chat gpt-4o"].events[0])[sc.GEN_AI_INPUT_MESSAGES] == PROMPT


@pytest.mark.parametrize("mode", ["NO_CONTENT", ""])
def test_content_is_stripped_without_an_opt_in(
    tmp_path: Path, receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, mode)
    provider, _ = pipeline(tmp_path)
    agent_run(provider)
    provider.shutdown()
    assert receiver.wait_for_spans(3)
    for span in receiver.spans:
        assert sc.CONTENT_ATTRIBUTES.isdisjoint(span_attributes(span))


def test_stripping_copies_and_leaves_the_original_alone(tmp_path: Path) -> None:
    collected = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(collected))
    agent_run(provider)
    provider.shutdown()
    for span in collected.get_finished_spans():
        stripped = strip_content(span)
        has_content = not sc.CONTENT_ATTRIBUTES.isdisjoint(span.attributes or {})
        assert (stripped is span) == (not has_content)
        assert sc.CONTENT_ATTRIBUTES.isdisjoint(stripped.attributes or {})
        assert stripped.context == span.context and stripped.end_time == span.end_time
    llm = next(s for s in collected.get_finished_spans() if s.name == "chat gpt-4o")
    assert (llm.attributes or {})[sc.GEN_AI_INPUT_MESSAGES] == PROMPT
    assert llm.events[0].attributes[sc.GEN_AI_INPUT_MESSAGES] == PROMPT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_backend_that_is_down_changes_nothing_locally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    point_at(monkeypatch, protocol, f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    provider, _ = pipeline(tmp_path)
    run_id = agent_run(provider)
    provider.force_flush()
    assert_run_complete(tmp_path, run_id)
    provider.shutdown()


def test_a_refusing_backend_changes_nothing_locally(tmp_path: Path, receiver: OTLPReceiver) -> None:
    receiver.unavailable = True
    provider, _ = pipeline(tmp_path)
    run_id = agent_run(provider)
    provider.force_flush()
    assert receiver.wait_for_requests(1)
    assert_run_complete(tmp_path, run_id)
    provider.shutdown()
    assert receiver.spans == []


def test_export_returns_while_the_backend_is_stalled(tmp_path: Path, receiver: OTLPReceiver) -> None:
    receiver.hold()
    provider, _ = pipeline(tmp_path)
    run_id = agent_run(provider)
    provider.force_flush()  # returns once export() did: the store has the run, the backend has nothing yet
    assert receiver.wait_for_requests(1)
    assert receiver.spans == []
    assert_run_complete(tmp_path, run_id)
    receiver.release()
    assert receiver.wait_for_spans(3)
    provider.shutdown()


def test_a_full_queue_drops_the_oldest_batches_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with OTLPReceiver("http") as receiver:
        receiver.hold()
        target = HTTPExporter(endpoint=receiver.traces_endpoint, timeout=10)
        forwarder = Forwarder(target, forward_content=False, max_queued_spans=4, drain_timeout_s=0.5)
        exporter = RunTraceExporter(store=tmp_path, forward=None)
        exporter.forwarder = forwarder
        collected = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(collected))
        for i in range(10):
            provider.get_tracer("test").start_span(f"step {i}").end()
        provider.force_flush()
        spans = collected.get_finished_spans()

        with caplog.at_level(logging.WARNING, logger="otel_agenttrace"):
            assert exporter.export(spans[:1]) is SpanExportResult.SUCCESS
            assert receiver.wait_for_requests(1)  # the forwarder thread is stuck on the stalled backend
            for i in range(1, 10, 3):
                assert exporter.export(spans[i : i + 3]) is SpanExportResult.SUCCESS
        drops = [r for r in caplog.records if "dropped" in r.getMessage()]
        assert len(drops) == 1
        assert "dropped 3 spans" in drops[0].getMessage()
        # Room for 4 spans behind the stalled one: each new batch of 3 pushes out the one before it.
        assert forwarder.dropped_spans == 6
        with RunStore(tmp_path) as store:
            assert sum(r.steps for r in store.list_runs(limit=100)) == 10
        receiver.release()
        exporter.shutdown()
        provider.shutdown()


def test_choosing_the_forward_target(monkeypatch: pytest.MonkeyPatch) -> None:
    assert forward_name_from_env({}) == "none"
    assert exporter_from_env({}) is None
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert forward_name_from_env(endpoint) == "otlp"
    assert forward_name_from_env({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}) == "otlp"
    # The SDK already ships to the endpoint itself: a second copy would duplicate every span.
    assert forward_name_from_env({**endpoint, "OTEL_TRACES_EXPORTER": "agenttrace,otlp"}) == "none"
    assert forward_name_from_env({**endpoint, AGENTTRACE_FORWARD: "None"}) == "none"

    assert isinstance(exporter_from_env(endpoint), HTTPExporter)
    assert isinstance(exporter_from_env({**endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}), GRPCExporter)
    assert isinstance(
        exporter_from_env(
            {**endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}
        ),
        HTTPExporter,
    )
    assert isinstance(exporter_from_env({AGENTTRACE_FORWARD: "otlp_proto_grpc"}), GRPCExporter)
    assert isinstance(exporter_from_env({AGENTTRACE_FORWARD: "otlp_proto_http"}), HTTPExporter)
    assert isinstance(exporter_from_env({AGENTTRACE_FORWARD: "console"}), ConsoleSpanExporter)


def test_an_unknown_forward_target_warns_and_forwards_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="otel_agenttrace"):
        assert exporter_from_env({AGENTTRACE_FORWARD: "carrier-pigeon"}) is None
        assert exporter_from_env({AGENTTRACE_FORWARD: "agenttrace"}) is None  # itself: would loop
    assert len(caplog.records) == 2
    assert "carrier-pigeon" in caplog.records[0].getMessage()


def test_an_sdk_otlp_exporter_next_to_ours_is_not_doubled(caplog: pytest.LogCaptureFixture) -> None:
    """The SDK's own OTLP exporter ships the spans; content kept local is beside the span, so no warning."""
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "agenttrace,otlp"}
    with caplog.at_level(logging.WARNING, logger="otel_agenttrace"):
        assert forward_name_from_env(endpoint) == "none"
    assert caplog.records == []
