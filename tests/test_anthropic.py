"""Anthropic SDK spans, against the real SDK with only its HTTP transport faked."""

from __future__ import annotations

import json

import anthropic
import httpx2
import pytest
from fakes import (
    ANTHROPIC_BASE_URL,
    TEST_API_KEY,
    anthropic_client,
    assert_first_chunk_time,
    fake_transport,
    json_response,
    slow_sse_response,
    sse_response,
)
from opentelemetry.trace import SpanKind, StatusCode

from otel_agenttrace import semconv as sc

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
TOOLS = [{"name": "get_weather", "description": "Weather now", "input_schema": {"type": "object"}}]


def test_messages_create(tel) -> None:
    client = anthropic_client(fake_transport(json_response("anthropic/messages_text.json")))
    client.messages.create(
        # anthropic 2.x has no sampling parameters (temperature, top_p, top_k) any more
        model="claude-sonnet-4-6",
        max_tokens=256,
        messages=MESSAGES,
        system="Be terse.",
        stop_sequences=["END"],
    )
    span = tel.only_span()
    a = span.attributes
    assert span.name == "chat claude-sonnet-4-6"
    assert span.kind is SpanKind.CLIENT
    assert a[sc.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert (a[sc.SERVER_ADDRESS], a[sc.SERVER_PORT]) == ("anthropic.test", 8443)
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 256
    assert list(a[sc.GEN_AI_REQUEST_STOP_SEQUENCES]) == ["END"]
    assert a[sc.GEN_AI_RESPONSE_ID] == "msg_01l9JQQY5jQRQPZoOvx1S2aE"
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["end_turn"]
    # The spec: input = input + cache read + cache creation.
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 14 + 2048 + 1024
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2048
    assert a[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 1024
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 10
    assert json.loads(a[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be terse."}]
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "The capital of France is Paris."}],
            "finish_reason": "stop",
        }
    ]


def test_tool_use(tel) -> None:
    client = anthropic_client(fake_transport(json_response("anthropic/messages_tool_use.json")))
    history = [
        *MESSAGES,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"c": "P"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}]},
    ]
    client.messages.create(model="claude-sonnet-4-6", max_tokens=256, messages=history, tools=TOOLS)
    a = tel.only_span().attributes
    inputs = json.loads(a[sc.GEN_AI_INPUT_MESSAGES])
    assert inputs[1]["parts"] == [
        {"type": "tool_call", "id": "toolu_1", "name": "get_weather", "arguments": {"c": "P"}}
    ]
    assert inputs[2]["parts"] == [{"type": "tool_call_response", "id": "toolu_1", "response": "18C"}]
    assert json.loads(a[sc.GEN_AI_TOOL_DEFINITIONS])[0]["parameters"] == {"type": "object"}
    (out,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert out["finish_reason"] == "tool_call"
    assert [p["type"] for p in out["parts"]] == ["text", "tool_call"]


def test_stream_true(tel) -> None:
    response = slow_sse_response("anthropic/messages_stream_text.sse")
    client = anthropic_client(fake_transport(response))
    texts = [
        e.delta.text
        for e in client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES, stream=True)
        if e.type == "content_block_delta"
    ]
    span = tel.only_span()
    a = span.attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert_first_chunk_time(
        a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK], (span.end_time - span.start_time) / 1e9, response
    )
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (14 + 2048, 24)
    (out,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert out["parts"] == [{"type": "text", "content": "".join(texts)}]


def test_stream_helper_sync(tel) -> None:
    client = anthropic_client(fake_transport(sse_response("anthropic/messages_stream_tool_use.sse")))
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES, tools=TOOLS) as stream:
        final = stream.get_final_message()
    span = tel.only_span()
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == final.id
    (out,) = json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    call = next(p for p in out["parts"] if p["type"] == "tool_call")
    tool_block = next(b for b in final.content if b.type == "tool_use")
    assert call["arguments"] == tool_block.input
    assert call["id"] == tool_block.id


async def test_stream_helper_async(tel) -> None:
    client = anthropic_client(fake_transport(sse_response("anthropic/messages_stream_text.sse")), async_=True)
    async with client.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES) as stream:
        text = await stream.get_final_text()
    (out,) = json.loads(tel.only_span().attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert out["parts"][0]["content"] == text


async def test_async_create(tel) -> None:
    client = anthropic_client(fake_transport(json_response("anthropic/messages_text.json")), async_=True)
    await client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES)
    assert tel.only_span().attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 10


def test_beta_messages(tel) -> None:
    client = anthropic_client(fake_transport(json_response("anthropic/messages_text.json")))
    client.beta.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES)
    span = tel.only_span()
    assert span.name == "chat claude-sonnet-4-6"
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "msg_01l9JQQY5jQRQPZoOvx1S2aE"


def test_error_type_from_provider(tel) -> None:
    client = anthropic_client(fake_transport(json_response("anthropic/error_429.json")))
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES)
    span = tel.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "rate_limit_error"


def test_sdk_own_span_suppressed_while_ours_is_current(tel) -> None:
    """anthropic 2.x emits its own CLIENT span; with ours there must be exactly one LLM span."""
    client = anthropic.Anthropic(
        api_key=TEST_API_KEY,
        base_url=ANTHROPIC_BASE_URL,
        max_retries=0,
        http_client=httpx2.Client(transport=fake_transport(json_response("anthropic/messages_text.json"))),
        open_telemetry={"tracer_provider": tel.tracer_provider},
    )
    client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES)
    names = [s.name for s in tel.spans()]
    assert names == ["chat claude-sonnet-4-6"]


def test_sdk_own_span_kept_when_uninstrumented(instrument) -> None:
    t = instrument()
    from otel_agenttrace import AgentTraceInstrumentor

    AgentTraceInstrumentor().uninstrument()
    client = anthropic.Anthropic(
        api_key=TEST_API_KEY,
        base_url=ANTHROPIC_BASE_URL,
        max_retries=0,
        http_client=httpx2.Client(transport=fake_transport(json_response("anthropic/messages_text.json"))),
        open_telemetry={"tracer_provider": t.tracer_provider},
    )
    client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES)
    assert [s.name for s in t.spans()] == ["anthropic.messages.create"]


# Every stream manager the instrumentation patches: messages and beta, sync and async (the request each
# manager holds is reached through a private attribute, so each class is driven here).
STREAM_RESOURCES = [lambda c: c.messages, lambda c: c.beta.messages]


@pytest.mark.parametrize("resource", STREAM_RESOURCES, ids=["messages", "beta"])
def test_every_sync_stream_manager_makes_a_span(tel, resource, caplog) -> None:
    client = anthropic_client(fake_transport(sse_response("anthropic/messages_stream_text.sse")))
    with resource(client).stream(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
    _assert_stream_span(tel, text)
    assert not [r for r in caplog.records if "otel-agenttrace" in r.getMessage()]


@pytest.mark.parametrize("resource", STREAM_RESOURCES, ids=["messages", "beta"])
async def test_every_async_stream_manager_makes_a_span(tel, resource, caplog) -> None:
    client = anthropic_client(fake_transport(sse_response("anthropic/messages_stream_text.sse")), async_=True)
    async with resource(client).stream(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES) as stream:
        text = "".join([piece async for piece in stream.text_stream])
    _assert_stream_span(tel, text)
    assert not [r for r in caplog.records if "otel-agenttrace" in r.getMessage()]


def _assert_stream_span(tel, text: str) -> None:
    span = tel.only_span()
    a = span.attributes
    assert span.name == "chat claude-sonnet-4-6"
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.GEN_AI_RESPONSE_ID].startswith("msg_")
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["end_turn"]
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    (out,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert out["parts"] == [{"type": "text", "content": text}]


def test_zero_cache_counts_are_recorded(tel) -> None:
    body = json.loads(json.dumps(__import__("fakes").load_json("anthropic/messages_text.json")))
    body["usage"].update({"cache_read_input_tokens": 0, "cache_creation_input_tokens": 0})
    client = anthropic_client(fake_transport(json_response(body)))
    client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES)
    a = tel.only_span().attributes
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 0
    assert a[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 0


def test_sampling_parameters_through_extra_body(tel) -> None:
    """anthropic 2.x dropped temperature/top_p/top_k arguments: users send them in extra_body."""
    client = anthropic_client(fake_transport(json_response("anthropic/messages_text.json")))
    client.messages.create(
        model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES, extra_body={"temperature": 0.3, "top_k": 5}
    )
    a = tel.only_span().attributes
    assert (a[sc.GEN_AI_REQUEST_TEMPERATURE], a[sc.GEN_AI_REQUEST_TOP_K]) == (0.3, 5)
    assert sc.GEN_AI_REQUEST_TOP_P not in a


def test_the_sdk_clients_base_url_is_read_without_its_property(tel) -> None:
    from otel_agenttrace.providers import _common

    client = anthropic_client(fake_transport(json_response("anthropic/messages_text.json")))
    client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": "Hi"}])
    assert _common._KEEPS_URL[type(client)] is True
    assert (tel.only_span().attributes[sc.SERVER_ADDRESS], tel.only_span().attributes[sc.SERVER_PORT]) == (
        "anthropic.test",
        8443,
    )


def test_vertex_client_spans_name_vertex_ai_as_their_provider(tel) -> None:
    client = anthropic.AnthropicVertex(
        region="us-east5",
        project_id="proj",
        access_token="vertex-test-token",
        max_retries=0,
        http_client=httpx2.Client(transport=fake_transport(json_response("anthropic/messages_text.json"))),
    )
    client.messages.create(model="claude-x", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    a = tel.only_span().attributes
    assert a[sc.GEN_AI_PROVIDER_NAME] == "gcp.vertex_ai"
    assert a[sc.SERVER_ADDRESS] == "us-east5-aiplatform.googleapis.com"
    (point,) = tel.metric_points(sc.Metric.OPERATION_DURATION)
    assert point.attributes[sc.GEN_AI_PROVIDER_NAME] == "gcp.vertex_ai"


_AWS = {"aws_region": "us-east-1", "aws_access_key": "k", "aws_secret_key": "s"}
_GCP = {"region": "us-east5", "project_id": "p", "access_token": "t"}


@pytest.mark.parametrize(
    ("make", "provider"),
    [
        (lambda: anthropic.AnthropicBedrock(**_AWS), "aws.bedrock"),
        (lambda: anthropic.AsyncAnthropicBedrock(**_AWS), "aws.bedrock"),
        (lambda: anthropic.AsyncAnthropicVertex(**_GCP), "gcp.vertex_ai"),
        (lambda: anthropic.Anthropic(api_key="k"), "anthropic"),
    ],
)
def test_provider_name_follows_the_client_class(make, provider) -> None:
    """The request attributes of a call through each client's `messages` (Bedrock's signing needs botocore, which
    the tests do not install, so its call is not made)."""
    from otel_agenttrace.providers import anthropic as anthropic_provider

    attrs = anthropic_provider.request(make().messages, {"model": "claude-x", "max_tokens": 16})
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == provider
