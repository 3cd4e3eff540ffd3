"""The official Anthropic instrumentation's test expectations (its last version in
opentelemetry-python-contrib), rewritten for this project.

Each test replays the upstream cassette of the same name. Where we deliberately differ, the test
asserts our behaviour and names the difference; docs/conformance.md lists them with the reason.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otel_agenttrace import semconv as sc
from otel_agenttrace._capture import ContentMode

from .cassettes import anthropic_client

MODEL = "claude-sonnet-4-20250514"
HELLO = [{"role": "user", "content": "Say hello in one word."}]


@pytest.fixture
def content(instrument):  # type: ignore[no-untyped-def]
    return instrument(ContentMode.SPAN_ONLY)


@pytest.fixture
def no_content(instrument):  # type: ignore[no-untyped-def]
    return instrument(ContentMode.NO_CONTENT)


def input_tokens(usage: Any) -> int:
    """The conventions' input tokens: input + cache creation + cache read (upstream computes the same)."""
    return sum(
        getattr(usage, k, 0) or 0 for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )


def assert_span(
    span: Any,
    request_model: str = MODEL,
    response_id: str | None = None,
    response_model: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    stop_reason: str | None = None,
) -> None:
    a = span.attributes
    assert span.name == f"chat {request_model}"
    assert span.kind is SpanKind.CLIENT
    assert a[sc.GEN_AI_OPERATION_NAME] == "chat"
    # Difference: the latest conventions' gen_ai.provider.name (upstream still writes gen_ai.system).
    assert a[sc.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert a[sc.GEN_AI_REQUEST_MODEL] == request_model
    assert a[sc.SERVER_ADDRESS] == "api.anthropic.com"
    for key, expected in (
        (sc.GEN_AI_RESPONSE_ID, response_id),
        (sc.GEN_AI_RESPONSE_MODEL, response_model),
        (sc.GEN_AI_USAGE_INPUT_TOKENS, input_tokens),
        (sc.GEN_AI_USAGE_OUTPUT_TOKENS, output_tokens),
    ):
        if expected is not None:
            assert a[key] == expected, key
    if stop_reason is not None:
        # Difference: the attribute keeps the provider's own value ("end_turn"); upstream maps it
        # ("stop"). Output messages carry the spec's value.
        assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == (stop_reason,)


def messages(span: Any, key: str) -> Any:
    value = span.attributes[key]
    assert isinstance(value, str)
    parsed = json.loads(value)
    assert isinstance(parsed, list)
    return parsed


def read_events(stream: Any) -> dict[str, Any]:
    """What the events said: id, model, stop reason and usage, as upstream collects them."""
    seen: dict[str, Any] = {}
    for event in stream:
        if event.type == "message_start":
            seen.update(id=event.message.id, model=event.message.model, input=input_tokens(event.message.usage))
        elif event.type == "message_delta":
            seen.update(stop_reason=event.delta.stop_reason, output=event.usage.output_tokens)
            if event.usage.input_tokens is not None:
                seen["input"] = input_tokens(event.usage)
    return seen


# --- messages.create ----------------------------------------------------------------------------


def test_sync_messages_create_basic(no_content) -> None:  # type: ignore[no-untyped-def]
    response = anthropic_client("sync_messages_create_basic").messages.create(
        model=MODEL, max_tokens=100, messages=HELLO
    )
    assert_span(
        no_content.only_span(),
        response_id=response.id,
        response_model=response.model,
        input_tokens=input_tokens(response.usage),
        output_tokens=response.usage.output_tokens,
        stop_reason=response.stop_reason,
    )


async def test_async_messages_create_basic(no_content) -> None:  # type: ignore[no-untyped-def]
    response = await anthropic_client("sync_messages_create_basic", async_=True).messages.create(
        model=MODEL, max_tokens=100, messages=HELLO
    )
    assert_span(no_content.only_span(), response_id=response.id, output_tokens=response.usage.output_tokens)


def test_sync_messages_create_captures_content(content) -> None:  # type: ignore[no-untyped-def]
    anthropic_client("sync_messages_create_captures_content").messages.create(
        model=MODEL, max_tokens=100, messages=HELLO
    )
    span = content.only_span()
    inputs, outputs = messages(span, sc.GEN_AI_INPUT_MESSAGES), messages(span, sc.GEN_AI_OUTPUT_MESSAGES)
    assert inputs[0]["role"] == "user" and inputs[0]["parts"][0]["type"] == "text"
    assert outputs[0]["role"] == "assistant" and outputs[0]["parts"][0]["type"] == "text"
    assert outputs[0]["finish_reason"] == "stop"


def test_sync_messages_create_with_all_params(no_content) -> None:  # type: ignore[no-untyped-def]
    anthropic_client("sync_messages_create_with_all_params").messages.create(
        model=MODEL,
        max_tokens=50,
        messages=[{"role": "user", "content": "Say hello."}],
        # anthropic 2.x no longer takes sampling parameters as arguments: they go in the body
        extra_body={"temperature": 0.7, "top_p": 0.9, "top_k": 40},
        stop_sequences=["STOP"],
    )
    a = no_content.only_span().attributes
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.7
    assert a[sc.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[sc.GEN_AI_REQUEST_TOP_K] == 40
    assert a[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ("STOP",)


def test_sync_messages_create_token_usage(no_content) -> None:  # type: ignore[no-untyped-def]
    response = anthropic_client("sync_messages_create_token_usage").messages.create(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "Count to 5."}]
    )
    a = no_content.only_span().attributes
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == input_tokens(response.usage)
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == response.usage.output_tokens


def test_sync_messages_create_stop_reason(no_content) -> None:  # type: ignore[no-untyped-def]
    response = anthropic_client("sync_messages_create_stop_reason").messages.create(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "Say hi."}]
    )
    assert_span(no_content.only_span(), stop_reason=response.stop_reason)


def test_sync_messages_create_api_error(no_content) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(anthropic.NotFoundError):
        anthropic_client("sync_messages_create_api_error").messages.create(
            model="invalid-model-name", max_tokens=100, messages=[{"role": "user", "content": "Hello"}]
        )
    span = no_content.only_span()
    assert span.attributes[sc.GEN_AI_REQUEST_MODEL] == "invalid-model-name"
    assert span.status.status_code is StatusCode.ERROR
    # Difference: the provider's error type ("not_found_error"), not the class name "NotFoundError".
    assert span.attributes[sc.ERROR_TYPE] == "not_found_error"


def test_sync_messages_create_captures_tool_use_content(content) -> None:  # type: ignore[no-untyped-def]
    anthropic_client("sync_messages_create_captures_tool_use_content").messages.create(
        model=MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": "What is the weather in SF?"}],
        tools=[
            {
                "name": "get_weather",
                "description": "Get weather by city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            }
        ],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    span = content.only_span()
    (message,) = messages(span, sc.GEN_AI_OUTPUT_MESSAGES)
    calls = [p for p in message["parts"] if p["type"] == "tool_call"]
    assert calls and calls[0]["name"] == "get_weather" and isinstance(calls[0]["arguments"], dict)
    assert message["finish_reason"] == "tool_call"
    assert messages(span, sc.GEN_AI_TOOL_DEFINITIONS)[0]["name"] == "get_weather"


def test_sync_messages_create_captures_thinking_content(content) -> None:  # type: ignore[no-untyped-def]
    anthropic_client("sync_messages_create_captures_thinking_content").messages.create(
        model=MODEL,
        max_tokens=16000,
        messages=[{"role": "user", "content": "What is 17*19? Think first."}],
        thinking={"type": "enabled", "budget_tokens": 10000},
    )
    (message,) = messages(content.only_span(), sc.GEN_AI_OUTPUT_MESSAGES)
    assert any(part["type"] == "reasoning" for part in message["parts"])


def test_sync_messages_create_aggregates_cache_tokens(no_content) -> None:  # type: ignore[no-untyped-def]
    response = anthropic_client("sync_messages_create_aggregates_cache_tokens").messages.create(
        model=MODEL, max_tokens=100, messages=HELLO
    )
    a = no_content.only_span().attributes
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == input_tokens(response.usage)
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == response.usage.output_tokens
    # present also when the provider reports 0
    assert a[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == response.usage.cache_creation_input_tokens
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == response.usage.cache_read_input_tokens


def test_sync_messages_create_event_only_no_content_in_span(instrument) -> None:  # type: ignore[no-untyped-def]
    tel = instrument(ContentMode.EVENT_ONLY, local_content=False)
    anthropic_client("sync_messages_create_event_only_no_content_in_span").messages.create(
        model=MODEL, max_tokens=100, messages=HELLO
    )
    span = tel.only_span()
    assert not set(span.attributes) & sc.CONTENT_ATTRIBUTES
    assert span.attributes[sc.GEN_AI_REQUEST_MODEL] == MODEL
    for key in (sc.GEN_AI_RESPONSE_MODEL, sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS):
        assert key in span.attributes
    (record,) = tel.details(span)  # one gen_ai.client.inference.operation.details log record, with the content
    assert sc.GEN_AI_INPUT_MESSAGES in record.attributes


# --- messages.create(stream=True) -------------------------------------------------------------


def test_sync_messages_create_streaming(no_content) -> None:  # type: ignore[no-untyped-def]
    with anthropic_client("sync_messages_create_streaming").messages.create(
        model=MODEL, max_tokens=100, messages=HELLO, stream=True
    ) as stream:
        seen = read_events(stream)
    assert_span(
        no_content.only_span(),
        response_id=seen["id"],
        response_model=seen["model"],
        input_tokens=seen["input"],
        output_tokens=seen["output"],
        stop_reason=seen["stop_reason"],
    )


async def test_async_messages_create_streaming(no_content) -> None:  # type: ignore[no-untyped-def]
    stream = await anthropic_client("sync_messages_create_streaming", async_=True).messages.create(
        model=MODEL, max_tokens=100, messages=HELLO, stream=True
    )
    async with stream:
        kinds = [event.type async for event in stream]
    assert "message_stop" in kinds
    span = no_content.only_span()
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] and span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS]


def test_sync_messages_create_streaming_captures_content(content) -> None:  # type: ignore[no-untyped-def]
    with anthropic_client("sync_messages_create_streaming_captures_content").messages.create(
        model=MODEL, max_tokens=100, messages=HELLO, stream=True
    ) as stream:
        for _ in stream:
            pass
    span = content.only_span()
    assert messages(span, sc.GEN_AI_INPUT_MESSAGES)[0]["role"] == "user"
    (output,) = messages(span, sc.GEN_AI_OUTPUT_MESSAGES)
    assert output["role"] == "assistant" and output["parts"]


def test_sync_messages_create_streaming_iteration(no_content) -> None:  # type: ignore[no-untyped-def]
    stream = anthropic_client("sync_messages_create_streaming_iteration").messages.create(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "Say hi."}], stream=True
    )
    assert list(stream)
    a = no_content.only_span().attributes
    assert a[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert sc.GEN_AI_RESPONSE_ID in a and sc.GEN_AI_RESPONSE_MODEL in a


def test_stream_wrapper_finalize_idempotent(no_content) -> None:  # type: ignore[no-untyped-def]
    stream = anthropic_client("stream_wrapper_finalize_idempotent").messages.create(
        model=MODEL, max_tokens=100, messages=HELLO, stream=True
    )
    seen = read_events(stream)
    stream.close()
    assert_span(
        no_content.only_span(),
        response_id=seen["id"],
        response_model=seen["model"],
        input_tokens=seen["input"],
        output_tokens=seen["output"],
        stop_reason=seen["stop_reason"],
    )


def test_sync_messages_create_streaming_aggregates_cache_tokens(no_content) -> None:  # type: ignore[no-untyped-def]
    usage = None
    with anthropic_client("sync_messages_create_streaming_aggregates_cache_tokens").messages.create(
        model=MODEL, max_tokens=100, messages=HELLO, stream=True
    ) as stream:
        for event in stream:
            if event.type == "message_delta":
                usage = event.usage
    a = no_content.only_span().attributes
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == input_tokens(usage)
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == usage.output_tokens
    assert a[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == usage.cache_creation_input_tokens
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == usage.cache_read_input_tokens


def test_sync_messages_create_streaming_user_exception(no_content) -> None:  # type: ignore[no-untyped-def]
    with (
        pytest.raises(ValueError, match="User raised exception"),
        anthropic_client("sync_messages_create_streaming_user_exception").messages.create(
            model=MODEL, max_tokens=100, messages=HELLO, stream=True
        ) as stream,
    ):
        for _ in stream:
            raise ValueError("User raised exception")
    span = no_content.only_span()
    assert span.attributes[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert span.attributes[sc.ERROR_TYPE] == "ValueError"


# --- messages.stream() ------------------------------------------------------------------------


def test_sync_messages_stream(no_content) -> None:  # type: ignore[no-untyped-def]
    with anthropic_client("sync_messages_stream").messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as s:
        seen = read_events(s)
    assert_span(
        no_content.only_span(),
        response_id=seen["id"],
        response_model=seen["model"],
        input_tokens=seen["input"],
        output_tokens=seen["output"],
        stop_reason=seen["stop_reason"],
    )


async def test_async_messages_stream(no_content) -> None:  # type: ignore[no-untyped-def]
    client = anthropic_client("sync_messages_stream", async_=True)
    async with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        message = await stream.get_final_message()
    assert_span(no_content.only_span(), response_id=message.id, output_tokens=message.usage.output_tokens)


def test_sync_messages_stream_captures_content(content) -> None:  # type: ignore[no-untyped-def]
    client = anthropic_client("sync_messages_stream_captures_content")
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        for _ in stream:
            pass
    span = content.only_span()
    inputs = messages(span, sc.GEN_AI_INPUT_MESSAGES)
    assert inputs[0]["role"] == "user" and inputs[0]["parts"][0]["type"] == "text"
    (output,) = messages(span, sc.GEN_AI_OUTPUT_MESSAGES)
    assert output["role"] == "assistant" and output["parts"]


def test_sync_messages_stream_delegates_response_attribute(no_content) -> None:  # type: ignore[no-untyped-def]
    client = anthropic_client("sync_messages_stream_delegates_response_attribute")
    with client.messages.stream(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "Say hi."}]) as s:
        assert s.response.status_code == 200  # the SDK's stream, not a proxy that hides its attributes
        assert s.response.headers["content-type"].startswith("text/event-stream")


def test_sync_messages_stream_api_error(no_content) -> None:  # type: ignore[no-untyped-def]
    client = anthropic_client("sync_messages_stream_api_error")
    with (
        pytest.raises(anthropic.NotFoundError),
        client.messages.stream(
            model="invalid-model-name", max_tokens=100, messages=[{"role": "user", "content": "Hello"}]
        ) as stream,
    ):
        list(stream)
    span = no_content.only_span()
    assert span.attributes[sc.GEN_AI_REQUEST_MODEL] == "invalid-model-name"
    assert span.attributes[sc.ERROR_TYPE] == "not_found_error"  # difference: see the create() case


def test_sync_messages_stream_closed_early_by_caller(no_content) -> None:  # type: ignore[no-untyped-def]
    client = anthropic_client("sync_messages_stream_closed_early_by_caller")
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        next(stream)
        stream.close()
    span = no_content.only_span()
    assert span.attributes[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert sc.ERROR_TYPE not in span.attributes
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes  # no "stop" that never came


def test_sync_messages_stream_user_exception(no_content) -> None:  # type: ignore[no-untyped-def]
    client = anthropic_client("sync_messages_stream_user_exception")
    with (
        pytest.raises(ValueError, match="boom"),
        client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream,
    ):
        for _ in stream:
            raise ValueError("boom")
    assert no_content.only_span().attributes[sc.ERROR_TYPE] == "ValueError"
