"""A stream read to its end has its content beside the span decoded from the body's bytes (`_tap`), off the
caller's thread: the SDK's chunk objects die as the user lets them go, and the content is what the user read."""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeResponse, anthropic_client, fake_transport, load, openai_client, sse_response
from openai.types.chat import ChatCompletionChunk
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

from otel_agenttrace import AgentTraceInstrumentor, _lifecycle, _stream, _tap
from otel_agenttrace import semconv as sc
from otel_agenttrace._beside import CHANNEL as BESIDE
from otel_agenttrace._capture import CapturePolicy
from otel_agenttrace._stream import Pending
from otel_agenttrace.exporter.run_trace import RunTraceExporter
from otel_agenttrace.exporter.store import RunStore
from otel_agenttrace.replay._format import decode_rows
from otel_agenttrace.replay._runtime import Runtime

OPENAI_TEXT = "openai/chat_stream_text.sse"
ANTHROPIC_TEXT = "anthropic/messages_stream_text.sse"


class _Ended(SpanProcessor):
    """Keeps each span as it ends (the content beside it is on its attribute mapping)."""

    def __init__(self) -> None:
        self.spans: list[Any] = []

    def on_end(self, span: Any) -> None:
        self.spans.append(span)


@pytest.fixture(autouse=True)
def _never_waited(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test transport answers from memory: no call waits, as natively (a loaded machine could make one look
    as if it had, and a call that waited leaves its chunks to the folding thread: the last test)."""
    monkeypatch.setattr(_lifecycle, "BLOCKED_S", 1e9)


class Paths:
    """Which way each stream's content went: decoded from its body (`_tap`), or folded from its chunks."""

    def __init__(self) -> None:
        self.tapped = 0
        self.pending = 0


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> Paths:
    seen = Paths()
    real_output, real_fold = _tap._output, Pending.fold

    def output(chunks: list[bytes], make: Any, count: int | None = None) -> Any:
        seen.tapped += 1
        return real_output(chunks, make, count)

    def fold(self: Pending) -> None:
        if self[2] is not None:
            seen.pending += 1
        real_fold(self)

    monkeypatch.setattr(_tap, "_output", output)
    monkeypatch.setattr(Pending, "fold", fold)
    return seen


@contextmanager
def instrumented(
    home: Path, recordings: bool = True, held: bool = False, monkeypatch: pytest.MonkeyPatch | None = None
) -> Iterator[_Ended]:
    """The default mode with a run-trace exporter (replay recordings on, as `agenttrace run` has them; off when
    `recordings` is False: then our own tee reads the body); `held`: spans exported a minute later at the
    earliest."""
    exporter = RunTraceExporter(store=home, forward=None)
    ended = _Ended()
    provider = TracerProvider()
    provider.add_span_processor(ended)
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=60_000) if held else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    instrumentor = AgentTraceInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_policy=CapturePolicy(), run_root=False)
    try:
        if recordings:
            yield ended
        else:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(Runtime, "recording_policy", lambda self: None)
                yield ended
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def stored_outputs(home: Path) -> list[list[dict[str, Any]]]:
    with RunStore(home) as store:
        records = [r for run in store.list_runs(limit=100) for r in store.spans(run.run_id)]
    key = sc.GEN_AI_OUTPUT_MESSAGES
    return [json.loads(r.attributes[key]) for r in records if key in r.attributes]


def stored_text(home: Path) -> str:
    ((message,),) = stored_outputs(home)
    return "".join(p["content"] for p in message["parts"] if p["type"] == "text")


def alive(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))


def openai_stream(response: FakeResponse, **kw: Any) -> Any:
    client = openai_client(fake_transport(response))
    return client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True, **kw
    )


def openai_texts(stream: Any) -> list[str]:
    return [c.choices[0].delta.content or "" for c in stream if c.choices]


BODIES = {
    "streamed": lambda: sse_response(OPENAI_TEXT),  # an event a chunk, as a live connection sends them
    "gzip": lambda: FakeResponse(  # read whole already by the SDK's client: the body decoded in memory
        200, gzip.compress(load(OPENAI_TEXT)), "text/event-stream", {"content-encoding": "gzip"}
    ),
    "in-memory": lambda: FakeResponse(200, load(OPENAI_TEXT), "text/event-stream"),  # an in-memory transport
}


@pytest.mark.parametrize("recordings", [True, False], ids=["replay-recording", "own-tee"])
@pytest.mark.parametrize("body", sorted(BODIES))
def test_a_stream_read_to_its_end_is_decoded_from_its_body_and_its_chunks_die_with_the_users_reference(
    tmp_path: Path, recordings: bool, body: str, paths: Paths
) -> None:
    home = tmp_path / "home"
    with instrumented(home, recordings, held=True) as ended:
        before = alive(ChatCompletionChunk)
        stream = openai_stream(BODIES[body](), stream_options={"include_usage": True})
        texts = openai_texts(stream)
        del stream
        # no folding thread, no export yet: nothing but the user held the chunks
        assert alive(ChatCompletionChunk) == before
        (span,) = ended.spans
        assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
        assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert stored_text(home) == "".join(texts)
    assert (paths.tapped, paths.pending) == (1, 0)
    ((message,),) = stored_outputs(home)
    assert message["finish_reason"] == "stop"


def test_the_replay_recorders_bytes_are_read_not_teed_twice(tmp_path: Path) -> None:
    with instrumented(tmp_path / "home"):
        stream = openai_stream(sse_response(OPENAI_TEXT))
        response = stream.response
        tee = type(response.stream)
        assert tee.__name__ == "Tee" and type(response.stream._inner).__name__ != "Tee"
        openai_texts(stream)


@pytest.mark.parametrize("recordings", [True, False], ids=["replay-recording", "own-tee"])
def test_an_async_stream_whose_body_is_read_again_after_done_is_recorded_once(
    tmp_path: Path, recordings: bool, paths: Paths
) -> None:
    """The OpenAI SDK iterates the byte stream again after `[DONE]` (to drain the connection); a byte stream that
    can be iterated twice (the test transport's) yields all of it again then. The content and the replay
    recording hold it once."""
    home = tmp_path / "home"

    async def run() -> list[str]:
        client = openai_client(fake_transport(sse_response(OPENAI_TEXT)), async_=True)
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        return [c.choices[0].delta.content or "" async for c in stream if c.choices]

    with instrumented(home, recordings):
        texts = asyncio.run(run())
    assert stored_text(home) == "".join(texts)
    assert (paths.tapped, paths.pending) == (1, 0)
    if recordings:
        with RunStore(home) as store:
            (run_,) = store.list_runs()
            recording, _ = decode_rows(store.recordings(run_.run_id))
        assert recording is not None and json.dumps(recording).count("[DONE]") == 1


@pytest.mark.parametrize("async_", [False, True], ids=["sync", "async"])
def test_an_anthropic_stream_is_decoded_from_its_body(tmp_path: Path, async_: bool, paths: Paths) -> None:
    home = tmp_path / "home"

    async def aread(stream: Any) -> list[str]:
        return [e.delta.text async for e in stream if e.type == "content_block_delta"]

    with instrumented(home, recordings=False, held=True) as ended:
        client = anthropic_client(fake_transport(sse_response(ANTHROPIC_TEXT)), async_, sdk_tracing=False)
        kwargs: dict[str, Any] = {
            "model": "claude-sonnet-4-6",
            "max_tokens": 256,
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
        }
        if async_:

            async def run() -> list[str]:
                return await aread(await client.messages.create(**kwargs))  # type: ignore[misc]

            texts = asyncio.run(run())
        else:
            texts = [e.delta.text for e in client.messages.create(**kwargs) if e.type == "content_block_delta"]
        (span,) = ended.spans
        assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert stored_text(home) == "".join(texts)
    ((message,),) = stored_outputs(home)
    assert message["finish_reason"] == "stop"
    assert (paths.tapped, paths.pending) == (1, 0)


def test_a_compressed_body_keeps_the_chunks_for_the_content(tmp_path: Path, paths: Paths) -> None:
    """A gzip-encoded stream read as it arrives: its bytes are not the events as sent, so the content is folded
    from the chunks."""
    home = tmp_path / "home"
    body = gzip.compress(load(OPENAI_TEXT))
    response = FakeResponse(200, body, "text/event-stream", {"content-encoding": "gzip"}, streamed=True, chunk_size=97)
    with instrumented(home, recordings=False):
        texts = openai_texts(openai_stream(response))
    assert stored_text(home) == "".join(texts) != ""
    assert (paths.tapped, paths.pending) == (0, 1)


def test_a_stream_left_early_has_the_content_the_user_read_not_the_bodys(tmp_path: Path, paths: Paths) -> None:
    """The body came whole (the tee holds all of it), the user read two pieces and closed: those two are the
    output, the events of the chunks handed out."""
    home = tmp_path / "home"
    body = load(OPENAI_TEXT)
    whole = FakeResponse(200, body, "text/event-stream", streamed=True, chunk_size=len(body))
    with instrumented(home, recordings=False):
        texts: list[str] = []
        with openai_stream(whole) as stream:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    texts.append(chunk.choices[0].delta.content)
                if len(texts) == 2:
                    break
    assert stored_text(home) == "".join(texts)
    assert len("".join(texts)) < 40
    assert (paths.tapped, paths.pending) == (1, 0)  # the events of the chunks handed out, from the body


def _long_body(repeats: int) -> bytes:
    events = [e + b"\n\n" for e in load(OPENAI_TEXT).split(b"\n\n") if e.strip()]
    head, content, tail = events[:1], events[1:-3], events[-3:]
    return b"".join(head + content * repeats + tail)


def test_a_long_one_choice_stream_keeps_a_few_chunks_and_its_body(tmp_path: Path, paths: Paths) -> None:
    """More chunks than a batch, one choice: the first and the last few chunks are kept (its attributes), the
    others die as the user lets them go; the content is decoded from the body."""
    home = tmp_path / "home"
    with instrumented(home, recordings=False) as ended:
        stream = openai_stream(FakeResponse(200, _long_body(60), "text/event-stream", streamed=True))
        texts = []
        for i, chunk in enumerate(stream):
            if chunk.choices:
                texts.append(chunk.choices[0].delta.content or "")
            if i == _stream.BATCH + 5:
                assert alive(ChatCompletionChunk) <= _stream.RING + 2  # the ring, the first, the user's own
        (span,) = ended.spans
        assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert len(texts) > _stream.BATCH
    assert stored_text(home) == "".join(texts)
    assert (paths.tapped, paths.pending) == (1, 0)


def test_a_long_two_choice_streams_own_tee_is_trimmed_as_its_batches_are_folded(
    tmp_path: Path, monkeypatch: Any, paths: Paths
) -> None:
    """`n=2`, more chunks than a batch: the chunks are kept (the finish reasons may be anywhere) and folded
    batch by batch, the content too (memory bounded), and our copy of the body is let go at each batch."""
    taps: list[_tap.Tap] = []
    real = _tap.tap
    monkeypatch.setattr("otel_agenttrace._llm.tap", lambda s, a: taps.append(real(s, a)) or taps[-1])
    home = tmp_path / "home"
    with instrumented(home, recordings=False):
        stream = openai_stream(FakeResponse(200, _long_body(60), "text/event-stream", streamed=True), n=2)
        texts = []
        for i, chunk in enumerate(stream):
            if chunk.choices:
                texts.append(chunk.choices[0].delta.content or "")
            if i == _stream.BATCH + 5:
                assert taps[0].own and len(taps[0].data["chunks"]) < 10  # trimmed at the first batch
    assert len(texts) > _stream.BATCH
    assert stored_text(home) == "".join(texts)
    assert paths.tapped == 0


def test_a_failing_decode_is_an_internal_error_not_the_users(tmp_path: Path, monkeypatch: Any) -> None:
    """The decode runs where the content is rendered, off the call: a bug there costs the content, reported
    once, never the call or its span."""
    home = tmp_path / "home"

    def broken(chunks: Any) -> Any:
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(_tap, "decoded", broken)
    monkeypatch.setattr(_lifecycle, "STRICT", False)
    failed = BESIDE.failed
    with instrumented(home, recordings=False):
        texts = openai_texts(openai_stream(sse_response(OPENAI_TEXT)))
    assert texts and BESIDE.failed == failed + 1
    with RunStore(home) as store:
        (record,) = [r for run in store.list_runs() for r in store.spans(run.run_id)]
    assert record.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]
    assert sc.GEN_AI_OUTPUT_MESSAGES not in record.attributes


def test_a_stream_that_waited_leaves_its_chunks_to_the_folding_thread(tmp_path: Path, paths: Paths) -> None:
    """A call that waited for its answer (on its socket) takes no tee: the folding thread, which runs in its
    waits, folds the chunks and frees them there."""
    # every call waited (the fixture puts it back): below 0, as a call that never blocked has a wall time minus CPU
    # time of a few hundred ns either side of 0 (two clocks, each read at both ends)
    _lifecycle.BLOCKED_S = -1.0
    home = tmp_path / "home"
    with instrumented(home, recordings=False):
        stream = openai_stream(sse_response(OPENAI_TEXT))
        assert type(stream.response.stream).__name__ != "Tee"
        texts = openai_texts(stream)
    assert stored_text(home) == "".join(texts) != ""
    assert (paths.tapped, paths.pending) == (0, 1)


def test_a_decoded_stream_holds_its_content_with_no_clock_reading_at_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paths: Paths
) -> None:
    """Its content is the body's bytes and a snapshot, cheap to hold until the exporter asks: its end neither
    reads the thread's CPU time (a system call) nor wakes the folding thread, even when its chunks waited."""
    import time

    from otel_agenttrace._folder import FOLDER

    real, reads = time.thread_time, []

    def counted() -> float:
        reads.append(1)
        return real()

    home = tmp_path / "home"
    with instrumented(home, recordings=False) as ended:
        stream = openai_stream(sse_response(OPENAI_TEXT, chunk_delay=0.002))  # each chunk after the first waits
        chunks = iter(stream)
        first = next(chunks)
        monkeypatch.setattr(_lifecycle, "BLOCKED_S", 0.001)  # its chunks wait 2 ms each: an end that asks reads
        monkeypatch.setattr(_lifecycle.time, "thread_time", counted)
        puts = FOLDER._queue.qsize()
        texts = openai_texts([first, *chunks])
        monkeypatch.setattr(_lifecycle.time, "thread_time", real)
        assert reads == [] and FOLDER._queue.qsize() == puts
        (span,) = ended.spans
        assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert stored_text(home) == "".join(texts) and texts
    assert (paths.tapped, paths.pending) == (1, 0)
