"""Content beside the span (issue 10 item 1), details log records (EVENT_ONLY), redacted one-line logs and
defensive serialisation (issue 9 items 7 and 12).

The pipeline is the real one: an SDK TracerProvider with a RunTraceExporter writing a real store, and a second
exporter (in-memory) on the same provider, standing for any other exporter a user adds (console, OTLP, a vendor's).
"""

from __future__ import annotations

import gc
import json
import logging
import resource
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import fake_transport, json_response, openai_client
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

import otel_agenttrace
from otel_agenttrace import AgentTraceInstrumentor, _lifecycle, _settings
from otel_agenttrace import semconv as sc
from otel_agenttrace._beside import CHANNEL, Later, snapshot, snapshot_values
from otel_agenttrace._capture import CYCLE_MARKER, DEPTH_MARKER, CapturePolicy, ContentMode, encode, jsonable
from otel_agenttrace.exporter.run_trace import RunTraceExporter
from otel_agenttrace.exporter.store import RunStore
from otel_agenttrace.replay._channel import CHANNEL as RECORDINGS

SECRET = "sk-proj-Tq3Wm8Zr1Kx6Vb9Nc2Lf5Hs7Jd4Pg0Ya"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
QUESTION = "WLMARK-QUESTION what is the capital of France?"
LOGGER = "otel_agenttrace"


class Pipeline:
    """A provider with the run-trace exporter (store in tmp) and a second, in-memory exporter; a logs pipeline."""

    def __init__(self, home: Path, mode: ContentMode, run_trace: bool = True, sampler: Any = None) -> None:
        self.provider = TracerProvider(sampler=sampler) if sampler is not None else TracerProvider()
        self.exporter: RunTraceExporter | None = None
        if run_trace:
            self.exporter = RunTraceExporter(store=home, forward=None)
            self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.other = InMemorySpanExporter()
        self.provider.add_span_processor(SimpleSpanProcessor(self.other))
        self.logs = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.home = home
        self.instrumentor = AgentTraceInstrumentor()
        self.instrumentor.instrument(
            tracer_provider=self.provider,
            logger_provider=self.logger_provider,
            capture_policy=CapturePolicy(mode=mode),
            run_root=False,
        )

    def close(self) -> None:
        self.instrumentor.uninstrument()
        self.provider.shutdown()
        self.logger_provider.shutdown()

    def stored(self) -> list[dict[str, Any]]:
        with RunStore(self.home) as store:
            return [dict(r.attributes) for run in store.list_runs(limit=100) for r in store.spans(run.run_id)]

    def other_text(self) -> str:
        spans = self.other.get_finished_spans()
        return json.dumps(
            [[dict(s.attributes or {}), [dict(e.attributes or {}) for e in s.events]] for s in spans], default=str
        )

    def log_records(self) -> list[Any]:
        return [d.log_record for d in self.logs.get_finished_logs()]


@pytest.fixture(autouse=True)
def _no_garbage_spans_of_earlier_tests() -> None:
    """The channel is process-wide. In a full-suite run, two tests in tests/official that read spans with no
    run-trace exporter ran while an earlier test's consumer was still open: their spans' entries stayed, and
    pytest keeps those spans alive through the tests' fixture values. Forget them, so every count here is this
    test's own."""
    gc.collect()
    CHANNEL.clear()


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Any]:
    made: list[Pipeline] = []

    def make(mode: ContentMode = ContentMode.LOCAL_ONLY, **kwargs: Any) -> Pipeline:
        p = Pipeline(tmp_path / f"home{len(made)}", mode, **kwargs)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def _agent() -> list[dict[str, str]]:
    """A chat call with a secret in the prompt, and a tool call with one in its arguments; returns the history."""
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    history = [{"role": "user", "content": f"{QUESTION} key={SECRET}"}]
    client.chat.completions.create(model="gpt-4o", messages=history)

    @otel_agenttrace.tool("lookup")
    def lookup(query: str, options: dict[str, Any]) -> dict[str, Any]:
        return {"answer": "Paris", "token": SECRET}

    lookup("capital", {"api_key": SECRET})
    return history


def test_unset_switch_keeps_content_off_every_span_and_in_the_store(pipeline: Any) -> None:
    p = pipeline()
    _agent()
    text = p.other_text()
    assert "WLMARK" not in text and "Paris" not in text and SECRET not in text
    assert not [k for s in p.other.get_finished_spans() for k in (s.attributes or {}) if k in sc.CONTENT_ATTRIBUTES]
    assert p.log_records() == []
    stored = p.stored()
    chat = next(a for a in stored if a.get(sc.GEN_AI_OPERATION_NAME) == "chat")
    tool = next(a for a in stored if a.get(sc.GEN_AI_OPERATION_NAME) == "execute_tool")
    assert QUESTION in chat[sc.GEN_AI_INPUT_MESSAGES] and "Paris" in chat[sc.GEN_AI_OUTPUT_MESSAGES]
    assert "[REDACTED:openai_key]" in chat[sc.GEN_AI_INPUT_MESSAGES] and SECRET not in json.dumps(stored)
    assert json.loads(tool[sc.GEN_AI_TOOL_CALL_ARGUMENTS])["options"]["api_key"] == "[REDACTED:openai_key]"
    assert json.loads(tool[sc.GEN_AI_TOOL_CALL_RESULT])["answer"] == "Paris"
    assert chat[sc.AGENTTRACE_CONTENT_REDACTIONS] == 1
    assert len(CHANNEL) == 0


@pytest.mark.parametrize("mode", [ContentMode.SPAN_ONLY, ContentMode.EVENT_ONLY, ContentMode.SPAN_AND_EVENT])
def test_opted_in_content_reaches_other_exporters_redacted(pipeline: Any, mode: ContentMode) -> None:
    p = pipeline(mode)
    _agent()
    spans = {s.name: s for s in p.other.get_finished_spans()}
    chat, tool = spans["chat gpt-4o"], spans["execute_tool lookup"]
    on_span = mode is not ContentMode.EVENT_ONLY
    assert (sc.GEN_AI_INPUT_MESSAGES in chat.attributes) is on_span
    assert (sc.GEN_AI_TOOL_CALL_ARGUMENTS in tool.attributes) is on_span
    assert not [e for s in spans.values() for e in s.events if e.name == sc.Event.OPERATION_DETAILS]
    records = p.log_records()
    if mode is ContentMode.SPAN_ONLY:
        assert records == []
    else:
        by_span = {r.span_id: r for r in records}
        assert set(by_span) == {chat.context.span_id, tool.context.span_id}
        record = by_span[chat.context.span_id]
        assert record.trace_id == chat.context.trace_id
        assert getattr(record, "event_name", None) == sc.Event.OPERATION_DETAILS
        assert record.attributes[sc.GEN_AI_OPERATION_NAME] == "chat"
        assert record.attributes[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o"
        assert QUESTION in record.attributes[sc.GEN_AI_INPUT_MESSAGES]
        assert "[REDACTED:openai_key]" in record.attributes[sc.GEN_AI_INPUT_MESSAGES]
    everything = p.other_text() + json.dumps([dict(r.attributes) for r in records], default=str)
    assert SECRET not in everything
    # the local store has the content in every mode, EVENT_ONLY included
    stored = p.stored()
    assert any(QUESTION in a.get(sc.GEN_AI_INPUT_MESSAGES, "") for a in stored)
    assert SECRET not in json.dumps(stored)


def test_no_run_trace_exporter_means_no_content_at_all(pipeline: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CHANNEL, "_consumers", 0)  # other tests' in-memory readers may have left one open
    built: list[Any] = []
    from otel_agenttrace.providers import openai as openai_provider

    real = openai_provider.CHAT.request_content
    monkeypatch.setattr(
        openai_provider,
        "CHAT",
        openai_provider.CHAT.__class__(
            **{**openai_provider.CHAT.__dict__, "request_content": lambda kw: built.append(kw) or real(kw)}
        ),
    )
    p = pipeline(run_trace=False)
    _agent()
    assert "WLMARK" not in p.other_text() and "Paris" not in p.other_text()
    assert built == []  # not even built
    assert len(CHANNEL) == 0


def test_history_mutated_after_the_call_is_recorded_as_it_was(pipeline: Any) -> None:
    p = pipeline()
    history = _agent()
    history.append({"role": "assistant", "content": "WLMARK-LATER"})
    history[0]["content"] = "WLMARK-EDITED"
    p.provider.force_flush()
    stored = json.dumps(p.stored())
    assert "WLMARK-LATER" not in stored and "WLMARK-EDITED" not in stored and "WLMARK-QUESTION" in stored


def test_snapshot_copies_containers_and_the_containers_in_them() -> None:
    inner = {"role": "user"}
    value = [inner, "text"]
    copied = snapshot(value)
    value.append("later")
    inner["role"] = "edited"
    assert copied == [{"role": "user"}, "text"]
    model = object()
    assert snapshot(model) is model  # references to everything else


def test_snapshot_values_copies_as_snapshot_does() -> None:
    inner = {"role": "user"}
    nested = [1]
    values = {"messages": [inner, "text"], "tools": ({"name": "t"},), "extra": {"a": nested}, "model": "m", "n": 2}
    copied = snapshot_values(values)
    assert copied == {key: snapshot(value) for key, value in values.items()}
    values["messages"].append("later")
    inner["role"] = "edited"
    values["tools"][0]["name"] = "edited"
    values["extra"]["a"].append(2)
    values["extra"]["b"] = 1
    assert copied == {
        "messages": [{"role": "user"}, "text"],
        "tools": [{"name": "t"}],
        "extra": {"a": [1]},
        "model": "m",
        "n": 2,
    }


def test_snapshot_values_of_named_arguments_copies_only_those() -> None:
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    mixed = [{"role": "user"}, ["nested"], "text"]  # not dicts alone: copied item by item as snapshot() does
    options = {"include_usage": True}
    values = {"messages": history, "tools": mixed, "stream_options": options, "model": "m"}
    copied = snapshot_values(values, ("messages", "tools", "system"))
    assert copied == {"messages": history, "tools": mixed}  # an absent name is left out, not None
    history.append({"role": "user", "content": "later"})
    history[0]["content"] = "edited"
    mixed[0]["role"] = "edited"
    mixed[1].append("later")
    assert copied == {
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        "tools": [{"role": "user"}, ["nested"], "text"],
    }
    assert copied["tools"][2] is mixed[2]
    assert snapshot_values(values, ()) == {}


def test_every_sdk_endpoint_snapshots_the_arguments_its_content_reads() -> None:
    """Beside the span only `content_args` are kept: content built from the snapshot equals content built from
    every argument."""
    from otel_agenttrace.providers import anthropic as anthropic_provider
    from otel_agenttrace.providers import openai as openai_provider

    kwargs = {
        "model": "m",
        "messages": [{"role": "user", "content": "q"}],
        "system": "be brief",
        "instructions": "be brief",
        "input": [{"role": "user", "content": "q"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}, "name": "f", "input_schema": {}}],
        "stream": True,
    }
    endpoints = [openai_provider.CHAT, openai_provider.RESPONSES, anthropic_provider.MESSAGES]
    for endpoint in endpoints:
        assert endpoint.content_args is not None
        full = endpoint.request_content(kwargs)
        assert full  # the test's arguments give each some content
        assert endpoint.request_content(snapshot_values(kwargs, endpoint.content_args)) == full


def test_later_builds_its_content_when_called_and_leaves_out_what_an_inner_view_gives() -> None:
    calls: list[tuple[Any, ...]] = []

    def build(*args: Any) -> dict[str, Any]:
        calls.append(args)
        return {"a": 1, "b": 2, "c": None}

    later = Later(build, "x", "y")
    assert calls == []  # nothing built on the caller's thread
    assert later() == {"a": 1, "b": 2, "c": None}
    assert calls == [("x", "y")]
    narrower = later.without(["a"]).without(["c"])
    assert narrower() == {"b": 2} and later() == {"a": 1, "b": 2, "c": None}


def test_mutated_history_with_a_batch_processor(tmp_path: Path) -> None:
    """The usual pipeline: the span is exported later, on the processor's thread, after the agent changed things."""
    exporter = RunTraceExporter(store=tmp_path / "home", forward=None)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    instrumentor = AgentTraceInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_policy=CapturePolicy(), run_root=False)
    try:
        client = openai_client(fake_transport(json_response("openai/chat_text.json")))
        history = [{"role": "user", "content": "WLMARK-ORIGINAL"}]
        client.chat.completions.create(model="gpt-4o", messages=history)
        history[0]["content"] = "WLMARK-EDITED"
        history.append({"role": "user", "content": "WLMARK-APPENDED"})
        assert len(CHANNEL) >= 1  # waiting beside its span
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    with RunStore(tmp_path / "home") as store:
        (run,) = store.list_runs()
        (record,) = store.spans(run.run_id)
    messages = record.attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert "WLMARK-ORIGINAL" in messages and "EDITED" not in messages and "APPENDED" not in messages


def test_dropped_spans_leave_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """100,000 tool calls, half sampled out, the rest through a batch processor whose queue overflows: the side
    channel never holds more than the processor does, ends empty, and the process's memory stays flat."""
    for name in ("opentelemetry.sdk._shared_internal", "opentelemetry.sdk.trace.export"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", True)  # "Queue full" on every drop
    exporter = RunTraceExporter(store=tmp_path / "home", forward=None)
    provider = TracerProvider(sampler=TraceIdRatioBased(0.5))
    # A tiny queue that a fast producer overflows: most sampled spans are dropped by the processor.
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=64, max_export_batch_size=64))
    instrumentor = AgentTraceInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_policy=CapturePolicy(), run_root=False)
    # Replay recordings of the tool results are on: their channel must stay as small as the content's.

    @otel_agenttrace.tool("echo")
    def echo(history: list[str]) -> int:
        return len(history)

    payload = ["x" * 100] * 50  # each call's snapshot copies this list: a leak would be ~0.5 KB per call
    rss: list[int] = []
    try:
        for _ in range(10):
            for _ in range(10_000):
                echo(payload)
            assert len(CHANNEL) <= 64 + 64 + 1  # at most what the processor holds, and the span being ended
            assert len(RECORDINGS) <= 64 + 64 + 1  # the replay recordings of tool results likewise
            rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    assert len(CHANNEL) == 0
    assert len(RECORDINGS) == 0
    # 50,000 leaked entries would add ~25 MB; the peak grows by less than 8 MB after the first 20,000 calls
    assert rss[-1] - rss[1] < 8 * 1024, rss


# --- log lines ---------------------------------------------------------------------------------------------------


class _LoudRepr:
    def __repr__(self) -> str:
        raise ValueError(f"cannot show {JWT}")

    __str__ = __repr__


def test_internal_error_lines_are_redacted_and_one_line(
    tel: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_lifecycle, "STRICT", False)
    monkeypatch.setattr(_lifecycle, "_reported", set())
    caplog.set_level(logging.WARNING, logger=LOGGER)
    _lifecycle.internal_error("test", ValueError(f"token {JWT} in\nthe message"))
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    line = record.getMessage()
    assert JWT not in line and "[REDACTED:jwt]" in line
    assert "\n" not in line and record.exc_info is None
    assert JWT not in caplog.text


def test_debug_switch_adds_the_redacted_traceback(
    tel: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_lifecycle, "STRICT", False)
    monkeypatch.setattr(_lifecycle, "_reported", set())
    monkeypatch.setenv("AGENTTRACE_DEBUG", "1")
    caplog.set_level(logging.WARNING, logger=LOGGER)
    try:
        raise ValueError(f"token {JWT}")
    except ValueError as exc:
        _lifecycle.internal_error("test", exc)
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    assert "Traceback (most recent call last)" in record.getMessage()
    assert JWT not in caplog.text


def test_every_logger_of_ours_redacts(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    RunTraceExporter(store=tmp_path / "home", forward=None).shutdown()  # installs the filter on the exporter's loggers
    caplog.set_level(logging.WARNING)
    logging.getLogger("otel_agenttrace.exporter.run_trace").warning("agenttrace: cannot record spans: %s", SECRET)
    assert SECRET not in caplog.text and "[REDACTED:openai_key]" in caplog.text


# --- defensive serialisation -------------------------------------------------------------------------------------


def _deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def test_jsonable_caps_depth_marks_cycles_and_bad_reprs() -> None:
    cycle: dict[str, Any] = {"name": "loop"}
    cycle["self"] = cycle
    assert jsonable(cycle) == {"name": "loop", "self": CYCLE_MARKER}
    shared = {"x": 1}
    assert jsonable([shared, shared]) == [{"x": 1}, {"x": 1}]  # the same object twice is not a cycle
    assert DEPTH_MARKER in encode(_deep(100_000))
    assert "[unrepresentable _LoudRepr]" in encode({"arg": _LoudRepr()})
    assert json.loads(encode({(1, 2): "tuple key"})) == {"(1, 2)": "tuple key"}


@pytest.mark.parametrize("mode", [ContentMode.LOCAL_ONLY, ContentMode.SPAN_ONLY])
def test_hostile_tool_arguments_keep_the_step(
    instrument: Any, mode: ContentMode, caplog: pytest.LogCaptureFixture
) -> None:
    tel = instrument(mode)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    cycle: dict[str, Any] = {"name": "loop"}
    cycle["self"] = cycle

    @otel_agenttrace.tool("hostile")
    def hostile(deep: Any, loop: Any, loud: Any) -> dict[str, Any]:
        return {"ok": True, "loop": loop}

    assert hostile(_deep(50_000), cycle, _LoudRepr())["ok"] is True  # strict mode: any internal error would raise
    span = tel.only_span()
    arguments = json.loads(span.attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS])
    assert arguments["loop"]["name"] == "loop" and CYCLE_MARKER in json.dumps(arguments["loop"], ensure_ascii=False)
    assert arguments["loud"] == "[unrepresentable _LoudRepr]"
    assert DEPTH_MARKER in span.attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS]
    assert json.loads(span.attributes[sc.GEN_AI_TOOL_CALL_RESULT])["ok"] is True
    assert JWT not in caplog.text and not [r for r in caplog.records if r.name == LOGGER]


def test_settings_debug_field_reads_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTTRACE_DEBUG", "on")
    assert _settings.current().debug is True


def _long_stream_body(repeats: int) -> bytes:
    """chat_stream_text.sse with its content chunks repeated: more chunks than one batch of kept references."""
    events = [
        e + b"\n\n"
        for e in (Path(__file__).parent / "data/openai/chat_stream_text.sse").read_bytes().split(b"\n\n")
        if e.strip()
    ]
    head, content, tail = events[:1], events[1:-3], events[-3:]
    return b"".join(head + content * repeats + tail)


def _read_with_folds(monkeypatch: pytest.MonkeyPatch, repeats: int, **kwargs: Any) -> tuple[list[str], list[int]]:
    """A long stream (`_long_stream_body(repeats)`) read to its end: the texts read, and the size of every fold."""
    from fakes import FakeResponse

    from otel_agenttrace import _stream

    monkeypatch.setattr(_lifecycle, "BLOCKED_S", 1e9)  # never waited, as natively: its content from its body
    folds: list[int] = []
    real_fold = _stream.fold
    monkeypatch.setattr(_stream, "fold", lambda acc, chunks: (folds.append(len(chunks)), real_fold(acc, chunks))[1])
    body = _long_stream_body(repeats)
    client = openai_client(fake_transport(FakeResponse(200, body, content_type="text/event-stream", streamed=True)))
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": QUESTION}], stream=True, **kwargs
    )
    return [c.choices[0].delta.content or "" for c in stream if c.choices], folds


@pytest.mark.parametrize("repeats", [1, 150])
def test_streamed_content_is_folded_off_the_callers_thread_in_bounded_batches(
    pipeline: Any, repeats: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = pipeline()
    texts, folds = _read_with_folds(monkeypatch, repeats, stream_options={"include_usage": True})
    (span,) = [s for s in p.other.get_finished_spans() if s.attributes.get(sc.GEN_AI_OPERATION_NAME) == "chat"]
    # the response attributes were read on the caller's thread, the content is on no span
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert sc.GEN_AI_OUTPUT_MESSAGES not in span.attributes
    (chat,) = [a for a in p.stored() if a.get(sc.GEN_AI_OPERATION_NAME) == "chat"]
    (message,) = json.loads(chat[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": "".join(texts)}] and message["finish_reason"] == "stop"
    chunks = len(texts) + 1  # the usage chunk has no choices
    # No fold on the caller's thread, however long the stream (the response attributes are read from its ends,
    # the first chunk and the last few kept), one of the content decoded from the body on the export thread.
    assert folds == [chunks]
    assert len(CHANNEL) == 0


@pytest.mark.parametrize("repeats", [1, 150])
def test_a_two_choice_stream_keeps_its_chunks_and_folds_long_ones_in_bounded_batches(
    pipeline: Any, repeats: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`n=2`: the finish reasons may be anywhere, so the chunks are kept, and a long stream's are folded batch by
    batch, its content too."""
    from otel_agenttrace import _stream

    p = pipeline()
    texts, folds = _read_with_folds(monkeypatch, repeats, n=2)
    (chat,) = [a for a in p.stored() if a.get(sc.GEN_AI_OPERATION_NAME) == "chat"]
    (message,) = json.loads(chat[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": "".join(texts)}] and message["finish_reason"] == "stop"
    chunks = len(texts) + 1
    if chunks < _stream.BATCH:
        assert folds == [chunks]  # the ends read here, the content decoded from the body there
    else:
        # full batches folded as they filled (attributes and content), memory bounded; the rest at the end
        full = chunks // _stream.BATCH
        assert folds[: 2 * full] == [_stream.BATCH] * (2 * full) and sum(folds) == 2 * chunks
    assert len(CHANNEL) == 0
