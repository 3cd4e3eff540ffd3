"""Issue 9 items 3 and 8: no span is dropped under a burst (or, when one must be, its run says so), and forked,
pooled, os._exit-ing and spawned children keep their steps in the parent's run.

In process, with a real SDK TracerProvider and a real store; then the same program under `agenttrace run`."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_agenttrace.exporter._batch import RunSpanProcessor
from otel_agenttrace.exporter.run_trace import RunTraceExporter
from otel_agenttrace.exporter.store import RunStore

SCRIPT = Path(__file__).parent / "scripts" / "steps.py"
fork_only = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


class SlowExporter(SpanExporter):
    """Takes 20 ms per batch and remembers every span: a store far slower than the program."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.lost: dict[str, int] = {}

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        time.sleep(0.02)
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def record_lost(self, counts: dict[str, int]) -> None:
        for k, v in counts.items():
            self.lost[k] = self.lost.get(k, 0) + v


def test_a_full_queue_slows_the_program_instead_of_dropping() -> None:
    exporter = SlowExporter()
    processor = RunSpanProcessor(exporter, max_queue_size=64, max_export_batch_size=32, on_lost=exporter.record_lost)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("burst")

    def burst() -> None:
        for _ in range(1000):
            tracer.start_span("execute_tool search").end()

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    provider.shutdown()
    assert len(exporter.spans) == 4000
    assert processor.dropped_spans == 0 and exporter.lost == {}


def test_spans_that_must_be_dropped_are_counted_on_their_run(tmp_path: Path) -> None:
    gate = threading.Event()

    class Stuck(RunTraceExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            gate.wait(10)
            return super().export(spans)

    with RunStore(tmp_path) as store:
        exporter = Stuck(store, forward=None)
        processor = RunSpanProcessor(
            exporter, max_queue_size=10, max_export_batch_size=10, block_limit_s=0.05, on_lost=exporter.record_lost
        )
        provider = TracerProvider()
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("stuck")
        with tracer.start_as_current_span("invoke_workflow stuck") as root:
            trace_id = format(root.get_span_context().trace_id, "032x")
            for _ in range(40):
                tracer.start_span("execute_tool search").end()
        gate.set()
        provider.shutdown()
        summary = store.run(trace_id)
    assert summary is not None
    assert summary.lost_spans == processor.dropped_spans > 0
    assert summary.steps + summary.lost_spans == 41


@fork_only
def test_forked_children_that_os_exit_keep_their_steps(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        exporter = RunTraceExporter(store, forward=None)
        processor = RunSpanProcessor(exporter, schedule_delay_s=5.0)  # only the fork rules can save the child
        provider = TracerProvider()
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("fork")
        with tracer.start_as_current_span("invoke_workflow forks") as root:
            trace_id = format(root.get_span_context().trace_id, "032x")
            pids = []
            for p in range(3):
                pid = os.fork()
                if pid == 0:
                    for i in range(25):
                        tracer.start_span(f"execute_tool {p}-{i}").end()
                    os._exit(0)
                pids.append(pid)
            for pid in pids:
                assert os.waitpid(pid, 0)[1] == 0
        provider.shutdown()
        summary = store.run(trace_id)
    assert summary is not None
    assert (summary.steps, summary.status, summary.lost_spans) == (76, "ok", 0)


def agenttrace_run(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTTRACE_"))}
    agenttrace = Path(sys.executable).parent / "agenttrace"
    return subprocess.run(
        [str(agenttrace), "run", "--home", str(home), "--", sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def only_run(home: Path):
    with RunStore(home, read_only=True) as store:
        runs = store.list_runs()
    assert len(runs) == 1, runs
    return runs[0]


@fork_only
def test_a_burst_from_several_processes_loses_no_step(tmp_path: Path) -> None:
    # 4 forked processes x 5,000 tool calls as fast as they go: every step stored, in one run.
    proc = agenttrace_run(tmp_path, "procs", "4", "5000")
    assert proc.returncode == 0, proc.stderr
    assert "dropping" not in proc.stderr.lower() and "cannot record" not in proc.stderr
    run = only_run(tmp_path)
    assert (run.workflow, run.steps, run.status, run.lost_spans) == ("burst", 20_001, "ok", 0)
    assert f"run {run.run_id[:12]} burst ok, 20001 steps" in proc.stderr


@fork_only
def test_a_fork_pool_left_with_terminate_keeps_every_task(tmp_path: Path) -> None:
    # `with Pool` ends with Pool.terminate(): SIGTERM to workers that may have just finished a task.
    proc = agenttrace_run(tmp_path, "pool", "3", "30")
    assert proc.returncode == 0, proc.stderr
    run = only_run(tmp_path)
    assert (run.workflow, run.steps, run.status) == ("pooled", 31, "ok")


def test_a_spawn_pool_left_with_terminate_keeps_every_task(tmp_path: Path) -> None:
    # Spawned workers have no fork rules at all: before the result hand-off flush, 1 of 31 steps was kept.
    proc = agenttrace_run(tmp_path, "pool", "2", "30", "spawn")
    assert proc.returncode == 0, proc.stderr
    run = only_run(tmp_path)
    assert (run.workflow, run.steps, run.status) == ("pooled", 31, "ok")


def test_spawned_workers_join_the_parents_run(tmp_path: Path) -> None:
    proc = agenttrace_run(tmp_path, "spawn", "2")
    assert proc.returncode == 0, proc.stderr
    run = only_run(tmp_path)
    assert (run.workflow, run.steps, run.status) == ("spawned", 3, "ok")


def test_a_lone_surrogate_loses_nothing_end_to_end(tmp_path: Path) -> None:
    proc = agenttrace_run(tmp_path, "surrogate", "400")
    assert proc.returncode == 0, proc.stderr
    assert "surrogates not allowed" not in proc.stderr
    run = only_run(tmp_path)
    assert (run.steps, run.status) == (401, "ok")
    dump = subprocess.run(
        [str(Path(sys.executable).parent / "agenttrace"), "dump", "--home", str(tmp_path), "--last"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dump.returncode == 0, dump.stderr
    assert "caf\ufffd" in dump.stdout


def test_run_context_carries_a_run_to_another_worker() -> None:
    import otel_agenttrace

    provider = TracerProvider()
    tracer = provider.get_tracer("carrier")
    with tracer.start_as_current_span("invoke_workflow parent") as root:
        carrier = otel_agenttrace.run_context()
    assert set(carrier) >= {"traceparent"}
    seen: list[int] = []

    def worker() -> None:  # a fresh thread has no current span, as a fresh process has none
        with otel_agenttrace.attach_run_context(carrier), tracer.start_as_current_span("execute_tool x") as span:
            seen.append(span.get_span_context().trace_id)
        with tracer.start_as_current_span("after") as span:
            seen.append(span.get_span_context().trace_id)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen[0] == root.get_span_context().trace_id
    assert seen[1] != root.get_span_context().trace_id  # detached again at the end of the block
    with otel_agenttrace.attach_run_context({}):
        pass
