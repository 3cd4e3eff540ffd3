"""What recording costs the caller, and how fast a model-mode replay answers.

    python bench/bench_replay.py               # about 30 s
    python bench/bench_replay.py --rounds 5    # a quick look

1. Recording overhead per LLM call on the caller's thread: `httpx2.Client.send` of a chat request (the layer
   recording wraps) over an httpx2.MockTransport serving a fixed body, recording off (the wrapper installed,
   nothing active: what every program pays) and on (a run-trace exporter attached, content captured).
   The work recording defers (redaction, encoding, compression, the store) runs on the exporter's thread and
   is timed apart, per call, as "export thread".
2. Per stream chunk: the same with a streamed body of 10 and 1,010 chunks read through the SDK's usual
   `iter_bytes()`; the slope (difference / 1,000 chunks) is the cost of the tee per chunk.
3. Model-mode replay of a 1,000-call run: the real OpenAI SDK making 1,000 chat calls answered from a
   recording of 1,000 exchanges (distinct prompts), with the instrumentation on. Reported: the wall time of
   all 1,000 calls (SDK included) and the part spent in the replay engine (matching, rebuilding responses).

The clock is the calling thread's CPU time; rounds interleave the variants; medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from otel_agenttrace._capture import policy_from_env
from otel_agenttrace._lifecycle import current_llm
from otel_agenttrace.replay import _http
from otel_agenttrace.replay._channel import CHANNEL
from otel_agenttrace.replay._format import encode_entries
from otel_agenttrace.replay._runtime import RUNTIME

BODY = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello " * 40}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 40, "total_tokens": 50},
    }
).encode()
REQUEST = json.dumps(
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Tell me about whales. " * 20}]}
).encode()
CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"word "}}]}\n\n'


class Chunks(httpx2.SyncByteStream):
    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self) -> Any:
        for _ in range(self.n):
            yield CHUNK


def client(chunks: int | None) -> httpx2.Client:
    def serve(request: httpx2.Request) -> httpx2.Response:
        if chunks is None:
            return httpx2.Response(200, headers={"content-type": "application/json"}, content=BODY)
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=Chunks(chunks))

    return httpx2.Client(transport=httpx2.MockTransport(serve))


def one_call(c: httpx2.Client, stream: bool) -> None:
    request = c.build_request(
        "POST", "http://127.0.0.1/v1/chat/completions", content=REQUEST, headers={"x-stainless-lang": "python"}
    )
    response = c.send(request, stream=stream)
    if stream:
        for _ in response.iter_bytes():
            pass
        response.close()


class _Invocation:
    """What the HTTP layer reads of the LLM invocation in progress: its span."""

    def __init__(self, span: Any) -> None:
        self.span = span


def per_call_us(c: httpx2.Client, stream: bool, recording: bool, calls: int) -> float:
    from opentelemetry import trace

    policy = policy_from_env({})
    RUNTIME.policy = policy if recording else None
    if recording:
        CHANNEL.attach()
    try:
        # Inside an LLM call, as the SDK's request is: its span's ids key the recording.
        with trace.get_tracer("bench").start_as_current_span("chat") as span:
            token = current_llm.set(_Invocation(span))  # type: ignore[arg-type]
            try:
                start = time.thread_time_ns()
                for _ in range(calls):
                    one_call(c, stream)
                return (time.thread_time_ns() - start) / calls / 1000
            finally:
                current_llm.reset(token)
    finally:
        if recording:
            CHANNEL.detach()
        RUNTIME.policy = None


def export_thread_us(calls: int) -> float:
    """Draining what `calls` recorded calls left in the channel: the exporter thread's share, per call."""
    entries = CHANNEL.drain(final=True)
    start = time.thread_time_ns()
    encode_entries(entries, CHANNEL)
    return (time.thread_time_ns() - start) / max(1, calls) / 1000


def isolated(rounds: int, calls: int) -> tuple[float, float]:
    """Our code alone, on the caller's thread: the wrapper's work for one request and response (the number
    the goal is checked on), and the tee's cost per chunk (a list of chunks read through it vs bare)."""
    from opentelemetry import trace

    c = client(None)
    request = c.build_request(
        "POST", "http://127.0.0.1/v1/chat/completions", content=REQUEST, headers={"x-stainless-lang": "python"}
    )
    response = c.send(request)
    chunks = [CHUNK] * 1000
    tee_class = _http._classes(httpx2)[0]
    RUNTIME.policy = policy_from_env({})
    CHANNEL.attach()
    per_call: list[float] = []
    per_chunk: list[float] = []
    try:
        with trace.get_tracer("bench").start_as_current_span("chat") as span:
            token = current_llm.set(_Invocation(span))  # type: ignore[arg-type]
            for _ in range(rounds):
                start = time.thread_time_ns()
                for _ in range(calls):
                    call = _http._begin(httpx2, (request,), {}, False)
                    assert call is not None
                    call.recorded(response, False)
                per_call.append((time.thread_time_ns() - start) / calls / 1000)
                entry = CHANNEL.drain(final=True)[0]
                entry.data["chunks"] = []
                start = time.thread_time_ns()
                for _ in tee_class(chunks, entry):
                    pass
                teed = time.thread_time_ns() - start
                start = time.thread_time_ns()
                for _ in iter(chunks):
                    pass
                bare = time.thread_time_ns() - start
                per_chunk.append((teed - bare) / len(chunks) / 1000)
            current_llm.reset(token)
    finally:
        CHANNEL.detach()
        RUNTIME.policy = None
    return statistics.median(per_call), statistics.median(per_chunk)


def bench_recording(rounds: int, calls: int) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    trace.set_tracer_provider(TracerProvider())
    _http.install()
    results: dict[str, list[float]] = {}
    exports: list[float] = []
    plain = client(None)
    short, long = client(10), client(1010)
    for _ in range(rounds):
        for name, c, stream, n in (
            ("call", plain, False, calls),
            ("stream10", short, True, calls // 4),
            ("stream1010", long, True, max(20, calls // 40)),
        ):
            off = per_call_us(c, stream, False, n)
            on = per_call_us(c, stream, True, n)
            exports.append(export_thread_us(n)) if name == "call" else CHANNEL.drain(final=True)
            results.setdefault(name, []).append(on - off)
            results.setdefault(name + " off", []).append(off)
    call = statistics.median(results["call"])
    slope = (statistics.median(results["stream1010"]) - statistics.median(results["stream10"])) / 1000
    alone, chunk = isolated(rounds, calls)
    print(f"recording, our code alone:         {alone:8.2f} µs/call      (goal ≤ 10)")
    print(f"recording, the tee per chunk:      {chunk:8.3f} µs/chunk     (goal ≤ 0.5)")
    print(f"send, recording off:               {statistics.median(results['call off']):8.2f} µs/call")
    print(f"send, on - off (end to end):       {call:8.2f} µs/call      (noisy: the send itself varies more)")
    print(f"stream slope, on - off:            {slope:8.3f} µs/chunk")
    print(f"deferred to the exporter's thread: {statistics.median(exports):8.2f} µs/call")


def bench_replay(calls: int) -> None:
    import openai
    from opentelemetry.sdk.trace import TracerProvider

    from otel_agenttrace import AgentTraceInstrumentor
    from otel_agenttrace.replay._api import Replay
    from otel_agenttrace.replay._engine import ReplayEngine

    def exchange(i: int) -> dict[str, Any]:
        body = json.loads(BODY)
        body["choices"][0]["message"]["content"] = f"answer {i}"
        return {
            "seq": i,
            "node": None,
            "method": "POST",
            "path": "/v1/chat/completions",
            "request": {"body": {"messages": [{"role": "user", "content": f"question {i}"}], "model": "gpt-4o-mini"}},
            "response": {"status": 200, "headers": {"content-type": "application/json"}, "stream": False, "body": body},
        }

    doc: dict[str, Any] = {
        "run_id": "0" * 32,
        "recording": {"exchanges": [exchange(i) for i in range(calls)], "tools": []},
    }
    bodies = {
        json.dumps(x["request"]["body"]["messages"][0]["content"]): x["response"]["body"]
        for x in doc["recording"]["exchanges"]
    }

    def serve(request: httpx2.Request) -> httpx2.Response:
        content = json.loads(request.content)["messages"][0]["content"]
        return httpx2.Response(200, json=bodies[json.dumps(content)])

    def program(sdk: Any) -> float:
        start = time.thread_time()
        for i in range(calls):
            answer = sdk.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"question {i}"}]
            )
            assert answer.choices[0].message.content == f"answer {i}"
        return time.thread_time() - start

    def make_sdk(transport: httpx2.MockTransport) -> Any:
        return openai.OpenAI(
            api_key="sk-x",
            base_url="http://127.0.0.1:9/v1",
            max_retries=0,
            http_client=httpx2.Client(transport=transport),
        )

    bare_sdk = make_sdk(httpx2.MockTransport(serve))  # the SDK alone, over a transport serving the answers
    instrumentor = AgentTraceInstrumentor()
    instrumentor.instrument(tracer_provider=TracerProvider(), capture_policy=policy_from_env({}), run_root=False)

    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise AssertionError("network used")

    sdk = make_sdk(httpx2.MockTransport(refuse))
    engine_ns = 0
    original = ReplayEngine.match_exchange

    def timed(self: ReplayEngine, *args: Any) -> dict[str, Any]:
        nonlocal engine_ns
        start = time.perf_counter_ns()
        try:
            return original(self, *args)
        finally:
            engine_ns += time.perf_counter_ns() - start

    ReplayEngine.match_exchange = timed  # type: ignore[method-assign,assignment]
    bares, replays = [], []
    for _ in range(3):  # interleaved, medians: the machine is shared
        bares.append(program(bare_sdk))
        engine_ns = 0
        with Replay(doc) as r:
            replays.append(program(sdk))
        r.assert_reproduced()
    bare, replayed = statistics.median(bares), statistics.median(replays)
    ReplayEngine.match_exchange = original  # type: ignore[method-assign]
    instrumentor.uninstrument()
    print(f"{calls} calls, bare SDK over a mock:  {bare:8.2f} s CPU")
    print(f"{calls} calls, model-mode replay:     {replayed:8.2f} s CPU (instrumented, answered from the recording)")
    print(
        f"agenttrace time of the replay:      {replayed - bare:8.2f} s      (goal < 2 s; all of it: {replayed:.2f} s)"
    )
    print(f"  of which matching in the engine: {engine_ns / 1e9:8.3f} s wall (the last run)")


def main() -> None:
    from otel_agenttrace._beside import CHANNEL as CONTENT

    CONTENT.open()  # as a run-trace exporter does: content (and so recording) is captured while it is there
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    bench_recording(args.rounds, args.calls)
    bench_replay(1000)


if __name__ == "__main__":
    main()
