"""Stream lifecycles: every way a streamed response can end ends exactly one span, exactly once.

Four streaming entry points (OpenAI chat and responses with ``stream=True``, Anthropic
``messages.create(stream=True)`` and the ``messages.stream(...)`` helper), sync and async, each driven through
every ending: read to the end, break and drop, ``close()`` early, ``with`` exited early or after a full read, the
user's exception inside ``with``, an error from the server mid-stream, a dropped connection, and closing again.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest
from fakes import (
    anthropic_client,
    assert_first_chunk_time,
    fake_transport,
    openai_client,
    slow_sse_response,
    sse_response,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from otel_agenttrace import semconv as sc
from otel_agenttrace._capture import ContentMode

# An exception raised in a proxy's __del__ would only be printed; make it fail the test instead.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

USER = [{"role": "user", "content": "What is the capital of France?"}]
OPENAI_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "get_local_time", "parameters": {"type": "object"}}},
]
ANTHROPIC_TOOLS = [{"name": "get_weather", "description": "Weather now", "input_schema": {"type": "object"}}]
DOUBLE_END = "Calling end() on an ended span"


class UserError(Exception):
    """Raised by "user code" inside a ``with stream:`` block."""


# --- the four streaming entry points ----------------------------------------------------------


def _chat_text(event: Any) -> str | None:
    return event.choices[0].delta.content or None if event.choices else None


def _responses_text(event: Any) -> str | None:
    return event.delta if event.type == "response.output_text.delta" else None


def _anthropic_text(event: Any) -> str | None:
    if event.type == "content_block_delta" and event.delta.type == "text_delta":
        return str(event.delta.text)
    return None


@dataclass(frozen=True)
class Kind:
    id: str
    fixture: str
    # A fixture whose stream carries an error event from the server part-way; None: no such recording.
    error_fixture: str | None
    make_client: Callable[..., Any]
    # client -> the stream (or, for the helper, the stream manager); for async clients, an awaitable for create()
    start: Callable[[Any], Any]
    # the helper returns a manager that issues the request when entered
    helper: bool
    text: Callable[[Any], str | None]
    sdk_error: type[BaseException]


KINDS = [
    Kind(
        "openai-chat",
        "openai/chat_stream_text.sse",
        "openai/chat_stream_error.sse",
        openai_client,
        lambda c: c.chat.completions.create(
            model="gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True}
        ),
        False,
        _chat_text,
        openai.OpenAIError,
    ),
    Kind(
        "openai-responses",
        "openai/responses_stream.sse",
        None,
        openai_client,
        lambda c: c.responses.create(model="gpt-4o", input="Capital of France?", stream=True),
        False,
        _responses_text,
        openai.OpenAIError,
    ),
    Kind(
        "anthropic-create",
        "anthropic/messages_stream_text.sse",
        "anthropic/stream_error.sse",
        anthropic_client,
        lambda c: c.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=USER, stream=True),
        False,
        _anthropic_text,
        anthropic.AnthropicError,
    ),
    Kind(
        "anthropic-helper",
        "anthropic/messages_stream_text.sse",
        "anthropic/stream_error.sse",
        anthropic_client,
        lambda c: c.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=USER),
        True,
        _anthropic_text,
        anthropic.AnthropicError,
    ),
]
ERROR_KINDS = [k for k in KINDS if k.error_fixture]


def _ids(kind: Kind) -> str:
    return kind.id


@pytest.fixture(params=KINDS, ids=_ids)
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=ERROR_KINDS, ids=_ids)
def error_kind(request: pytest.FixtureRequest) -> Kind:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def no_double_end(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test here: the SDK never complained that one of our spans was ended twice."""
    caplog.set_level(logging.WARNING)
    yield
    assert not [r for r in caplog.records if DOUBLE_END in r.getMessage()]


def client_for(kind: Kind, fixture: str | None = None, async_: bool = False, **sse: Any) -> Any:
    return kind.make_client(fake_transport(sse_response(fixture or kind.fixture, **sse)), async_)


def open_stream(kind: Kind, client: Any) -> Any:
    """The stream, without a context manager (the helper's manager is entered by hand and dropped)."""
    started = kind.start(client)
    return started.__enter__() if kind.helper else started


async def aopen_stream(kind: Kind, client: Any) -> Any:
    started = kind.start(client)
    return await started.__aenter__() if kind.helper else await started


async def acontext(kind: Kind, client: Any) -> Any:
    """What `async with` takes: the stream itself, or the helper's manager."""
    started = kind.start(client)
    return started if kind.helper else await started


def read_texts(stream: Any, kind: Kind, limit: int | None = None) -> list[str]:
    """Read events, collecting text deltas; stop after `limit` of them (None: to the end)."""
    texts: list[str] = []
    for event in stream:
        piece = kind.text(event)
        if piece:
            texts.append(piece)
            if limit is not None and len(texts) >= limit:
                break
    return texts


async def aread_texts(stream: Any, kind: Kind, limit: int | None = None) -> list[str]:
    texts: list[str] = []
    async for event in stream:
        piece = kind.text(event)
        if piece:
            texts.append(piece)
            if limit is not None and len(texts) >= limit:
                break
    return texts


def output_text(span: ReadableSpan) -> str:
    (message,) = json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    return "".join(p["content"] for p in message["parts"] if p["type"] == "text")


def assert_ok(span: ReadableSpan, texts: list[str]) -> None:
    """Ended without error and carrying what the user received."""
    assert span.status.status_code is StatusCode.UNSET
    assert sc.ERROR_TYPE not in span.attributes
    assert sc.AGENTTRACE_STREAM_ABANDONED not in span.attributes
    assert span.attributes[sc.GEN_AI_RESPONSE_ID]
    assert span.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert output_text(span) == "".join(texts)


def assert_closed_early(span: ReadableSpan) -> None:
    """No finish reason was received: none is recorded, and the message says "error" (the spec's
    value for a response cut short), never a "stop" that did not happen."""
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes
    (message,) = json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["finish_reason"] == "error"


def assert_abandoned(span: ReadableSpan, texts: list[str]) -> None:
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "stream_abandoned"
    assert span.attributes[sc.AGENTTRACE_STREAM_ABANDONED] is True
    assert span.attributes[sc.GEN_AI_RESPONSE_ID]
    assert output_text(span) == "".join(texts)


def assert_user_error(span: ReadableSpan, raised: BaseException, boom: UserError) -> None:
    assert raised is boom
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "UserError"
    (event,) = [e for e in span.events if e.name == sc.Event.EXCEPTION]
    assert event.attributes[sc.EXCEPTION_TYPE] == "UserError"
    # the traceback the user gets still starts at their own raise
    frames = [f.name for f in traceback.extract_tb(raised.__traceback__)]
    assert "raise_inside" in frames


def raise_inside(boom: UserError) -> None:
    raise boom


async def acollect() -> None:
    """Collect garbage, letting the loop finalize dropped async generators (asyncio closes a dropped one
    in a task, which keeps its frame, and what the frame refers to, alive until the loop runs it)."""
    gc.collect()
    for _ in range(3):
        await asyncio.sleep(0)
    gc.collect()


# --- read to the end --------------------------------------------------------------------------


def test_read_to_end(tel, kind: Kind) -> None:
    stream = open_stream(kind, client_for(kind))
    it = iter(stream)
    first = next(it)
    assert first is not None
    assert tel.llm_spans() == []  # the span stays open while the stream is read
    texts = [t for t in [kind.text(first), *map(kind.text, it)] if t]
    (span,) = tel.llm_spans()
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert_ok(span, texts)
    del stream, it
    gc.collect()  # dropping a finished stream is not abandoning it
    assert len(tel.llm_spans()) == 1


async def test_async_read_to_end(tel, kind: Kind) -> None:
    stream = await aopen_stream(kind, client_for(kind, async_=True))
    texts = await aread_texts(stream, kind)
    (span,) = tel.llm_spans()
    assert_ok(span, texts)
    del stream
    await acollect()
    assert len(tel.llm_spans()) == 1


# --- break, then drop -------------------------------------------------------------------------


def test_break_then_drop_is_abandoned(tel, kind: Kind) -> None:
    stream = open_stream(kind, client_for(kind))
    texts = read_texts(stream, kind, limit=2)
    assert tel.llm_spans() == []  # held by the user: not ended yet
    del stream
    gc.collect()
    (span,) = tel.llm_spans()
    assert_abandoned(span, texts)


async def test_async_break_then_drop_is_abandoned(tel, kind: Kind) -> None:
    stream = await aopen_stream(kind, client_for(kind, async_=True))
    texts = await aread_texts(stream, kind, limit=2)
    assert tel.llm_spans() == []
    del stream
    await acollect()
    (span,) = tel.llm_spans()
    assert_abandoned(span, texts)


def test_dropped_unread_is_abandoned(tel, kind: Kind) -> None:
    stream = open_stream(kind, client_for(kind))
    del stream
    gc.collect()
    (span,) = tel.llm_spans()
    assert span.attributes[sc.ERROR_TYPE] == "stream_abandoned"
    assert sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in span.attributes


# --- close() early ----------------------------------------------------------------------------


def test_close_early(tel, kind: Kind) -> None:
    stream = open_stream(kind, client_for(kind))
    texts = read_texts(stream, kind, limit=2)
    stream.close()
    (span,) = tel.llm_spans()  # ended by close(), not by the garbage collector
    assert_ok(span, texts)
    assert_closed_early(span)
    del stream
    gc.collect()
    assert len(tel.llm_spans()) == 1


async def test_async_close_early(tel, kind: Kind) -> None:
    stream = await aopen_stream(kind, client_for(kind, async_=True))
    texts = await aread_texts(stream, kind, limit=2)
    await stream.close()
    (span,) = tel.llm_spans()
    assert_ok(span, texts)
    del stream
    await acollect()
    assert len(tel.llm_spans()) == 1


# --- context manager ----------------------------------------------------------------------------


def test_with_exited_early(tel, kind: Kind) -> None:
    with kind.start(kind_client := client_for(kind)) as stream:
        texts = read_texts(stream, kind, limit=2)
        assert tel.llm_spans() == []
    (span,) = tel.llm_spans()
    assert_ok(span, texts)
    del stream, kind_client
    gc.collect()
    assert len(tel.llm_spans()) == 1


async def test_async_with_exited_early(tel, kind: Kind) -> None:
    async with await acontext(kind, client_for(kind, async_=True)) as stream:
        texts = await aread_texts(stream, kind, limit=2)
    (span,) = tel.llm_spans()
    assert_ok(span, texts)
    del stream
    await acollect()
    assert len(tel.llm_spans()) == 1


def test_with_left_by_a_closed_generator_is_no_error(tel, kind: Kind) -> None:
    """A generator that reads the stream inside `with` (as LangChain's stream() does) and is closed early, after a
    `break` in its caller: GeneratorExit leaves the `with`, and the span ends as after any early exit, no error."""

    def texts_of(client: Any) -> Iterator[str]:
        with kind.start(client) as stream:
            for event in stream:
                piece = kind.text(event)
                if piece:
                    yield piece

    reader = texts_of(client_for(kind))
    texts = [next(reader), next(reader)]
    reader.close()
    (span,) = tel.llm_spans()
    assert_ok(span, texts)


def test_with_after_full_read(tel, kind: Kind) -> None:
    with kind.start(client_for(kind)) as stream:
        texts = read_texts(stream, kind)
        assert len(tel.llm_spans()) == 1  # ended by the last read, before the block exits
    (span,) = tel.llm_spans()
    assert_ok(span, texts)


async def test_async_with_after_full_read(tel, kind: Kind) -> None:
    async with await acontext(kind, client_for(kind, async_=True)) as stream:
        texts = await aread_texts(stream, kind)
    (span,) = tel.llm_spans()
    assert_ok(span, texts)


def test_user_exception_inside_with(tel, kind: Kind) -> None:
    boom = UserError("the user's own bug")
    with pytest.raises(UserError) as caught, kind.start(client_for(kind)) as stream:
        read_texts(stream, kind, limit=1)
        raise_inside(boom)
    (span,) = tel.llm_spans()
    assert_user_error(span, caught.value, boom)


async def test_async_user_exception_inside_with(tel, kind: Kind) -> None:
    boom = UserError("the user's own bug")
    with pytest.raises(UserError) as caught:
        async with await acontext(kind, client_for(kind, async_=True)) as stream:
            await aread_texts(stream, kind, limit=1)
            raise_inside(boom)
    (span,) = tel.llm_spans()
    assert_user_error(span, caught.value, boom)


# --- errors from the other side -------------------------------------------------------------


def _assert_sdk_error(span: ReadableSpan, raised: BaseException, etype: str | None) -> None:
    assert span.status.status_code is StatusCode.ERROR
    if etype is not None:
        assert span.attributes[sc.ERROR_TYPE] == etype
    (event,) = [e for e in span.events if e.name == sc.Event.EXCEPTION]
    assert event.attributes[sc.EXCEPTION_TYPE] == type(raised).__qualname__
    assert sc.AGENTTRACE_STREAM_ABANDONED not in span.attributes


_SERVER_ERROR_TYPE = {"openai": "server_error", "anthropic": "overloaded_error"}


def test_server_error_mid_stream(tel, error_kind: Kind) -> None:
    kind = error_kind
    texts: list[str] = []
    with pytest.raises(kind.sdk_error) as caught:
        for event in open_stream(kind, client_for(kind, kind.error_fixture)):
            if piece := kind.text(event):
                texts.append(piece)
    (span,) = tel.llm_spans()
    _assert_sdk_error(span, caught.value, _SERVER_ERROR_TYPE[kind.id.split("-")[0]])
    assert span.attributes[sc.GEN_AI_RESPONSE_ID]  # what arrived before the error is kept
    assert output_text(span) == "".join(texts)


async def test_async_server_error_mid_stream(tel, error_kind: Kind) -> None:
    kind = error_kind
    stream = await aopen_stream(kind, client_for(kind, kind.error_fixture, async_=True))
    with pytest.raises(kind.sdk_error) as caught:
        await aread_texts(stream, kind)
    (span,) = tel.llm_spans()
    _assert_sdk_error(span, caught.value, _SERVER_ERROR_TYPE[kind.id.split("-")[0]])
    del stream
    await acollect()
    assert len(tel.llm_spans()) == 1


def test_connection_dropped_mid_stream(tel, kind: Kind) -> None:
    stream = open_stream(kind, client_for(kind, break_after=3))
    with pytest.raises(Exception) as caught:
        read_texts(stream, kind)
    (span,) = tel.llm_spans()
    _assert_sdk_error(span, caught.value, None)
    assert span.attributes[sc.ERROR_TYPE] == type(caught.value).__qualname__
    del stream
    gc.collect()
    assert len(tel.llm_spans()) == 1


async def test_async_connection_dropped_mid_stream(tel, kind: Kind) -> None:
    stream = await aopen_stream(kind, client_for(kind, async_=True, break_after=3))
    with pytest.raises(Exception) as caught:
        await aread_texts(stream, kind)
    (span,) = tel.llm_spans()
    _assert_sdk_error(span, caught.value, None)


def test_request_error_before_stream_starts(tel, kind: Kind) -> None:
    from fakes import json_response

    fixture = "openai/error_500.json" if kind.id.startswith("openai") else "anthropic/error_500.json"
    client = kind.make_client(fake_transport(json_response(fixture)), False)
    with pytest.raises(kind.sdk_error) as caught:
        stream = open_stream(kind, client)
        read_texts(stream, kind)
    (span,) = tel.llm_spans()
    _assert_sdk_error(span, caught.value, None)


# --- closing again ----------------------------------------------------------------------------


def _one_duration_point(tel) -> None:
    (point,) = tel.metric_points(sc.Metric.OPERATION_DURATION)
    assert point.count == 1


def test_close_twice(tel, kind: Kind) -> None:
    stream = open_stream(kind, client_for(kind))
    read_texts(stream, kind, limit=1)
    stream.close()
    stream.close()
    assert len(tel.llm_spans()) == 1
    _one_duration_point(tel)


def test_close_after_exhaustion_and_with_exit(tel, kind: Kind) -> None:
    with kind.start(client_for(kind)) as stream:
        read_texts(stream, kind)
        stream.close()
        stream.close()
    del stream
    gc.collect()
    assert len(tel.llm_spans()) == 1
    assert tel.llm_spans()[0].status.status_code is StatusCode.UNSET
    _one_duration_point(tel)


async def test_async_close_twice_and_after_exhaustion(tel, kind: Kind) -> None:
    stream = await aopen_stream(kind, client_for(kind, async_=True))
    await aread_texts(stream, kind)
    await stream.close()
    await stream.close()
    del stream
    await acollect()
    assert len(tel.llm_spans()) == 1
    _one_duration_point(tel)


def test_iterating_again_after_the_end(tel, kind: Kind) -> None:
    stream = open_stream(kind, client_for(kind))
    read_texts(stream, kind)
    assert read_texts(stream, kind) == []
    assert len(tel.llm_spans()) == 1
    assert tel.llm_spans()[0].status.status_code is StatusCode.UNSET


# --- what a complete stream records ---------------------------------------------------------


SLOW_CHAT = slow_sse_response("openai/chat_stream_text.sse")


def _chat_client(async_: bool = False) -> Any:
    return openai_client(fake_transport(SLOW_CHAT), async_)


def _duration_s(span: ReadableSpan) -> float:
    return (span.end_time - span.start_time) / 1e9


def _assert_chat_text_attributes(span: ReadableSpan, texts: list[str], slow: bool = True) -> None:
    a = span.attributes
    assert span.name == "chat gpt-4o"
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-IoCj3bAWYoRiEwXbCfp4vKHAhCvKB"
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024-08-06"
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop"]
    # from the final chunk, which has no choices, only usage
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1536
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 20
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1280
    if slow:
        assert_first_chunk_time(a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK], _duration_s(span), SLOW_CHAT)
    else:
        assert 0 < a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] < _duration_s(span)
    full = "The capital of France is Paris. It is known for the Eiffel Tower, the Louvre and its cafés."
    assert "".join(texts) == full
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": full}], "finish_reason": "stop"}
    ]
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "What is the capital of France?"}]}
    ]


def _read_and_check_chat(tel, stream: Any, slow: bool = True) -> None:
    texts = read_texts(stream, KINDS[0])
    _assert_chat_text_attributes(tel.only_span(), texts, slow)


def test_openai_chat_stream_attributes(tel) -> None:
    _read_and_check_chat(tel, KINDS[0].start(_chat_client()))


async def test_async_openai_chat_stream_attributes(tel) -> None:
    stream = await KINDS[0].start(_chat_client(async_=True))
    texts = await aread_texts(stream, KINDS[0])
    _assert_chat_text_attributes(tel.only_span(), texts)


PARALLEL_CALLS = [
    {
        "type": "tool_call",
        "id": "call_2l3XpXmnlZuAYIItUvDG1Qtj",
        "name": "get_weather",
        "arguments": {"location": "Paris, France", "unit": "celsius"},
    },
    {
        "type": "tool_call",
        "id": "call_MdFIM4vb6s7U7bm8ZaDdIzPL",
        "name": "get_local_time",
        "arguments": {"timezone": "Europe/Paris"},
    },
]


def _assert_parallel_calls(span: ReadableSpan) -> None:
    a = span.attributes
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["tool_calls"]
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (118, 52)
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": PARALLEL_CALLS, "finish_reason": "tool_call"}
    ]


def test_openai_parallel_tool_calls_from_deltas(tel) -> None:
    client = openai_client(fake_transport(sse_response("openai/chat_stream_tool_calls.sse")))
    for _ in client.chat.completions.create(model="gpt-4o", messages=USER, tools=OPENAI_TOOLS, stream=True):
        pass
    _assert_parallel_calls(tel.only_span())


async def test_async_openai_parallel_tool_calls_from_deltas(tel) -> None:
    client = openai_client(fake_transport(sse_response("openai/chat_stream_tool_calls.sse")), True)
    stream = await client.chat.completions.create(model="gpt-4o", messages=USER, tools=OPENAI_TOOLS, stream=True)
    async for _ in stream:
        pass
    _assert_parallel_calls(tel.only_span())


def test_openai_chat_stream_split_mid_character(tel) -> None:
    """SSE bytes cut at arbitrary points (here inside 'é') assemble to the same message."""
    client = openai_client(fake_transport(sse_response("openai/chat_stream_text.sse", chunk_size=7)))
    _read_and_check_chat(tel, KINDS[0].start(client), slow=False)


def test_openai_responses_stream_attributes(tel) -> None:
    kind = KINDS[1]
    response = slow_sse_response(kind.fixture)
    texts = read_texts(kind.start(kind.make_client(fake_transport(response))), kind)
    a = tel.only_span().attributes
    assert a[sc.GEN_AI_RESPONSE_ID] == "resp_4e90e77778338aa13ca73fe34b0004a87b35c4fc8921c16452"
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024-08-06"
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop"]  # status "completed" mapped
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert_first_chunk_time(a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK], _duration_s(tel.only_span()), response)
    assert "".join(texts) == "The capital of France is Paris."
    assert output_text(tel.only_span()) == "The capital of France is Paris."


@pytest.mark.parametrize("helper", [False, True], ids=["create", "helper"])
def test_anthropic_text_stream_attributes(tel, helper: bool) -> None:
    kind = KINDS[3] if helper else KINDS[2]
    response = slow_sse_response(kind.fixture)
    with kind.start(kind.make_client(fake_transport(response))) as stream:
        texts = read_texts(stream, kind)
    a = tel.only_span().attributes
    assert tel.only_span().name == "chat claude-sonnet-4-6"
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.GEN_AI_RESPONSE_ID] == "msg_018NUzGK6th1fEThRuy0r4Ts"
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "claude-sonnet-4-6"
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["end_turn"]
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 14 + 2048  # input + cache read
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2048
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 24  # the final (cumulative) count, not the first
    assert_first_chunk_time(a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK], _duration_s(tel.only_span()), response)
    full = "The capital of France is Paris. It is known for the Eiffel Tower and its cafés."
    assert "".join(texts) == full
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": full}], "finish_reason": "stop"}
    ]


ANTHROPIC_TOOL_OUTPUT = [
    {
        "role": "assistant",
        "parts": [
            {"type": "text", "content": "I'll check the current weather in Paris for you."},
            {
                "type": "tool_call",
                "id": "toolu_010FwwNIzjq2tqwXeBqNQTSD",
                "name": "get_weather",
                "arguments": {"location": "Paris, France", "unit": "celsius"},
            },
        ],
        "finish_reason": "tool_call",
    }
]


@pytest.mark.parametrize("helper", [False, True], ids=["create", "helper"])
def test_anthropic_tool_use_stream_attributes(tel, helper: bool) -> None:
    client = anthropic_client(fake_transport(sse_response("anthropic/messages_stream_tool_use.sse")))
    kwargs: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 64,
        "messages": USER,
        "tools": ANTHROPIC_TOOLS,
    }
    if helper:
        with client.messages.stream(**kwargs) as stream:
            stream.until_done()
    else:
        for _ in client.messages.create(**kwargs, stream=True):
            pass
    a = tel.only_span().attributes
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["tool_use"]
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (412, 87)
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES]) == ANTHROPIC_TOOL_OUTPUT


async def test_async_anthropic_helper_tool_use(tel) -> None:
    client = anthropic_client(fake_transport(sse_response("anthropic/messages_stream_tool_use.sse")), True)
    async with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=64, messages=USER, tools=ANTHROPIC_TOOLS
    ) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert json.loads(tel.only_span().attributes[sc.GEN_AI_OUTPUT_MESSAGES]) == ANTHROPIC_TOOL_OUTPUT


def test_no_content_stream_keeps_metadata(instrument, kind: Kind) -> None:
    t = instrument(ContentMode.NO_CONTENT)
    response = slow_sse_response(kind.fixture)
    read_texts(open_stream(kind, kind.make_client(fake_transport(response))), kind)
    a = t.only_span().attributes
    assert not set(a) & sc.CONTENT_ATTRIBUTES
    assert a[sc.GEN_AI_RESPONSE_ID]
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert_first_chunk_time(a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK], _duration_s(t.only_span()), response)


def test_stream_is_the_sdk_object_to_the_user(tel) -> None:
    """The proxy passes everything through: isinstance, attributes, the raw HTTP response."""
    stream = KINDS[0].start(_chat_client())
    assert isinstance(stream, openai.Stream)
    assert stream.response.status_code == 200
    read_texts(stream, KINDS[0])


def test_beta_stream_helper_user_exception_inside_with(tel) -> None:
    client = anthropic_client(fake_transport(sse_response("anthropic/messages_stream_text.sse")))
    boom = UserError("the user's own bug")
    with (
        pytest.raises(UserError) as caught,
        client.beta.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=USER) as stream,
    ):
        next(iter(stream))
        raise_inside(boom)
    assert_user_error(tel.only_span(), caught.value, boom)


def test_async_stream_dropped_after_its_loop_closed_is_abandoned(tel, kind: Kind) -> None:
    """A loop closed without shutdown_asyncgens() never closes the partly read stream's relay: dropping it
    still ends the span (abandoned), not never."""
    loop = asyncio.new_event_loop()
    try:
        stream = loop.run_until_complete(aopen_stream(kind, client_for(kind, async_=True)))
        texts = loop.run_until_complete(aread_texts(stream, kind, limit=2))
    finally:
        loop.close()
    assert tel.llm_spans() == []
    del stream
    gc.collect()
    (span,) = tel.llm_spans()
    assert_abandoned(span, texts)
