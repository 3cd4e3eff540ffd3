"""What the pool result hand-off flush costs: a fork pool's tasks, each ending one tool span.

    python bench/bench_pool.py [--workers 2] [--tasks 2000] [--chunksize 1]

A pool worker writes its finished spans to the store before it hands a result back (`_mp`,
`exporter._batch.flush_finished`), so a task's steps are stored before the parent can have its result.
This runs the same pool with and without that flush (real RunSpanProcessor, RunTraceExporter and
store), and prints the wall time per task and how many spans each variant kept when the pool is left
with `Pool.terminate()` (as `with Pool` does).
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time

from opentelemetry.sdk.trace import TracerProvider

from otel_agenttrace import _mp
from otel_agenttrace.exporter._batch import RunSpanProcessor
from otel_agenttrace.exporter.run_trace import RunTraceExporter
from otel_agenttrace.exporter.store import RunStore

_tracer = None


def task(i: int) -> int:
    assert _tracer is not None
    _tracer.start_span(f"execute_tool task{i}").end()
    return i


def run(flush: bool, workers: int, tasks: int, chunksize: int) -> tuple[float, int]:
    global _tracer
    with tempfile.TemporaryDirectory() as home, RunStore(home) as store:
        provider = TracerProvider()
        provider.add_span_processor(RunSpanProcessor(RunTraceExporter(store, forward=None)))
        _mp._result_flush = flush  # the processor turned it on; off: the fork rules alone
        _tracer = provider.get_tracer("bench")
        with _tracer.start_as_current_span("invoke_workflow pool") as root:
            trace_id = format(root.get_span_context().trace_id, "032x")
            start = time.perf_counter()
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                for _ in pool.imap_unordered(task, range(tasks), chunksize):
                    pass
            elapsed = time.perf_counter() - start
        provider.shutdown()
        summary = store.run(trace_id)
        _mp._result_flush = True
        return elapsed, (summary.steps - 1 if summary is not None else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--chunksize", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shape = f"fork Pool({args.workers}), {args.tasks} tasks of one span, chunksize {args.chunksize}"
    print(f"{shape}; best of {args.repeat}\n")
    print("| result hand-off flush | wall s | µs per task | tasks stored (of all) |")
    print("|---|---:|---:|---:|")
    for flush in (False, True):
        results = [run(flush, args.workers, args.tasks, args.chunksize) for _ in range(args.repeat)]
        best = min(r[0] for r in results)
        kept = min(r[1] for r in results)
        label = "on (now)" if flush else "off (fork rules only)"
        print(f"| {label} | {best:.2f} | {best / args.tasks * 1e6:.0f} | {kept} / {args.tasks} (worst run) |")


if __name__ == "__main__":
    main()
