"""OpenAI SDK spans, against the real SDK with only its HTTP transport faked."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from fakes import (
    FakeResponse,
    WeatherReport,
    assert_first_chunk_time,
    fake_transport,
    json_response,
    openai_client,
    slow_sse_response,
    sse_response,
)
from opentelemetry.trace import SpanKind, StatusCode

from otel_agenttrace import semconv as sc
from otel_agenttrace._capture import ContentMode
from otel_agenttrace._stream import RING, WIDE_RING

USER = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is the capital of France?"}]
TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather now", "parameters": {"type": "object"}},
    }
]


def test_chat_span_name_kind_and_attributes(tel) -> None:
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    result = client.chat.completions.create(
        model="gpt-4o", messages=USER, temperature=0.2, top_p=0.9, max_tokens=64, seed=7, stop=["END"], n=1
    )
    assert result.choices[0].message.content == "The capital of France is Paris."
    span = tel.only_span()
    assert span.name == "chat gpt-4o"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    a = span.attributes
    assert a[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert a[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert (a[sc.SERVER_ADDRESS], a[sc.SERVER_PORT]) == ("llm.test", 8443)
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert a[sc.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[sc.GEN_AI_REQUEST_SEED] == 7
    assert list(a[sc.GEN_AI_REQUEST_STOP_SEQUENCES]) == ["END"]
    assert sc.GEN_AI_REQUEST_CHOICE_COUNT not in a
    assert a[sc.GEN_AI_REQUEST_STREAM] is False
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-KLffX89D6uKL5HkDs1XyN0pedX56n"
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024-08-06"
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop"]
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1536
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1280
    messages = json.loads(a[sc.GEN_AI_INPUT_MESSAGES])
    assert messages == [
        {"role": "system", "parts": [{"type": "text", "content": "You are terse."}]},
        {"role": "user", "parts": [{"type": "text", "content": "What is the capital of France?"}]},
    ]
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "The capital of France is Paris."}],
            "finish_reason": "stop",
        }
    ]


def test_sampling_attributes_are_set_at_start(instrument) -> None:
    from opentelemetry.sdk.trace import SpanProcessor

    seen: dict = {}

    class AtStart(SpanProcessor):
        def on_start(self, span, parent_context=None):
            seen.update(span.attributes)

    t = instrument()
    t.tracer_provider.add_span_processor(AtStart())
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    client.chat.completions.create(model="gpt-4o", messages=USER)
    assert seen[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert seen[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert seen[sc.SERVER_ADDRESS] == "llm.test"
    assert sc.GEN_AI_RESPONSE_ID not in seen


def test_tool_call_and_definitions(tel) -> None:
    client = openai_client(fake_transport(json_response("openai/chat_tool_call.json")))
    client.chat.completions.create(model="gpt-4o", messages=USER, tools=TOOLS)
    a = tel.only_span().attributes
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["tool_calls"]
    assert json.loads(a[sc.GEN_AI_TOOL_DEFINITIONS]) == [
        {"type": "function", "name": "get_weather", "description": "Weather now", "parameters": {"type": "object"}}
    ]
    (message,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["finish_reason"] == "tool_call"
    (part,) = message["parts"]
    assert part["type"] == "tool_call" and part["name"] == "get_weather"
    assert part["id"].startswith("call_")
    assert isinstance(part["arguments"], dict)


def test_parallel_tool_calls(tel) -> None:
    client = openai_client(fake_transport(json_response("openai/chat_parallel_tool_calls.json")))
    client.chat.completions.create(model="gpt-4o", messages=USER, tools=TOOLS)
    (message,) = json.loads(tel.only_span().attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert [p["name"] for p in message["parts"]] == ["get_weather", "get_local_time"]
    assert message["parts"][0]["arguments"] == {"location": "Paris, France", "unit": "celsius"}
    assert message["parts"][1]["id"] == "call_H6VN5dEhWUMRCdUMCQHkaChI"


def test_tool_results_in_history(tel) -> None:
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    history = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"c": "P"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    ]
    client.chat.completions.create(model="gpt-4o", messages=history)
    messages = json.loads(tel.only_span().attributes[sc.GEN_AI_INPUT_MESSAGES])
    assert messages[2]["parts"] == [
        {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"c": "P"}}
    ]
    assert messages[3] == {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "18C"}]}


def test_refusal(tel) -> None:
    client = openai_client(fake_transport(json_response("openai/chat_refusal.json")))
    client.chat.completions.create(model="gpt-4o", messages=USER)
    (message,) = json.loads(tel.only_span().attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "refusal", "content": "I'm sorry, but I can't help with that request."}]


def test_parse_structured_output(tel) -> None:
    client = openai_client(fake_transport(json_response("openai/chat_parse.json")))
    parsed = client.chat.completions.parse(model="gpt-4o", messages=USER, response_format=WeatherReport)
    assert isinstance(parsed.choices[0].message.parsed, WeatherReport)
    span = tel.only_span()
    assert span.name == "chat gpt-4o"
    assert span.attributes[sc.GEN_AI_OUTPUT_TYPE] == "json"


async def test_async_chat(tel) -> None:
    client = openai_client(fake_transport(json_response("openai/chat_text.json")), async_=True)
    result = await client.chat.completions.create(model="gpt-4o", messages=USER)
    assert result.id == "chatcmpl-KLffX89D6uKL5HkDs1XyN0pedX56n"
    span = tel.only_span()
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8


def test_chat_stream_with_usage(tel) -> None:
    response = slow_sse_response("openai/chat_stream_text.sse")
    client = openai_client(fake_transport(response))
    stream = client.chat.completions.create(
        model="gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    texts = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    span = tel.only_span()
    a = span.attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert_first_chunk_time(
        a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK], (span.end_time - span.start_time) / 1e9, response
    )
    # the final chunk's usage: 1536 prompt tokens (1280 of them cached), 20 completion tokens
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (1536, 20)
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1280
    (message,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": "".join(texts)}]


def test_stream_tool_call_deltas_assembled(tel) -> None:
    client = openai_client(fake_transport(sse_response("openai/chat_stream_tool_calls.sse")))
    for _ in client.chat.completions.create(model="gpt-4o", messages=USER, tools=TOOLS, stream=True):
        pass
    (message,) = json.loads(tel.only_span().attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert len(message["parts"]) == 2
    assert all(p["type"] == "tool_call" and isinstance(p["arguments"], dict) for p in message["parts"])
    assert message["finish_reason"] == "tool_call"


def test_responses_api(tel) -> None:
    client = openai_client(fake_transport(json_response("openai/responses_text.json")))
    client.responses.create(model="gpt-4o", input="Capital of France?", instructions="Be terse.", max_output_tokens=50)
    span = tel.only_span()
    a = span.attributes
    assert span.name == "chat gpt-4o"
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert a[sc.GEN_AI_RESPONSE_ID].startswith("resp_")
    assert json.loads(a[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be terse."}]
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"] == "Capital of France?"
    (message,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"][0]["type"] == "text"


def test_responses_tool_call(tel) -> None:
    client = openai_client(fake_transport(json_response("openai/responses_tool_call.json")))
    client.responses.create(model="gpt-4o", input=[{"role": "user", "content": "weather?"}])
    a = tel.only_span().attributes
    (message,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["finish_reason"] == "tool_call"
    assert message["parts"][0]["type"] == "tool_call"
    # the response's status ("completed") is not a finish reason: the attribute agrees with the message
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["tool_call"]


@pytest.mark.parametrize(
    ("status", "details", "reason"),
    [
        ("completed", None, "stop"),
        ("incomplete", {"reason": "max_output_tokens"}, "length"),
        ("incomplete", {"reason": "content_filter"}, "content_filter"),
        ("failed", None, "error"),
    ],
)
def test_responses_finish_reason_from_status(tel, status, details, reason) -> None:
    from fakes import load_json

    body = load_json("openai/responses_text.json")
    body.update(status=status, incomplete_details=details)
    client = openai_client(fake_transport(json_response(body)))
    client.responses.create(model="gpt-4o", input="Capital of France?")
    a = tel.only_span().attributes
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == [reason]
    (message,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["finish_reason"] == reason


def test_responses_stream(tel) -> None:
    client = openai_client(fake_transport(sse_response("openai/responses_stream.sse")))
    deltas = [
        e.delta for e in client.responses.create(model="gpt-4o", input="hi", stream=True) if e.type.endswith(".delta")
    ]
    a = tel.only_span().attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    (message,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"][0]["content"] == "".join(deltas)


def test_embeddings(tel) -> None:
    client = openai_client(fake_transport(json_response("openai/embeddings.json")))
    client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], encoding_format="float")
    span = tel.only_span()
    a = span.attributes
    assert span.name == "embeddings text-embedding-3-small"
    assert a[sc.GEN_AI_OPERATION_NAME] == "embeddings"
    assert a[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
    assert list(a[sc.GEN_AI_REQUEST_ENCODING_FORMATS]) == ["float"]
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
    assert sc.GEN_AI_INPUT_MESSAGES not in a


@pytest.mark.parametrize(
    ("fixture", "error", "etype"),
    [
        ("openai/error_429.json", openai.RateLimitError, "rate_limit_exceeded"),
        # no error code in the body: the error's type is the provider's low-cardinality class
        ("openai/error_500.json", openai.InternalServerError, "server_error"),
    ],
)
def test_http_errors(tel, fixture, error, etype) -> None:
    client = openai_client(fake_transport(json_response(fixture)))
    with pytest.raises(error) as caught:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    span = tel.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == etype
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes[sc.EXCEPTION_TYPE] == type(caught.value).__qualname__
    # content captured before the failure is kept: the request that failed is debuggable
    assert sc.GEN_AI_INPUT_MESSAGES in span.attributes


def test_metrics(tel) -> None:
    client = openai_client(
        fake_transport(json_response("openai/chat_text.json"), json_response("openai/error_429.json"))
    )
    client.chat.completions.create(model="gpt-4o", messages=USER)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    durations = tel.metric_points(sc.Metric.OPERATION_DURATION)
    assert sum(p.count for p in durations) == 2
    assert tuple(durations[0].explicit_bounds) == sc.Metric.DURATION_BUCKETS
    failed = [p for p in durations if sc.ERROR_TYPE in p.attributes]
    assert failed[0].attributes[sc.ERROR_TYPE] == "rate_limit_exceeded"
    tokens = {p.attributes[sc.GEN_AI_TOKEN_TYPE]: p for p in tel.metric_points(sc.Metric.TOKEN_USAGE)}
    assert tokens["input"].sum == 1536 and tokens["output"].sum == 8
    assert tuple(tokens["input"].explicit_bounds) == sc.Metric.TOKEN_USAGE_BUCKETS
    assert tokens["input"].attributes[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024-08-06"


def test_no_content_mode(instrument) -> None:
    t = instrument(ContentMode.NO_CONTENT)
    client = openai_client(fake_transport(json_response("openai/chat_tool_call.json")))
    client.chat.completions.create(model="gpt-4o", messages=USER, tools=TOOLS)
    a = t.only_span().attributes
    assert not (set(a) & sc.CONTENT_ATTRIBUTES)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0


def test_openai_service_tier_and_fingerprint(tel) -> None:
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    client.chat.completions.create(model="gpt-4o", messages=USER, service_tier="flex")
    a = tel.only_span().attributes
    assert a[sc.OPENAI_REQUEST_SERVICE_TIER] == "flex"
    assert a[sc.OPENAI_RESPONSE_SERVICE_TIER] == "default"
    assert a[sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_9788c4a012"
    for point in tel.metric_points(sc.Metric.OPERATION_DURATION) + tel.metric_points(sc.Metric.TOKEN_USAGE):
        assert point.attributes[sc.OPENAI_REQUEST_SERVICE_TIER] == "flex"
        assert point.attributes[sc.OPENAI_RESPONSE_SERVICE_TIER] == "default"
        assert point.attributes[sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_9788c4a012"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"extra_body": {"service_tier": "priority"}}, "priority"),
        ({"service_tier": "auto"}, None),  # the conventions: not when "auto"
        ({}, None),
    ],
)
def test_openai_request_service_tier_sources(tel, kwargs, expected) -> None:
    client = openai_client(fake_transport(json_response("openai/responses_text.json")))
    client.responses.create(model="gpt-4o", input="hi", **kwargs)
    a = tel.only_span().attributes
    assert a.get(sc.OPENAI_REQUEST_SERVICE_TIER) == expected
    assert a[sc.OPENAI_RESPONSE_SERVICE_TIER] == "default"


def test_openai_stream_service_tier_and_fingerprint(tel) -> None:
    client = openai_client(fake_transport(sse_response("openai/chat_stream_text.sse")))
    for _ in client.chat.completions.create(model="gpt-4o", messages=USER, stream=True):
        pass
    a = tel.only_span().attributes
    assert a[sc.OPENAI_RESPONSE_SERVICE_TIER] == "default"
    assert a[sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_9788c4a012"


def test_zero_cached_tokens_are_recorded(tel) -> None:
    client = openai_client(fake_transport(json_response("openai/responses_text.json")))
    client.responses.create(model="gpt-4o", input="hi")
    assert tel.only_span().attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 0


def _sse_event(body: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _chunk(index: int | None, content: str | None = None, finish: str | None = None, usage: Any = None) -> bytes:
    choices = [] if index is None else [{"index": index, "delta": {"content": content}, "finish_reason": finish}]
    body = {"id": "c-2", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-x", "choices": choices}
    body["usage"] = usage
    return _sse_event(body)


def _two_choice_stream(usage: bool) -> FakeResponse:
    """n=2: choice 1 finishes early, choice 0 goes on for many chunks; the usage chunk (if asked) comes last."""
    events = [_chunk(0, "A"), _chunk(1, "B"), _chunk(1, "b", finish="length")]
    events += [_chunk(0, f"a{i}") for i in range(20)] + [_chunk(0, None, finish="stop")]
    if usage:
        events.append(_chunk(None, usage={"prompt_tokens": 7, "completion_tokens": 23, "total_tokens": 30}))
    return FakeResponse(200, b"".join(events) + b"data: [DONE]\n\n", "text/event-stream", streamed=True)


@pytest.mark.parametrize("mode", [None, ContentMode.NO_CONTENT, ContentMode.SPAN_ONLY])
@pytest.mark.parametrize("usage", [True, False])
def test_stream_with_two_choices_finishing_apart(instrument, mode, usage) -> None:
    """Every choice's finish reason and the usage, however far from the end of the stream they came."""
    tel = instrument(mode)
    client = openai_client(fake_transport(_two_choice_stream(usage)))
    options = {"stream_options": {"include_usage": True}} if usage else {}
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=USER, n=2, stream=True, **options))
    assert len(chunks) == 24 + usage
    a = tel.only_span().attributes
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop", "length"]
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-x"
    if usage:
        assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (7, 23)
    else:
        assert sc.GEN_AI_USAGE_INPUT_TOKENS not in a


def test_server_attributes_follow_a_client_given_a_new_base_url(tel) -> None:
    client = openai_client(
        fake_transport(json_response("openai/chat_text.json"), json_response("openai/chat_text.json"))
    )
    client.chat.completions.create(model="gpt-4o", messages=USER)
    client.base_url = "http://127.0.0.1:9911/v1/"  # the SDK's setter: a new URL kept in `_base_url`
    client.chat.completions.create(model="gpt-4o", messages=USER)
    first, second = tel.spans()
    assert (first.attributes[sc.SERVER_ADDRESS], first.attributes[sc.SERVER_PORT]) == ("llm.test", 8443)
    assert (second.attributes[sc.SERVER_ADDRESS], second.attributes[sc.SERVER_PORT]) == ("127.0.0.1", 9911)


class _ComputedURLClient(openai.OpenAI):
    """A client whose `base_url` is computed, not the URL it keeps: read through its property."""

    target = "http://127.0.0.2:9912/v1/"

    @property  # type: ignore[override]
    def base_url(self) -> Any:
        import httpx2

        return httpx2.URL(self.target)

    @base_url.setter
    def base_url(self, url: Any) -> None:
        openai.OpenAI.base_url.fset(self, url)  # type: ignore[attr-defined]


def test_a_computed_base_url_is_read_through_its_property(tel, monkeypatch) -> None:
    import httpx2

    transport = fake_transport(json_response("openai/chat_text.json"), json_response("openai/chat_text.json"))
    client = _ComputedURLClient(
        api_key="sk-test",
        base_url="https://llm.test:8443/v1/",
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )
    client.chat.completions.create(model="gpt-4o", messages=USER)
    monkeypatch.setattr(_ComputedURLClient, "target", "http://127.0.0.3:9913/v1/")
    client.chat.completions.create(model="gpt-4o", messages=USER)
    first, second = tel.spans()
    assert (first.attributes[sc.SERVER_ADDRESS], first.attributes[sc.SERVER_PORT]) == ("127.0.0.2", 9912)
    assert (second.attributes[sc.SERVER_ADDRESS], second.attributes[sc.SERVER_PORT]) == ("127.0.0.3", 9913)


def test_the_sdk_clients_base_url_is_read_without_its_property(tel) -> None:
    """openai's own `base_url` property imports a module at every read: its clients' `_base_url` is read."""
    from otel_agenttrace.providers import _common

    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    client.chat.completions.create(model="gpt-4o", messages=USER)
    assert _common._KEEPS_URL[type(client)] is True
    assert _common._KEEPS_URL.get(_ComputedURLClient, False) is False


def _azure_stream(streamed: bool, annotations: int = 2) -> FakeResponse:
    """Azure OpenAI's shape: a prompt-filter frame whose id and model are empty strings comes first, and
    content-filter annotation frames (empty id and model again, no finish reason) come after the finish."""
    safe = {"hate": {"filtered": False, "severity": "safe"}}
    head = {"id": "chatcmpl-az7", "object": "chat.completion.chunk", "created": 1733300000, "model": "gpt-4o-az"}
    head["system_fingerprint"] = "fp_az"
    prompt_filter = {"prompt_index": 0, "content_filter_results": safe}
    events = [
        _sse_event(
            {"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": [prompt_filter]}
        )
    ]
    for delta, finish in (({"role": "assistant", "content": ""}, None), ({"content": "Paris."}, None), ({}, "stop")):
        events.append(_sse_event({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}))
    for start in range(0, 6 * annotations, 6):
        annotation = {"content_filter_offsets": {"check_offset": start, "start_offset": start, "end_offset": start + 6}}
        choice = {**annotation, "content_filter_results": safe, "finish_reason": None, "index": 0}
        events.append(_sse_event({"choices": [choice], "created": 0, "id": "", "model": "", "object": ""}))
    return FakeResponse(200, b"".join(events) + b"data: [DONE]\n\n", "text/event-stream", streamed=streamed)


@pytest.mark.parametrize("annotations", [2, 5, 12])  # 5: more than RING, fewer than WIDE_RING
@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "read-whole"])
@pytest.mark.parametrize("mode", [None, ContentMode.NO_CONTENT, ContentMode.SPAN_ONLY])
def test_azure_stream_takes_its_id_and_model_past_the_prompt_filter_frame(
    instrument, mode, streamed, annotations
) -> None:
    tel = instrument(mode)
    client = openai_client(fake_transport(_azure_stream(streamed, annotations)), strict=False)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=USER, stream=True))
    assert len(chunks) == 4 + annotations
    a = tel.only_span().attributes
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-az7"
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-az"
    assert a[sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_az"
    if annotations < WIDE_RING or mode is ContentMode.SPAN_ONLY:
        assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop"]
    elif mode is ContentMode.NO_CONTENT:  # read from its last WIDE_RING chunks alone: all annotations here
        assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in a
    # (The default keeps a ring too unless the call waited on its socket: then every chunk is folded.)
    if mode is not ContentMode.NO_CONTENT:
        (message,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
        assert message["parts"] == [{"type": "text", "content": "Paris."}]
        assert message["finish_reason"] == "stop"


def test_azure_stream_read_through_with_raw_response(tel) -> None:
    client = openai_client(fake_transport(_azure_stream(True)), strict=False)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=USER, stream=True)
    assert len(list(raw.parse())) == 6
    a = tel.only_span().attributes
    assert (a[sc.GEN_AI_RESPONSE_ID], a[sc.GEN_AI_RESPONSE_MODEL]) == ("chatcmpl-az7", "gpt-4o-az")


@pytest.mark.parametrize("mode", [None, ContentMode.NO_CONTENT])
async def test_async_azure_stream_takes_its_id_and_model_past_the_prompt_filter_frame(instrument, mode) -> None:
    tel = instrument(mode)
    client = openai_client(fake_transport(_azure_stream(True, annotations=12)), True, strict=False)
    stream = await client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    chunks = [chunk async for chunk in stream]
    assert len(chunks) == 16
    a = tel.only_span().attributes
    assert (a[sc.GEN_AI_RESPONSE_ID], a[sc.GEN_AI_RESPONSE_MODEL]) == ("chatcmpl-az7", "gpt-4o-az")


def test_azure_stream_closed_early_counts_the_frames_it_handed_out(tel) -> None:
    """The chunks a ring's head goes through are counted as handed out: the content of a stream closed after
    three of them (the prompt-filter frame, the role, the text) is their text."""
    client = openai_client(fake_transport(_azure_stream(True)), strict=False)
    stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    read = [next(stream) for _ in range(3)]
    stream.close()
    assert read[2].choices[0].delta.content == "Paris."
    a = tel.only_span().attributes
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-az7"
    (message,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": "Paris."}]


@pytest.mark.parametrize("mode", [None, ContentMode.NO_CONTENT])
def test_stream_keeps_its_finish_reason_and_usage_past_a_trailing_chunk(instrument, mode) -> None:
    """A stream keeps its last RING chunks alone: the finish reason and the usage, and the chunks a server sends
    after them (here an empty one, as some OpenAI-compatible servers do)."""
    tel = instrument(mode)
    head = {"id": "chatcmpl-t1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-t"}
    choices = [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None} for i in range(10)]
    choices.append({"index": 0, "delta": {}, "finish_reason": "stop"})
    frames = [_sse_event({**head, "choices": [choice]}) for choice in choices]
    usage = {"prompt_tokens": 7, "completion_tokens": 10, "total_tokens": 17}
    frames += [_sse_event({**head, "choices": [], "usage": usage}), _sse_event({**head, "choices": []})]
    body = b"".join(frames) + b"data: [DONE]\n\n"
    client = openai_client(fake_transport(FakeResponse(200, body, "text/event-stream", streamed=True)), strict=False)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=USER, stream=True))
    assert len(chunks) == 13
    a = tel.only_span().attributes
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-t1"
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop"]
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (7, 10)


@pytest.mark.parametrize("mode", [None, ContentMode.NO_CONTENT])
def test_stream_whose_ids_stay_empty_ends_well(instrument, mode) -> None:
    """A server that never fills in the id: the ring's wait for one is bounded, every chunk still reaches the
    user, and the finish reason is read from the last chunks."""
    tel = instrument(mode)
    frames = [
        _sse_event({"id": "", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]})
        for choice in [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None} for i in range(3 * RING)]
        + [{"index": 0, "delta": {}, "finish_reason": "length"}]
    ]
    body = b"".join(frames) + b"data: [DONE]\n\n"
    client = openai_client(fake_transport(FakeResponse(200, body, "text/event-stream", streamed=True)), strict=False)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=USER, stream=True))
    assert len(chunks) == 3 * RING + 1
    a = tel.only_span().attributes
    assert sc.GEN_AI_RESPONSE_ID not in a
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["length"]
    if mode is None:
        (message,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
        assert message["parts"][0]["content"] == "".join(f"w{i} " for i in range(3 * RING))


def _azure_client(transport: Any, async_: bool = False) -> Any:
    import httpx2

    kind, http = (openai.AsyncAzureOpenAI, httpx2.AsyncClient) if async_ else (openai.AzureOpenAI, httpx2.Client)
    return kind(
        api_key="az-test-key",
        api_version="2024-10-21",
        azure_endpoint="https://contoso.openai.azure.com",
        azure_deployment="gpt4o-prod",
        max_retries=0,
        http_client=http(transport=transport),
    )


def test_azure_client_spans_name_azure_openai_as_their_provider(tel) -> None:
    client = _azure_client(fake_transport(json_response("openai/chat_text.json"), _azure_stream(True)))
    client.chat.completions.create(model="gpt-4o", messages=USER)
    list(client.chat.completions.create(model="gpt-4o", messages=USER, stream=True))
    for span in tel.llm_spans():
        a = span.attributes
        assert a[sc.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"
        assert (a[sc.SERVER_ADDRESS], a[sc.SERVER_PORT]) == ("contoso.openai.azure.com", 443)
    for point in tel.metric_points(sc.Metric.OPERATION_DURATION):
        assert point.attributes[sc.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"


async def test_async_azure_client_spans_name_azure_openai_as_their_provider(tel) -> None:
    client = _azure_client(fake_transport(json_response("openai/chat_text.json")), async_=True)
    await client.chat.completions.create(model="gpt-4o", messages=USER)
    assert tel.only_span().attributes[sc.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"


def test_openai_client_spans_stay_openai_beside_an_azure_one(tel) -> None:
    _azure_client(fake_transport(json_response("openai/chat_text.json"))).chat.completions.create(
        model="gpt-4o", messages=USER
    )
    openai_client(fake_transport(json_response("openai/chat_text.json"))).chat.completions.create(
        model="gpt-4o", messages=USER
    )
    assert [s.attributes[sc.GEN_AI_PROVIDER_NAME] for s in tel.llm_spans()] == ["azure.ai.openai", "openai"]


@pytest.mark.parametrize(
    ("base_url", "provider"),
    [
        ("https://api.openai.com/v1/", "openai"),
        ("https://contoso.openai.azure.com/openai/v1/", "azure.ai.openai"),  # Azure's v1 API, the plain client
        ("https://api.deepseek.com/v1/", "deepseek"),
        ("https://generativelanguage.googleapis.com/v1beta/openai/", "gcp.gemini"),
        ("https://api.groq.com/openai/v1/", "groq"),
        ("https://API.X.AI/v1/", "x_ai"),
        ("https://api.anthropic.com/v1/", "anthropic"),
        ("http://127.0.0.1:8000/v1/", "openai"),  # a local OpenAI-compatible server
        ("https://notapi.deepseek.com.example/v1/", "openai"),  # a suffix of the host, not of the name
    ],
)
def test_provider_name_follows_the_api_host(tel, base_url, provider) -> None:
    import httpx2

    client = openai.OpenAI(
        api_key="sk-test",
        base_url=base_url,
        max_retries=0,
        http_client=httpx2.Client(transport=fake_transport(json_response("openai/chat_text.json"))),
    )
    client.chat.completions.create(model="gpt-4o", messages=USER)
    assert tel.only_span().attributes[sc.GEN_AI_PROVIDER_NAME] == provider
    (point,) = tel.metric_points(sc.Metric.OPERATION_DURATION)
    assert point.attributes[sc.GEN_AI_PROVIDER_NAME] == provider
