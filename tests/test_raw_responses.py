"""`with_raw_response` and `with_streaming_response` on every patched endpoint, sync and async.

Each variant makes the same span as the plain call (same attributes and content), whichever way the
user reads the response: `parse()` (then iterating the stream it gives), `read()`, `text()`, `json()`,
`iter_bytes()`, `iter_text()`, `iter_lines()`. A raw stream's span ends when the stream does, not when
the headers arrive. Real SDKs, only the HTTP transport is faked.
"""

from __future__ import annotations

import gc
import inspect
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fakes import (
    FakeResponse,
    WeatherReport,
    anthropic_client,
    fake_transport,
    json_response,
    load,
    openai_client,
    sse_response,
)
from opentelemetry.trace import StatusCode

from otel_agenttrace import semconv as sc

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

USER = [{"role": "user", "content": "What is the capital of France?"}]
CLAUDE = {"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": USER}


@dataclass(frozen=True)
class Call:
    id: str
    fixture: str
    make_client: Callable[..., Any]
    resource: Callable[[Any], Any]
    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def sse(self) -> bool:
        return self.fixture.endswith(".sse")

    def client(self, async_: bool = False) -> Any:
        # JSON arrives in pieces too, as from a server: only the SDK (or the user) reading it consumes it.
        response = sse_response(self.fixture) if self.sse else FakeResponse(200, load(self.fixture), streamed=True)
        return self.make_client(fake_transport(response), async_)


CALLS = [
    Call("openai-chat", "openai/chat_text.json", openai_client, lambda c: c.chat.completions, "create",
         {"model": "gpt-4o", "messages": USER}),
    Call("openai-chat-stream", "openai/chat_stream_text.sse", openai_client, lambda c: c.chat.completions, "create",
         {"model": "gpt-4o", "messages": USER, "stream": True, "stream_options": {"include_usage": True}}),
    Call("openai-chat-parse", "openai/chat_parse.json", openai_client, lambda c: c.chat.completions, "parse",
         {"model": "gpt-4o", "messages": USER, "response_format": WeatherReport}),
    Call("openai-responses", "openai/responses_text.json", openai_client, lambda c: c.responses, "create",
         {"model": "gpt-4o", "input": "Capital of France?"}),
    Call("openai-responses-stream", "openai/responses_stream.sse", openai_client, lambda c: c.responses, "create",
         {"model": "gpt-4o", "input": "Capital of France?", "stream": True}),
    Call("openai-embeddings", "openai/embeddings.json", openai_client, lambda c: c.embeddings, "create",
         {"model": "text-embedding-3-small", "input": "hello"}),
    Call("anthropic", "anthropic/messages_text.json", anthropic_client, lambda c: c.messages, "create", CLAUDE),
    Call("anthropic-stream", "anthropic/messages_stream_text.sse", anthropic_client, lambda c: c.messages, "create",
         {**CLAUDE, "stream": True}),
    Call("anthropic-beta", "anthropic/messages_text.json", anthropic_client, lambda c: c.beta.messages, "create",
         CLAUDE),
    Call("anthropic-beta-stream", "anthropic/messages_stream_text.sse", anthropic_client,
         lambda c: c.beta.messages, "create", {**CLAUDE, "stream": True}),
]  # fmt: skip
SSE_CALLS = [c for c in CALLS if c.sse]


@pytest.fixture(params=CALLS, ids=lambda c: c.id)
def call(request: pytest.FixtureRequest) -> Call:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=SSE_CALLS, ids=lambda c: c.id)
def sse_call(request: pytest.FixtureRequest) -> Call:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def no_internal_error(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.WARNING)
    yield
    assert not [r for r in caplog.records if "otel-agenttrace" in r.getMessage() or "ended span" in r.getMessage()]


# --- what the plain call records ----------------------------------------------------------------


def _drain(result: Any) -> None:
    for _ in result:
        pass


async def _adrain(result: Any) -> None:
    async for _ in result:
        pass


def comparable(tel: Any) -> dict[str, Any]:
    """The one LLM span's attributes, decoded, without timing; cleared for the next call."""
    span = tel.only_span()
    assert span.status.status_code is StatusCode.UNSET, span.status
    attrs = dict(span.attributes)
    attrs.pop(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, None)
    for key in sc.CONTENT_ATTRIBUTES:
        if key in attrs:
            attrs[key] = json.loads(attrs[key])
    tel.exporter.clear()
    return attrs


def plain(tel: Any, call: Call) -> dict[str, Any]:
    result = getattr(call.resource(call.client()), call.method)(**call.kwargs)
    if call.sse:
        _drain(result)
    attrs = comparable(tel)
    assert attrs[sc.GEN_AI_RESPONSE_MODEL]
    return attrs


def assert_same_as_plain(tel: Any, expected: dict[str, Any], call: Call) -> None:
    if call.sse:
        assert tel.only_span().attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert comparable(tel) == expected


# --- with_raw_response --------------------------------------------------------------------------


def test_raw_response_parse(tel, call: Call) -> None:
    expected = plain(tel, call)
    raw = getattr(call.resource(call.client()).with_raw_response, call.method)(**call.kwargs)
    assert raw.http_response.status_code == 200
    parsed = raw.parse()
    if call.sse:
        assert tel.llm_spans() == []  # the headers arrived; the stream has not been read
        _drain(parsed)
    else:
        assert parsed.model  # the user's object is the SDK's own
    assert_same_as_plain(tel, expected, call)


def test_raw_response_never_parsed_ends_with_the_call(tel, call: Call) -> None:
    if call.sse:
        pytest.skip("a raw stream never parsed is abandoned (test_raw_stream_dropped_unread)")
    expected = plain(tel, call)
    raw = getattr(call.resource(call.client()).with_raw_response, call.method)(**call.kwargs)
    assert_same_as_plain(tel, expected, call)
    assert json.loads(raw.http_response.content)  # the body is still the user's to read
    assert raw.parse().model


def test_raw_stream_outlives_its_dropped_response(tel, sse_call: Call) -> None:
    """`...with_raw_response.create(stream=True).parse()`: the response object is dropped at once."""
    expected = plain(tel, sse_call)
    stream = getattr(sse_call.resource(sse_call.client()).with_raw_response, sse_call.method)(**sse_call.kwargs).parse()
    gc.collect()
    assert tel.llm_spans() == []
    _drain(stream)
    assert_same_as_plain(tel, expected, sse_call)


def test_raw_stream_dropped_unread(tel, sse_call: Call) -> None:
    getattr(sse_call.resource(sse_call.client()).with_raw_response, sse_call.method)(**sse_call.kwargs)
    gc.collect()
    span = tel.only_span()
    assert span.attributes[sc.ERROR_TYPE] == "stream_abandoned"


def test_raw_stream_closed_early_is_not_stop(tel, sse_call: Call) -> None:
    raw = getattr(sse_call.resource(sse_call.client()).with_raw_response, sse_call.method)(**sse_call.kwargs)
    stream = raw.parse()
    next(iter(stream))
    stream.close()
    span = tel.only_span()
    assert span.status.status_code is StatusCode.UNSET
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes
    messages = json.loads(span.attributes.get(sc.GEN_AI_OUTPUT_MESSAGES, "[]"))
    assert all(m["finish_reason"] == "error" for m in messages)


async def test_async_raw_response_parse(tel, call: Call) -> None:
    expected = plain(tel, call)
    raw = await getattr(call.resource(call.client(async_=True)).with_raw_response, call.method)(**call.kwargs)
    parsed = raw.parse()  # openai's LegacyAPIResponse.parse() is sync in the async client too; anthropic's is not
    if inspect.isawaitable(parsed):
        parsed = await parsed
    if call.sse:
        assert tel.llm_spans() == []
        await _adrain(parsed)
    assert_same_as_plain(tel, expected, call)


# --- with_streaming_response --------------------------------------------------------------------


def _read_parse(response: Any, call: Call) -> None:
    parsed = response.parse()
    if call.sse:
        _drain(parsed)


def _read_lines(response: Any, call: Call) -> None:
    assert [line for line in response.iter_lines() if line]


def _read_bytes(response: Any, call: Call) -> None:
    assert b"".join(response.iter_bytes())


def _read_text_pieces(response: Any, call: Call) -> None:
    assert "".join(response.iter_text())


def _read_all(response: Any, call: Call) -> None:
    assert response.read()


def _read_text(response: Any, call: Call) -> None:
    assert response.text()


def _read_json(response: Any, call: Call) -> None:
    if call.sse:
        pytest.skip("an event stream is not JSON")
    assert response.json()


READERS = [_read_parse, _read_lines, _read_bytes, _read_text_pieces, _read_all, _read_text, _read_json]


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__[1:])
def test_streaming_response(tel, call: Call, reader: Callable[[Any, Call], None]) -> None:
    expected = plain(tel, call)
    with getattr(call.resource(call.client()).with_streaming_response, call.method)(**call.kwargs) as response:
        assert tel.llm_spans() == []  # nothing read yet
        reader(response, call)
        spans = tel.llm_spans()
        assert len(spans) == 1  # ended when the body did, before the `with` exits
    assert_same_as_plain(tel, expected, call)


async def _aread_parse(response: Any, call: Call) -> None:
    parsed = await response.parse()
    if call.sse:
        await _adrain(parsed)


async def _aread_lines(response: Any, call: Call) -> None:
    assert [line async for line in response.iter_lines() if line]


async def _aread_bytes(response: Any, call: Call) -> None:
    assert b"".join([piece async for piece in response.iter_bytes()])


async def _aread_text_pieces(response: Any, call: Call) -> None:
    assert "".join([piece async for piece in response.iter_text()])


async def _aread_all(response: Any, call: Call) -> None:
    assert await response.read()


async def _aread_text(response: Any, call: Call) -> None:
    assert await response.text()


async def _aread_json(response: Any, call: Call) -> None:
    if call.sse:
        pytest.skip("an event stream is not JSON")
    assert await response.json()


AREADERS = [_aread_parse, _aread_lines, _aread_bytes, _aread_text_pieces, _aread_all, _aread_text, _aread_json]


@pytest.mark.parametrize("reader", AREADERS, ids=lambda r: r.__name__[2:])
async def test_async_streaming_response(tel, call: Call, reader: Callable[[Any, Call], Any]) -> None:
    expected = plain(tel, call)
    resource = call.resource(call.client(async_=True))
    async with getattr(resource.with_streaming_response, call.method)(**call.kwargs) as response:
        assert tel.llm_spans() == []
        await reader(response, call)
        assert len(tel.llm_spans()) == 1
    assert_same_as_plain(tel, expected, call)


def test_streaming_response_exited_unread(tel, call: Call) -> None:
    with getattr(call.resource(call.client()).with_streaming_response, call.method)(**call.kwargs):
        pass
    span = tel.only_span()  # ended by the exit (the SDK closes the response), exactly once
    assert span.status.status_code is StatusCode.UNSET
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes


def test_streaming_response_stream_closed_by_exit_part_way(tel, sse_call: Call) -> None:
    with getattr(sse_call.resource(sse_call.client()).with_streaming_response, sse_call.method)(
        **sse_call.kwargs
    ) as response:
        next(iter(response.parse()))
    span = tel.only_span()
    assert span.attributes[sc.GEN_AI_RESPONSE_ID]
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes
    messages = json.loads(span.attributes.get(sc.GEN_AI_OUTPUT_MESSAGES, "[]"))
    assert all(m["finish_reason"] == "error" for m in messages)


def test_user_exception_while_reading_lines(tel, sse_call: Call) -> None:
    class UserError(Exception):
        pass

    with (
        pytest.raises(UserError),
        getattr(sse_call.resource(sse_call.client()).with_streaming_response, sse_call.method)(
            **sse_call.kwargs
        ) as response,
    ):
        for _ in response.iter_lines():
            raise UserError("boom")
    span = tel.only_span()  # closed by the manager's exit; the user's error is theirs
    assert span.attributes.get(sc.ERROR_TYPE) != "stream_abandoned"


def test_sdk_error_status_makes_an_error_span(tel) -> None:
    import openai

    client = openai_client(fake_transport(json_response("openai/error_429.json")))
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.with_raw_response.create(model="gpt-4o", messages=USER)
    span = tel.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE]


@pytest.mark.parametrize(
    ("make_client", "fixture", "resource", "kwargs"),
    [
        (openai_client, "openai/chat_stream_error.sse", lambda c: c.chat.completions,
         {"model": "gpt-4o", "messages": USER, "stream": True}),
        (anthropic_client, "anthropic/stream_error.sse", lambda c: c.messages, {**CLAUDE, "stream": True}),
    ],
    ids=["openai", "anthropic"],
)  # fmt: skip
def test_error_event_read_as_bytes_is_an_error_span(tel, make_client, fixture, resource, kwargs) -> None:
    """Read through parse(), the SDK raises for the server's error event; read as bytes nothing raises,
    and the span still says what the server said, with the error type the SDK path records."""
    with pytest.raises(Exception):  # noqa: B017 - the SDK's own error class for the event
        _drain(resource(make_client(fake_transport(sse_response(fixture)))).create(**kwargs))
    expected = tel.only_span().attributes[sc.ERROR_TYPE]
    tel.exporter.clear()
    client = make_client(fake_transport(sse_response(fixture)))
    with resource(client).with_streaming_response.create(**kwargs) as response:
        lines = list(response.iter_lines())
    assert any("error" in line for line in lines)
    span = tel.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == expected
    assert span.attributes[sc.GEN_AI_RESPONSE_ID]  # what arrived before the error is kept
