"""Every recorded fixture goes through the real SDK (strict response validation) via tests/fakes.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from fakes import (
    ANTHROPIC_BASE_URL,
    DATA_DIR,
    OPENAI_BASE_URL,
    FakeResponse,
    RecordedRequest,
    UnexpectedRequestError,
    WeatherReport,
    anthropic_client,
    fake_transport,
    json_response,
    load,
    load_json,
    openai_client,
    sse_response,
)

USER: Any = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER_ARGS = {"location": "Paris, France", "unit": "celsius"}
TIME_ARGS = {"timezone": "Europe/Paris"}
CLAUDE = "claude-sonnet-4-6"

# Each fixture -> a check that calls the real SDK against it and asserts what it parsed.
CHECKS: dict[str, Callable[[], None]] = {}


def check(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def register(fn: Callable[[], None]) -> Callable[[], None]:
        CHECKS[name] = fn
        return fn

    return register


def _openai(*responses: FakeResponse, strict: bool = True) -> openai.OpenAI:
    return openai_client(fake_transport(*responses), strict=strict)


def _anthropic(*responses: FakeResponse) -> anthropic.Anthropic:
    return anthropic_client(fake_transport(*responses))


# ---------------------------------------------------------------- OpenAI Chat Completions


@check("openai/chat_text.json")
def _chat_text() -> None:
    result = _openai(json_response("openai/chat_text.json")).chat.completions.create(model="gpt-4o", messages=USER)
    choice = result.choices[0]
    assert choice.message.content == "The capital of France is Paris."
    assert choice.finish_reason == "stop"
    assert result.model == "gpt-4o-2024-08-06"
    assert result.id.startswith("chatcmpl-")
    assert result.usage is not None and result.usage.prompt_tokens_details is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (1536, 8)
    assert result.usage.prompt_tokens_details.cached_tokens == 1280


@check("openai/chat_tool_call.json")
def _chat_tool_call() -> None:
    result = _openai(json_response("openai/chat_tool_call.json")).chat.completions.create(model="gpt-4o", messages=USER)
    message = result.choices[0].message
    assert result.choices[0].finish_reason == "tool_calls"
    assert message.content is None
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == WEATHER_ARGS


@check("openai/chat_parallel_tool_calls.json")
def _chat_parallel() -> None:
    client = _openai(json_response("openai/chat_parallel_tool_calls.json"))
    message = client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message
    assert message.tool_calls is not None
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls if c.type == "function"]
    assert calls == [("get_weather", WEATHER_ARGS), ("get_local_time", TIME_ARGS)]
    assert len({c.id for c in message.tool_calls}) == 2


@check("openai/chat_refusal.json")
def _chat_refusal() -> None:
    result = _openai(json_response("openai/chat_refusal.json")).chat.completions.create(model="gpt-4o", messages=USER)
    message = result.choices[0].message
    assert message.content is None
    assert message.refusal == "I'm sorry, but I can't help with that request."


@check("openai/chat_parse.json")
def _chat_parse() -> None:
    transport = fake_transport(json_response("openai/chat_parse.json"))
    result = openai_client(transport).chat.completions.parse(
        model="gpt-4o", messages=USER, response_format=WeatherReport
    )
    assert result.choices[0].message.parsed == WeatherReport(
        city="Paris", temperature_c=18.5, conditions="partly cloudy"
    )
    assert transport.requests[0].json["response_format"]["type"] == "json_schema"


@check("openai/chat_stream_text.sse")
def _chat_stream_text() -> None:
    client = _openai(sse_response("openai/chat_stream_text.sse"))
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    # role chunk (content "") + 20 content chunks + finish chunk + usage chunk
    assert len(chunks) == 23
    assert chunks[0].choices[0].delta.role == "assistant"
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(contents) == 20
    assert "".join(contents) == (
        "The capital of France is Paris. It is known for the Eiffel Tower, the Louvre and its cafés."
    )
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens_details is not None
    assert (chunks[-1].usage.completion_tokens, chunks[-1].usage.prompt_tokens_details.cached_tokens) == (20, 1280)
    assert all(c.usage is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1


@check("openai/chat_stream_tool_calls.sse")
def _chat_stream_tools() -> None:
    client = _openai(
        sse_response("openai/chat_stream_tool_calls.sse"), sse_response("openai/chat_stream_tool_calls.sse")
    )
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=USER, stream=True))
    pieces: dict[int, list[str]] = {}
    for chunk in chunks:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            if delta.function is not None and delta.function.arguments:
                pieces.setdefault(delta.index, []).append(delta.function.arguments)
    assert {i: len(p) for i, p in pieces.items()} == {0: 7, 1: 5}
    assert json.loads("".join(pieces[0])) == WEATHER_ARGS
    assert json.loads("".join(pieces[1])) == TIME_ARGS
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"

    # The SDK's own accumulator agrees.
    with client.chat.completions.stream(model="gpt-4o", messages=USER) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", WEATHER_ARGS),
        ("get_local_time", TIME_ARGS),
    ]


@check("openai/chat_stream_error.sse")
def _chat_stream_error() -> None:
    stream = _openai(sse_response("openai/chat_stream_error.sse")).chat.completions.create(
        model="gpt-4o", messages=USER, stream=True
    )
    seen = 0
    with pytest.raises(openai.APIError, match="The server had an error"):
        for _ in stream:
            seen += 1
    assert seen == 4


@check("openai/error_429.json")
def _openai_429() -> None:
    client = _openai(json_response("openai/error_429.json"))
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert info.value.status_code == 429
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.type == "tokens"


@check("openai/error_500.json")
def _openai_500() -> None:
    client = _openai(json_response("openai/error_500.json"))
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert info.value.status_code == 500
    assert info.value.type == "server_error"


# ---------------------------------------------------------------- OpenAI Responses


@check("openai/responses_text.json")
def _responses_text() -> None:
    result = _openai(json_response("openai/responses_text.json")).responses.create(model="gpt-4o", input="Capital?")
    assert result.output_text == "The capital of France is Paris."
    assert result.status == "completed"
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (31, 8)


@check("openai/responses_tool_call.json")
def _responses_tool() -> None:
    result = _openai(json_response("openai/responses_tool_call.json")).responses.create(model="gpt-4o", input="Paris?")
    item = result.output[0]
    assert item.type == "function_call"
    assert item.name == "get_weather" and item.call_id.startswith("call_")
    assert json.loads(item.arguments) == WEATHER_ARGS


RESPONSES_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    *["response.output_text.delta"] * 7,
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


@check("openai/responses_stream.sse")
def _responses_stream() -> None:
    client = _openai(sse_response("openai/responses_stream.sse"), sse_response("openai/responses_stream.sse"))
    events = list(client.responses.create(model="gpt-4o", input="Capital?", stream=True))
    assert [e.type for e in events] == RESPONSES_EVENTS
    assert [e.sequence_number for e in events] == list(range(len(events)))
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.usage is not None and completed.response.usage.total_tokens == 39

    with client.responses.stream(model="gpt-4o", input="Capital?") as stream:
        final = stream.get_final_response()
    assert final.output_text == "The capital of France is Paris."


# ---------------------------------------------------------------- OpenAI embeddings


@check("openai/embeddings.json")
def _embeddings() -> None:
    result = _openai(json_response("openai/embeddings.json")).embeddings.create(
        model="text-embedding-3-small", input=["Paris", "Tokyo"], encoding_format="float"
    )
    assert [len(d.embedding) for d in result.data] == [8, 8]
    assert result.usage.prompt_tokens == 2


@check("openai/embeddings_base64.json")
def _embeddings_base64() -> None:
    # The SDK asks for base64 by default and decodes it; its strict validator rejects its own base64 path.
    client = _openai(json_response("openai/embeddings_base64.json"), strict=False)
    result = client.embeddings.create(model="text-embedding-3-small", input=["Paris", "Tokyo"])
    floats = [d["embedding"] for d in load_json("openai/embeddings.json")["data"]]
    assert [d.embedding for d in result.data] == [pytest.approx(v, rel=1e-6) for v in floats]


# ---------------------------------------------------------------- Anthropic Messages


def _create(client: anthropic.Anthropic, **kwargs: Any) -> Any:
    return client.messages.create(model=CLAUDE, max_tokens=256, messages=USER, **kwargs)


@check("anthropic/messages_text.json")
def _messages_text() -> None:
    message = _create(_anthropic(json_response("anthropic/messages_text.json")))
    assert message.content[0].text == "The capital of France is Paris."
    assert message.stop_reason == "end_turn"
    assert message.id.startswith("msg_01")
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (14, 10)
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (2048, 1024)


@check("anthropic/messages_tool_use.json")
def _messages_tool_use() -> None:
    message = _create(_anthropic(json_response("anthropic/messages_tool_use.json")))
    assert message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["text", "tool_use"]
    tool = message.content[1]
    assert tool.name == "get_weather" and tool.id.startswith("toolu_01")
    assert tool.input == WEATHER_ARGS


@check("anthropic/messages_stream_text.sse")
def _messages_stream_text() -> None:
    client = _anthropic(
        sse_response("anthropic/messages_stream_text.sse"), sse_response("anthropic/messages_stream_text.sse")
    )
    events = list(_create(client, stream=True))  # the SDK drops the `ping` event
    types = [e.type for e in events]
    assert types == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 6,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[-2].delta.stop_reason == "end_turn"
    assert events[-2].usage.output_tokens == 24

    with client.messages.stream(model=CLAUDE, max_tokens=256, messages=USER) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "text"
    assert final.content[0].text == "The capital of France is Paris. It is known for the Eiffel Tower and its cafés."
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_input_tokens) == (14, 24, 2048)


@check("anthropic/messages_stream_tool_use.sse")
def _messages_stream_tool_use() -> None:
    client = _anthropic(
        sse_response("anthropic/messages_stream_tool_use.sse"), sse_response("anthropic/messages_stream_tool_use.sse")
    )
    events = list(_create(client, stream=True))
    partial = [
        e.delta.partial_json for e in events if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    ]
    assert len(partial) == 6
    assert json.loads("".join(partial)) == WEATHER_ARGS

    with client.messages.stream(model=CLAUDE, max_tokens=256, messages=USER) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[1].type == "tool_use" and final.content[1].input == WEATHER_ARGS


@check("anthropic/stream_error.sse")
def _anthropic_stream_error() -> None:
    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as info:
        for event in _create(_anthropic(sse_response("anthropic/stream_error.sse")), stream=True):
            seen.append(event.type)
    assert seen == ["message_start", "content_block_start", "content_block_delta", "content_block_delta"]
    assert info.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


@check("anthropic/error_429.json")
def _anthropic_429() -> None:
    with pytest.raises(anthropic.RateLimitError) as info:
        _create(_anthropic(json_response("anthropic/error_429.json")))
    assert info.value.status_code == 429
    assert isinstance(info.value.body, dict) and info.value.body["error"]["type"] == "rate_limit_error"


@check("anthropic/error_500.json")
def _anthropic_500() -> None:
    with pytest.raises(anthropic.InternalServerError) as info:
        _create(_anthropic(json_response("anthropic/error_500.json")))
    assert isinstance(info.value.body, dict) and info.value.body["error"]["type"] == "api_error"


@check("anthropic/error_529.json")
def _anthropic_529() -> None:
    with pytest.raises(anthropic.OverloadedError) as info:
        _create(_anthropic(json_response("anthropic/error_529.json")))
    assert info.value.status_code == 529
    assert isinstance(info.value.body, dict) and info.value.body["error"]["type"] == "overloaded_error"


# ---------------------------------------------------------------- the checks themselves


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_fixture_parses_through_real_sdk(name: str) -> None:
    CHECKS[name]()


def test_every_fixture_file_has_a_check() -> None:
    on_disk = {p.relative_to(DATA_DIR).as_posix() for d in ("openai", "anthropic") for p in (DATA_DIR / d).iterdir()}
    assert on_disk == set(CHECKS)


@pytest.mark.parametrize("name", sorted(n for n in CHECKS if n.endswith(".sse")))
def test_sse_framing(name: str) -> None:
    text = load(name).decode("utf-8")
    assert text.endswith("\n\n") and "\r" not in text
    for block in text.split("\n\n")[:-1]:
        lines = block.split("\n")
        if name.startswith("anthropic/") or "responses" in name:
            assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: ")
            assert json.loads(lines[1][6:])["type"] == lines[0][7:]
        else:
            assert len(lines) == 1 and lines[0].startswith("data: ")
            if lines[0] != "data: [DONE]":
                json.loads(lines[0][6:])


# ---------------------------------------------------------------- async clients


async def test_async_openai_chat_and_stream() -> None:
    transport = fake_transport(json_response("openai/chat_text.json"), sse_response("openai/chat_stream_text.sse"))
    client = openai_client(transport, async_=True)
    result = await client.chat.completions.create(model="gpt-4o", messages=USER)
    assert result.choices[0].message.content == "The capital of France is Paris."
    stream = await client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    chunks = [chunk async for chunk in stream]
    assert len(chunks) == 23 and chunks[-1].usage is not None
    transport.assert_all_served()


async def test_async_openai_responses_stream_and_error() -> None:
    transport = fake_transport(sse_response("openai/responses_stream.sse"), json_response("openai/error_429.json"))
    client = openai_client(transport, async_=True)
    stream = await client.responses.create(model="gpt-4o", input="Capital?", stream=True)
    assert [e.type async for e in stream] == RESPONSES_EVENTS
    with pytest.raises(openai.RateLimitError):
        await client.responses.create(model="gpt-4o", input="Capital?")


async def test_async_anthropic_message_stream_and_errors() -> None:
    transport = fake_transport(
        json_response("anthropic/messages_text.json"),
        sse_response("anthropic/messages_stream_tool_use.sse"),
        json_response("anthropic/error_500.json"),
        sse_response("anthropic/stream_error.sse"),
    )
    client = anthropic_client(transport, async_=True)
    kwargs: dict[str, Any] = {"model": CLAUDE, "max_tokens": 256, "messages": USER}
    message = await client.messages.create(**kwargs)
    assert message.usage.cache_read_input_tokens == 2048
    async with client.messages.stream(**kwargs) as stream:
        final = await stream.get_final_message()
    assert final.content[1].type == "tool_use" and final.content[1].input == WEATHER_ARGS
    with pytest.raises(anthropic.InternalServerError):
        await client.messages.create(**kwargs)
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        async for _ in await client.messages.create(stream=True, **kwargs):
            pass
    transport.assert_all_served()


# ---------------------------------------------------------------- the transport helper


def test_requests_are_recorded() -> None:
    record: list[RecordedRequest] = []
    transport = fake_transport(
        json_response("openai/chat_text.json"), json_response("anthropic/messages_text.json"), record=record
    )
    openai_client(transport).chat.completions.create(model="gpt-4o", messages=USER, temperature=0.2)
    _create(anthropic_client(transport))
    assert transport.requests is record
    first, second = record
    assert (first.method, first.url, first.path) == (
        "POST",
        f"{OPENAI_BASE_URL}/chat/completions",
        "/v1/chat/completions",
    )
    assert first.headers["authorization"] == "Bearer test-key"
    assert first.json == {"model": "gpt-4o", "messages": USER, "temperature": 0.2}
    assert second.url == f"{ANTHROPIC_BASE_URL}/v1/messages"
    # this SDK version sends the key as a bearer token; older ones used x-api-key
    assert "test-key" in (
        second.headers.get("x-api-key"),
        second.headers.get("authorization", "").removeprefix("Bearer "),
    )
    assert "anthropic-version" in second.headers
    assert second.json["model"] == CLAUDE and second.json["max_tokens"] == 256
    assert httpx2.URL(first.url).port == 8443 and httpx2.URL(second.url).host == "anthropic.test"


def test_sse_is_streamed_per_event_with_event_stream_content_type() -> None:
    transport = fake_transport(sse_response("openai/chat_stream_text.sse"))
    with httpx2.Client(transport=transport) as http, http.stream("POST", f"{OPENAI_BASE_URL}/chat/completions") as r:
        pieces = list(r.iter_raw())
    assert r.headers["content-type"].startswith("text/event-stream")
    assert len(pieces) == 24  # 23 chunks and [DONE]
    assert b"".join(pieces) == load("openai/chat_stream_text.sse")


def test_sse_split_mid_character_still_parses() -> None:
    client = _openai(sse_response("openai/chat_stream_text.sse", chunk_size=7))
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=USER, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.endswith("its cafés.")


def test_connection_dropped_mid_stream() -> None:
    client = _openai(sse_response("openai/chat_stream_text.sse", break_after=5))
    seen = 0
    with pytest.raises(openai.APIConnectionError):
        for _ in client.chat.completions.create(model="gpt-4o", messages=USER, stream=True):
            seen += 1
    assert seen == 5


def test_exception_in_place_of_a_response() -> None:
    transport = fake_transport(httpx2.ConnectError("refused"))
    client = openai_client(transport)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o", messages=USER)


def test_more_requests_than_responses() -> None:
    transport = fake_transport(json_response("openai/chat_text.json"))
    client = openai_client(transport)
    client.chat.completions.create(model="gpt-4o", messages=USER)
    # openai lets a non-httpx transport error through; anthropic wraps it in APIConnectionError.
    with pytest.raises(UnexpectedRequestError, match=r"request #2 \(POST http://llm.test:8443/v1/chat/completions\)"):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    with pytest.raises(anthropic.APIConnectionError) as info:
        _create(anthropic_client(transport))
    assert isinstance(info.value.__cause__, UnexpectedRequestError)
    with pytest.raises(UnexpectedRequestError, match="only 1 response"):
        transport.assert_all_served()


def test_unserved_responses_are_reported() -> None:
    transport = fake_transport(json_response("openai/chat_text.json"), json_response("openai/chat_text.json"))
    openai_client(transport).chat.completions.create(model="gpt-4o", messages=USER)
    assert transport.remaining == 1
    with pytest.raises(AssertionError, match="served 1 of 2"):
        transport.assert_all_served()


def test_json_response_status_and_dict_body() -> None:
    assert json_response("openai/error_429.json").status == 429
    assert json_response("anthropic/error_529.json").status == 529
    assert json_response("openai/chat_text.json").status == 200
    assert json_response("openai/error_429.json", status=400).status == 400
    custom = json_response(
        {"object": "list", "data": [], "model": "m", "usage": {"prompt_tokens": 0, "total_tokens": 0}}
    )
    result = _openai(custom).embeddings.create(model="m", input="x", encoding_format="float")
    assert result.data == []


def test_load_errors_clearly_for_a_missing_fixture() -> None:
    with pytest.raises(FileNotFoundError, match=r"no fixture 'openai/nope\.json'"):
        load("openai/nope.json")


def test_anthropic_sdk_tracing_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_OPEN_TELEMETRY", raising=False)
    transport = fake_transport()
    assert anthropic_client(transport).open_telemetry["traces"]["enabled"] is True
    assert anthropic_client(transport, sdk_tracing=False).open_telemetry["traces"]["enabled"] is False
    assert anthropic_client(transport, async_=True, sdk_tracing=False).open_telemetry["traces"]["enabled"] is False
