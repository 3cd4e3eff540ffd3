"""Several processes writing one run store at once: how long a write waits for the lock, and whether anything is lost.

    python bench/bench_writers.py [--processes 10] [--batch 5] [--seconds 30] [--sqlite-busy-handler]

Each forked process writes batches of `--batch` finished spans as fast as it can for `--seconds`
(the store's worst case: every process always wants the write lock). Prints, per process, the writes
made and the wait of a write (p50, p99, max), then spans written vs stored. `--sqlite-busy-handler`
waits for the lock as the store did before (SQLite's busy handler, 5 s timeout, 5 tries) to compare.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sqlite3
import tempfile
import time
from typing import Any

from otel_agenttrace.exporter import store as store_module
from otel_agenttrace.exporter._records import SpanRecord
from otel_agenttrace.exporter.store import RunStore, StoreError

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _sqlite_begin(conn: sqlite3.Connection, deadline: float) -> None:
    conn.execute("BEGIN IMMEDIATE")  # the connection's busy timeout (5 s) does the waiting


def writer(home: str, process: int, batch: int, seconds: float, queue: Any) -> None:
    store = RunStore(home)
    written = errors = 0
    waits: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        now = time.time_ns()
        records = [
            SpanRecord(
                trace_id=TRACE,
                span_id=f"{process:04x}{written + i:012x}",
                parent_id=None,
                name="execute_tool search",
                kind="INTERNAL",
                start_ns=now,
                end_ns=now + 1000,
                attributes={"gen_ai.tool.name": "search", "payload": "x" * 200},
            )
            for i in range(batch)
        ]
        start = time.monotonic()
        try:
            store.write_spans(records)
            written += batch
        except StoreError:
            errors += 1
        waits.append(time.monotonic() - start)
    store.close()
    waits.sort()
    queue.put((process, written, errors, len(waits), waits[len(waits) // 2], waits[int(len(waits) * 0.99)], waits[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sqlite-busy-handler", action="store_true", help="wait for the lock as before (to compare)")
    args = parser.parse_args()
    if args.sqlite_busy_handler:
        store_module.RunStore._begin = staticmethod(_sqlite_begin)  # type: ignore[method-assign]
        store_module._WRITE_WAIT_S = 5 * store_module._BUSY_TIMEOUT_MS / 1000  # type: ignore[misc]
    with tempfile.TemporaryDirectory() as home:
        RunStore(home).close()
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        procs = [
            context.Process(target=writer, args=(home, p, args.batch, args.seconds, queue))
            for p in range(args.processes)
        ]
        for p in procs:
            p.start()
        results = sorted(queue.get() for _ in procs)
        for p in procs:
            p.join()
        with RunStore(home, read_only=True) as store:
            summary = store.run(TRACE)
    mode = "SQLite busy handler (before)" if args.sqlite_busy_handler else "jittered 0.5-2 ms polls (now)"
    print(f"{args.processes} processes, batches of {args.batch}, {args.seconds:g} s, {mode}\n")
    print("| process | writes | errors | wait p50 ms | wait p99 ms | wait max ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    for process, _written, errors, writes, p50, p99, worst in results:
        print(f"| {process} | {writes} | {errors} | {p50 * 1e3:.1f} | {p99 * 1e3:.1f} | {worst * 1e3:.0f} |")
    written = sum(r[1] for r in results)
    stored = summary.steps if summary is not None else 0
    worst = max(r[6] for r in results)
    print(f"\nspans written {written}, stored {stored}; longest wait {worst:.2f} s")


if __name__ == "__main__":
    main()
