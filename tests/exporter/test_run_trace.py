"""RunTraceExporter and InFlightRecorder with a real TracerProvider: what reaches the store, and never raising."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from otel_agenttrace import semconv as sc
from otel_agenttrace.environment_variables import AGENTTRACE_FORWARD, AGENTTRACE_HOME
from otel_agenttrace.exporter._assemble import assemble
from otel_agenttrace.exporter._inflight import InFlightRecorder, install_inflight_recorder
from otel_agenttrace.exporter.run_trace import RunTraceExporter
from otel_agenttrace.exporter.store import RunStore

REPO = Path(__file__).resolve().parents[2]


def _run_agent(provider: TracerProvider) -> str:
    """A small agent run: workflow root, an LLM call, a failing tool call. Returns the run id."""
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(
        "invoke_workflow whaleflow",
        attributes={sc.GEN_AI_OPERATION_NAME: sc.Operation.INVOKE_WORKFLOW, sc.GEN_AI_WORKFLOW_NAME: "whaleflow"},
    ) as root:
        with tracer.start_as_current_span(
            "chat gpt-4o",
            kind=trace_api.SpanKind.CLIENT,
            attributes={
                sc.GEN_AI_OPERATION_NAME: sc.Operation.CHAT,
                sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
                sc.GEN_AI_USAGE_INPUT_TOKENS: 812,
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: 95,
                sc.GEN_AI_RESPONSE_FINISH_REASONS: ("tool_call",),
            },
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool search",
            attributes={sc.GEN_AI_OPERATION_NAME: sc.Operation.EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: "search"},
        ) as tool:
            tool.record_exception(ValueError("no results"))
            tool.set_status(Status(StatusCode.ERROR, "no results"))
        return f"{root.get_span_context().trace_id:032x}"


def test_a_run_goes_through_the_batch_processor_into_the_store(tmp_path: Path) -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(RunTraceExporter(store=tmp_path, forward=None)))
    run_id = _run_agent(provider)
    provider.shutdown()

    with RunStore(tmp_path) as store:
        (run,) = store.list_runs()
        assert (run.run_id, run.workflow, run.status, run.steps) == (run_id, "whaleflow", "ok", 3)
        assert (run.input_tokens, run.output_tokens, run.models) == (812, 95, ["gpt-4o"])
        doc = assemble(store.spans(run_id))
    assert [s["type"] for s in doc["steps"]] == ["workflow", "llm_call", "tool_call"]
    assert doc["steps"][2]["status"] == "error"
    assert doc["steps"][1]["attributes"][sc.GEN_AI_RESPONSE_FINISH_REASONS] == ["tool_call"]


def test_with_no_arguments_everything_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(AGENTTRACE_HOME, str(tmp_path / "home"))
    monkeypatch.delenv(AGENTTRACE_FORWARD, raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    exporter = RunTraceExporter()
    try:
        assert exporter.store is not None and exporter.store.path == tmp_path / "home" / "runs.db"
        assert exporter.forwarder is None
    finally:
        exporter.shutdown()
    assert exporter.store.closed  # it opened the store, so it closes it


def test_a_store_passed_in_stays_open_after_shutdown(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        exporter = RunTraceExporter(store=store, forward=None)
        exporter.shutdown()
        exporter.shutdown()
        assert not store.closed
        assert exporter.export([]) is SpanExportResult.FAILURE


def test_start_records_are_stored_incomplete_and_never_forwarded(tmp_path: Path) -> None:
    forwarded = InMemorySpanExporter()
    exporter = RunTraceExporter(store=tmp_path, forward=forwarded)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_workflow wf") as root:
        # What a start record emitted as a span looks like: it ends at once but stands for a step in flight.
        tracer.start_span("chat gpt-4o", attributes={sc.AGENTTRACE_SPAN_STARTED: True}).end()
    assert exporter.force_flush()
    provider.shutdown()

    assert [s.name for s in forwarded.get_finished_spans()] == ["invoke_workflow wf"]
    with RunStore(tmp_path) as store:
        records = {r.name: r for r in store.spans(f"{root.get_span_context().trace_id:032x}")}
        assert records["chat gpt-4o"].end_ns is None
        assert records["invoke_workflow wf"].end_ns is not None
        assert store.list_runs()[0].status == "incomplete"


def _foreign_home(tmp_path: Path) -> Path:
    home = tmp_path / "foreign"
    home.mkdir()
    with sqlite3.connect(home / "runs.db") as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    return home


def test_an_unusable_store_never_raises_and_forwarding_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    forwarded = InMemorySpanExporter()
    with caplog.at_level(logging.WARNING, logger="otel_agenttrace"):
        exporter = RunTraceExporter(store=_foreign_home(tmp_path), forward=forwarded)
    assert exporter.store is None
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "another application" in caplog.records[0].getMessage()

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _run_agent(provider)
    provider.shutdown()
    assert len(forwarded.get_finished_spans()) == 3


def test_a_failing_store_is_logged_once_and_export_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = RunStore(tmp_path)
    exporter = RunTraceExporter(store=store, forward=None)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    store.close()  # every write fails from now on
    with caplog.at_level(logging.WARNING, logger="otel_agenttrace"):
        _run_agent(provider)
        _run_agent(provider)
    warnings = [r for r in caplog.records if r.name.startswith("otel_agenttrace")]
    assert len(warnings) == 1
    assert "cannot record spans" in warnings[0].getMessage()
    provider.shutdown()


def test_the_recorder_writes_open_spans_and_their_ends_replace_them(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    provider = TracerProvider()
    recorder = install_inflight_recorder(provider, store)
    assert recorder is not None
    assert install_inflight_recorder(provider, store) is recorder  # once per provider and store
    processor = SimpleSpanProcessor(RunTraceExporter(store=store, forward=None))
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")

    root = tracer.start_span("invoke_workflow wf")
    context = trace_api.set_span_in_context(root)
    tracer.start_span("chat short", context=context).end()  # ended before the flush: no start record
    open_child = tracer.start_span("chat long", context=context, attributes={sc.GEN_AI_REQUEST_MODEL: "gpt-4o"})
    assert recorder.flush()
    run_id = f"{root.get_span_context().trace_id:032x}"

    records = {r.name: r for r in store.spans(run_id)}
    assert {name: r.end_ns for name, r in records.items() if r.end_ns is None} == {
        "invoke_workflow wf": None,
        "chat long": None,
    }
    assert records["chat long"].attributes[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert (store.list_runs()[0].status, store.list_runs()[0].steps) == ("incomplete", 3)

    open_child.end()
    root.end()
    assert all(r.end_ns is not None for r in store.spans(run_id))
    assert (store.list_runs()[0].status, store.list_runs()[0].steps) == ("ok", 3)
    provider.shutdown()
    store.close()


def test_the_recorder_keeps_spans_open_at_shutdown_as_incomplete(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    provider = TracerProvider()
    recorder = InFlightRecorder(store, interval_s=3600)  # only the shutdown flush writes
    provider.add_span_processor(recorder)
    provider.add_span_processor(SimpleSpanProcessor(RunTraceExporter(store=store, forward=None)))
    never_ended = provider.get_tracer("test").start_span("invoke_workflow wf")
    provider.shutdown()
    (record,) = store.spans(f"{never_ended.get_span_context().trace_id:032x}")
    assert record.end_ns is None
    store.close()


def test_an_idle_recorder_sleeps_and_a_start_wakes_it(tmp_path: Path) -> None:
    """No span started, no wake-up (it polled ten times a second); a span still open an interval after its
    start is written then, without waiting for another start or for shutdown."""
    import threading
    import time

    store = RunStore(tmp_path)
    recorder = InFlightRecorder(store, interval_s=0.05)
    flushes: list[int] = []
    flush = recorder.flush
    written = threading.Event()

    def counted() -> bool:
        flushes.append(len(recorder._pending))
        ok = flush()
        if flushes[-1]:
            written.set()
        return ok

    recorder.flush = counted  # type: ignore[method-assign]
    provider = TracerProvider()
    provider.add_span_processor(recorder)
    time.sleep(0.4)  # eight intervals
    assert flushes == []
    span = provider.get_tracer("test").start_span("invoke_workflow wf")
    assert written.wait(10)
    assert flushes == [1]
    (record,) = store.spans(f"{span.get_span_context().trace_id:032x}")
    assert record.end_ns is None
    time.sleep(0.3)
    assert flushes == [1]  # back asleep
    second = provider.get_tracer("test").start_span("chat m")
    deadline = time.monotonic() + 10
    while len(store.spans(f"{second.get_span_context().trace_id:032x}")) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert flushes[-1] == 1 and len(flushes) == 2
    span.end()
    second.end()
    provider.shutdown()
    store.close()


def test_install_needs_an_sdk_provider(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        assert install_inflight_recorder(trace_api.NoOpTracerProvider(), store) is None


_CONFIGURED = textwrap.dedent(
    """
    import time
    from opentelemetry import trace
    from otel_agenttrace.exporter.store import RunStore

    # opentelemetry-instrument has set up the SDK provider with BatchSpanProcessor(RunTraceExporter()).
    tracer = trace.get_tracer("script")
    with tracer.start_as_current_span("invoke_workflow wf") as root:
        run_id = f"{root.get_span_context().trace_id:032x}"
        with RunStore() as store:
            deadline = time.monotonic() + 20
            while not store.spans(run_id) and time.monotonic() < deadline:
                time.sleep(0.05)
            print("in flight:", [(r.name, r.end_ns) for r in store.spans(run_id)])
    print("run:", run_id)
    """
)


def test_opentelemetry_instrument_uses_the_exporter_and_records_starts(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTTRACE_"))} | {
        "OTEL_TRACES_EXPORTER": "agenttrace",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "agenttrace",
        AGENTTRACE_HOME: str(tmp_path),
        "PYTHONPATH": str(REPO),
    }
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    script = tmp_path / "agent.py"
    script.write_text(_CONFIGURED)
    result = subprocess.run(
        [str(instrument), sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    # While the root was open, its start record was in the store: the exporter installed the recorder.
    assert lines["in flight"] == "[('invoke_workflow wf', None)]"
    with RunStore(tmp_path) as store:
        (run,) = store.list_runs()
        assert (run.run_id, run.status, run.steps) == (lines["run"], "ok", 1)
