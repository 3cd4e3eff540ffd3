"""Per-call overhead of the instrumentation, against the bare SDK and a hand-made span.

    python bench/bench_overhead.py                       # the full run, about 2 minutes
    python bench/bench_overhead.py --seconds 3           # a quick look
    python bench/bench_overhead.py --ablate --seconds 12 # what each part of ours costs (metrics, redaction, content)
    python bench/bench_overhead.py --profile openai-chat # cProfile of one scenario's variant

Variants, measured on the same clients, the same TracerProvider (BatchSpanProcessor -> an exporter that takes
the content kept beside each span, as the run-trace exporter does, and drops everything) and MeterProvider
(in-memory reader):
  bare       the SDK method as it was before instrumenting (the wrapped function, called directly)
  floor      the bare call inside one hand-made CLIENT span with 8 attributes (4 at start, 4 from the response)
  ours       the instrumented method, content capture on (the default: content beside the span, built on the
             exporter's thread) and off (NO_CONTENT); --ablate adds ours-span (SPAN_ONLY: content redacted and set
             on the span on the caller's thread)
Streams are read as an application reads them: each chunk's text delta, in every variant alike.
--ablate adds: floor+metrics (the hand-made span also records the three GenAI histogram measurements inline),
floor+proxy (streams: the hand-made span current while the SDK makes the stream, ended by a minimal proxy when the
user has read it; what a stream instrumentation's proxy costs at the least; the floor itself for a chat call),
ours without metrics, ours without redaction patterns, ours-nc without metrics, ours+metrics-thread (ours,
then the deferred metrics recorded at once, on the clock: the CPU both threads spend), and ours-no-response-attrs
(the chat endpoints' response readers give the span no attribute: what the response attributes cost).

The SDK clients are real (openai, anthropic) over an httpx2.MockTransport that serves the recorded fixtures of
tests/data from bytes built once, so the transport's cost is small and the same for every variant; the
Anthropic client's own OpenTelemetry option is off in every variant (so `bare` makes no span at all).

Runs are interleaved: each round runs every variant of a scenario for about --round-ms, in a rotating order,
with a gc.collect(), a force_flush() of the span processor and a flush of our deferred metrics between variants
(never inside a timed run); the clock is the calling thread's CPU time (other processes on a shared machine do
not count; --clock wall to compare): what the instrumented call costs its caller. Work our instrumentation
moves to another thread (the metrics recorder) is not on that clock; --ablate shows it. The table shows
medians over rounds of the per-call mean. Overheads are medians of the per-round differences (variant - bare
in the same round), which cancels the drift between rounds, with a distribution-free 95% confidence interval.

Per-chunk overhead, three ways:
  isolated     (the number the goal is checked on) the SDK's own chunk objects, made once, fed from a list
               through our real StreamProxy + accumulator, against a bare loop over the same list, at two
               lengths (the recording and 100x its content chunks): the slope is the cost of one more chunk,
               free of every fixed cost, and of the SDK's per-chunk parsing whose noise is larger than our cost
  SDK slope    the same slope through the real SDK (recording vs 10x its content chunks): a cross-check
  brief        (ours stream - bare stream - ours chat overhead) / chunks: also charges the stream's fixed
               costs (and the difference between a stream's and a response's end) to the chunks
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import inspect
import io
import math
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import wrapt
from opentelemetry import context as otel_context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, set_span_in_context

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from otel_agenttrace import AgentTraceInstrumentor
from otel_agenttrace import semconv as sc
from otel_agenttrace._beside import CHANNEL
from otel_agenttrace._capture import CapturePolicy, ContentMode
from otel_agenttrace._folder import FOLDER
from otel_agenttrace._redact import Redactor

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
ABLATIONS = (
    "bare",
    "floor",
    "floor+metrics",
    "floor+proxy",
    "ours",
    "ours-span",
    "ours+metrics-thread",
    "ours-no-metrics",
    "ours-no-redaction",
    "ours-nc",
    "ours-nc-no-metrics",
    "ours-no-response-attrs",
)


def _response_attributes(on: bool) -> None:
    """The chat endpoints' response readers as they are (`on`), or giving the span no response attribute
    (`ours-no-response-attrs`): a complete response's, and a stream's ends' (id, model, finish reasons, usage,
    the OpenAI tier and fingerprint; a stream keeps its time to first chunk). What reading them and the SDK's
    checks of each attribute (`set_attributes`) cost the caller, against the floor's 4 response attributes."""
    if not _READERS:
        from otel_agenttrace.providers import anthropic as an_provider
        from otel_agenttrace.providers import openai as oa_provider

        _READERS.extend((e, e.response, e.stream_response) for e in (oa_provider.CHAT, an_provider.MESSAGES))
    for endpoint, response, stream_response in _READERS:
        # Frozen dataclasses, built once at import and held by the installed wrappers: patched in place.
        object.__setattr__(endpoint, "response", response if on else _no_response_attributes)
        object.__setattr__(endpoint, "stream_response", stream_response if on else _no_stream_attributes)


# (endpoint, its response reader, its stream-ends reader), as imported
_READERS: list[tuple[Any, Any, Any]] = []


def _no_response_attributes(result: Any, capture: bool) -> tuple[dict[str, Any], None]:
    return {}, None


def _no_stream_attributes(chunks: list[Any], choices: int) -> dict[str, Any]:
    return {}


# --versus: the official OpenAI instrumentation (opentelemetry-instrumentation-openai-v2) side by side, on
# the same TracerProvider and MeterProvider; each variant's wrapper alone around the bare SDK method.
VERSUS = ("bare", "floor", "ours", "ours-span", "ours-nc", "v2-content", "v2-nc")
VERSUS_SCENARIOS = ("openai-chat", "openai-tool", "openai-stream")


class DropExporter(SpanExporter):
    """Drops every span, after taking the content kept beside it (as the run-trace exporter does, minus
    the store): with the content switch unset, that is where the content is built, redacted and capped."""

    def __init__(self) -> None:
        CHANNEL.open()

    def export(self, spans: Any) -> SpanExportResult:
        take = CHANNEL.take
        for span in spans:
            take(span)
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


class Loopback:
    """`--loopback`: the recorded responses served over a real socket by bench/loopback_server.py, in a
    process of its own. The calling thread then blocks in `recv` as against a real provider, releasing the
    GIL there (where other threads, ours included, get to run), and pays the real transport's parsing."""

    def __init__(self) -> None:
        import subprocess
        import tempfile

        self.root = Path(tempfile.mkdtemp(prefix="agenttrace-loopback-"))
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve().parent / "loopback_server.py"), str(self.root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def url(self, body: bytes, sse: bool) -> str:
        """The base URL under which the server answers every request with `body`."""
        import hashlib

        name = hashlib.sha256(body).hexdigest()[:16] + (".sse" if sse else ".json")
        (self.root / name).write_bytes(body)
        return f"http://127.0.0.1:{self.port}/{name}"


LOOPBACK: Loopback | None = None


def use_loopback() -> None:
    global LOOPBACK
    if LOOPBACK is None:
        LOOPBACK = Loopback()


def _http(body: bytes, sse: bool, url: str) -> tuple[str, httpx2.Client]:
    """The base URL and HTTP client of a scenario's SDK client: a mock transport, or the loopback server."""
    if LOOPBACK is not None:
        return LOOPBACK.url(body, sse) + "/v1" * url.endswith("/v1"), httpx2.Client()
    return url, httpx2.Client(transport=httpx2.MockTransport(Served(body, sse)))


def openai_client(body: bytes, sse: bool = False) -> openai.OpenAI:
    url, http = _http(body, sse, OPENAI_URL)
    return openai.OpenAI(api_key="k", base_url=url, max_retries=0, http_client=http)


def anthropic_client(body: bytes, sse: bool = False) -> anthropic.Anthropic:
    url, http = _http(body, sse, ANTHROPIC_URL)
    return anthropic.Anthropic(api_key="k", base_url=url, max_retries=0, open_telemetry=False, http_client=http)


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
    rounds: int = 0
    # a wrapt-style wrapper (wrapped, instance, args, kwargs) -> the call through it alone (--versus)
    through: Callable[[Callable[..., Any]], Callable[[], Any]] | None = None
    # a stream's bare call unread, and the reader `_drain` applies to each chunk (floor+proxy)
    unread: Callable[[], Any] | None = None
    text: Callable[[Any], Any] | None = None


def _original(owner: type, name: str) -> Callable[..., Any]:
    """The method as it was before instrumenting: what the bare variant calls."""
    attr = inspect.getattr_static(owner, name)
    return getattr(attr, "__wrapped__", attr)  # type: ignore[no-any-return]


def _openai_text(chunk: Any) -> Any:
    return chunk.choices[0].delta.content if chunk.choices else None


def _anthropic_text(event: Any) -> Any:
    return event.delta.text if event.type == "content_block_delta" else None


def _drain(stream: Any, text: Callable[[Any], Any]) -> Any:
    """Read a stream as an application does: every chunk's text delta (so the chunk objects are touched
    by the user's code, as they would be, in every variant alike). Returns the last chunk."""
    last = None
    for last in stream:
        text(last)
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
        bound = oa_create.__get__(resource)

        def through(wrapper: Callable[..., Any]) -> Callable[[], Any]:
            if sse:
                return lambda: _drain(wrapper(bound, resource, (), kwargs), _openai_text)
            return lambda: wrapper(bound, resource, (), kwargs)

        if sse:
            kwargs["stream"] = True
            kwargs["stream_options"] = {"include_usage": True}
            bare: Callable[[], Any] = lambda: _drain(oa_create(resource, **kwargs), _openai_text)  # noqa: E731
            ours: Callable[[], Any] = lambda: _drain(resource.create(**kwargs), _openai_text)  # noqa: E731
        else:
            bare = lambda: oa_create(resource, **kwargs)  # noqa: E731
            ours = lambda: resource.create(**kwargs)  # noqa: E731
        unread = (lambda: oa_create(resource, **kwargs)) if sse else None
        out.append(
            Scenario(
                name,
                "openai",
                "gpt-4o",
                bare,
                ours,
                _openai_summary,
                chunks,
                through=through,
                unread=unread,
                text=_openai_text,
            )
        )

    def anthropic_scenario(name: str, body: bytes, sse: bool, chunks: int = 0) -> None:
        client = anthropic_client(body, sse)
        resource = client.messages
        kwargs: dict[str, Any] = {"model": "claude-sonnet-4-6", "max_tokens": 256, "messages": A_MESSAGES}
        if sse:
            kwargs["stream"] = True
            bare: Callable[[], Any] = lambda: _drain(an_create(resource, **kwargs), _anthropic_text)  # noqa: E731
            ours: Callable[[], Any] = lambda: _drain(resource.create(**kwargs), _anthropic_text)  # noqa: E731
        else:
            bare = lambda: an_create(resource, **kwargs)  # noqa: E731
            ours = lambda: resource.create(**kwargs)  # noqa: E731
        unread = (lambda: an_create(resource, **kwargs)) if sse else None
        out.append(
            Scenario(
                name,
                "anthropic",
                "claude-sonnet-4-6",
                bare,
                ours,
                _anthropic_summary,
                chunks,
                unread=unread,
                text=_anthropic_text,
            )
        )

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


def _floor_start(s: Scenario) -> tuple[str, dict[str, Any]]:
    """The hand-made span's name and its 4 attributes at start."""
    start = {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: s.provider,
        sc.GEN_AI_REQUEST_MODEL: s.model,
        sc.SERVER_ADDRESS: "llm.test",
    }
    return f"chat {s.model}", start


# --- the harness ------------------------------------------------------------------------------


class Bench:
    def __init__(
        self, clock: Callable[[], int] = time.thread_time_ns, flush_on_clock: bool = False, steady: bool = False
    ) -> None:
        self.clock = clock
        # Process CPU: the export thread's work for a run's spans (content built there) belongs to that run.
        self.flush_on_clock = flush_on_clock
        # Steady state: the export thread exports on a short schedule during the runs and nothing is flushed or
        # drained between them, so whatever the export and folding threads do lands in the runs it overlaps.
        self.steady = steady
        self.processor = BatchSpanProcessor(
            DropExporter(),
            max_queue_size=65536,
            max_export_batch_size=512,
            schedule_delay_millis=20 if steady else 5000,
        )
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(self.processor)
        self.meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        self.floor_tracer = self.tracer_provider.get_tracer("hand-made")
        self._v2: dict[str, Callable[..., Any]] | None = None
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
        # Opted in: content built, redacted and set on the span on the caller's thread (the old default).
        self.content_span = CapturePolicy(mode=ContentMode.SPAN_ONLY)
        # The instrumentation's metrics recorder (it records off the caller's thread); None switches metrics off.
        self.metrics = telemetry.metrics
        # The hand-made span's histograms, recorded inline as a hand-made span would.
        meter = self.meter_provider.get_meter("hand-made")
        self.histograms = (
            meter.create_histogram(sc.Metric.OPERATION_DURATION, unit="s"),
            meter.create_histogram(sc.Metric.TOKEN_USAGE, unit="{token}"),
        )

    def floor(self, s: Scenario, metrics: bool = False) -> Callable[[], Any]:
        tracer, bare, summary = self.floor_tracer, s.bare, s.summary
        name, start = _floor_start(s)
        duration, tokens = self.histograms

        def call() -> Any:
            with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=start) as span:
                result = bare()
                end = summary(result)
                span.set_attributes(end)
            return result

        def call_with_metrics() -> Any:
            t0 = time.perf_counter()
            with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=start) as span:
                result = bare()
                end = summary(result)
                span.set_attributes(end)
            attrs = {**start, sc.GEN_AI_RESPONSE_MODEL: end[sc.GEN_AI_RESPONSE_MODEL]}
            duration.record(time.perf_counter() - t0, attrs)
            tokens.record(end[sc.GEN_AI_USAGE_INPUT_TOKENS], {**attrs, sc.GEN_AI_TOKEN_TYPE: "input"})
            tokens.record(end[sc.GEN_AI_USAGE_OUTPUT_TOKENS], {**attrs, sc.GEN_AI_TOKEN_TYPE: "output"})
            return result

        return call_with_metrics if metrics else call

    def floor_proxy(self, s: Scenario) -> Callable[[], Any]:
        """A stream's floor as an instrumentation must shape it: the hand-made span current while the SDK
        makes the stream, then a minimal proxy hands the user the chunks and ends the span when they run out,
        with the same 8 attributes. No close, no garbage-collection path, no time to first chunk: what a
        stream's proxy costs at the least, to set against the floor, which reads the stream inside its span."""
        if s.unread is None or s.text is None:
            return self.floor(s)
        tracer, unread, summary, text = self.floor_tracer, s.unread, s.summary, s.text
        name, start = _floor_start(s)

        class Proxy(wrapt.ObjectProxy):  # type: ignore[misc]
            _self_span: Any

            def __iter__(self) -> Iterator[Any]:
                span, last = self._self_span, None
                try:
                    for last in self.__wrapped__:
                        yield last
                except BaseException as exc:
                    span.record_exception(exc)
                    span.end()
                    raise
                span.set_attributes(summary(last))
                span.end()

        def call() -> Any:
            span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=start)
            token = otel_context.attach(set_span_in_context(span))
            try:
                stream = Proxy(unread())
            finally:
                otel_context.detach(token)
            stream._self_span = span
            return _drain(stream, text)

        return call

    def variant(self, s: Scenario, name: str) -> tuple[Callable[[], None], Callable[[], Any]]:
        """(setup outside the timing, the call)"""
        tel = self.telemetry
        recorder = self.metrics
        no_redaction = CapturePolicy(mode=ContentMode.LOCAL_ONLY, redactor=Redactor(()))

        def configure(policy: CapturePolicy, metrics: bool = True, response: bool = True) -> Callable[[], None]:
            def setup() -> None:
                # The wrappers read the policy and the metrics recorder from the shared Telemetry at each call.
                tel.policy = policy
                tel.metrics = recorder if metrics else None
                _response_attributes(response)

            return setup

        calls: dict[str, tuple[Callable[[], None], Callable[[], Any]]] = {
            "bare": (configure(self.content_on), s.bare),
            "floor": (configure(self.content_on), self.floor(s)),
            "floor+metrics": (configure(self.content_on), self.floor(s, metrics=True)),
            "floor+proxy": (configure(self.content_on), self.floor_proxy(s)),
            "ours": (configure(self.content_on), s.ours),
            "ours-nc": (configure(self.content_off), s.ours),
            "ours-span": (configure(self.content_span), s.ours),
            "ours-no-metrics": (configure(self.content_on, metrics=False), s.ours),
            "ours-nc-no-metrics": (configure(self.content_off, metrics=False), s.ours),
            "ours-no-redaction": (configure(no_redaction), s.ours),
            "ours-no-response-attrs": (configure(self.content_on, response=False), s.ours),
            "ours+metrics-thread": (configure(self.content_on), self.with_metrics_flush(s.ours)),
        }
        if name.startswith("v2-"):
            assert s.through is not None, f"{s.name} has no --versus form"
            return configure(self.content_on), s.through(self.openai_v2()[name])
        return calls[name]

    def openai_v2(self) -> dict[str, Callable[..., Any]]:
        """The official instrumentation's chat wrappers, content on and off (its default), built as its
        instrumentor builds them, on our tracer and meter providers (content events go to an SDK logger
        provider with no processor: built, then dropped); called directly, so only one instrumentation
        wraps each call. 2.3b0 (the `bench` extra) follows the v1.30 conventions: content as log events."""
        if self._v2 is None:
            from opentelemetry._logs import get_logger
            from opentelemetry.instrumentation.openai_v2 import patch
            from opentelemetry.instrumentation.openai_v2.instruments import Instruments
            from opentelemetry.sdk._logs import LoggerProvider
            from opentelemetry.trace import get_tracer

            name = "opentelemetry.instrumentation.openai_v2"
            tracer = get_tracer(name, "", self.tracer_provider)
            logger = get_logger(name, "", logger_provider=LoggerProvider())
            instruments = Instruments(self.meter_provider.get_meter(name))
            self._v2 = {
                "v2-content": patch.chat_completions_create(tracer, logger, instruments, True),
                "v2-nc": patch.chat_completions_create(tracer, logger, instruments, False),
            }
        return self._v2

    def with_metrics_flush(self, call: Callable[[], Any]) -> Callable[[], Any]:
        """The call, then the deferred metrics recorded at once: the CPU of both threads, on the clock."""
        flush = self.telemetry.flush_metrics

        def both() -> Any:
            result = call()
            flush()
            return result

        return both

    def settle(self) -> None:
        if not self.steady:
            self.telemetry.flush_metrics()
            FOLDER.drain()  # a variant's content is rendered before the next variant's run, not during it
            self.processor.force_flush()
        gc.collect()

    def calibrate(self, s: Scenario, round_ms: float, variants: tuple[str, ...]) -> tuple[int, float]:
        """Calls per timed run, so that one run of the slowest variant takes about round_ms; and that
        variant's seconds per call."""
        worst = 0.0
        for name in variants:
            setup, call = self.variant(s, name)
            setup()
            for _ in range(5):  # warm-up: imports, caches, pydantic validators
                call()
            t0 = time.perf_counter()
            for _ in range(5):
                call()
            worst = max(worst, (time.perf_counter() - t0) / 5)
        self.settle()
        return max(2, round(round_ms / 1000 / worst)), worst

    def run(self, s: Scenario, seconds: float, round_ms: float, variants: tuple[str, ...] = VARIANTS) -> None:
        calls, per_call = self.calibrate(s, round_ms, variants)
        # Everything allocated so far (SDK modules, clients) is left out of the collector's work, so a full
        # collection costs microseconds and never lands in one variant's run by chance.
        gc.freeze()
        rounds = max(10, int(seconds / (len(variants) * calls * per_call)))
        s.results = {name: [] for name in variants}
        s.rounds = rounds
        for r in range(rounds):
            order = _rotated(variants, r)
            for name in order:
                setup, call = self.variant(s, name)
                setup()
                self.settle()
                t0 = self.clock()
                for _ in range(calls):
                    call()
                if self.flush_on_clock:
                    self.telemetry.flush_metrics()
                    self.processor.force_flush()
                s.results[name].append((self.clock() - t0) / calls / 1000)
        self.variant(s, "ours")[0]()

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


# --- per chunk, isolated from the SDK ---------------------------------------------------------


@dataclass
class ChunkCost:
    provider: str
    short: int
    long: int
    # variant -> per-round (long - short) time difference, µs
    spans: dict[str, list[float]] = field(default_factory=dict)

    def per_chunk(self, variant: str) -> float:
        extra = [o - b for o, b in zip(self.spans[variant], self.spans["bare"], strict=True)]
        return median(extra) / (self.long - self.short)


def _sdk_chunks(provider: str) -> tuple[list[Any], list[Any]]:
    """The chunk objects the real SDK yields for the recorded stream: (head+tail, the repeatable content)."""
    from anthropic.resources.messages.messages import Messages
    from openai.resources.chat.completions.completions import Completions

    if provider == "openai":
        oa = openai_client((DATA / "openai/chat_stream_text.sse").read_bytes(), sse=True)
        create = _original(Completions, "create")
        kwargs = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
        chunks = list(create(oa.chat.completions, **kwargs))
        return chunks, chunks[1:-2]
    an = anthropic_client((DATA / "anthropic/messages_stream_text.sse").read_bytes(), sse=True)
    create = _original(Messages, "create")
    kwargs = {"model": "claude-sonnet-4-6", "max_tokens": 256, "messages": A_MESSAGES, "stream": True}
    events = list(create(an.messages, **kwargs))
    return events, [e for e in events if e.type == "content_block_delta"]


def isolated_chunk_cost(bench: Bench, provider: str, rounds: int = 150, long_factor: int = 100) -> ChunkCost:
    """Our per-chunk path (proxy __next__, time to first chunk, accumulator) over chunks the SDK already made.

    The SDK's own per-chunk work (SSE decoding, JSON, pydantic: 30 to 150 µs a chunk here) dwarfs ours and
    its noise hides a 1 µs difference; so the real SDK chunk objects are fed to our real StreamProxy and
    accumulator from a list, next to a bare loop over the same list, at two lengths.
    """
    from otel_agenttrace._lifecycle import LLMInvocation
    from otel_agenttrace._stream import StreamState, proxy
    from otel_agenttrace.providers import anthropic as anthropic_provider
    from otel_agenttrace.providers import openai as openai_provider

    full, content = _sdk_chunks(provider)
    if provider == "openai":
        head, tail = full[:1], full[-2:]
        accumulator: Callable[[bool], Any] = openai_provider.ChatStreamAccumulator
    else:
        first = full.index(content[0])
        last = full.index(content[-1])
        head, tail = full[:first], full[last + 1 :]
        accumulator = anthropic_provider.StreamAccumulator
    short = head + content + tail
    long = head + content * long_factor + tail
    tel = bench.telemetry
    attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: provider, sc.GEN_AI_REQUEST_MODEL: "m"}

    text = _openai_text if provider == "openai" else _anthropic_text

    def bare(chunks: list[Any]) -> None:
        _drain(iter(chunks), text)

    def ours(chunks: list[Any], capture: bool) -> None:
        inv = LLMInvocation(tel, "chat", dict(attrs))
        inv.detach()
        _drain(proxy(iter(chunks), StreamState(inv, accumulator(capture)), False), text)

    variants: dict[str, Callable[[list[Any]], None]] = {
        "bare": bare,
        "ours": lambda c: ours(c, True),
        "ours-nc": lambda c: ours(c, False),
    }
    cost = ChunkCost(provider, len(short), len(long), {name: [] for name in variants})
    for fn in variants.values():  # warm-up
        fn(short)
        fn(long)
    for r in range(rounds):
        names = list(variants)
        names = names[r % 3 :] + names[: r % 3]
        for name in names:
            fn = variants[name]
            bench.settle()
            t0 = bench.clock()
            fn(short)
            t1 = bench.clock()
            fn(long)
            t2 = bench.clock()
            cost.spans[name].append(((t2 - t1) - (t1 - t0)) / 1000)
    return cost


# --- report -----------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def median_ci(values: list[float]) -> tuple[float, float]:
    """A distribution-free 95 % confidence interval of the median (order statistics)."""
    xs = sorted(values)
    n = len(xs)
    half = 1.96 * math.sqrt(n) / 2
    return xs[max(0, math.floor(n / 2 - half))], xs[min(n - 1, math.ceil(n / 2 + half))]


def diffs(s: Scenario, a: str, b: str = "bare") -> list[float]:
    return [x - y for x, y in zip(s.results[a], s.results[b], strict=True)]


def diff(s: Scenario, a: str, b: str = "bare") -> float:
    """Median of the per-round differences: drift between rounds cancels."""
    return median(diffs(s, a, b))


def half_width(values: list[float]) -> float:
    lo, hi = median_ci(values)
    return (hi - lo) / 2


def with_ci(values: list[float]) -> str:
    lo, hi = median_ci(values)
    return f"{median(values):.0f} ({lo:.0f}..{hi:.0f})"


def table(scenarios: list[Scenario]) -> str:
    lines = [
        "| scenario | content | bare µs | floor µs | ours µs | floor overhead µs (95% CI) "
        "| ours overhead µs (95% CI) | ours / floor | goal ≤ 1.5x |",
        "|---|---|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for s in scenarios:
        floor_oh = diff(s, "floor")
        for variant, label in (("ours", "on"), ("ours-nc", "off")):
            ours_oh = diff(s, variant)
            ratio = f"{ours_oh / floor_oh:.2f}x" if floor_oh > 0 else "n/a (floor in the noise)"
            chunks = f" ({s.chunks} chunks)" if s.chunks else ""
            goal = "yes" if floor_oh > 0 and ours_oh / floor_oh <= 1.5 else "no"
            lines.append(
                f"| {s.name}{chunks} | {label} | {median(s.results['bare']):.0f} | {median(s.results['floor']):.0f} "
                f"| {median(s.results[variant]):.0f} | {with_ci(diffs(s, 'floor'))} | {with_ci(diffs(s, variant))} "
                f"| {ratio} | {goal} |"
            )
    return "\n".join(lines)


def chunk_table(scenarios: list[Scenario], isolated: list[ChunkCost]) -> str:
    """Per-chunk overhead, with the half-width of a 95% CI (the SDK slope's combines its two medians')."""
    by_name = {s.name: s for s in scenarios}
    iso = {c.provider: c for c in isolated}
    lines = [
        "| stream | content | isolated µs/chunk | SDK slope µs/chunk | brief's estimate µs/chunk "
        "| goal ≤ 2 µs (isolated) |",
        "|---|---|---:|---:|---:|:---:|",
    ]
    for provider in ("openai", "anthropic"):
        short, long, chat = (by_name.get(f"{provider}-{k}") for k in ("stream", "stream-long", "chat"))
        cost = iso.get(provider)
        if cost is None or short is None or long is None or chat is None:
            continue
        for variant, label in (("ours", "on"), ("ours-nc", "off")):
            extra = [o - b for o, b in zip(cost.spans[variant], cost.spans["bare"], strict=True)]
            isolated_cell = f"{cost.per_chunk(variant):.2f} ± {half_width(extra) / (cost.long - cost.short):.2f}"
            span = long.chunks - short.chunks
            slope = (diff(long, variant) - diff(short, variant)) / span
            slope_hw = math.hypot(half_width(diffs(long, variant)), half_width(diffs(short, variant))) / span
            brief = (diff(short, variant) - diff(chat, variant)) / short.chunks
            lines.append(
                f"| {provider} (isolated {cost.short} vs {cost.long}; SDK {short.chunks} vs {long.chunks} chunks) "
                f"| {label} | {isolated_cell} | {slope:.2f} ± {slope_hw:.2f} | {brief:.2f} "
                f"| {'yes' if cost.per_chunk(variant) <= 2 else 'no'} |"
            )
    return "\n".join(lines)


def versus_table(scenarios: list[Scenario]) -> str:
    """Ours and the official openai-v2 instrumentation, overhead over bare (median of per-round differences,
    95% CI) and as a multiple of the floor's."""
    names = [n for n in VERSUS if n != "bare"]
    lines = [
        "| scenario | " + " | ".join(f"{n} µs (x floor)" for n in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for s in scenarios:
        floor = diff(s, "floor")
        cells = [
            f"{with_ci(diffs(s, n))} ({diff(s, n) / floor:.2f}x)" if floor > 0 else with_ci(diffs(s, n)) for n in names
        ]
        lines.append(f"| {s.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ablation_table(scenarios: list[Scenario]) -> str:
    """Overhead (median of per-round variant - bare, 95% CI) of each variant: what each part of ours costs."""
    names = [n for n in ABLATIONS if n != "bare"]
    lines = ["| scenario | " + " | ".join(f"{n} µs" for n in names) + " |", "|---|" + "---:|" * len(names)]
    for s in scenarios:
        lines.append(f"| {s.name} | " + " | ".join(with_ci(diffs(s, n)) for n in names) + " |")
    return "\n".join(lines)


# --- the content hand-off, isolated ----------------------------------------------------------


def _best_us(fn: Callable[[], Any], number: int, repeat: int) -> float:
    """Best (least disturbed) mean of `repeat` runs of `number` calls, µs: robust on a loaded machine."""
    best = math.inf
    for _ in range(repeat):
        t0 = time.thread_time_ns()
        for _ in range(number):
            fn()
        best = min(best, (time.thread_time_ns() - t0) / number / 1000)
    return best


def handoff_table(number: int = 2000, repeat: int = 9) -> str:
    """What content costs per call, with the same objects the instrumentation gets (the SDK's real kwargs and
    response objects; a live SDK span): on the caller's thread in the default mode (snapshot + hand-off) and
    opted in (build the parts JSON, redact, cap, set on the span), and on the export thread (build, redact, cap)."""
    from otel_agenttrace._beside import Later, snapshot_values
    from otel_agenttrace.providers import anthropic as anthropic_provider
    from otel_agenttrace.providers import openai as openai_provider

    provider = TracerProvider()
    span = provider.get_tracer("handoff").start_span("handoff")
    CHANNEL.open()
    policy = CapturePolicy(mode=ContentMode.LOCAL_ONLY)
    opted_in = CapturePolicy(mode=ContentMode.SPAN_ONLY)

    def sdk_case(endpoint: Any, kwargs: dict[str, Any], result: Any) -> tuple[Callable[[], Any], ...]:
        def beside() -> None:
            content = Later(endpoint.request_content, snapshot_values(kwargs))
            output = Later(lambda: endpoint.response(result, True)[1])
            CHANNEL.put(span, policy, (content, output))

        def on_span() -> None:
            values = dict(endpoint.request_content(kwargs))
            values.update(endpoint.response(result, True)[1] or {})
            span.set_attributes(opted_in.content(values))

        def export() -> None:
            beside()
            CHANNEL.take(span)

        return beside, on_span, export

    oa = openai_client((DATA / "openai/chat_tool_call.json").read_bytes())
    oa_kwargs: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES, "tools": OPENAI_TOOLS}
    oa_result = oa.chat.completions.create(**oa_kwargs)  # not instrumented yet in this mode
    an = anthropic_client((DATA / "anthropic/messages_text.json").read_bytes())
    an_kwargs: dict[str, Any] = {"model": "claude-sonnet-4-6", "max_tokens": 256, "messages": A_MESSAGES}
    an_result = an.messages.create(**an_kwargs)

    arguments = {"location": "Paris", "unit": "celsius", "history": [dict(m) for m in MESSAGES]}
    tool_result = {"temperature": 21, "conditions": "sunny", "source": "https://weather.test/paris"}

    def tool_beside() -> None:
        content = snapshot_values({sc.GEN_AI_TOOL_CALL_ARGUMENTS: arguments})
        output = snapshot_values({sc.GEN_AI_TOOL_CALL_RESULT: tool_result})
        CHANNEL.put(span, policy, (content, output))

    def tool_on_span() -> None:
        span.set_attributes(
            opted_in.content({sc.GEN_AI_TOOL_CALL_ARGUMENTS: arguments, sc.GEN_AI_TOOL_CALL_RESULT: tool_result})
        )

    def tool_export() -> None:
        tool_beside()
        CHANNEL.take(span)

    cases = {
        "openai-tool (chat with tools, tool-call answer)": sdk_case(openai_provider.CHAT, oa_kwargs, oa_result),
        "anthropic-chat": sdk_case(anthropic_provider.MESSAGES, an_kwargs, an_result),
        "tool call (arguments + result)": (tool_beside, tool_on_span, tool_export),
    }
    lines = [
        "| call | caller's thread, default (beside) µs | caller's thread, opted in (on the span) µs "
        "| export thread, default µs |",
        "|---|---:|---:|---:|",
    ]
    for name, (beside, on_span, export) in cases.items():
        for fn in (beside, on_span, export):  # warm-up
            for _ in range(200):
                fn()
        b, o, e = (_best_us(fn, number, repeat) for fn in (beside, on_span, export))
        lines.append(f"| {name} | {b:.1f} | {o:.1f} | {max(0.0, e - b):.1f} |")
    span.end()
    CHANNEL.close()
    return "\n".join(lines)


def _rotated(variants: tuple[str, ...], r: int) -> tuple[str, ...]:
    """Round r's order: each variant goes first in turn, so drift between rounds is shared."""
    return variants[r % len(variants) :] + variants[: r % len(variants)]


def sustained_table(bench: Bench, scenarios: list[Scenario], calls: int, rounds: int) -> str:
    """Each variant's `calls` back to back (nothing flushed, drained or collected inside a run), `rounds`
    times in a rotating order: what a loop of calls that never blocks pays, the folding thread's lag and the
    collections it brings included. Thread CPU per call (median over runs), collections per 100 calls by
    generation, and the most entries seen waiting for the folding thread after a call."""
    variants = ("bare", "floor", "ours", "ours-nc")
    lines = [
        f"thread CPU, {calls} calls back to back per run, {rounds} runs per variant (medians); collections per 100"
        " calls (gen 0 / 1 / 2); most entries waiting for the folding thread\n",
        "| scenario | variant | µs per call | over bare µs | x the floor's | collections | waiting |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for s in scenarios:
        per_call: dict[str, list[float]] = {v: [] for v in variants}
        collections: dict[str, list[int]] = {v: [0, 0, 0] for v in variants}
        waited = dict.fromkeys(variants, 0)
        for r in range(rounds):
            for name in _rotated(variants, r):
                setup, call = bench.variant(s, name)
                setup()
                for _ in range(10):
                    call()
                bench.settle()
                counted = collections[name]

                def count(phase: str, info: dict[str, int], counted: list[int] = counted) -> None:
                    if phase == "stop":
                        counted[info["generation"]] += 1

                gc.callbacks.append(count)
                most = 0
                start = time.thread_time_ns()
                for _ in range(calls):
                    call()
                    most = max(most, FOLDER.waiting())
                per_call[name].append((time.thread_time_ns() - start) / calls / 1000)
                gc.callbacks.remove(count)
                waited[name] = max(waited[name], most)
        med = {v: statistics.median(per_call[v]) for v in variants}
        floor = med["floor"] - med["bare"]
        for v in variants:
            over = med[v] - med["bare"]
            ratio = f"{over / floor:.2f}x" if v != "bare" and floor > 0 else ""
            gens = " / ".join(f"{100 * n / (calls * rounds):.1f}" for n in collections[v])
            lines.append(f"| {s.name} | {v} | {med[v]:.0f} | {over:.0f} | {ratio} | {gens} | {waited[v]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=18.0, help="timed budget per scenario (default 18 s)")
    parser.add_argument("--round-ms", type=float, default=20.0, help="length of one timed run (default 20 ms)")
    parser.add_argument(
        "--clock",
        choices=("cpu", "process", "wall"),
        default="cpu",
        help="the calling thread's CPU time (default: what the caller pays), the process's CPU time with the"
        " export thread's and the metrics thread's work for each run flushed on the clock (what the process"
        " pays), or wall time",
    )
    parser.add_argument("--only", nargs="*", help="scenario names to run (default: all)")
    parser.add_argument("--profile", metavar="SCENARIO", help="profile one scenario's variant instead")
    parser.add_argument(
        "--handoff",
        action="store_true",
        help="only the content hand-off, isolated: caller's thread (default vs opted in) and export thread",
    )
    parser.add_argument("--profile-variant", default="ours", choices=sorted(set(ABLATIONS) | set(VERSUS)))
    parser.add_argument(
        "--versus",
        action="store_true",
        help="side by side with the official opentelemetry-instrumentation-openai-v2 (OpenAI scenarios)",
    )
    parser.add_argument(
        "--ablate",
        action="store_true",
        help="time ours without metrics / without redaction, and the floor with metrics",
    )
    parser.add_argument(
        "--steady",
        action="store_true",
        help="steady state: the span processor exports every 20 ms during the runs, nothing is flushed between them",
    )
    parser.add_argument(
        "--sustained",
        type=int,
        metavar="CALLS",
        help="runs of CALLS calls back to back per variant (no flush or drain inside a run; --seconds / 4 runs):"
        " thread CPU, collections, the folding thread's lag",
    )
    parser.add_argument(
        "--loopback",
        action="store_true",
        help="serve the recorded responses over a real loopback socket (a server process) instead of a mock transport",
    )
    args = parser.parse_args(argv)
    if args.loopback:
        use_loopback()
    if args.handoff:
        print("thread CPU time, best mean of 9 runs of 2000 calls\n")
        print(handoff_table())
        return

    clocks = {"cpu": time.thread_time_ns, "process": time.process_time_ns, "wall": time.perf_counter_ns}
    bench = Bench(clocks[args.clock], flush_on_clock=args.clock == "process", steady=args.steady)
    scenarios = build_scenarios()
    if args.profile:
        (s,) = [s for s in scenarios if s.name == args.profile]
        print(bench.profile(s, args.profile_variant, seconds=5.0))
        return
    if args.only:
        scenarios = [s for s in scenarios if s.name in args.only]
    if args.sustained:
        print(sustained_table(bench, scenarios, args.sustained, rounds=max(1, int(args.seconds // 4))))
        return
    started = time.perf_counter()
    if args.versus:
        scenarios = [s for s in scenarios if s.name in (args.only or VERSUS_SCENARIOS) and s.through is not None]
        for s in scenarios:
            bench.run(s, args.seconds, args.round_ms, VERSUS)
            print(f"  {s.name}: {s.rounds} rounds", file=sys.stderr)
        print(f"{args.clock} time; overhead over bare, µs (medians of per-round differences)\n")
        print(versus_table(scenarios))
        return
    if args.ablate:
        for s in scenarios:
            bench.run(s, args.seconds, args.round_ms, ABLATIONS)
            print(f"  {s.name}: {s.rounds} rounds", file=sys.stderr)
        print(f"{args.clock} time; overhead over bare, µs (medians of per-round differences)\n")
        print(ablation_table(scenarios))
        return
    for s in scenarios:
        t0 = time.perf_counter()
        bench.run(s, args.seconds, args.round_ms)
        print(f"  {s.name}: {s.rounds} rounds, {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    isolated = [isolated_chunk_cost(bench, p) for p in ("openai", "anthropic")]
    print(
        f"python {sys.version.split()[0]}, openai {openai.__version__}, anthropic {anthropic.__version__}; "
        f"{args.clock} time; ~{args.seconds:g} s per scenario in rounds of ~{args.round_ms:g} ms per variant; "
        f"medians; total {time.perf_counter() - started:.0f} s\n"
    )
    print(table(scenarios))
    print()
    print(chunk_table(scenarios, isolated))
    bench.instrumentor.uninstrument()
    bench.tracer_provider.shutdown()


if __name__ == "__main__":
    main()
