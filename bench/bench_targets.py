"""Overhead of a traced tool call and a traced user `generate()` (configured targets), against the
bare call and a floor: the same call wrapped by hand in one span with 8 attributes.

    python bench/bench_targets.py [--seconds 20]
    python bench/bench_targets.py --callgrind   # instructions per call (valgrind's callgrind), about a minute

The user classes are plain Python (a ToolRegistry.execute that looks a tool up and calls it, a
BaseProvider.generate that returns a reply object without any SDK), so the numbers are the pure cost
of tracing. Same TracerProvider (BatchSpanProcessor -> an exporter that takes the content and drops the span) and
MeterProvider for every variant; content capture on (the default: beside the span, built and redacted by
the exporter on its thread) and off. Interleaved rounds; the
clock is the process's CPU time by default (metrics are recorded on a background thread, and that
cost counts, and each timed run ends with a flush of the span processor, so the export thread's work is
counted too), or the calling thread's (--clock thread: what the call itself pays). Medians over
rounds of (variant - bare) in the same round.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from otel_agenttrace import AgentTraceInstrumentor
from otel_agenttrace._beside import CHANNEL
from otel_agenttrace._capture import CapturePolicy, ContentMode
from otel_agenttrace._config import parse


class Drop(SpanExporter):
    """Drops every span after taking the content kept beside it, as the run-trace exporter does (with the
    content switch unset, content is built, redacted and capped there, on the processor's thread)."""

    def __init__(self) -> None:
        CHANNEL.open()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            CHANNEL.take(span)
        return SpanExportResult.SUCCESS


class Reply:
    def __init__(self, text: str, input_tokens: int, output_tokens: int) -> None:
        self.text, self.input_tokens, self.output_tokens = text, input_tokens, output_tokens


class BaseProvider:
    def __init__(self, model: str) -> None:
        self.model = model

    def generate(self, messages: list[dict[str, Any]], temperature: float = 0.0) -> Reply:
        return Reply("Lisbon: sunny, 21 C. " + messages[-1]["content"][:16], 120, 12)


class ToolRegistry:
    def __init__(self) -> None:
        self.tools: dict[str, Callable[..., Any]] = {"get_weather": lambda city: {"city": city, "sky": "sunny"}}

    def execute(self, name: str, arguments: dict[str, Any], call_id: str | None = None) -> Any:
        return self.tools[name](**arguments)


TARGETS = parse(
    {
        "targets": [
            {
                "kind": "llm",
                "target": f"{__name__}:BaseProvider.generate",
                "provider": "myapp",
                "model": "self.model",
                "messages": "args.messages",
                "output": "return.text",
                "input_tokens": "return.input_tokens",
                "output_tokens": "return.output_tokens",
            },
            {
                "kind": "tool",
                "target": f"{__name__}:ToolRegistry.execute",
                "name": "args.name",
                "arguments": "args.arguments",
                "call_id": "args.call_id",
            },
        ]
    },
    "bench",
)
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Weather in Lisbon tomorrow?"}]


def _modes(instrumentor: AgentTraceInstrumentor, provider: TracerProvider, meters: MeterProvider) -> Iterator[str]:
    """Instrumented with content on (the default), then off: the label of each, while it is in force."""
    for mode, label in ((ContentMode.LOCAL_ONLY, "content on"), (ContentMode.NO_CONTENT, "content off")):
        instrumentor.instrument(
            tracer_provider=provider,
            meter_provider=meters,
            run_root=False,
            capture_policy=CapturePolicy(mode=mode),
            targets=TARGETS,
        )
        yield label
        instrumentor.uninstrument()


N_CALLGRIND = 500


def _callgrind_child(order_path: str) -> None:
    """Under callgrind: each variant as main() builds it (the real instrument(), wrapt's wrappers included),
    warmed, then N_CALLGRIND calls between two os.getppid() (callgrind dumps its counters at each). The span
    processor's export thread is held back and the metrics thread stays asleep: the caller's thread's work."""
    from bench_callgrind import _asleep  # stdlib imports only: nothing of the SDKs comes with it

    import otel_agenttrace._metrics as metrics_module

    # Under valgrind every call is slow, and a slow call wakes the metrics thread. (This child once set a
    # constant that no longer existed; `_asleep` fails on a renamed one.)
    _asleep(metrics_module)
    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(Drop(), max_queue_size=200000, max_export_batch_size=200000, schedule_delay_millis=10**9)
    )
    meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
    variants, instrumentor = _variants(provider, meters)
    order = []
    for label in _modes(instrumentor, provider, meters):
        for scenario, fns in variants.items():
            for name, fn in fns.items():
                for _ in range(100):
                    fn()
                gc.collect()
                # What was made so far out of the collector's way: an older generation's collection walks it all,
                # ~10^7 instructions, and falls in one variant's loop or another's at random (a floor of 2847k).
                gc.freeze()
                order.append(f"{scenario}, {label}|{name}")
                os.getppid()  # callgrind dumps here (--dump-before=getppid)
                for _ in range(N_CALLGRIND):
                    fn()
                os.getppid()
    Path(order_path).write_text("\n".join(order))


def _callgrind() -> None:
    """Instructions per call over the bare call (deterministic, where thread-CPU timings move by 30 % and more)."""
    print(f"instructions per call over the bare call (callgrind, {N_CALLGRIND} calls per variant)\n")
    print("| scenario | floor | ours | ours / floor |")
    print("|---|---:|---:|---:|")
    from bench_callgrind import _summary

    with tempfile.TemporaryDirectory() as tmp:
        out, order_path = os.path.join(tmp, "cg"), os.path.join(tmp, "order")
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                # The calling thread's counts alone (thread 1): summed with the others', a background thread's work
                # fell in one variant's loop or another's (a tool call's 216k once read 2301k).
                "--separate-threads=yes",
                "--dump-before=getppid",
                f"--callgrind-out-file={out}",
                *(sys.executable, __file__, "--callgrind-child", order_path),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        counts: dict[str, dict[str, float]] = {}
        for i, entry in enumerate(Path(order_path).read_text().split("\n")):
            scenario, variant = entry.split("|")
            counts.setdefault(scenario, {})[variant] = _summary(Path(f"{out}.{2 + 2 * i}-01"))["Ir"] / N_CALLGRIND
    for scenario, c in counts.items():
        floor, ours = c["floor"] - c["bare"], c["ours"] - c["bare"]
        print(f"| {scenario} | {floor / 1000:.0f}k | {ours / 1000:.0f}k | {ours / floor:.2f}x |")


def _variants(provider: TracerProvider, meters: MeterProvider) -> tuple[dict[str, dict[str, Callable[[], Any]]], Any]:
    """The bare call, the floor and ours of each scenario (ours: through whatever instrument() patched)."""
    tracer = provider.get_tracer("floor")
    llm, tools = BaseProvider("local-7b"), ToolRegistry()
    bare_generate, bare_execute = BaseProvider.generate, ToolRegistry.execute

    def floor_generate() -> Any:
        with tracer.start_as_current_span(
            "chat local-7b",
            kind=SpanKind.CLIENT,
            attributes={"op": "chat", "provider": "myapp", "model": "local-7b", "n": 2},
        ) as span:
            reply = bare_generate(llm, MESSAGES)
            span.set_attributes(
                {"out": len(reply.text), "in_t": reply.input_tokens, "out_t": reply.output_tokens, "fin": "stop"}
            )
            return reply

    def floor_execute() -> Any:
        with tracer.start_as_current_span(
            "execute_tool get_weather",
            attributes={"op": "execute_tool", "name": "get_weather", "id": "call_1", "type": "function"},
        ) as span:
            result = bare_execute(tools, "get_weather", {"city": "Lisbon"}, "call_1")
            span.set_attributes({"a": 1, "b": 2, "c": 3, "d": 4})
            return result

    variants: dict[str, dict[str, Callable[[], Any]]] = {
        "generate()": {
            "bare": lambda: bare_generate(llm, MESSAGES),
            "floor": floor_generate,
            "ours": lambda: llm.generate(MESSAGES),
        },
        "tool call": {
            "bare": lambda: bare_execute(tools, "get_weather", {"city": "Lisbon"}, "call_1"),
            "floor": floor_execute,
            "ours": lambda: tools.execute("get_weather", {"city": "Lisbon"}, "call_1"),
        },
    }
    return variants, AgentTraceInstrumentor()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--callgrind-child":
        _callgrind_child(sys.argv[2])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--callgrind", action="store_true", help="instructions per call instead (valgrind's callgrind, deterministic)"
    )
    parser.add_argument("--round-ms", type=float, default=40.0)
    parser.add_argument(
        "--clock",
        choices=("thread", "process"),
        default="process",
        help="process (default): CPU of every thread, so the metrics recorded off the caller's thread count too; "
        "thread: the calling thread only (the latency the call itself pays)",
    )
    args = parser.parse_args()
    if args.callgrind:
        _callgrind()
        return
    clock = time.thread_time if args.clock == "thread" else time.process_time

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=1 << 16))
    meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
    variants, instrumentor = _variants(provider, meters)
    results: dict[str, dict[str, list[float]]] = {}
    for label in _modes(instrumentor, provider, meters):
        for scenario, fns in variants.items():
            per: dict[str, list[float]] = {k: [] for k in fns}
            deadline = time.perf_counter() + args.seconds / 4
            order = list(fns)
            while time.perf_counter() < deadline:
                order = order[1:] + order[:1]
                for name in order:
                    fn, n = fns[name], 0
                    gc.collect()
                    provider.force_flush()
                    t0 = clock()
                    end = t0 + args.round_ms / 1000
                    while True:
                        for _ in range(50):
                            fn()
                        n += 50
                        t = clock()
                        if t >= end:
                            break
                    if args.clock != "thread":  # the export thread's work for this run, on this run's clock
                        provider.force_flush()
                        t = clock()
                    per[name].append((t - t0) / n * 1e6)
            results[f"{scenario}, {label}"] = per

    print("| scenario | bare µs | floor overhead µs | ours overhead µs | ours / floor |")
    print("|---|---:|---:|---:|---:|")
    for name, per in results.items():
        bare = per["bare"]
        floor = statistics.median(f - b for f, b in zip(per["floor"], bare, strict=True))
        ours = statistics.median(o - b for o, b in zip(per["ours"], bare, strict=True))
        print(f"| {name} | {statistics.median(bare):.2f} | {floor:.1f} | {ours:.1f} | {ours / floor:.2f}x |")


if __name__ == "__main__":
    main()
