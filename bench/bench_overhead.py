"""Per-call overhead of the instrumentation, against the bare SDK and a hand-made span.

    python bench/bench_overhead.py                       # the full run, about 2 to 3 minutes
    python bench/bench_overhead.py --rounds 20           # a quick look
    python bench/bench_overhead.py --profile openai-chat # where our time goes, for one scenario

Variants, measured on the same clients, the same TracerProvider (BatchSpanProcessor -> an exporter that drops
everything) and MeterProvider (in-memory reader):
  bare       the SDK method as it was before instrumenting (the wrapped function, called directly)
  floor      the bare call inside one hand-made CLIENT span with 8 attributes (4 at start, 4 from the response)
  ours       the instrumented method, content capture on (the default: content on the span) and off (NO_CONTENT)

The SDK clients are real (openai, anthropic) over an httpx2.MockTransport that serves the recorded fixtures of
tests/data from bytes built once, so the transport's cost is small and the same for every variant; the
Anthropic client's own OpenTelemetry option is off in every variant (so `bare` makes no span at all).

Runs are interleaved: each round runs every variant of a scenario for about --round-ms, in a rotating order,
with a gc.collect() and a force_flush() of the span processor between variants (never inside a timed run);
the table shows medians over rounds of the per-call mean. Overheads are medians of the per-round differences
(variant - bare in the same round), which cancels the drift between rounds.

Per-chunk overhead: the same stream at two lengths (the recorded one and one with ~10x the content chunks);
the slope ((ours - bare) at the long length - (ours - bare) at the short one) / (chunk difference) is the cost
of one more chunk, free of every fixed per-call cost. The brief's estimate (ours stream - bare stream - ours
chat overhead) / chunks is shown next to it; it also charges the stream's fixed costs to the chunks.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import inspect
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from otel_agenttrace import AgentTraceInstrumentor
from otel_agenttrace import semconv as sc
from otel_agenttrace._capture import CapturePolicy, ContentMode

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
OPENAI_URL = "http://llm.test:8443/v1"
ANTHROPIC_URL = "http://anthropic.test:8443"
MESSAGES = [
    {"role": "system", "content": "You are a concise travel assistant."},
    {"role": "user", "content": "What is the capital of France, and what is it known for?"},
]
A_MESSAGES = MESSAGES[1:]
OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["location"],
            },
        },
    }
]
LONG_FACTOR = 10
VARIANTS = ("bare", "floor", "ours", "ours-nc")


class DropExporter(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


# --- fixtures, served from memory -----------------------------------------------------------


def _sse_events(name: str) -> list[bytes]:
    return [e + b"\n\n" for e in (DATA / name).read_bytes().split(b"\n\n") if e.strip()]


def _long_openai_stream() -> bytes:
    """chat_stream_text.sse with its content chunks repeated LONG_FACTOR times."""
    events = _sse_events("openai/chat_stream_text.sse")
    head, content, tail = events[:1], events[1:-3], events[-3:]  # role chunk | text chunks | finish, usage, DONE
    return b"".join(head + content * LONG_FACTOR + tail)


def _long_anthropic_stream() -> bytes:
    events = _sse_events("anthropic/messages_stream_text.sse")
    deltas = [e for e in events if b"content_block_delta" in e.split(b"\n", 1)[0]]
    first = events.index(deltas[0])
    last = events.index(deltas[-1])
    return b"".join(events[:first] + deltas * LONG_FACTOR + events[last + 1 :])


class Served:
    """One fixed response, rebuilt per request from bytes kept in memory."""

    def __init__(self, body: bytes, sse: bool) -> None:
        self.body = body
        self.headers = {"content-type": "text/event-stream" if sse else "application/json"}

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=self.headers, content=self.body, request=request)


def openai_client(body: bytes, sse: bool = False) -> openai.OpenAI:
    transport = httpx2.MockTransport(Served(body, sse))
    return openai.OpenAI(
        api_key="k", base_url=OPENAI_URL, max_retries=0, http_client=httpx2.Client(transport=transport)
    )


def anthropic_client(body: bytes, sse: bool = False) -> anthropic.Anthropic:
    transport = httpx2.MockTransport(Served(body, sse))
    return anthropic.Anthropic(
        api_key="k",
        base_url=ANTHROPIC_URL,
        max_retries=0,
        open_telemetry=False,
        http_client=httpx2.Client(transport=transport),
    )


# --- scenarios --------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    provider: str
    model: str
    bare: Callable[[], Any]
    ours: Callable[[], Any]
    # the result (or the last chunk of a stream) -> the 4 response attributes of the hand-made span
    summary: Callable[[Any], dict[str, Any]]
    chunks: int = 0
    results: dict[str, list[float]] = field(default_factory=dict)


def _original(owner: type, name: str) -> Callable[..., Any]:
    """The method as it was before instrumenting: what the bare variant calls."""
    attr = inspect.getattr_static(owner, name)
    return getattr(attr, "__wrapped__", attr)  # type: ignore[no-any-return]


def _drain(stream: Any) -> Any:
    last = None
    for last in stream:  # noqa: B007 - the last chunk is the point
        pass
    return last


def _openai_summary(r: Any) -> dict[str, Any]:
    usage = r.usage
    return {
        sc.GEN_AI_RESPONSE_ID: r.id,
        sc.GEN_AI_RESPONSE_MODEL: r.model,
        sc.GEN_AI_USAGE_INPUT_TOKENS: usage.prompt_tokens if usage else 0,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: usage.completion_tokens if usage else 0,
    }


def _anthropic_summary(r: Any) -> dict[str, Any]:
    usage = getattr(r, "usage", None)
    return {
        sc.GEN_AI_RESPONSE_ID: getattr(r, "id", "") or "",
        sc.GEN_AI_RESPONSE_MODEL: getattr(r, "model", "") or "",
        sc.GEN_AI_USAGE_INPUT_TOKENS: getattr(usage, "input_tokens", 0) or 0,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: getattr(usage, "output_tokens", 0) or 0,
    }


def build_scenarios() -> list[Scenario]:
    from anthropic.resources.messages.messages import Messages
    from openai.resources.chat.completions.completions import Completions

    oa_create = _original(Completions, "create")
    an_create = _original(Messages, "create")
    out: list[Scenario] = []

    def openai_scenario(name: str, body: bytes, sse: bool, chunks: int = 0, **kw: Any) -> None:
        client = openai_client(body, sse)
        resource = client.chat.completions
        kwargs = {"model": "gpt-4o", "messages": MESSAGES, **kw}
        if sse:
            kwargs["stream"] = True
            kwargs["stream_options"] = {"include_usage": True}
            bare: Callable[[], Any] = lambda: _drain(oa_create(resource, **kwargs))  # noqa: E731
            ours: Callable[[], Any] = lambda: _drain(resource.create(**kwargs))  # noqa: E731
        else:
            bare = lambda: oa_create(resource, **kwargs)  # noqa: E731
            ours = lambda: resource.create(**kwargs)  # noqa: E731
        out.append(Scenario(name, "openai", "gpt-4o", bare, ours, _openai_summary, chunks))

    def anthropic_scenario(name: str, body: bytes, sse: bool, chunks: int = 0) -> None:
        client = anthropic_client(body, sse)
        resource = client.messages
        kwargs: dict[str, Any] = {"model": "claude-sonnet-4-6", "max_tokens": 256, "messages": A_MESSAGES}
        if sse:
            kwargs["stream"] = True
            bare: Callable[[], Any] = lambda: _drain(an_create(resource, **kwargs))  # noqa: E731
            ours: Callable[[], Any] = lambda: _drain(resource.create(**kwargs))  # noqa: E731
        else:
            bare = lambda: an_create(resource, **kwargs)  # noqa: E731
            ours = lambda: resource.create(**kwargs)  # noqa: E731
        out.append(Scenario(name, "anthropic", "claude-sonnet-4-6", bare, ours, _anthropic_summary, chunks))

    oa_stream = (DATA / "openai/chat_stream_text.sse").read_bytes()
    an_stream = (DATA / "anthropic/messages_stream_text.sse").read_bytes()
    openai_scenario("openai-chat", (DATA / "openai/chat_text.json").read_bytes(), False)
    openai_scenario("openai-stream", oa_stream, True, _count_chunks(oa_stream, openai=True))
    long_oa = _long_openai_stream()
    openai_scenario("openai-stream-long", long_oa, True, _count_chunks(long_oa, openai=True))
    openai_scenario("openai-tool", (DATA / "openai/chat_tool_call.json").read_bytes(), False, tools=OPENAI_TOOLS)
    anthropic_scenario("anthropic-chat", (DATA / "anthropic/messages_text.json").read_bytes(), False)
    anthropic_scenario("anthropic-stream", an_stream, True, _count_chunks(an_stream, openai=False))
    long_an = _long_anthropic_stream()
    anthropic_scenario("anthropic-stream-long", long_an, True, _count_chunks(long_an, openai=False))
    return out


def _count_chunks(body: bytes, openai: bool) -> int:
    """Chunks the SDK yields: SSE events minus [DONE] (OpenAI) or pings (Anthropic)."""
    events = [e for e in body.split(b"\n\n") if e.strip()]
    if openai:
        return sum(1 for e in events if not e.startswith(b"data: [DONE]"))
    return sum(1 for e in events if not e.startswith(b"event: ping"))


# --- the harness ------------------------------------------------------------------------------


class Bench:
    def __init__(self) -> None:
        self.processor = BatchSpanProcessor(DropExporter(), max_queue_size=65536, max_export_batch_size=512)
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(self.processor)
        self.meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        self.floor_tracer = self.tracer_provider.get_tracer("hand-made")
        self.instrumentor = AgentTraceInstrumentor()
        self.instrumentor.instrument(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            capture_policy=CapturePolicy(mode=ContentMode.LOCAL_ONLY),
            run_root=False,
        )
        telemetry = AgentTraceInstrumentor.telemetry
        assert telemetry is not None
        self.telemetry = telemetry
        self.content_on = telemetry.policy
        self.content_off = CapturePolicy(mode=ContentMode.NO_CONTENT)

    def floor(self, s: Scenario) -> Callable[[], Any]:
        tracer, bare, summary = self.floor_tracer, s.bare, s.summary
        start = {
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: s.provider,
            sc.GEN_AI_REQUEST_MODEL: s.model,
            sc.SERVER_ADDRESS: "llm.test",
        }
        name = f"chat {s.model}"

        def call() -> Any:
            with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=start) as span:
                result = bare()
                span.set_attributes(summary(result))
            return result

        return call

    def variant(self, s: Scenario, name: str) -> tuple[Callable[[], None], Callable[[], Any]]:
        """(setup outside the timing, the call)"""
        tel = self.telemetry

        def content(policy: CapturePolicy) -> Callable[[], None]:
            def setup() -> None:
                # The wrappers read the policy from the shared Telemetry at each call.
                tel.policy = policy

            return setup

        if name == "bare":
            return content(self.content_on), s.bare
        if name == "floor":
            return content(self.content_on), self.floor(s)
        if name == "ours":
            return content(self.content_on), s.ours
        return content(self.content_off), s.ours

    def settle(self) -> None:
        self.processor.force_flush()
        gc.collect()

    def calibrate(self, s: Scenario, round_ms: float) -> int:
        """Calls per timed run, so that one run of the slowest variant takes about round_ms."""
        worst = 0.0
        for name in VARIANTS:
            setup, call = self.variant(s, name)
            setup()
            for _ in range(20):  # warm-up: imports, caches, pydantic validators
                call()
            t0 = time.perf_counter()
            for _ in range(20):
                call()
            worst = max(worst, (time.perf_counter() - t0) / 20)
        self.settle()
        return max(3, int(round_ms / 1000 / worst))

    def run(self, s: Scenario, rounds: int, round_ms: float) -> None:
        calls = self.calibrate(s, round_ms)
        s.results = {name: [] for name in VARIANTS}
        for r in range(rounds):
            order = VARIANTS[r % len(VARIANTS) :] + VARIANTS[: r % len(VARIANTS)]
            for name in order:
                setup, call = self.variant(s, name)
                setup()
                self.settle()
                t0 = time.perf_counter_ns()
                for _ in range(calls):
                    call()
                s.results[name].append((time.perf_counter_ns() - t0) / calls / 1000)
        self.telemetry.policy = self.content_on

    def profile(self, s: Scenario, variant: str, seconds: float) -> str:
        setup, call = self.variant(s, variant)
        setup()
        for _ in range(50):
            call()
        profiler = cProfile.Profile()
        deadline = time.perf_counter() + seconds
        n = 0
        profiler.enable()
        while time.perf_counter() < deadline:
            call()
            n += 1
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(r"otel_agenttrace|opentelemetry|wrapt|json|re\.py", 45)
        return f"{n} calls of {s.name} [{variant}]\n{out.getvalue()}"


# --- report -----------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def diff(s: Scenario, a: str, b: str = "bare") -> float:
    """Median of the per-round differences: drift between rounds cancels."""
    return median([x - y for x, y in zip(s.results[a], s.results[b], strict=True)])


def table(scenarios: list[Scenario]) -> str:
    lines = [
        "| scenario | content | bare µs | floor µs | ours µs | floor overhead µs | ours overhead µs "
        "| ours / floor | goal ≤ 1.5× |",
        "|---|---|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for s in scenarios:
        floor_oh = diff(s, "floor")
        for variant, label in (("ours", "on"), ("ours-nc", "off")):
            ours_oh = diff(s, variant)
            ratio = ours_oh / floor_oh if floor_oh > 0 else float("inf")
            chunks = f" ({s.chunks} chunks)" if s.chunks else ""
            lines.append(
                f"| {s.name}{chunks} | {label} | {median(s.results['bare']):.1f} | {median(s.results['floor']):.1f} "
                f"| {median(s.results[variant]):.1f} | {floor_oh:.1f} | {ours_oh:.1f} | {ratio:.2f}× "
                f"| {'yes' if ratio <= 1.5 else 'no'} |"
            )
    return "\n".join(lines)


def chunk_table(scenarios: list[Scenario]) -> str:
    by_name = {s.name: s for s in scenarios}
    lines = [
        "| stream | content | slope µs/chunk | brief's estimate µs/chunk | goal ≤ 2 µs (slope) |",
        "|---|---|---:|---:|:---:|",
    ]
    for provider in ("openai", "anthropic"):
        short, long, chat = (by_name.get(f"{provider}-{k}") for k in ("stream", "stream-long", "chat"))
        if short is None or long is None or chat is None:
            continue
        for variant, label in (("ours", "on"), ("ours-nc", "off")):
            slope = (diff(long, variant) - diff(short, variant)) / (long.chunks - short.chunks)
            brief = (diff(short, variant) - diff(chat, variant)) / short.chunks
            lines.append(
                f"| {provider} ({short.chunks} vs {long.chunks} chunks) | {label} | {slope:.2f} | {brief:.2f} "
                f"| {'yes' if slope <= 2 else 'no'} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60, help="interleaved rounds per scenario (default 60)")
    parser.add_argument("--round-ms", type=float, default=15.0, help="length of one timed run (default 15 ms)")
    parser.add_argument("--only", nargs="*", help="scenario names to run (default: all)")
    parser.add_argument("--profile", metavar="SCENARIO", help="profile one scenario's 'ours' variant instead")
    parser.add_argument("--profile-variant", default="ours", choices=VARIANTS)
    args = parser.parse_args(argv)

    bench = Bench()
    scenarios = build_scenarios()
    if args.profile:
        (s,) = [s for s in scenarios if s.name == args.profile]
        print(bench.profile(s, args.profile_variant, seconds=5.0))
        return
    if args.only:
        scenarios = [s for s in scenarios if s.name in args.only]
    started = time.perf_counter()
    for s in scenarios:
        t0 = time.perf_counter()
        bench.run(s, args.rounds, args.round_ms)
        print(f"  {s.name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    print(
        f"python {sys.version.split()[0]}, openai {openai.__version__}, anthropic {anthropic.__version__}; "
        f"{args.rounds} rounds × {args.round_ms:g} ms per variant; medians; "
        f"total {time.perf_counter() - started:.0f} s\n"
    )
    print(table(scenarios))
    print()
    print(chunk_table(scenarios))
    bench.instrumentor.uninstrument()
    bench.tracer_provider.shutdown()


if __name__ == "__main__":
    main()
