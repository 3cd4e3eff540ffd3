"""Retention gives disk space back (issue 9 item 14): file size before and after pruning, and what vacuuming costs.

    python bench/bench_vacuum.py [--runs 20000] [--keep 1000]

Fills a store with --runs runs (3 spans each, ~1.5 KB of attributes per span), applies count retention down to
--keep runs, then gives the free pages back with RunStore.vacuum() one step (VACUUM_STEP_PAGES pages, one short
write transaction) at a time. Reports the file size full, after pruning (free pages still in the file), after
vacuuming, and the time of the longest single step (how long another writer can be held up).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from otel_agenttrace.exporter._records import SpanRecord
from otel_agenttrace.exporter.store import VACUUM_STEP_PAGES, RunStore


def size(store: RunStore) -> int:
    store._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(store.path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--keep", type=int, default=1000)
    args = parser.parse_args()
    payload = "x" * 500
    store = RunStore(tempfile.mkdtemp(prefix="bench-vacuum-"))
    now = time.time_ns()
    for i in range(args.runs):
        trace_id = f"{i + 1:032x}"
        store.write_spans(
            [
                SpanRecord(
                    trace_id,
                    f"{i:08x}{s:08x}",
                    None if s == 0 else f"{i:08x}{0:08x}",
                    "step",
                    "INTERNAL",
                    now + i * 1000 + s,
                    now + i * 1000 + s + 10,
                    attributes={"a": payload, "b": payload, "c": payload},
                    resource={"service.name": "bench"},
                )
                for s in range(3)
            ]
        )
    full = size(store)
    real_vacuum = store.vacuum
    store.vacuum = lambda max_steps=None: 0  # type: ignore[method-assign]
    started = time.perf_counter()
    dropped = store.apply_retention(args.keep, None)
    prune_s = time.perf_counter() - started
    pruned = size(store)
    free = store._connection().execute("PRAGMA freelist_count").fetchone()[0]
    steps, longest, freed = 0, 0.0, 0
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        done = real_vacuum(max_steps=1)
        longest = max(longest, time.perf_counter() - t0)
        freed += done
        steps += 1
        if done < VACUUM_STEP_PAGES:
            break
    vacuum_s = time.perf_counter() - started
    after = size(store)
    store.close()
    mb = 1024 * 1024
    print(
        "| runs → kept | file full | after pruning | free pages | after vacuum | pruning s | vacuum s | steps"
        " | longest step ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.runs} → {args.runs - dropped} | {full / mb:.1f} MB | {pruned / mb:.1f} MB | {free} |"
        f" {after / mb:.1f} MB | {prune_s:.2f} | {vacuum_s:.2f} | {steps} | {longest * 1000:.0f} |"
    )


if __name__ == "__main__":
    main()
