"""Issue 9 item 3, store side: several processes write one store at once, with span starts beside the
finished spans (as the in-flight recorder writes them), while another connection holds the write lock
longer than SQLite's busy timeout. Every writer waits and every step is counted, in one run."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from otel_agenttrace.exporter._records import SpanRecord
from otel_agenttrace.exporter.store import _BUSY_TIMEOUT_MS, DB_FILE, RunStore

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
ROOT = "00f067aa0ba902b7"
PROCESSES, THREADS, BATCHES, PER_BATCH = 4, 2, 60, 5
HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def record(span_id: str, *, parent: str | None = ROOT, end: bool = True) -> SpanRecord:
    now = time.time_ns()
    return SpanRecord(
        trace_id=TRACE,
        span_id=span_id,
        parent_id=parent,
        name="execute_tool search" if parent else "invoke_workflow burst",
        kind="INTERNAL",
        start_ns=now,
        end_ns=now + 1000 if end else None,
        resource={"service.name": "writers"},
    )


def write(home: str, process: int) -> None:
    store = RunStore(home)

    def batches(thread: int) -> None:
        for b in range(BATCHES):
            records = [record(f"{process:02x}{thread:02x}{b:06x}{i:06x}") for i in range(PER_BATCH)]
            if b % 4 == 0:  # started, then finished: the start must not leave the run open
                store.write_starts([record(r.span_id, end=False) for r in records])
            store.write_spans(records)

    threads = [threading.Thread(target=batches, args=(t,)) for t in range(1, THREADS)]
    for t in threads:
        t.start()
    batches(0)
    for t in threads:
        t.join()
    store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_several_processes_write_at_once_and_every_step_is_counted(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        store.write_starts([record(ROOT, parent=None, end=False)])
    # Another writer (a long batch, a `sqlite3` shell) holds the write lock past the busy timeout. It is
    # another process: a connection open in this one would be inherited, lock state and all, by the forks.
    hold_s = _BUSY_TIMEOUT_MS / 1000 + 1
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / DB_FILE), str(hold_s)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=write, args=(str(tmp_path), p)) for p in range(PROCESSES)]
    for w in writers:
        w.start()
    assert holder.wait(60) == 0
    for w in writers:
        w.join(120)
    assert [w.exitcode for w in writers] == [0] * PROCESSES  # no StoreError ("database is locked") anywhere
    with RunStore(tmp_path) as store:
        store.write_spans([record(ROOT, parent=None)])
        summary = store.run(TRACE)
        spans = store.spans(TRACE)
    assert summary is not None
    expected = PROCESSES * THREADS * BATCHES * PER_BATCH + 1
    assert (summary.steps, summary.status, len(spans)) == (expected, "ok", expected)
    assert all(s.end_ns is not None for s in spans)
