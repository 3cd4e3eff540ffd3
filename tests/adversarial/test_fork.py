"""Issue 9 item 8, in process: a pool worker's steps are in the store before the parent has the task's
result, and a fork while one of our export-path locks is held does not hang the child."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_agenttrace.exporter import _batch
from otel_agenttrace.exporter._batch import RunSpanProcessor
from otel_agenttrace.exporter.run_trace import RunTraceExporter
from otel_agenttrace.exporter.store import RunStore

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

EXPORT_DELAY_S = 0.1


class SlowRunTraceExporter(RunTraceExporter):
    """The real exporter and store, 100 ms slower per batch: an export thread the parent always outruns."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        time.sleep(EXPORT_DELAY_S)
        return super().export(spans)


_tracer = None  # the forked workers inherit it


def task(i: int) -> int:
    assert _tracer is not None
    _tracer.start_span(f"execute_tool task{i}").end()
    return i


@pytest.fixture
def traced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[RunStore, TracerProvider]]:
    global _tracer
    # Only the hand-off may save a task: the export thread is slow, no local-root flush after the first.
    monkeypatch.setattr(_batch, "CHILD_FLUSH_INTERVAL_S", 3600.0)
    with RunStore(tmp_path) as store:
        processor = RunSpanProcessor(SlowRunTraceExporter(store, forward=None), schedule_delay_s=5.0)
        provider = TracerProvider()
        provider.add_span_processor(processor)
        _tracer = provider.get_tracer("pool")
        try:
            yield store, provider
        finally:
            _tracer = None
            provider.shutdown()


def stored_names(store: RunStore, trace_id: str) -> set[str]:
    return {span.name for span in store.spans(trace_id)}


def test_a_fork_pool_result_arrives_only_after_its_steps_are_stored(traced: tuple[RunStore, TracerProvider]) -> None:
    store, provider = traced
    missing: list[int] = []
    with provider.get_tracer("pool").start_as_current_span("invoke_workflow pooled") as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        with multiprocessing.get_context("fork").Pool(2) as pool:
            for i in pool.imap_unordered(task, range(8)):
                if f"execute_tool task{i}" not in stored_names(store, trace_id):
                    missing.append(i)
            pool.terminate()  # at once, as `with Pool` does: nothing is lost any more
    assert missing == []
    assert stored_names(store, trace_id) >= {f"execute_tool task{i}" for i in range(8)}


def test_a_fork_process_pool_executor_result_arrives_only_after_its_steps_are_stored(
    traced: tuple[RunStore, TracerProvider],
) -> None:
    store, provider = traced
    missing: list[int] = []
    with provider.get_tracer("pool").start_as_current_span("invoke_workflow executor") as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as executor:
            for future in concurrent.futures.as_completed([executor.submit(task, i) for i in range(8)]):
                if f"execute_tool task{future.result()}" not in stored_names(store, trace_id):
                    missing.append(future.result())
    assert missing == []
