"""Bursts: do spans get lost when a program makes them faster than the store takes them? (issue 9 item 3)

    python bench/bench_burst.py [--procs 4] [--spans 20000]

Each row: PROCS forked processes (under one workflow span, as `steps.py procs` does) each end SPANS tool spans in a
tight loop; the span processor in front of RunTraceExporter is either the SDK's BatchSpanProcessor with its defaults
(queue 2048, batch 512, 5 s delay; what `opentelemetry-instrument` used before) or our RunSpanProcessor (what
`agenttrace run` and our configurator use). Counted afterwards in the store: steps stored, spans lost (counted by
RunSpanProcessor; the SDK's batcher counts nothing), and the wall time of the burst (the processes' total
throughput). Also one row for a single process with 4 threads.
"""

from __future__ import annotations

import argparse
import contextvars
import os
import sys
import tempfile
import threading
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from otel_agenttrace.exporter._batch import RunSpanProcessor
from otel_agenttrace.exporter.run_trace import RunTraceExporter
from otel_agenttrace.exporter.store import RunStore


def run(kind: str, procs: int, spans: int, threads: int = 1) -> tuple[int, int, float]:
    home = tempfile.mkdtemp(prefix="bench-burst-")
    store = RunStore(home)
    exporter = RunTraceExporter(store, forward=None)
    processor = (
        RunSpanProcessor(exporter, on_lost=exporter.record_lost) if kind == "ours" else BatchSpanProcessor(exporter)
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")

    def loop(tag: str) -> None:
        for i in range(spans):
            tracer.start_span(f"execute_tool {tag}", attributes={"gen_ai.tool.name": "search", "i": i}).end()

    started = time.perf_counter()
    with tracer.start_as_current_span("invoke_workflow burst") as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        if procs > 1:
            pids = []
            for p in range(procs):
                pid = os.fork()
                if pid == 0:
                    loop(f"p{p}")
                    # Leave as a multiprocessing child or a crashed worker would: no atexit, no shutdown.
                    os._exit(0)
                pids.append(pid)
            for pid in pids:
                os.waitpid(pid, 0)
        else:
            # Each thread runs in a copy of this context, so its spans are children of the workflow (one run).
            workers = [
                threading.Thread(target=contextvars.copy_context().run, args=(loop, f"t{t}")) for t in range(threads)
            ]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
    provider.shutdown()
    took = time.perf_counter() - started
    with RunStore(home, read_only=True) as reader:
        summary = reader.run(trace_id)
    store.close()
    assert summary is not None
    return summary.steps - 1, summary.lost_spans, took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--spans", type=int, default=20_000)
    args = parser.parse_args()
    print("| processor | shape | spans made | stored | lost (counted) | missing, uncounted | wall s | stored spans/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    shapes = [(args.procs, 1, f"{args.procs} processes (fork, os._exit)"), (1, 4, "1 process, 4 threads")]
    for procs, threads, shape in shapes:
        for kind in ("sdk", "ours"):
            made = args.spans * procs * threads
            stored, lost, took = run(kind, procs, args.spans, threads)
            name = "BatchSpanProcessor (SDK defaults)" if kind == "sdk" else "RunSpanProcessor"
            print(
                f"| {name} | {shape} | {made} | {stored} | {lost} | {made - stored - lost} | {took:.1f} |"
                f" {stored / took:,.0f} |"
            )


if __name__ == "__main__":
    main()
