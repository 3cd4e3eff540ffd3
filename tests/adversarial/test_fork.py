"""Issue 9 item 8, in process: a pool worker's steps are in the store before the parent has the task's
result, and a fork while one of our export-path locks is held does not hang the child."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

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


# -- a fork while another thread holds one of our locks ------------------------------------------


def _content_channel(tmp_path: Path) -> tuple[Any, Callable[[], None]]:
    from otel_agenttrace._beside import CHANNEL

    def use() -> None:
        CHANNEL.open()
        CHANNEL.close()

    return CHANNEL._lock, use


def _recording_channel(tmp_path: Path) -> tuple[Any, Callable[[], None]]:
    from otel_agenttrace.replay._channel import CHANNEL

    def use() -> None:
        CHANNEL.attach()
        assert CHANNEL.drain(final=True) == []  # the parent's pending entries stay the parent's
        CHANNEL.detach()

    return CHANNEL._lock, use


def _inflight_install(tmp_path: Path) -> tuple[Any, Callable[[], None]]:
    from otel_agenttrace.exporter import _inflight

    def use() -> None:
        with RunStore(tmp_path) as store:
            recorder = _inflight.install_inflight_recorder(TracerProvider(), store)
            assert recorder is not None
            recorder.shutdown()

    return _inflight._installed_lock, use


def _settings(tmp_path: Path) -> tuple[Any, Callable[[], None]]:
    from otel_agenttrace import _settings

    def use() -> None:
        _settings._current = None  # built again, under the lock
        assert _settings.current() is not None

    return _settings._lock, use


def _metrics(tmp_path: Path) -> tuple[Any, Callable[[], None]]:
    from opentelemetry.sdk.metrics import MeterProvider

    from otel_agenttrace._metrics import MetricsRecorder

    meter = MeterProvider().get_meter("fork")
    recorder = MetricsRecorder(meter.create_histogram("d"), meter.create_histogram("t"))

    def use() -> None:
        recorder.record(0.1, {"gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 4})
        recorder.flush()

    return recorder._lock, use


_to_close: list[Callable[[], None]] = []  # what a case opened in the parent, closed when the test ends


def _span_processor(tmp_path: Path) -> tuple[Any, Callable[[], None]]:
    store = RunStore(tmp_path)
    processor = RunSpanProcessor(RunTraceExporter(store, forward=None))
    provider = TracerProvider()
    provider.add_span_processor(processor)
    _to_close.append(provider.shutdown)  # else its exporter stays a content consumer for every later test

    def use() -> None:
        provider.get_tracer("fork").start_span("execute_tool child").end()
        assert processor.force_flush(5000)

    return processor._export_lock, use


@pytest.mark.parametrize(
    "locked",
    [_content_channel, _recording_channel, _inflight_install, _settings, _metrics, _span_processor],
    ids=lambda f: f.__name__.strip("_"),
)
def test_a_fork_while_another_thread_holds_our_lock_leaves_a_working_child(
    tmp_path: Path, locked: Callable[[Path], tuple[Any, Callable[[], None]]]
) -> None:
    lock, use = locked(tmp_path)
    try:
        _fork_while_held(lock, use)
    finally:
        while _to_close:
            _to_close.pop()()


def _fork_while_held(lock: Any, use: Callable[[], None]) -> None:
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # as the export (or metrics) thread does, at the worst moment
        with lock:
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        pid = os.fork()
        if pid == 0:  # the child: use what the lock guards, then leave at once
            code = 1
            try:
                use()
                code = 0
            finally:
                os._exit(code)
    finally:
        release.set()
        holder.join()
    deadline = time.monotonic() + 20
    while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    if done == (0, 0):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung on a lock held by a thread that does not exist in it")
    assert os.waitstatus_to_exitcode(done[1]) == 0
