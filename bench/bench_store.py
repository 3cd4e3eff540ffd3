"""Throughput and memory of RunTraceExporter + RunStore (no forwarding), on one core.

    python bench/bench_store.py [--spans 100000] [--batch 512]

Rows:
  export, metadata   ReadableSpans with 12 realistic GenAI attributes, exporter.export() in BSP-sized batches
  export, content    the same plus input/output messages (1 KB of JSON content each); and again with both
                     redacted by the default Redactor before export (where issue 10 moves redaction)
  pipeline           spans made by an SDK tracer -> BatchSpanProcessor -> exporter (force_flush at the end),
                     next to the same pipeline with an exporter that drops everything (the bare SDK's cost)
  one long run       RunStore.write_spans alone: one run of --spans LLM spans, each call traced once, then
                     with another instrumentation's LLM span around each of ours (Pydantic AI's
                     instrument_all()): the summary counts each call once without re-reading the run
CPU rates (process CPU time) are the steadier number on a shared machine; wall rates include waiting
for the disk and for other processes.
Memory: tracemalloc over a run of --spans spans through export(), sampled every tenth of the run
(peak within each tenth, and what is still allocated after it): flat means nothing accumulates.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator, Sequence

from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AttributeValue

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from otel_agenttrace import semconv as sc
from otel_agenttrace._redact import Redactor
from otel_agenttrace.exporter.run_trace import RunTraceExporter
from otel_agenttrace.exporter.store import RunStore

SPANS_PER_RUN = 50
RESOURCE = Resource.create({"service.name": "bench-agent", "service.version": "1.2.3"})
SCOPE = None
MESSAGE = json.dumps(
    [{"role": "user", "parts": [{"type": "text", "content": "Find the cheapest flight to Lisbon next week. " * 21}]}]
)  # 1 KB


def _attributes(i: int, content: bool) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        sc.GEN_AI_OPERATION_NAME: sc.Operation.CHAT,
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
        sc.GEN_AI_REQUEST_TEMPERATURE: 0.2,
        sc.GEN_AI_REQUEST_MAX_TOKENS: 1024,
        sc.SERVER_ADDRESS: "api.openai.com",
        sc.SERVER_PORT: 443,
        sc.GEN_AI_RESPONSE_ID: f"chatcmpl-{i:012d}",
        sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        sc.GEN_AI_USAGE_INPUT_TOKENS: 812,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 95,
    }
    if content:
        attributes[sc.GEN_AI_INPUT_MESSAGES] = MESSAGE
        attributes[sc.GEN_AI_OUTPUT_MESSAGES] = MESSAGE
    return attributes


def make_spans(count: int, content: bool, start: int = 0) -> Iterator[ReadableSpan]:
    rng = random.Random(start)
    trace_id = root_id = 0
    now = time.time_ns()
    for i in range(start, start + count):
        if i % SPANS_PER_RUN == 0:
            trace_id, root_id = rng.getrandbits(128), rng.getrandbits(64)
        context = SpanContext(trace_id, rng.getrandbits(64), False, TraceFlags(TraceFlags.SAMPLED))
        parent = SpanContext(trace_id, root_id, False, TraceFlags(TraceFlags.SAMPLED))
        yield ReadableSpan(
            name="chat gpt-4o",
            context=context,
            parent=parent,
            resource=RESOURCE,
            attributes=_attributes(i, content),
            kind=SpanKind.CLIENT,
            status=Status(StatusCode.UNSET),
            start_time=now + i * 1000,
            end_time=now + i * 1000 + 500,
        )


def batches(spans: Sequence[ReadableSpan], size: int) -> Iterator[Sequence[ReadableSpan]]:
    for i in range(0, len(spans), size):
        yield spans[i : i + size]


def bench_export(count: int, batch: int, content: bool, redact: bool = False) -> tuple[float, float]:
    """`redact`: each span's content attributes also go through the default Redactor first, as they will
    on the export thread when content is captured beside the span (issue 10)."""
    spans = list(make_spans(count, content))
    redactor = Redactor()
    redactor.ready(60)
    keys = (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES)
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        exporter = RunTraceExporter(store=store, forward=None)
        wall, cpu = time.perf_counter(), time.process_time()
        for chunk in batches(spans, batch):
            if redact:
                for span in chunk:
                    attributes = span.attributes or {}
                    for key in keys:
                        redactor.redact(str(attributes[key]))
            exporter.export(chunk)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        exporter.shutdown()
        assert sum(r.steps for r in store.list_runs(limit=count)) == count
        store.close()
    return count / wall, count / cpu


def bench_one_run(count: int, batch: int, peers: bool) -> float:
    """CPU spans/s of RunStore.write_spans for one run of `count` LLM spans; `peers`: half of them are a peer's
    span around one of ours (ours first in each pair: children end first), else every span is a call of its own."""
    from otel_agenttrace.exporter._records import SpanRecord

    rng = random.Random(7)
    trace_id, root, now = f"{rng.getrandbits(128):032x}", f"{rng.getrandbits(64):016x}", time.time_ns()
    attributes = _attributes(0, False)
    records = []
    for i in range(count // 2):
        outer, inner = f"{rng.getrandbits(64):016x}", f"{rng.getrandbits(64):016x}"
        for span_id, parent, scope, start, end in (
            (inner, outer if peers else root, "otel_agenttrace", 1, 8),
            (outer, root, "pydantic-ai" if peers else "otel_agenttrace", 0, 9),
        ):
            start_ns = now + i * 10 + start
            records.append(
                SpanRecord(
                    trace_id,
                    span_id,
                    parent,
                    "chat gpt-4o",
                    "CLIENT",
                    start_ns,
                    now + i * 10 + end,
                    "UNSET",
                    None,
                    dict(attributes),
                    [],
                    {},
                    scope,
                )
            )
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        cpu = time.process_time()
        for i in range(0, len(records), batch):
            store.write_spans(records[i : i + batch])
        cpu = time.process_time() - cpu
        summary = store.run(trace_id)
        assert summary is not None and summary.steps == (count // 2 if peers else count)
        store.close()
    return len(records) / cpu


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def bench_pipeline(count: int, batch: int, exporter: SpanExporter) -> tuple[float, float]:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(
        BatchSpanProcessor(exporter, max_queue_size=count + 1, max_export_batch_size=batch, schedule_delay_millis=50)
    )
    tracer = provider.get_tracer("bench")
    attributes = _attributes(0, False)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count // SPANS_PER_RUN):
        with tracer.start_as_current_span("invoke_workflow bench"):
            for _ in range(SPANS_PER_RUN - 1):
                with tracer.start_as_current_span("chat gpt-4o", kind=trace_api.SpanKind.CLIENT, attributes=attributes):
                    pass
    provider.force_flush()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    provider.shutdown()
    return count / wall, count / cpu


def bench_memory(count: int, batch: int, content: bool) -> list[tuple[int, float, float]]:
    samples: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        exporter = RunTraceExporter(store=store, forward=None)
        window = max(batch, count // 10)
        tracemalloc.start()
        done = 0
        while done < count:
            tracemalloc.reset_peak()
            end = min(count, done + window)
            while done < end:
                n = min(batch, end - done)
                exporter.export(list(make_spans(n, content, start=done)))
                done += n
            current, peak = tracemalloc.get_traced_memory()
            samples.append((done, current / 2**20, peak / 2**20))
        tracemalloc.stop()
        exporter.shutdown()
        store.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says

    print(f"Python {sys.version.split()[0]}, {args.spans:,} spans, batches of {args.batch}, one core\n")
    print("| path | spans/s (wall) | spans/s (CPU) |")
    print("|---|---:|---:|")
    rows = (
        ("export, metadata (12 attributes)", False, False),
        ("export, content (+2 x 1 KB)", True, False),
        ("export, content (+2 x 1 KB), redacted on the export thread", True, True),
    )
    for label, content, redact in rows:
        wall, cpu = bench_export(args.spans, args.batch, content, redact)
        print(f"| {label} | {wall:,.0f} | {cpu:,.0f} |")
    with tempfile.TemporaryDirectory() as home:
        full = bench_pipeline(args.spans, args.batch, RunTraceExporter(store=home, forward=None))
    bare = bench_pipeline(args.spans, args.batch, _Drop())
    print(f"| pipeline: SDK tracer + BSP + RunTraceExporter | {full[0]:,.0f} | {full[1]:,.0f} |")
    print(f"| pipeline: SDK tracer + BSP + dropping exporter (bare SDK) | {bare[0]:,.0f} | {bare[1]:,.0f} |")
    for peers in (False, True):
        label = "a peer's LLM span around each call" if peers else "each call traced once"
        rate = bench_one_run(args.spans, args.batch, peers)
        print(f"| store only: one run of {args.spans:,} LLM spans, {label} | | {rate:,.0f} |")

    print("\nMemory of export() over the run (tracemalloc, MiB; peak within each tenth of the run)\n")
    print("| spans done | allocated after | peak during |")
    print("|---:|---:|---:|")
    for done, current, peak in bench_memory(args.spans, args.batch, content=True):
        print(f"| {done:,} | {current:.2f} | {peak:.2f} |")


if __name__ == "__main__":
    main()
