"""A stream's content folded soon after it ends, on the folding thread (`_folder`), not when its span is
exported: the SDK's chunk objects die young instead of waiting seconds in the processor's queue (where the
cyclic collector walks them and promotes them to its oldest generation). Real SDK, real pipeline."""

from __future__ import annotations

import gc
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeResponse, fake_transport, openai_client
from openai.types.chat import ChatCompletionChunk
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_agenttrace import AgentTraceInstrumentor
from otel_agenttrace import semconv as sc
from otel_agenttrace._capture import CapturePolicy
from otel_agenttrace._folder import FOLDER, Folder
from otel_agenttrace._stream import Pending
from otel_agenttrace.exporter.run_trace import RunTraceExporter
from otel_agenttrace.exporter.store import RunStore

DATA = Path(__file__).parent / "data"


def _chunks_alive() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, ChatCompletionChunk))


def test_a_streams_chunks_are_let_go_soon_after_it_ends_and_its_content_is_stored(tmp_path: Path) -> None:
    exporter = RunTraceExporter(store=tmp_path / "home", forward=None)
    provider = TracerProvider()
    # Exported a minute later at the earliest: only the folding thread can let the chunks go before.
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    instrumentor = AgentTraceInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_policy=CapturePolicy(), run_root=False)
    try:
        body = (DATA / "openai/chat_stream_text.sse").read_bytes()
        client = openai_client(fake_transport(FakeResponse(200, body, content_type="text/event-stream", streamed=True)))
        before = _chunks_alive()
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        texts = [c.choices[0].delta.content or "" for c in stream if c.choices]
        del stream
        FOLDER.drain()
        assert _chunks_alive() == before  # folded and freed, while the span waits in the queue
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    with RunStore(tmp_path / "home") as store:
        (run,) = store.list_runs()
        (record,) = store.spans(run.run_id)
    (message,) = json.loads(record.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": "".join(texts)}]
    assert message["finish_reason"] == "stop"


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

    def make(capture: bool) -> _Acc:
        assert capture
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
    pending = Pending((acc, lambda capture: _Acc(), list("abc"), None))
    barrier = threading.Barrier(8)

    def race() -> None:
        barrier.wait()
        pending.fold()

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert acc.folds == 1 and pending.output() == {"text": "abc"}


def test_a_fold_that_fails_is_reported_where_the_content_is_asked_for() -> None:
    def make(capture: bool) -> _Acc:
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
