"""Instructions per call of the instrumentation against the one-span floor, counted by valgrind's callgrind:
deterministic, so it holds on a shared, loaded machine where thread-CPU timings move by 30 % and more.

    python bench/bench_callgrind.py                            # the seven scenarios, about a minute each
    python bench/bench_callgrind.py openai-tool --versus       # also the official openai-v2 (the `bench` extra)
    python bench/bench_callgrind.py --sdk                      # the real SDKs' whole path, the calling thread's
    python bench/bench_callgrind.py --sdk --loopback           # the same over a real loopback socket
    python bench/bench_callgrind.py --sdk --variants=ours-no-response-attrs  # also bench_overhead's ablations
    python bench/bench_callgrind.py --sdk --cycles openai-stream   # cache misses too: callgrind's cycle estimate
    python bench/bench_callgrind.py --sdk --branches               # and mispredicted branches: what thread CPU shows

The parent builds the SDKs' own response and chunk objects (the real openai/anthropic clients over the recorded
fixtures of tests/data, as bench_overhead.py does) and writes them with every field (`model_dump`, None
included) to a temporary file. A child under `valgrind --tool=callgrind` (which does not import the SDKs: their
import alone is ~10^10 instructions) rebuilds them as objects with attribute access, wraps a function returning
them with our real wrapper (make_wrapper, the same Telemetry as instrument() builds, content beside the span and
NO_CONTENT), and counts instructions around each variant's loop (callgrind dumps its counters at every
os.getppid(), called before and after each loop), on the calling thread alone (`--separate-threads`): the span
processor's export thread is held back (one batch bigger than the run), and the folding thread's work is not the
caller's, as with `bench_overhead.py --clock cpu`. Each SDK scenario's fake call sleeps `WAIT` (the GIL released, as
a call to a provider blocks on its socket), so the folding thread runs between calls as it does in a program.
Instructions are not time (cache misses, the SDK's per-call allocation): read the ratios, not the absolutes.
The target-* scenarios are bench_targets.py's user classes (no SDK), wrapped by the wrappers a configured target
gets (wrapt's own call, the same for any wrapper, is not counted), against bench_targets.py's floors.

--sdk counts bench_overhead.py's own variants instead: the real openai/anthropic clients over a mock transport,
parsing and all, called through the real instrumentation (`instrument()`, wrapt included); `--separate-threads` counts
the calling thread alone (the export and metrics threads run, uncounted), SDK_N calls per variant (the environment's
SDK_N, default 40: the collector's share shows over a few hundred) after 10 warm-up calls. Slower (the SDKs' import
alone is ~10^10 instructions, not counted) and closer to what a caller pays: the SDK's own objects are made and freed
per call, as in a program. Less exact than the harness: the export thread's allocations start the cyclic collector
too, at moments that differ between runs (repeat runs of a stream scenario differ by up to ~10 %). Both modes run the
children with PYTHONHASHSEED=0. --loopback (with --sdk): the responses come over a real socket from
bench/loopback_server.py, a process valgrind does not trace; the calling thread blocks in recv, releasing the GIL, as
against a real provider."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
FIXTURES = os.environ.get("AGENTTRACE_CALLGRIND_FIXTURES", "")
SCENARIOS = (
    "openai-chat",
    "openai-tool",
    "anthropic-chat",
    "openai-stream",
    "anthropic-stream",
    "target-generate",  # bench_targets.py's configured targets: a user generate() and a tool call
    "target-tool",
)
N = 500
# --cycles: simulate the caches too (`--cache-sim=yes`, several times slower) and count callgrind's cycle estimate,
# not instructions: deterministic, and it charges what a cold path costs beyond its instructions (a stream's
# chunks kept past the next one are freed out of the caches).
CYCLES = "--cycles" in sys.argv or "--branches" in sys.argv
# --branches: --cycles, and the branch predictor simulated too (`--branch-sim=yes`): each mispredicted branch,
# conditional or indirect, costs MISPREDICT more. Callgrind's cycle estimate leaves mispredictions out, and they are
# what a larger Python footprint pays most: the interpreter's dispatch jumps (bench/README.md, 2026-12-05).
BRANCHES = "--branches" in sys.argv
MISPREDICT = 15  # cycles: a typical x86 pipeline refill, between an L1 miss's (10 here) and 20
SDK_N = int(os.environ.get("SDK_N", "40"))
# The provider's answer: each SDK scenario's call waits this long, the GIL released, in every variant alike (the
# same instructions, taken out with the bare call's). A real call blocks on its socket; without a wait no other
# thread would ever run mid-loop, and the folding thread's work (`_folder`: what it frees, the content it renders)
# would pile up on the caller's heap for its collector to walk, as no program calling a provider sees.
WAIT = 0.0005


def _write_fixtures(path: str) -> None:
    """The SDKs' objects for each scenario, every field included (run natively, in the parent)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_overhead as bo
    from anthropic.resources.messages.messages import Messages
    from openai.resources.chat.completions.completions import Completions

    oa_create = bo._original(Completions, "create")
    an_create = bo._original(Messages, "create")
    m = bo.MESSAGES
    a = bo.A_MESSAGES

    def oa(name: str, sse: bool = False, **kw: Any) -> Any:
        client = bo.openai_client((DATA / name).read_bytes(), sse)
        result = oa_create(client.chat.completions, model="gpt-4o", messages=m, **kw)
        return [c.model_dump(mode="json") for c in result] if sse else result.model_dump(mode="json")

    def an(name: str, sse: bool = False, **kw: Any) -> Any:
        client = bo.anthropic_client((DATA / name).read_bytes(), sse)
        result = an_create(client.messages, model="claude-sonnet-4-6", max_tokens=256, messages=a, **kw)
        return [c.model_dump(mode="json") for c in result] if sse else result.model_dump(mode="json")

    fixtures = {
        "openai-chat": oa("openai/chat_text.json"),
        "openai-tool": oa("openai/chat_tool_call.json", tools=bo.OPENAI_TOOLS),
        "anthropic-chat": an("anthropic/messages_text.json"),
        "openai-stream": oa("openai/chat_stream_text.sse", True, stream=True, stream_options={"include_usage": True}),
        "anthropic-stream": an("anthropic/messages_stream_text.sse", True, stream=True),
    }
    Path(path).write_text(json.dumps(fixtures))


def _asleep(metrics_module: Any) -> None:
    """The metrics thread's timers out of reach (a renamed constant fails here, not silently)."""
    for name in ("_IDLE_S", "_SLOW_S"):
        getattr(metrics_module, name)
        setattr(metrics_module, name, 1e6)


def _child(names: list[str], versus: bool) -> None:
    import otel_agenttrace._metrics as metrics_module

    # The metrics thread stays asleep: its work is not the caller's, and under valgrind every call is slow
    # enough to wake it (`_SLOW_S`), and while it runs the calling thread waits, which `blocked()` then sees.
    _asleep(metrics_module)
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.trace import SpanKind

    from otel_agenttrace import semconv as sc
    from otel_agenttrace._beside import CHANNEL
    from otel_agenttrace._capture import CapturePolicy, ContentMode
    from otel_agenttrace._lifecycle import Telemetry
    from otel_agenttrace._llm import make_wrapper
    from otel_agenttrace.providers import anthropic as ap
    from otel_agenttrace.providers import openai as op

    fixtures = json.loads(Path(FIXTURES).read_text())

    class Obj:
        """An SDK object's fields as attributes (every field: the fixtures are `model_dump`s with None values)."""

        def __init__(self, fields: dict[str, Any]) -> None:
            for key, value in fields.items():
                setattr(self, key, conv(value))

        def __getattr__(self, key: str) -> Any:  # as pydantic's: only for what is not a field
            raise AttributeError(key)

    def conv(value: Any) -> Any:
        if isinstance(value, dict):
            return Obj(value)
        if isinstance(value, list):
            return [conv(v) for v in value]
        return value

    class OpenAIStream:
        """openai's Stream, its iteration restated (over the chunks, not an SSE parser)."""

        def __init__(self, chunks: list[Any]) -> None:
            self._iterator = iter(chunks)

        def __next__(self) -> Any:
            return self._iterator.__next__()

        def __iter__(self) -> Iterator[Any]:
            for item in self._iterator:  # noqa: UP028 (the SDK's code, as it is written)
                yield item

        def close(self) -> None:
            pass

    class AnthropicStream(OpenAIStream):
        """anthropic's Stream, whose iteration also reports each item to the SDK's tracing (off here)."""

        _observer: Any = None

        def __next__(self) -> Any:
            item = self._iterator.__next__()
            if (observer := self._observer) is not None:
                observer.item(item)
            return item

        def __iter__(self) -> Iterator[Any]:
            for item in self._iterator:
                if (observer := self._observer) is not None:
                    observer.item(item)
                yield item

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            for span in spans:
                CHANNEL.take(span)
            return SpanExportResult.SUCCESS

    CHANNEL.open()
    tp = TracerProvider()
    # held back: the export thread never runs during a loop (its work is not the caller's)
    tp.add_span_processor(
        BatchSpanProcessor(Drop(), max_queue_size=200000, max_export_batch_size=200000, schedule_delay_millis=10**9)
    )
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    on = CapturePolicy(mode=ContentMode.LOCAL_ONLY)
    off = CapturePolicy(mode=ContentMode.NO_CONTENT)
    span_only = CapturePolicy(mode=ContentMode.SPAN_ONLY)
    tel = Telemetry(tp.get_tracer("agenttrace"), mp.get_meter("agenttrace"), on)
    floor_tracer = tp.get_tracer("hand-made")
    inst = Obj({"_client": {"base_url": {"host": "llm.test", "port": 8443, "scheme": "http"}}})

    def is_list(result: Any) -> bool:
        return type(result) is OpenAIStream or type(result) is AnthropicStream

    oa_ep = dataclasses.replace(op.CHAT, is_stream=is_list)
    an_ep = dataclasses.replace(ap.MESSAGES, is_stream=is_list)
    messages = [
        {"role": "system", "content": "You are a concise travel assistant."},
        {"role": "user", "content": "What is the capital of France, and what is it known for?"},
    ]
    tools = [
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

    # bench_overhead's _openai_summary/_anthropic_summary, restated: importing bench_overhead imports the SDKs,
    # which this child must not do (see the module docstring).
    def oa_summary(r: Any) -> dict[str, Any]:
        u = r.usage
        return {
            sc.GEN_AI_RESPONSE_ID: r.id,
            sc.GEN_AI_RESPONSE_MODEL: r.model,
            sc.GEN_AI_USAGE_INPUT_TOKENS: u.prompt_tokens if u else 0,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: u.completion_tokens if u else 0,
        }

    def an_summary(r: Any) -> dict[str, Any]:
        u = getattr(r, "usage", None)
        return {
            sc.GEN_AI_RESPONSE_ID: getattr(r, "id", "") or "",
            sc.GEN_AI_RESPONSE_MODEL: getattr(r, "model", "") or "",
            sc.GEN_AI_USAGE_INPUT_TOKENS: getattr(u, "input_tokens", 0) or 0,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: getattr(u, "output_tokens", 0) or 0,
        }

    def oa_text(c: Any) -> Any:
        return c.choices[0].delta.content if c.choices else None

    def an_text(e: Any) -> Any:
        return e.delta.text if e.type == "content_block_delta" else None

    a_kwargs = {"model": "claude-sonnet-4-6", "max_tokens": 256, "messages": messages[1:]}
    cases: dict[str, tuple[Any, ...]] = {
        "openai-chat": (oa_ep, {"model": "gpt-4o", "messages": messages}, False, "openai", oa_summary, oa_text),
        "openai-tool": (
            oa_ep,
            {"model": "gpt-4o", "messages": messages, "tools": tools},
            False,
            "openai",
            oa_summary,
            oa_text,
        ),
        "anthropic-chat": (an_ep, a_kwargs, False, "anthropic", an_summary, an_text),
        "openai-stream": (
            oa_ep,
            {"model": "gpt-4o", "messages": messages, "stream": True, "stream_options": {"include_usage": True}},
            True,
            "openai",
            oa_summary,
            oa_text,
        ),
        "anthropic-stream": (an_ep, {**a_kwargs, "stream": True}, True, "anthropic", an_summary, an_text),
    }

    def drain(stream: Any, text: Any) -> Any:
        last = None
        for last in stream:
            text(last)
        return last

    def target_variants() -> dict[str, tuple[Any, Any]]:
        """bench_targets.py's user `generate()` (a configured llm target), its floor the same hand-made span."""
        import bench_targets as bt  # no SDK import: plain user classes and their parsed targets

        from otel_agenttrace.providers.generic import endpoint

        spec = next(t for t in bt.TARGETS if t.kind == "llm")
        llm = bt.BaseProvider("local-7b")
        gen = bt.BaseProvider.generate
        wrapper = make_wrapper(tel, endpoint(spec, gen), False)

        def bare() -> Any:
            return gen(llm, messages)

        def floor() -> Any:
            with floor_tracer.start_as_current_span(
                "chat local-7b",
                kind=SpanKind.CLIENT,
                attributes={"op": "chat", "provider": "myapp", "model": "local-7b", "n": 2},
            ) as span:
                reply = bare()
                span.set_attributes(
                    {"out": len(reply.text), "in_t": reply.input_tokens, "out_t": reply.output_tokens, "fin": "stop"}
                )
                return reply

        bound = llm.generate  # what wrapt hands the wrapper (its own call is not counted, as for the SDK scenarios)

        def ours() -> Any:
            return wrapper(bound, llm, (messages,), {})

        return {"bare": (on, bare), "floor": (on, floor), "ours": (on, ours), "ours-nc": (off, ours)}

    def tool_variants() -> dict[str, tuple[Any, Any]]:
        """bench_targets.py's tool call (a configured tool target), its floor the same hand-made span."""
        import bench_targets as bt

        from otel_agenttrace.tools.generic import make_wrapper as tool_wrapper

        spec = next(t for t in bt.TARGETS if t.kind == "tool")
        tools = bt.ToolRegistry()
        execute = bt.ToolRegistry.execute
        wrapper = tool_wrapper(tel, spec, execute)
        bound = tools.execute

        def bare() -> Any:
            return execute(tools, "get_weather", {"city": "Lisbon"}, "call_1")

        def floor() -> Any:
            with floor_tracer.start_as_current_span(
                "execute_tool get_weather",
                attributes={"op": "execute_tool", "name": "get_weather", "id": "call_1", "type": "function"},
            ) as span:
                result = bare()
                span.set_attributes({"a": 1, "b": 2, "c": 3, "d": 4})
                return result

        def ours() -> Any:
            return wrapper(bound, tools, ("get_weather", {"city": "Lisbon"}, "call_1"), {})

        return {"bare": (on, bare), "floor": (on, floor), "ours": (on, ours), "ours-nc": (off, ours)}

    def variants(name: str) -> dict[str, tuple[Any, Any]]:
        if name == "target-generate":
            return target_variants()
        if name == "target-tool":
            return tool_variants()
        ep, kw, stream, provider, summary, text = cases[name]
        result = conv(fixtures[name])
        if stream:
            stream_type = OpenAIStream if provider == "openai" else AnthropicStream

            def wrapped(*args: Any, **kwargs: Any) -> Any:
                time.sleep(WAIT)
                return stream_type(result)

            def bare() -> Any:
                return drain(wrapped(**kw), text)
        else:

            def wrapped(*args: Any, **kwargs: Any) -> Any:
                time.sleep(WAIT)
                return result

            def bare() -> Any:
                return wrapped(**kw)

        def through(wrapper: Any) -> Any:
            if stream:
                return lambda: drain(wrapper(wrapped, inst, (), kw), text)
            return lambda: wrapper(wrapped, inst, (), kw)

        start = {
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: provider,
            sc.GEN_AI_REQUEST_MODEL: kw["model"],
            sc.SERVER_ADDRESS: "llm.test",
        }

        def floor() -> Any:
            with floor_tracer.start_as_current_span("chat m", kind=SpanKind.CLIENT, attributes=start) as span:
                r = bare()
                span.set_attributes(summary(r))
            return r

        ours = through(make_wrapper(tel, ep, False))
        out = {"bare": (on, bare), "floor": (on, floor), "ours": (on, ours), "ours-nc": (off, ours)}
        if versus and provider == "openai":  # the official instrumentation of the OpenAI SDK
            from opentelemetry._logs import get_logger
            from opentelemetry.instrumentation.openai_v2 import patch
            from opentelemetry.instrumentation.openai_v2.instruments import Instruments
            from opentelemetry.sdk._logs import LoggerProvider
            from opentelemetry.trace import get_tracer

            tracer = get_tracer("v2", "", tp)
            logger = get_logger("v2", "", logger_provider=LoggerProvider())
            instruments = Instruments(mp.get_meter("v2"))
            out["ours-span"] = (span_only, ours)
            out["v2-content"] = (on, through(patch.chat_completions_create(tracer, logger, instruments, True)))
            out["v2-nc"] = (on, through(patch.chat_completions_create(tracer, logger, instruments, False)))
        return out

    order = []
    for name in names:
        for variant, (policy, fn) in variants(name).items():
            tel.policy = policy
            for _ in range(100):
                fn()
            gc.collect()
            order.append(f"{name} {variant}")
            os.getppid()  # callgrind dumps here (--dump-before=getppid)
            for _ in range(N):
                fn()
            os.getppid()
    Path(FIXTURES + ".order").write_text("\n".join(order))


def _sdk_variants() -> list[str]:
    """bare, floor, ours, ours-nc, then those `--variants=a,b` adds (bench_overhead.py's ablation names)."""
    extra = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--variants=")]
    more = [v for v in ",".join(extra).split(",") if v and v not in SDK_VARIANTS]
    return [*SDK_VARIANTS, *more]


SDK_VARIANTS = ("bare", "floor", "ours", "ours-nc")


def _sdk_child(names: list[str]) -> None:
    """Under callgrind: bench_overhead's variants on the real SDKs, the calling thread counted between getppid()s."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_overhead as bo

    import otel_agenttrace._metrics as metrics_module

    # The metrics thread stays asleep: its work is not the caller's, and under valgrind every call is slow
    # enough to wake it (`_SLOW_S`), and while it runs the calling thread waits, which `blocked()` then sees.
    _asleep(metrics_module)
    if "--loopback" in sys.argv:
        bo.use_loopback()  # the server runs outside valgrind (its children are not traced)
    else:
        # A call over the mock transport never waits, but valgrind runs one thread at a time, so the calling
        # thread's wall time goes on while another runs (the span processor's, at its schedule), and `blocked()`
        # would take some calls for calls that waited, at random: over 40 stream calls, 276k-485k a call
        # between runs of the same code. Natively none of them waits (bench/README.md).
        import otel_agenttrace._lifecycle as lifecycle_module

        lifecycle_module.BLOCKED_S = 1e6
    bench = bo.Bench()
    scenarios = {s.name: s for s in bo.build_scenarios()}
    order = []
    for name in names:
        scenario = scenarios[name]
        for variant in _sdk_variants():
            setup, call = bench.variant(scenario, variant)
            setup()
            for _ in range(10):
                call()
            bench.processor.force_flush()
            gc.collect()
            if CYCLES:
                # The SDKs' and the harness's objects out of the collector's way: an older generation's collection
                # walks them all, ~10^7 instructions, and falls in one variant's loop or another's at random.
                gc.freeze()
            order.append(f"{name} {variant}")
            os.getppid()
            for _ in range(SDK_N):
                call()
            os.getppid()
            bench.processor.force_flush()
    Path(FIXTURES + ".order").write_text("\n".join(order))


def _measure(marker: str, out: str, name: str, flags: list[str], calls: int, sdk: bool) -> dict[str, float]:
    """This script's child for scenario `name` under callgrind (`marker`: the file the parent hands it, which
    the child writes its variants' order beside); per variant, instructions per call: dump 2k+2 holds the
    k-th loop, the calling thread's part (thread 1)."""
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--separate-threads=yes",  # the calling thread's counts alone (thread 1): not the folding thread's
            "--dump-before=getppid",
            *(["--cache-sim=yes"] if CYCLES else []),
            *(["--branch-sim=yes"] if BRANCHES else []),
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            name,
            *flags,
        ],
        env={**os.environ, "AGENTTRACE_CALLGRIND_FIXTURES": marker, "PYTHONHASHSEED": "0"},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    order = Path(marker + ".order").read_text().split("\n")
    result = {}
    for i, v in enumerate(order):
        counts = _summary(Path(f"{out}.{2 + 2 * i}-01"))
        result[v.split(" ", 1)[1]] = _cost(counts) / calls
        if CYCLES:  # what the estimate is made of, per call
            keys = ("Ir", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw", *(("Bcm", "Bim") if BRANCHES else ()))
            print(f"  {v}: " + " ".join(f"{k} {counts.get(k, 0) / calls:.0f}" for k in keys), file=sys.stderr)
    return result


def _row(name: str, counts: dict[str, float], cols: list[str]) -> str:
    """A table row: each variant's instructions over the bare call, and that over the floor's."""
    bare = counts["bare"]
    floor = counts["floor"] - bare
    cells = [
        f"{(counts[v] - bare) / 1000:.0f}k ({(counts[v] - bare) / floor:.2f}x)" if v in counts else "n/a" for v in cols
    ]
    return f"| {name} | {floor / 1000:.0f}k | " + " | ".join(cells) + " |"


def _summary(path: Path) -> dict[str, int]:
    """A dump's summary: its counts by event (Ir, and with --cycles the cache misses)."""
    events: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("summary:"):
            return dict(zip(events, map(int, line.split()[1:]), strict=False))
    raise ValueError(f"no summary in {path}")


def _cost(counts: dict[str, int]) -> int:
    """The instructions, or with --cycles callgrind's cycle estimate (what callgrind_annotate calls CEst): each
    instruction 1, each first-level cache miss 10 more, each last-level miss 100 more; with --branches each
    mispredicted branch MISPREDICT more."""
    if not CYCLES:
        return counts["Ir"]
    first = sum(counts.get(e, 0) for e in ("I1mr", "D1mr", "D1mw"))
    last = sum(counts.get(e, 0) for e in ("ILmr", "DLmr", "DLmw"))
    missed = counts.get("Bcm", 0) + counts.get("Bim", 0) if BRANCHES else 0
    return counts["Ir"] + 10 * first + 100 * last + MISPREDICT * missed


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    versus = "--versus" in sys.argv
    sdk = "--sdk" in sys.argv
    if FIXTURES:
        if sdk:
            _sdk_child(args)
        else:
            _child(args, versus)
        return
    if sdk:
        _sdk_main(
            args or ["openai-chat", "openai-tool", "anthropic-chat", "openai-stream", "anthropic-stream"],
            "--loopback" in sys.argv,
        )
        return
    names = args or list(SCENARIOS)
    print(f"instructions per call over the bare call (callgrind, {N} calls per variant); x the floor's\n")
    print(
        "| scenario | floor | ours (content beside) | ours, NO_CONTENT |"
        + (" ours, SPAN_ONLY | openai-v2 content | openai-v2 no content |" if versus else "")
    )
    print("|---|---:|---:|---:|" + ("---:|---:|---:|" if versus else ""))
    with tempfile.TemporaryDirectory() as tmp:
        fixtures = os.path.join(tmp, "fixtures.json")
        _write_fixtures(fixtures)
        cols = ["ours", "ours-nc"] + (["ours-span", "v2-content", "v2-nc"] if versus else [])
        for name in names:
            counts = _measure(fixtures, os.path.join(tmp, name), name, ["--versus"] if versus else [], N, False)
            print(_row(name, counts, cols), flush=True)


def _sdk_main(names: list[str], loopback: bool) -> None:
    transport = "a loopback socket" if loopback else "a mock transport"
    print(
        f"calling thread's instructions per call over the bare call (real SDKs over {transport}, callgrind,"
        f" {SDK_N} calls); x the floor's\n"
    )
    more = _sdk_variants()[len(SDK_VARIANTS) :]
    print("| scenario | floor | ours (content beside) | ours, NO_CONTENT |" + "".join(f" {v} |" for v in more))
    print("|---|---:|---:|---:|" + "---:|" * len(more))
    with tempfile.TemporaryDirectory() as tmp:
        marker = os.path.join(tmp, "sdk")
        Path(marker).write_text("")
        for name in names:
            flags = ["--sdk", "--loopback"] if loopback else ["--sdk"]
            flags += [a for a in sys.argv if a.startswith("--variants=") or a in ("--cycles", "--branches")]
            counts = _measure(marker, os.path.join(tmp, name), name, flags, SDK_N, True)
            print(_row(name, counts, ["ours", "ours-nc", *more]), flush=True)


if __name__ == "__main__":
    main()
