"""A span's content rendered soon after it ends, on the folding thread (`_folder`, `_beside.Entry`), not when
the span is exported: the SDK's response and chunk objects die young instead of waiting seconds in the
processor's queue (where the cyclic collector walks them and promotes them to its oldest generation). Real
SDK, real pipeline."""

from __future__ import annotations

import gc
import gzip
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fakes import FakeResponse, fake_transport, openai_client
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from otel_agenttrace import AgentTraceInstrumentor, _lifecycle
from otel_agenttrace import semconv as sc
from otel_agenttrace._beside import CHANNEL, Entry, Later
from otel_agenttrace._capture import BESIDE, CapturePolicy
from otel_agenttrace._folder import BEHIND, FOLDER, LIMIT, Folder
from otel_agenttrace._stream import Pending
from otel_agenttrace.exporter._records import SpanRecord
from otel_agenttrace.exporter.run_trace import RunTraceExporter
from otel_agenttrace.exporter.store import RunStore

DATA = Path(__file__).parent / "data"


def _chunks_alive(kind: type = ChatCompletionChunk) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))


@contextmanager
def _held_export(home: Path, ended: list[Any] | None = None, **processor: Any) -> Iterator[None]:
    """Instrumented, the spans exported a minute later at the earliest: only the folding thread can let a
    call's objects go before. `ended`: the spans, as they end."""
    exporter = RunTraceExporter(store=home, forward=None)
    provider = TracerProvider()
    if ended is not None:
        provider.add_span_processor(_Ended(ended))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000, **processor))
    instrumentor = AgentTraceInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_policy=CapturePolicy(), run_root=False)
    try:
        yield
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


class _Ended(SpanProcessor):
    def __init__(self, ended: list[Any]) -> None:
        self.ended = ended

    def on_end(self, span: Any) -> None:
        self.ended.append(span)


@contextmanager
def _stuck_folder() -> Iterator[None]:
    """The folding thread busy until the block ends (as when a caller never lets it have the GIL); then what
    was put meanwhile is folded."""
    held, release = threading.Event(), threading.Event()

    class _Block:
        def fold(self) -> None:
            held.set()
            release.wait(30)

    FOLDER.put(_Block())
    try:
        assert held.wait(10)
        # That wait is the test's, not a call's: the next call measures its waits from its own start (FRESH_S).
        _lifecycle._CLOCK.reading = (float("-inf"), 0.0)
        yield
    finally:
        release.set()
        FOLDER.drain()


def _stored(home: Path) -> list[SpanRecord]:
    with RunStore(home) as store:
        return [record for run in store.list_runs(limit=10_000) for record in store.spans(run.run_id)]


def _race(fold: Callable[[], None], threads: int = 8) -> None:
    barrier = threading.Barrier(threads)

    def race() -> None:
        barrier.wait()
        fold()

    started = [threading.Thread(target=race) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join()


def test_a_streams_chunks_are_let_go_soon_after_it_ends_and_its_content_is_stored(tmp_path: Path) -> None:
    with _held_export(tmp_path / "home"):
        body = (DATA / "openai/chat_stream_text.sse").read_bytes()
        client = openai_client(fake_transport(FakeResponse(200, body, content_type="text/event-stream", streamed=True)))
        before = _chunks_alive()
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        texts = [c.choices[0].delta.content or "" for c in stream if c.choices]
        del stream
        FOLDER.drain()
        assert _chunks_alive() <= before  # freed, while the span waits in the queue
    (record,) = _stored(tmp_path / "home")
    (message,) = json.loads(record.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": "".join(texts)}]
    assert message["finish_reason"] == "stop"


def test_a_responses_model_is_let_go_soon_after_the_call_and_its_content_is_stored(tmp_path: Path) -> None:
    history = [{"role": "user", "content": "hi"}]
    with _held_export(tmp_path / "home"):
        body = (DATA / "openai/chat_text.json").read_bytes()
        client = openai_client(fake_transport(FakeResponse(200, body)))
        before = _chunks_alive(ChatCompletion)
        response = client.chat.completions.create(model="gpt-4o", messages=history)
        text = response.choices[0].message.content
        del response
        history.append({"role": "user", "content": "EDITED-AFTER"})  # the snapshot was rendered as it was
        FOLDER.drain()
        assert _chunks_alive(ChatCompletion) == before  # rendered and freed, while the span waits in the queue
    (record,) = _stored(tmp_path / "home")
    (message,) = json.loads(record.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": text}]
    assert "EDITED-AFTER" not in record.attributes[sc.GEN_AI_INPUT_MESSAGES]


def test_a_held_entry_keeps_the_choices_not_the_whole_response(tmp_path: Path) -> None:
    """While a call's entry waits for the folding thread (a call that never blocked holds it for the thread's next
    turn), the response (with its usage and details models) goes with the caller's last reference; its choices
    wait."""
    from openai.types.chat.chat_completion import Choice

    with _held_export(tmp_path / "home"):
        client = openai_client(fake_transport(FakeResponse(200, (DATA / "openai/chat_text.json").read_bytes())))
        before, choices_before = _chunks_alive(ChatCompletion), _chunks_alive(Choice)
        with _stuck_folder():  # the entry waits (held or put: the call may have been preempted on a busy machine)
            response = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
            text = response.choices[0].message.content
            del response
            assert _chunks_alive(ChatCompletion) == before
            assert _chunks_alive(Choice) == choices_before + 1
        FOLDER.drain()
        assert _chunks_alive(Choice) == choices_before
    (record,) = _stored(tmp_path / "home")
    (message,) = json.loads(record.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": text}]


class _Policy:
    def __init__(self) -> None:
        self.calls = 0

    def content(self, values: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        return {key: f"rendered {value}" for key, value in values.items()}


def test_an_entry_renders_once_whoever_comes_first_and_lets_its_pieces_go() -> None:
    policy = _Policy()
    entry = Entry((policy, ({"a": 1}, Later(dict, {"b": 2, "c": None})), None, None))
    _race(entry.fold)
    assert policy.calls == 1 and entry[1] is None  # the snapshot and response are let go
    assert entry[2] == {"a": "rendered 1", "b": "rendered 2"}  # None values are no content


def test_an_entry_that_fails_to_render_is_reported_by_the_exporter_not_the_folding_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> dict[str, Any]:
        raise ValueError("content cannot be built")

    entry = Entry((_Policy(), (Later(broken),), None, None))
    entry.fold()  # on the folding thread: never raises
    assert isinstance(entry[3], ValueError)

    class _Span:
        _attributes = type("Attrs", (), {})()

    span = _Span()
    span._attributes._agenttrace_content = entry
    reported: list[str] = []
    monkeypatch.setattr("otel_agenttrace._lifecycle.internal_error", lambda where, exc: reported.append(str(exc)))
    failed = CHANNEL.failed
    assert CHANNEL.take(span) is None
    assert reported == ["content cannot be built"] and CHANNEL.failed == failed + 1
    assert CHANNEL.take(span) is None and len(reported) == 1  # taken once: reported once


def test_an_entry_taken_by_the_exporter_keeps_no_content_for_the_folding_thread() -> None:
    """A held entry waits for a call that blocks (`Folder.hold`); once exported, what it holds is a husk."""

    class _Span:
        _attributes = type("Attrs", (), {})()

    entry = Entry((_Policy(), ({"a": 1},), None, None))
    span = _Span()
    span._attributes._agenttrace_content = entry
    assert CHANNEL.take(span) == {"a": "rendered 1"}
    assert list(entry) == [entry[0], None, None, None]
    entry.fold()  # the folding thread's turn, later: nothing left to do
    assert entry[2] is None


def test_a_caller_queues_no_more_than_the_limit_when_the_folding_thread_lags(tmp_path: Path) -> None:
    """A program that makes calls faster than the folding thread renders them holds a bounded queue; what was
    not queued is rendered by the exporter, and nothing is lost."""
    import otel_agenttrace

    @otel_agenttrace.tool("echo")
    def echo(text: str) -> str:
        return text

    with _held_export(tmp_path / "home", max_queue_size=4096), _stuck_folder():
        for i in range(LIMIT + 200):
            echo(f"call-{i}")
            assert FOLDER.waiting() <= LIMIT
        assert FOLDER.waiting() == LIMIT
    results = {r.attributes.get(sc.GEN_AI_TOOL_CALL_RESULT) for r in _stored(tmp_path / "home")}
    assert results == {f"call-{i}" for i in range(LIMIT + 200)}


def _chunks_kept_by_a_stream(tmp_path: Path, waiting: int, chunk_delay: float = 0.001) -> tuple[int | None, str]:
    """A real OpenAI stream read to its end while `waiting` entries wait for a folding thread that does not
    run: how many chunks its span's Pending keeps then (None: folded already), and the text the caller read.
    `chunk_delay`: the wait for each chunk after the first (0: a stream that never blocks). Its body is
    gzip-encoded: its content is folded from the chunks (an uncompressed one is decoded from its bytes, `_tap`)."""

    class _Idle:
        def fold(self) -> None:
            pass

    spans: list[Any] = []
    with _held_export(tmp_path / "home", spans), _stuck_folder():
        for _ in range(waiting):
            FOLDER.put(_Idle())
        body = gzip.compress((DATA / "openai/chat_stream_text.sse").read_bytes())
        response = FakeResponse(
            200,
            body,
            "text/event-stream",
            {"content-encoding": "gzip"},
            streamed=True,
            chunk_size=64,
            chunk_delay=chunk_delay,
        )
        client = openai_client(fake_transport(response))
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        (entry,) = [s._attributes._agenttrace_content for s in spans]
        (pending,) = [
            piece.func.__self__
            for piece in entry[1]
            if isinstance(piece, Later) and isinstance(getattr(piece.func, "__self__", None), Pending)
        ]
        assert pending[3] is None  # no error folding it
        return (None if pending[2] is None else len(pending[2])), text


def test_a_streams_chunks_are_folded_on_the_callers_thread_when_the_folding_thread_is_behind(tmp_path: Path) -> None:
    kept, text = _chunks_kept_by_a_stream(tmp_path, BEHIND)
    assert kept is None  # folded as the stream ended
    (message,) = json.loads(_stored(tmp_path / "home")[0].attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": text}] and text


def test_a_streams_chunks_are_left_to_the_folding_thread_when_it_keeps_up(tmp_path: Path) -> None:
    kept, text = _chunks_kept_by_a_stream(tmp_path, BEHIND - 1)
    assert kept is not None and kept > 1  # the chunks, as the stream handed them out
    (message,) = json.loads(_stored(tmp_path / "home")[0].attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": text}] and text


def test_a_stream_that_never_blocked_folds_its_chunks_on_the_callers_thread(tmp_path: Path) -> None:
    """The folding thread is not woken for it (`BLOCKED_S`): kept, its chunks would wait for a later call or the
    exporter."""
    kept, text = _chunks_kept_by_a_stream(tmp_path, 0, chunk_delay=0.0)
    assert kept is None
    (message,) = json.loads(_stored(tmp_path / "home")[0].attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": text}] and text


class _SlowTransport(httpx2.BaseTransport):
    """The fake transport, 2 ms late: the caller waits, as for a provider's answer."""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        time.sleep(0.002)
        return self.inner.handle_request(request)


@pytest.mark.parametrize("blocks", [False, True])
def test_a_call_wakes_the_folding_thread_only_when_it_blocked(tmp_path: Path, blocks: bool) -> None:
    """A call that never waited (a mock transport, a cache) holds its content without waking the folding thread,
    which would wait for the GIL while the caller runs on; one that waited puts it, and the thread folds both."""
    body = (DATA / "openai/chat_text.json").read_bytes()
    transport: httpx2.BaseTransport = fake_transport(FakeResponse(200, body))
    if blocks:
        transport = _SlowTransport(transport)
    client = openai_client(transport)
    with _held_export(tmp_path / "home"):
        with _stuck_folder():
            queued, held = FOLDER._queue.qsize(), len(FOLDER._held)
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
            assert (FOLDER._queue.qsize() - queued, len(FOLDER._held) - held) == ((1, 0) if blocks else (0, 1))
        FOLDER.drain()
        assert not FOLDER._held  # folded with what was put
    (record,) = _stored(tmp_path / "home")
    assert json.loads(record.attributes[sc.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"] == "hi"


def _thread_time_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threshold: float, calls: int, fresh: float = 60.0
) -> list[int]:
    """The reads of the thread's CPU time by each of `calls` chat calls in a row, the thread's last reading
    made stale first; `fresh`: FRESH_S (a minute: the calls measure from the first one's reading)."""
    body = (DATA / "openai/chat_text.json").read_bytes()
    client = openai_client(fake_transport(*[FakeResponse(200, body) for _ in range(calls)]))
    monkeypatch.setattr(_lifecycle, "BLOCKED_S", threshold)
    monkeypatch.setattr(_lifecycle, "FRESH_S", fresh)
    monkeypatch.setattr(_lifecycle._CLOCK, "reading", (float("-inf"), 0.0))
    real, reads = time.thread_time, []

    def counted() -> float:
        reads[-1] += 1
        return real()

    with _held_export(tmp_path / "home"):
        monkeypatch.setattr(_lifecycle.time, "thread_time", counted)
        for _ in range(calls):
            reads.append(0)
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        monkeypatch.setattr(_lifecycle.time, "thread_time", real)
    return reads


@pytest.mark.parametrize(("threshold", "reads"), [(1e9, [1]), (0.0, [2])])
def test_a_call_shorter_than_the_threshold_reads_no_thread_cpu_time_at_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threshold: float, reads: list[int]
) -> None:
    """The thread's CPU time is a system call (~4 us of a stream's time where it runs); a call whose wall time
    is under BLOCKED_S cannot have waited that long, so only its start reads it (the thread read none lately)."""
    assert _thread_time_reads(tmp_path, monkeypatch, threshold, 1) == reads


@pytest.mark.parametrize(
    ("threshold", "fresh", "reads"), [(1e9, 60.0, [1, 0, 0]), (0.0, 60.0, [2, 1, 1]), (1e9, -1.0, [1, 1, 1])]
)
def test_calls_in_a_row_measure_their_waits_from_the_threads_last_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threshold: float, fresh: float, reads: list[int]
) -> None:
    """A call that starts within FRESH_S of the thread's last reading reads no CPU time at its start: a loop of
    calls reads once a call at most (at its end, when it lasted BLOCKED_S), a loop of short ones once in FRESH_S."""
    assert _thread_time_reads(tmp_path, monkeypatch, threshold, 3, fresh) == reads


def test_a_call_measures_the_wait_just_before_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its window starts at the thread's last reading, up to FRESH_S early: a wait there counts (the thread
    blocks now and then, so the folding thread can run), a wait before a stale reading does not."""
    tel = _lifecycle.Telemetry(TracerProvider().get_tracer("t"), None, CapturePolicy())
    monkeypatch.setattr(_lifecycle, "BLOCKED_S", 0.001)
    answers = []
    for fresh in (60.0, 0.002):
        monkeypatch.setattr(_lifecycle, "FRESH_S", fresh)
        monkeypatch.setattr(_lifecycle._CLOCK, "reading", (float("-inf"), 0.0))
        _lifecycle._since(time.perf_counter())  # the thread's reading
        time.sleep(0.01)
        inv = _lifecycle.Invocation(tel, "call", SpanKind.CLIENT, {}, attach=False, capture=BESIDE)
        start = time.perf_counter()
        while time.perf_counter() - start < 0.0015:  # the call runs, and never waits
            pass
        answers.append(inv.blocked())
        inv.stop()
    assert answers == [True, False]


class _Acc:
    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.folds = 0

    def add(self, chunk: Any) -> None:
        self.seen.append(chunk)

    def add_all(self, chunks: list[Any]) -> None:
        self.folds += 1
        self.seen.extend(chunks)

    def result(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        return {}, {"text": "".join(self.seen)}


def test_pending_folds_once_whoever_asks_first() -> None:
    made: list[_Acc] = []

    def make(capture: bool, attributes: bool = True) -> _Acc:
        assert capture and not attributes  # the output content alone: the stream's ends gave the attributes
        made.append(_Acc())
        return made[-1]

    exporter_first = Pending((None, make, ["a", "b"], None))
    assert exporter_first.output() == {"text": "ab"}
    exporter_first.fold()  # the folding thread comes late: nothing more to do
    assert exporter_first.output() == {"text": "ab"} and made[0].folds == 1 and exporter_first[2] is None

    acc = _Acc()
    acc.seen.append("x")  # a long stream's earlier batches, folded on the caller's thread
    folder_first = Pending((acc, make, ["y"], None))
    folder_first.fold()
    assert folder_first[2] is None  # the chunks are let go at once
    assert folder_first.output() == {"text": "xy"} and acc.folds == 1 and len(made) == 1


def test_pending_folded_from_many_threads_at_once_folds_once() -> None:
    acc = _Acc()
    pending = Pending((acc, lambda capture, attributes=True: _Acc(), list("abc"), None))
    _race(pending.fold)
    assert acc.folds == 1 and pending.output() == {"text": "abc"}


def test_a_fold_that_fails_is_reported_where_the_content_is_asked_for() -> None:
    def make(capture: bool, attributes: bool = True) -> _Acc:
        raise ValueError("accumulator cannot be made")

    pending = Pending((None, make, ["a"], None))
    pending.fold()  # on the folding thread: never raises
    with pytest.raises(ValueError, match="cannot be made"):
        pending.output()  # on the exporter's thread, whose content hand-off reports it once


class _Task:
    def __init__(self) -> None:
        self.thread: str | None = None

    def fold(self) -> None:
        self.thread = threading.current_thread().name


def test_the_folding_thread_starts_on_first_use_and_folds_in_order() -> None:
    folder = Folder()
    assert folder._thread is None  # a program that never streams has no such thread
    folder.drain()  # nothing to wait for
    tasks = [_Task() for _ in range(5)]
    for task in tasks:
        folder.put(task)
    folder.drain()
    assert folder._thread is not None and folder._thread.daemon
    assert {t.thread for t in tasks} == {"AgentTraceFolder"}


def test_no_folding_thread_leaves_the_folding_to_the_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    folder = Folder()

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't create new thread at interpreter shutdown")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    task = _Task()
    folder.put(task)  # no error into the caller, nothing queued that nobody would take
    assert task.thread is None and folder._queue.empty()
    monkeypatch.undo()
    folder.put(task)  # not retried: the exporter folds everything from now on
    assert folder._queue.empty()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_gets_a_folding_thread_of_its_own() -> None:
    folder = Folder()
    folder.put(_Task())
    folder.drain()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's thread is not here
        try:
            task = _Task()
            folder.put(task)
            folder.drain(timeout=10)
            os.write(write, (task.thread or "none").encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    assert answer == "AgentTraceFolder"
