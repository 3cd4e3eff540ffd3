"""What LangGraph support costs: a 3-node StateGraph of plain Python nodes, bare and instrumented.

    python bench/bench_langgraph.py [--seconds 20]

Each instrumented invocation makes 4 spans (the graph and 3 nodes); the nodes do nothing, so the numbers
are LangGraph's own cost per invocation and what ours adds to it. Same TracerProvider
(BatchSpanProcessor -> an exporter that drops the spans) for the instrumented variants. Interleaved
rounds, process CPU time (the export thread counts), medians.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any, TypedDict

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from otel_agenttrace import AgentTraceInstrumentor
from otel_agenttrace._capture import CapturePolicy, ContentMode


class Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class State(TypedDict, total=False):
    x: int


def build() -> Any:
    from langgraph.graph import START, StateGraph

    def a(state: State) -> State:
        return {"x": state["x"] + 1}

    graph = StateGraph(State).add_node("a", a).add_node("b", a).add_node("c", a)
    return graph.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c").compile(name="bench")


def variants(graph: Any) -> dict[str, Callable[[], Any]]:
    loop = asyncio.new_event_loop()
    return {
        "invoke": lambda: graph.invoke({"x": 0}),
        "stream (values)": lambda: list(graph.stream({"x": 0}, stream_mode="values")),
        "ainvoke": lambda: loop.run_until_complete(graph.ainvoke({"x": 0})),
    }


def timed(fn: Callable[[], Any], n: int, flush: Callable[[], Any]) -> float:
    start = time.process_time()
    for _ in range(n):
        fn()
    flush()
    return (time.process_time() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    instrumentor = AgentTraceInstrumentor()
    graph = build()
    names = list(variants(graph))
    bare: dict[str, list[float]] = {k: [] for k in names}
    ours: dict[str, list[float]] = {k: [] for k in names}
    n = 50
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        for name, fn in variants(graph).items():
            bare[name].append(timed(fn, n, lambda: None))
        instrumentor.instrument(
            tracer_provider=provider, capture_policy=CapturePolicy(mode=ContentMode.NO_CONTENT), run_root=False
        )
        for name, fn in variants(graph).items():
            ours[name].append(timed(fn, n, provider.force_flush))
        instrumentor.uninstrument()
    print("| entry point | bare µs | instrumented µs | added µs (4 spans) | added |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        b, o = statistics.median(bare[name]), statistics.median(ours[name])
        print(f"| {name} | {b:.0f} | {o:.0f} | {o - b:.0f} | {(o - b) / b:.0%} |")


if __name__ == "__main__":
    main()
