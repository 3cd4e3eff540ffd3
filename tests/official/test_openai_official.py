"""The official OpenAI instrumentation's (openai-v2) test expectations, latest GenAI conventions.

Each test replays the upstream cassette of the same name and asserts what upstream asserts with
`OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental` (content on the span = our SPAN_ONLY),
rewritten for this project. Where we deliberately differ, the test asserts our behaviour and names
the difference; docs/conformance.md lists them all with the reason.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otel_agenttrace import semconv as sc
from otel_agenttrace._capture import ContentMode

from .cassettes import openai_client

MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"
USER_ONLY = [{"role": "user", "content": "Say this is a test"}]
USER_ONLY_EXPECTED = [{"role": "user", "parts": [{"type": "text", "content": "Say this is a test"}]}]
WEATHER_PROMPT = [
    {"role": "system", "content": "You're a helpful assistant."},
    {"role": "user", "content": "What's the weather in Seattle and San Francisco today?"},
]
WEATHER_EXPECTED = [
    {"role": "system", "parts": [{"type": "text", "content": "You're a helpful assistant."}]},
    {"role": "user", "parts": [{"type": "text", "content": "What's the weather in Seattle and San Francisco today?"}]},
]
WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"location": {"type": "string", "description": "The city and state, e.g. Boston, MA"}},
    "required": ["location"],
    "additionalProperties": False,
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": WEATHER_PARAMETERS,
    },
}
EXPECTED_TOOL_DEFINITIONS = [
    {
        "type": "function",
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": WEATHER_PARAMETERS,
    }
]
SYSTEM_INSTRUCTIONS = "You are a helpful assistant."


@pytest.fixture
def content(instrument):  # type: ignore[no-untyped-def]
    """Upstream's `instrument_with_content` on the latest conventions: content on the span."""
    return instrument(ContentMode.SPAN_ONLY)


@pytest.fixture
def no_content(instrument):  # type: ignore[no-untyped-def]
    return instrument(ContentMode.NO_CONTENT)


def assert_all_attributes(
    span: Any,
    request_model: str,
    response_id: str | None = None,
    response_model: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    operation: str = "chat",
    request_service_tier: str | None = None,
    response_service_tier: str | None = None,
) -> None:
    """Upstream's common assertion: present when given, absent when not."""
    a = span.attributes
    assert span.name == f"{operation} {request_model}"
    assert span.kind is SpanKind.CLIENT
    assert a[sc.GEN_AI_OPERATION_NAME] == operation
    assert a[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[sc.GEN_AI_REQUEST_MODEL] == request_model
    for key, expected in (
        (sc.GEN_AI_RESPONSE_MODEL, response_model),
        (sc.GEN_AI_RESPONSE_ID, response_id),
        (sc.GEN_AI_USAGE_INPUT_TOKENS, input_tokens),
        (sc.GEN_AI_USAGE_OUTPUT_TOKENS, output_tokens),
        (sc.OPENAI_REQUEST_SERVICE_TIER, request_service_tier),
        (sc.OPENAI_RESPONSE_SERVICE_TIER, response_service_tier),
    ):
        if expected is None:
            assert key not in a, key
        else:
            assert a[key] == expected, key
    assert a[sc.SERVER_ADDRESS] == "api.openai.com"
    assert a[sc.SERVER_PORT] == 443  # upstream leaves 443 out; the conventions allow either


def messages(span: Any, key: str) -> Any:
    return json.loads(span.attributes[key])


def simple_output(text: str, finish_reason: str = "stop") -> list[dict[str, Any]]:
    return [{"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": finish_reason}]


def assert_no_content(span: Any) -> None:
    assert not set(span.attributes) & sc.CONTENT_ATTRIBUTES


def drain_chat(stream: Any) -> tuple[str, Any]:
    text, last = "", None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if getattr(chunk, "usage", None):
            last = chunk
    return text, last


# --- chat completions -------------------------------------------------------------------------


def test_chat_completion_with_content(content) -> None:  # type: ignore[no-untyped-def]
    response = openai_client("chat_completion_with_content").chat.completions.create(
        messages=USER_ONLY, model=MODEL, stream=False
    )
    span = content.only_span()
    assert_all_attributes(
        span, MODEL, response.id, response.model, response.usage.prompt_tokens, response.usage.completion_tokens
    )
    assert messages(span, sc.GEN_AI_INPUT_MESSAGES) == USER_ONLY_EXPECTED
    assert messages(span, sc.GEN_AI_OUTPUT_MESSAGES) == simple_output(response.choices[0].message.content)


async def test_async_chat_completion_with_content(content) -> None:  # type: ignore[no-untyped-def]
    client = openai_client("chat_completion_with_content", async_=True)
    response = await client.chat.completions.create(messages=USER_ONLY, model=MODEL, stream=False)
    span = content.only_span()
    assert_all_attributes(
        span, MODEL, response.id, response.model, response.usage.prompt_tokens, response.usage.completion_tokens
    )
    assert messages(span, sc.GEN_AI_OUTPUT_MESSAGES) == simple_output(response.choices[0].message.content)


def test_chat_completion_handles_not_given(no_content) -> None:  # type: ignore[no-untyped-def]
    response = openai_client("chat_completion_handles_not_given").chat.completions.create(
        messages=USER_ONLY, model=MODEL, stream=False, top_p=openai.NOT_GIVEN, max_tokens=openai.not_given
    )
    span = no_content.only_span()
    assert_all_attributes(
        span,
        MODEL,
        response.id,
        response.model,
        response.usage.prompt_tokens,
        response.usage.completion_tokens,
        response_service_tier="default",
    )
    assert sc.GEN_AI_REQUEST_TOP_P not in span.attributes
    assert sc.GEN_AI_REQUEST_MAX_TOKENS not in span.attributes


def test_chat_completion_no_content(no_content) -> None:  # type: ignore[no-untyped-def]
    response = openai_client("chat_completion_no_content").chat.completions.create(
        messages=USER_ONLY, model=MODEL, stream=False
    )
    span = no_content.only_span()
    assert_all_attributes(
        span, MODEL, response.id, response.model, response.usage.prompt_tokens, response.usage.completion_tokens
    )
    assert_no_content(span)


def test_chat_completion_default_config_puts_no_content_on_the_span(instrument) -> None:  # type: ignore[no-untyped-def]
    """No capture setting at all: upstream records no content on spans; neither do we (ours goes beside
    the span, to the local run trace only)."""
    tel = instrument(local_content=False)  # the span as every exporter but the run-trace one sees it
    openai_client("chat_completion_no_content").chat.completions.create(messages=USER_ONLY, model=MODEL)
    assert_no_content(tel.only_span())


def test_chat_completion_404(no_content) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openai.NotFoundError) as caught:
        openai_client("chat_completion_404").chat.completions.create(
            messages=USER_ONLY, model="this-model-does-not-exist"
        )
    span = no_content.only_span()
    assert_all_attributes(span, "this-model-does-not-exist")
    assert span.status.status_code is StatusCode.ERROR
    # Difference: upstream records the exception class ("NotFoundError"); we record the provider's
    # error code when it sends one (docs/conformance.md), the class otherwise.
    assert caught.value.code == "model_not_found"
    assert span.attributes[sc.ERROR_TYPE] == "model_not_found"
    (duration,) = no_content.metric_points(sc.Metric.OPERATION_DURATION)
    assert duration.sum > 0
    assert duration.attributes[sc.ERROR_TYPE] == "model_not_found"


def test_chat_completion_extra_params(no_content) -> None:  # type: ignore[no-untyped-def]
    response = openai_client("chat_completion_extra_params").chat.completions.create(
        n=2,
        messages=USER_ONLY,
        model=MODEL,
        seed=42,
        temperature=0.5,
        max_tokens=50,
        stream=False,
        extra_body={"service_tier": "default"},
        response_format={"type": "text"},
        stop=["full", "stop"],
    )
    span = no_content.only_span()
    assert_all_attributes(
        span,
        MODEL,
        response.id,
        response.model,
        response.usage.prompt_tokens,
        response.usage.completion_tokens,
        request_service_tier="default",
        response_service_tier=getattr(response, "service_tier", None),
    )
    a = span.attributes
    assert a[sc.GEN_AI_REQUEST_SEED] == 42
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.5
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert a[sc.GEN_AI_OUTPUT_TYPE] == "text"
    assert a[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ("full", "stop")
    assert a[sc.GEN_AI_REQUEST_CHOICE_COUNT] == 2


def test_chat_completion_n_1_is_not_reported(no_content) -> None:  # type: ignore[no-untyped-def]
    response = openai_client("chat_completion_n_1_is_not_reported").chat.completions.create(
        n=1, messages=USER_ONLY, model=MODEL
    )
    span = no_content.only_span()
    assert_all_attributes(
        span,
        MODEL,
        response.id,
        response.model,
        response.usage.prompt_tokens,
        response.usage.completion_tokens,
        response_service_tier=getattr(response, "service_tier", None),
    )
    assert sc.GEN_AI_REQUEST_CHOICE_COUNT not in span.attributes


def test_chat_completion_handle_stop_sequences_as_string(no_content) -> None:  # type: ignore[no-untyped-def]
    openai_client("chat_completion_handle_stop_sequences_as_string").chat.completions.create(
        messages=USER_ONLY, model=MODEL, stop="stop"
    )
    assert no_content.only_span().attributes[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ("stop",)


def test_chat_completion_multiple_choices(content) -> None:  # type: ignore[no-untyped-def]
    response = openai_client("chat_completion_multiple_choices").chat.completions.create(
        messages=USER_ONLY, model=MODEL, n=2, stream=False
    )
    span = content.only_span()
    assert_all_attributes(
        span, MODEL, response.id, response.model, response.usage.prompt_tokens, response.usage.completion_tokens
    )
    assert span.attributes[sc.GEN_AI_REQUEST_CHOICE_COUNT] == 2
    assert messages(span, sc.GEN_AI_INPUT_MESSAGES) == USER_ONLY_EXPECTED
    assert messages(span, sc.GEN_AI_OUTPUT_MESSAGES) == [
        *simple_output(response.choices[0].message.content),
        *simple_output(response.choices[1].message.content),
    ]


def test_chat_completion_with_raw_response(content) -> None:  # type: ignore[no-untyped-def]
    raw = openai_client("chat_completion_with_raw_response").chat.completions.with_raw_response.create(
        messages=USER_ONLY, model=MODEL
    )
    response = raw.parse()
    span = content.only_span()
    assert_all_attributes(
        span, MODEL, response.id, response.model, response.usage.prompt_tokens, response.usage.completion_tokens
    )
    assert messages(span, sc.GEN_AI_INPUT_MESSAGES) == USER_ONLY_EXPECTED
    assert messages(span, sc.GEN_AI_OUTPUT_MESSAGES) == simple_output(response.choices[0].message.content)


def test_chat_completion_with_raw_response_streaming(content) -> None:  # type: ignore[no-untyped-def]
    raw = openai_client("chat_completion_with_raw_response_streaming").chat.completions.with_raw_response.create(
        messages=USER_ONLY, model=MODEL, stream=True, stream_options={"include_usage": True}
    )
    text, last = drain_chat(raw.parse())
    span = content.only_span()
    assert_all_attributes(
        span,
        MODEL,
        last.id,
        last.model,
        last.usage.prompt_tokens,
        last.usage.completion_tokens,
        response_service_tier="default",
    )
    assert messages(span, sc.GEN_AI_INPUT_MESSAGES) == USER_ONLY_EXPECTED
    assert messages(span, sc.GEN_AI_OUTPUT_MESSAGES) == simple_output(text)


def test_chat_completion_tool_calls_with_content(content) -> None:  # type: ignore[no-untyped-def]
    client = openai_client("chat_completion_tool_calls_with_content")
    history = list(WEATHER_PROMPT)
    first = client.chat.completions.create(messages=history, model=MODEL, tool_choice="auto", tools=[WEATHER_TOOL])
    assert first.choices[0].finish_reason == "tool_calls"
    calls = first.choices[0].message.tool_calls
    results = ["50 degrees and raining", "70 degrees and sunny"]
    history.append({"role": "assistant", "tool_calls": first.choices[0].message.to_dict()["tool_calls"]})
    history += [{"role": "tool", "content": r, "tool_call_id": c.id} for r, c in zip(results, calls, strict=True)]
    second = client.chat.completions.create(messages=history, model=MODEL)

    span0, span1 = content.llm_spans()
    for span, response in ((span0, first), (span1, second)):
        assert_all_attributes(
            span, MODEL, response.id, response.model, response.usage.prompt_tokens, response.usage.completion_tokens
        )
    assert span0.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)  # as the provider said
    tool_parts = [
        {
            "type": "tool_call",
            "id": calls[0].id,
            "name": "get_current_weather",
            "arguments": {"location": "Seattle, WA"},
        },
        {
            "type": "tool_call",
            "id": calls[1].id,
            "name": "get_current_weather",
            "arguments": {"location": "San Francisco, CA"},
        },
    ]
    assert messages(span0, sc.GEN_AI_INPUT_MESSAGES) == WEATHER_EXPECTED
    # Difference: the output message's finish_reason is the spec's "tool_call" (upstream: "tool_calls").
    assert messages(span0, sc.GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": tool_parts, "finish_reason": "tool_call"}
    ]
    assert messages(span0, sc.GEN_AI_TOOL_DEFINITIONS) == EXPECTED_TOOL_DEFINITIONS
    assert sc.GEN_AI_TOOL_DEFINITIONS not in span1.attributes
    assert messages(span1, sc.GEN_AI_INPUT_MESSAGES) == [
        *WEATHER_EXPECTED,
        {"role": "assistant", "parts": tool_parts},
        *(
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": c.id, "response": r}]}
            for r, c in zip(results, calls, strict=True)
        ),
    ]
    assert messages(span1, sc.GEN_AI_OUTPUT_MESSAGES) == simple_output(second.choices[0].message.content)


def test_chat_completion_streaming(content) -> None:  # type: ignore[no-untyped-def]
    stream = openai_client("chat_completion_streaming").chat.completions.create(
        model=MODEL, messages=USER_ONLY, stream=True, stream_options={"include_usage": True}
    )
    text, last = drain_chat(stream)
    span = content.only_span()
    assert_all_attributes(span, MODEL, last.id, last.model, last.usage.prompt_tokens, last.usage.completion_tokens)
    assert messages(span, sc.GEN_AI_INPUT_MESSAGES) == USER_ONLY_EXPECTED
    assert messages(span, sc.GEN_AI_OUTPUT_MESSAGES) == simple_output(text)


async def test_async_chat_completion_streaming(content) -> None:  # type: ignore[no-untyped-def]
    stream = await openai_client("chat_completion_streaming", async_=True).chat.completions.create(
        model=MODEL, messages=USER_ONLY, stream=True, stream_options={"include_usage": True}
    )
    text = ""
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    assert messages(content.only_span(), sc.GEN_AI_OUTPUT_MESSAGES) == simple_output(text)


def test_chat_completion_with_context_manager_streaming(content) -> None:  # type: ignore[no-untyped-def]
    with openai_client("chat_completion_with_context_manager_streaming").chat.completions.create(
        messages=USER_ONLY, model=MODEL, stream=True, stream_options={"include_usage": True}
    ) as stream:
        text, last = drain_chat(stream)
    span = content.only_span()
    assert_all_attributes(
        span,
        MODEL,
        last.id,
        last.model,
        last.usage.prompt_tokens,
        last.usage.completion_tokens,
        response_service_tier="default",
    )
    assert messages(span, sc.GEN_AI_OUTPUT_MESSAGES) == simple_output(text)


def _chat_stream(name: str = "chat_completion_streaming") -> Any:
    return openai_client(name).chat.completions.create(
        model=MODEL, messages=USER_ONLY, stream=True, stream_options={"include_usage": True}
    )


def test_chat_completion_streaming_user_exception_propagates(content) -> None:  # type: ignore[no-untyped-def]
    stream = _chat_stream()
    with pytest.raises(RuntimeError, match="user failure"), stream:
        for chunk in stream:
            model, response_id = chunk.model, chunk.id
            raise RuntimeError("user failure")
    span = content.only_span()
    assert_all_attributes(span, MODEL, response_id, model)
    assert span.attributes[sc.ERROR_TYPE] == "RuntimeError"


def _failing_close(stream: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    original = stream.__wrapped__.close

    def close_raises() -> None:
        original()
        raise RuntimeError("close failure")

    monkeypatch.setattr(stream.__wrapped__, "close", close_raises)


def test_chat_completion_streaming_user_exception_wins_over_close_exception(content, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stream = _chat_stream()
    _failing_close(stream, monkeypatch)
    # Difference: what propagates is what the SDK raises without instrumentation (its failing close
    # replaces the user's error, chained to it); upstream raises the user's error instead. The span
    # records the user's error, the first thing that went wrong.
    with pytest.raises(RuntimeError, match="close failure") as caught, stream:
        raise RuntimeError("user failure")
    assert str(caught.value.__context__) == "user failure"
    span = content.only_span()
    assert span.attributes[sc.ERROR_TYPE] == "RuntimeError"
    (event,) = [e for e in span.events if e.name == sc.Event.EXCEPTION]
    assert event.attributes[sc.EXCEPTION_MESSAGE] == "user failure"


def test_chat_completion_streaming_close_exception_propagates_when_first(content, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stream = _chat_stream()
    _failing_close(stream, monkeypatch)
    with pytest.raises(RuntimeError, match="close failure"):
        stream.close()
    span = content.only_span()
    assert span.attributes[sc.ERROR_TYPE] == "RuntimeError"


def test_chat_completion_streaming_not_complete(content) -> None:  # type: ignore[no-untyped-def]
    stream = openai_client("chat_completion_streaming_not_complete").chat.completions.create(
        model=MODEL, messages=USER_ONLY, stream=True
    )
    text, model, response_id = "", None, None
    for index, chunk in enumerate(stream):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if index == 1:
            break
        model, response_id = chunk.model or model, chunk.id or response_id
    stream.close()
    span = content.only_span()
    assert_all_attributes(span, MODEL, response_id, model)
    assert messages(span, sc.GEN_AI_INPUT_MESSAGES) == USER_ONLY_EXPECTED
    assert messages(span, sc.GEN_AI_OUTPUT_MESSAGES) == simple_output(text, finish_reason="error")


def test_chat_completion_multiple_choices_streaming(content) -> None:  # type: ignore[no-untyped-def]
    stream = openai_client("chat_completion_multiple_choices_streaming").chat.completions.create(
        messages=WEATHER_PROMPT, model=MODEL, n=2, stream=True, stream_options={"include_usage": True}
    )
    texts, reasons, last = ["", ""], ["", ""], None
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            reasons[choice.index] = choice.finish_reason or reasons[choice.index]
        if getattr(chunk, "usage", None):
            last = chunk
    span = content.only_span()
    assert_all_attributes(span, MODEL, last.id, last.model, last.usage.prompt_tokens, last.usage.completion_tokens)
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == tuple(reasons)
    assert messages(span, sc.GEN_AI_INPUT_MESSAGES) == WEATHER_EXPECTED
    assert messages(span, sc.GEN_AI_OUTPUT_MESSAGES) == [*simple_output(texts[0]), *simple_output(texts[1])]


def test_chat_completion_multiple_tools_streaming_with_content(content) -> None:  # type: ignore[no-untyped-def]
    stream = openai_client("chat_completion_multiple_tools_streaming_with_content").chat.completions.create(
        messages=WEATHER_PROMPT,
        model=MODEL,
        tool_choice="auto",
        tools=[WEATHER_TOOL],
        stream=True,
        stream_options={"include_usage": True},
    )
    ids, args, last = ["", ""], ["", ""], None
    for chunk in stream:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            ids[call.index] = call.id or ids[call.index]
            args[call.index] += (call.function.arguments or "") if call.function else ""
        if getattr(chunk, "usage", None):
            last = chunk
    span = content.only_span()
    assert_all_attributes(span, MODEL, last.id, last.model, last.usage.prompt_tokens, last.usage.completion_tokens)
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert messages(span, sc.GEN_AI_INPUT_MESSAGES) == WEATHER_EXPECTED
    # Difference: the spec's "tool_call" in the output message (upstream: "tool_calls").
    assert messages(span, sc.GEN_AI_OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": ids[i], "name": "get_current_weather", "arguments": json.loads(args[i])}
                for i in (0, 1)
            ],
            "finish_reason": "tool_call",
        }
    ]


def test_chat_completion_metrics(content) -> None:  # type: ignore[no-untyped-def]
    openai_client("chat_completion_metrics").chat.completions.create(messages=USER_ONLY, model=MODEL, stream=False)
    durations = content.metric_points(sc.Metric.OPERATION_DURATION)
    tokens = content.metric_points(sc.Metric.TOKEN_USAGE)
    assert len(durations) == 1 and durations[0].sum > 0
    assert tuple(durations[0].explicit_bounds) == sc.Metric.DURATION_BUCKETS
    assert {p.attributes[sc.GEN_AI_TOKEN_TYPE] for p in tokens} == {"input", "output"}
    for point in (*durations, *tokens):
        a = point.attributes
        assert a[sc.GEN_AI_OPERATION_NAME] == "chat"
        assert a[sc.GEN_AI_PROVIDER_NAME] == "openai"
        assert a[sc.GEN_AI_REQUEST_MODEL] == MODEL
        assert a[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
        assert a[sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_0ba0d124f1"
        assert a[sc.OPENAI_RESPONSE_SERVICE_TIER] == "default"
        assert sc.OPENAI_REQUEST_SERVICE_TIER not in a
        assert a[sc.SERVER_ADDRESS] == "api.openai.com"
    assert tuple(tokens[0].explicit_bounds) == sc.Metric.TOKEN_USAGE_BUCKETS


# --- embeddings -------------------------------------------------------------------------------


def test_embeddings_with_content(content) -> None:  # type: ignore[no-untyped-def]
    response = openai_client("embeddings_with_content").embeddings.create(
        model=EMBEDDING_MODEL, input="This is a test for embeddings"
    )
    span = content.only_span()
    assert_all_attributes(
        span,
        EMBEDDING_MODEL,
        response_model=response.model,
        input_tokens=response.usage.prompt_tokens,
        operation="embeddings",
    )
    assert span.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == len(response.data[0].embedding)


def test_embeddings_with_dimensions(no_content) -> None:  # type: ignore[no-untyped-def]
    response = openai_client("embeddings_with_dimensions").embeddings.create(
        model=EMBEDDING_MODEL, input="This is a test for embeddings with dimensions", dimensions=512
    )
    assert len(response.data[0].embedding) == 512
    assert no_content.only_span().attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 512
    (duration,) = no_content.metric_points(sc.Metric.OPERATION_DURATION)
    assert duration.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 512


def test_embeddings_with_encoding_format(no_content) -> None:  # type: ignore[no-untyped-def]
    openai_client("embeddings_with_encoding_format").embeddings.create(
        model=EMBEDDING_MODEL, input="This is a test for embeddings with encoding format", encoding_format="base64"
    )
    assert no_content.only_span().attributes[sc.GEN_AI_REQUEST_ENCODING_FORMATS] == ("base64",)


def test_embeddings_model_not_found(no_content) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openai.NotFoundError):
        openai_client("embeddings_model_not_found").embeddings.create(model="non-existent-model", input="test")
    span = no_content.only_span()
    assert span.name == "embeddings non-existent-model"
    # Difference: the provider's error code, not the class name "NotFoundError" (docs/conformance.md).
    assert span.attributes[sc.ERROR_TYPE] == "model_not_found"
    (duration,) = no_content.metric_points(sc.Metric.OPERATION_DURATION)
    assert duration.attributes[sc.ERROR_TYPE] == "model_not_found"


# --- responses --------------------------------------------------------------------------------


def _assert_response(span: Any, response: Any, **extra: Any) -> None:
    assert_all_attributes(
        span,
        MODEL,
        response.id,
        response.model,
        response.usage.input_tokens,
        response.usage.output_tokens,
        response_service_tier=getattr(response, "service_tier", None),
        **extra,
    )


def test_responses_create_basic(no_content) -> None:  # type: ignore[no-untyped-def]
    response = openai_client("responses_create_basic").responses.create(
        model=MODEL, instructions=SYSTEM_INSTRUCTIONS, input="Say this is a test", stream=False
    )
    span = no_content.only_span()
    _assert_response(span, response)
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert_no_content(span)


def test_responses_create_captures_content(content) -> None:  # type: ignore[no-untyped-def]
    response = openai_client("responses_create_captures_content").responses.create(
        model=MODEL,
        instructions=SYSTEM_INSTRUCTIONS,
        input="Say this is a test",
        stream=False,
        text={"format": {"type": "text"}},
    )
    span = content.only_span()
    _assert_response(span, response)
    assert messages(span, sc.GEN_AI_INPUT_MESSAGES) == USER_ONLY_EXPECTED
    assert messages(span, sc.GEN_AI_SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": SYSTEM_INSTRUCTIONS}]
    assert messages(span, sc.GEN_AI_OUTPUT_MESSAGES) == simple_output(response.output_text)


def test_responses_create_with_all_params(no_content) -> None:  # type: ignore[no-untyped-def]
    response = openai_client("responses_create_with_all_params").responses.create(
        model=MODEL,
        instructions=SYSTEM_INSTRUCTIONS,
        input="Say this is a test",
        max_output_tokens=50,
        temperature=0.7,
        top_p=0.9,
        service_tier="default",
        text={"format": {"type": "text"}},
    )
    span = no_content.only_span()
    _assert_response(span, response, request_service_tier="default")
    a = span.attributes
    assert (a[sc.GEN_AI_REQUEST_TEMPERATURE], a[sc.GEN_AI_REQUEST_TOP_P]) == (0.7, 0.9)
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert a[sc.GEN_AI_OUTPUT_TYPE] == "text"


def test_responses_create_token_usage(no_content) -> None:  # type: ignore[no-untyped-def]
    response = openai_client("responses_create_token_usage").responses.create(
        model=MODEL, instructions=SYSTEM_INSTRUCTIONS, input="Count to 5."
    )
    a = no_content.only_span().attributes
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == response.usage.input_tokens
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == response.usage.output_tokens


def test_responses_create_aggregates_cache_tokens(no_content) -> None:  # type: ignore[no-untyped-def]
    response = openai_client("responses_create_aggregates_cache_tokens").responses.create(
        model=MODEL, instructions=SYSTEM_INSTRUCTIONS, input="Say this is a test"
    )
    a = no_content.only_span().attributes
    cached = response.usage.input_tokens_details.cached_tokens
    assert cached is not None
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == cached  # also when it is 0
    assert sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS not in a


def test_responses_create_stop_reason(no_content) -> None:  # type: ignore[no-untyped-def]
    openai_client("responses_create_stop_reason").responses.create(model=MODEL, input="Say hi.")
    assert no_content.only_span().attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_responses_create_api_error(no_content) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openai.APIStatusError) as caught:
        openai_client("responses_create_api_error").responses.create(model="this-model-does-not-exist", input="Hello")
    span = no_content.only_span()
    assert span.attributes[sc.GEN_AI_REQUEST_MODEL] == "this-model-does-not-exist"
    assert span.status.status_code is StatusCode.ERROR
    # Difference: the provider's code when it sends one, else the class (upstream: always the class).
    assert span.attributes[sc.ERROR_TYPE] == (caught.value.code or type(caught.value).__name__)


def test_responses_create_streaming(no_content) -> None:  # type: ignore[no-untyped-def]
    with openai_client("responses_create_streaming").responses.create(
        model=MODEL, instructions=SYSTEM_INSTRUCTIONS, input="Say this is a test", stream=True
    ) as stream:
        response = next(e.response for e in stream if e.type == "response.completed")
    span = no_content.only_span()
    _assert_response(span, response)
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert span.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


def test_responses_create_streaming_captures_content(content) -> None:  # type: ignore[no-untyped-def]
    with openai_client("responses_create_streaming_captures_content").responses.create(
        model=MODEL, instructions=SYSTEM_INSTRUCTIONS, input="Say this is a test", stream=True
    ) as stream:
        response = next(e.response for e in stream if e.type == "response.completed")
    span = content.only_span()
    assert messages(span, sc.GEN_AI_INPUT_MESSAGES) == USER_ONLY_EXPECTED
    assert messages(span, sc.GEN_AI_SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": SYSTEM_INSTRUCTIONS}]
    assert messages(span, sc.GEN_AI_OUTPUT_MESSAGES) == simple_output(response.output_text)


def test_responses_create_streaming_user_exception(no_content) -> None:  # type: ignore[no-untyped-def]
    with (
        pytest.raises(ValueError, match="user error"),
        openai_client("responses_create_streaming_user_exception").responses.create(
            model=MODEL, input="Say this is a test", stream=True
        ) as stream,
    ):
        for _ in stream:
            raise ValueError("user error")
    span = no_content.only_span()
    assert span.attributes[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert span.attributes[sc.ERROR_TYPE] == "ValueError"


def test_responses_create_captures_tool_call_content(content) -> None:  # type: ignore[no-untyped-def]
    openai_client("responses_create_captures_tool_call_content").responses.create(
        model=MODEL,
        input="What's the weather in Seattle right now?",
        tools=[{"type": "function", "name": "get_current_weather", **{k: v for k, v in WEATHER_TOOL["function"].items()
                                                                       if k != "name"}}],
        tool_choice={"type": "function", "name": "get_current_weather"},
    )  # fmt: skip
    span = content.only_span()
    # Difference: "tool_call", the spec's value, in the attribute and the message (upstream: "tool_calls").
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_call",)
    assert messages(span, sc.GEN_AI_INPUT_MESSAGES)[0]["role"] == "user"
    (message,) = messages(span, sc.GEN_AI_OUTPUT_MESSAGES)
    assert message["finish_reason"] == "tool_call"
    calls = [p for p in message["parts"] if p["type"] == "tool_call"]
    assert calls and calls[0]["name"] == "get_current_weather" and "arguments" in calls[0]


def test_responses_create_reports_reasoning_tokens(content) -> None:  # type: ignore[no-untyped-def]
    response = openai_client("responses_create_reports_reasoning_tokens").responses.create(
        model="gpt-5.4", reasoning={"effort": "low"}, input=[{"role": "user", "content": "Transpose a matrix."}]
    )
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    span = content.only_span()
    a = span.attributes
    assert a[sc.GEN_AI_REQUEST_MODEL] == "gpt-5.4"
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == response.usage.input_tokens
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == response.usage.output_tokens
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert messages(span, sc.GEN_AI_OUTPUT_MESSAGES)
