"""The thread that records the GenAI histograms off the caller's thread is woken by a call that waited (or by a
long queue), not on a short timer: a thread woken while the caller never blocks contends for the GIL at every
one of the caller's brief releases of it."""

from __future__ import annotations

import time
from collections.abc import Callable

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from threads import run_in_threads

from otel_agenttrace import _metrics
from otel_agenttrace._metrics import MetricsRecorder


def _recorded(reader: InMemoryMetricReader) -> int:
    data = reader.get_metrics_data()
    if data is None:
        return 0
    return sum(
        point.count
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == "duration"
        for point in metric.data.data_points
    )


def _until(condition: Callable[[], bool], seconds: float = 2.0) -> bool:
    """Within `seconds`: well before the thread's idle wake-up (`_IDLE_S`)."""
    assert seconds < _metrics._IDLE_S / 2
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_quick_calls_wait_for_a_slow_one_or_a_long_queue() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    recorder = MetricsRecorder(meter.create_histogram("duration"), meter.create_histogram("tokens"))
    try:
        recorder.record(0.001, {"gen_ai.operation.name": "chat"})  # starts the thread, which waits
        time.sleep(0.3)
        recorder.record(0.001, {"gen_ai.operation.name": "chat"})
        time.sleep(0.3)
        assert _recorded(reader) == 0  # quick calls: queued, the thread not woken
        recorder.record(_metrics._SLOW_S, {"gen_ai.operation.name": "chat"})
        assert _until(lambda: _recorded(reader) == 3)  # a slow call wakes it: all three recorded
        for _ in range(_metrics._WAKE_AT):
            recorder.record(0.001, {"gen_ai.operation.name": "chat"})
        assert _until(lambda: _recorded(reader) == 3 + _metrics._WAKE_AT)  # so does a long queue
    finally:
        recorder.close()


def test_slow_calls_at_once_wake_it_once_each_round_and_never_raise() -> None:
    """A call wakes the thread by releasing a lock it waits on: calls that find it released already (the thread
    not yet run) leave it so, from any thread, and every measurement is recorded."""
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    recorder = MetricsRecorder(meter.create_histogram("duration"), meter.create_histogram("tokens"))

    def calls() -> None:
        for _ in range(200):
            recorder.record(_metrics._SLOW_S, {"gen_ai.operation.name": "chat"})

    try:
        recorder.record(0.001, {"gen_ai.operation.name": "chat"})  # starts the thread
        assert run_in_threads(calls, 4) == []
        assert _until(lambda: _recorded(reader) == 801)
        recorder.record(_metrics._SLOW_S, {"gen_ai.operation.name": "chat"})  # a later round wakes it again
        assert _until(lambda: _recorded(reader) == 802)
    finally:
        recorder.close()
