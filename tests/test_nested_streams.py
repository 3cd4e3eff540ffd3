"""A user's `llm` target whose method consumes an SDK stream: one merged step that carries what the
stream said (usage, response id, finish reasons, time to first chunk, output), not only the request."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import anthropic_client, fake_transport, openai_client, sse_response
from opentelemetry.trace import StatusCode

from otel_agenttrace import AgentTraceInstrumentor
from otel_agenttrace import semconv as sc
from otel_agenttrace._config import parse

USER_MODULE = """
class StreamingProvider:
    def __init__(self, client, model="gpt-4o"):
        self.client = client
        self.model = model

    def generate(self, messages, stop_after=None):
        stream = self.client.chat.completions.create(
            model=self.model, messages=messages, stream=True, stream_options={"include_usage": True}
        )
        text = []
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
                if stop_after is not None and len(text) >= stop_after:
                    stream.close()
                    break
        return "".join(text)

    async def agenerate(self, messages):
        stream = await self.client.chat.completions.create(
            model=self.model, messages=messages, stream=True, stream_options={"include_usage": True}
        )
        text = []
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
        return "".join(text)

    def generate_raw(self, messages):
        with self.client.chat.completions.with_streaming_response.create(
            model=self.model, messages=messages, stream=True, stream_options={"include_usage": True}
        ) as response:
            return "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)

    def generate_langchain_style(self, messages):
        raw = self.client.chat.completions.with_raw_response.create(model=self.model, messages=messages)
        return raw.parse().choices[0].message.content

    def claude(self, messages):
        with self.client.messages.stream(model=self.model, max_tokens=64, messages=messages) as stream:
            return "".join(stream.text_stream)
"""

USER = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"nested_{request.node.name.replace('[', '_').replace(']', '_').replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def traced(instrument, user_module):  # type: ignore[no-untyped-def]
    """The user module with its provider methods as `llm` targets (and the SDKs instrumented)."""
    from oteltest import Telemetry

    AgentTraceInstrumentor().uninstrument()
    rows = [
        {"kind": "llm", "target": f"{user_module}:StreamingProvider.{method}", "model": "self.model",
         "messages": "args.messages", "provider": "myapp"}
        for method in ("generate", "agenerate", "generate_raw", "generate_langchain_style", "claude")
    ]  # fmt: skip
    tel = Telemetry()
    AgentTraceInstrumentor().instrument(
        tracer_provider=tel.tracer_provider,
        meter_provider=tel.meter_provider,
        run_root=False,
        targets=parse({"targets": rows}, "test"),
    )
    return tel, importlib.import_module(user_module)


def _assert_merged_chat(span, text: str) -> None:  # type: ignore[no-untyped-def]
    a = span.attributes
    assert span.status.status_code is StatusCode.UNSET
    assert a[sc.GEN_AI_PROVIDER_NAME] == "openai"  # the SDK's view wins
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-IoCj3bAWYoRiEwXbCfp4vKHAhCvKB"
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop"]
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    (message,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": text}]
    assert message["finish_reason"] == "stop"


def _tokens(tel) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    points = tel.metric_points(sc.Metric.TOKEN_USAGE)
    by_type = {p.attributes[sc.GEN_AI_TOKEN_TYPE]: p.sum for p in points}
    return by_type["input"], by_type["output"]


def test_sync_stream_consumed_inside_the_target(traced) -> None:  # type: ignore[no-untyped-def]
    tel, mod = traced
    client = openai_client(fake_transport(sse_response("openai/chat_stream_text.sse")))
    text = mod.StreamingProvider(client).generate(USER)
    span = tel.only_span()
    _assert_merged_chat(span, text)
    a = span.attributes
    assert _tokens(tel) == (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS])  # counted once


async def test_async_stream_consumed_inside_the_target(traced) -> None:  # type: ignore[no-untyped-def]
    tel, mod = traced
    client = openai_client(fake_transport(sse_response("openai/chat_stream_text.sse")), async_=True)
    text = await mod.StreamingProvider(client).agenerate(USER)
    _assert_merged_chat(tel.only_span(), text)


def test_streaming_response_consumed_inside_the_target(traced) -> None:  # type: ignore[no-untyped-def]
    tel, mod = traced
    client = openai_client(fake_transport(sse_response("openai/chat_stream_text.sse")))
    text = mod.StreamingProvider(client).generate_raw(USER)
    _assert_merged_chat(tel.only_span(), text)


def test_stream_closed_early_inside_the_target_is_not_stop(traced) -> None:  # type: ignore[no-untyped-def]
    tel, mod = traced
    client = openai_client(fake_transport(sse_response("openai/chat_stream_text.sse")))
    text = mod.StreamingProvider(client).generate(USER, stop_after=1)
    a = tel.only_span().attributes
    assert a[sc.GEN_AI_RESPONSE_ID]
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in a
    (message,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": text}]
    assert message["finish_reason"] == "error"


def test_anthropic_stream_helper_inside_the_target(traced) -> None:  # type: ignore[no-untyped-def]
    tel, mod = traced
    client = anthropic_client(fake_transport(sse_response("anthropic/messages_stream_text.sse")))
    text = mod.StreamingProvider(client, model="claude-sonnet-4-6").claude(USER)
    spans = tel.llm_spans()
    assert [s.name for s in spans] == ["chat claude-sonnet-4-6"]
    a = spans[0].attributes
    assert a[sc.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert a[sc.GEN_AI_RESPONSE_ID].startswith("msg_")
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["end_turn"]
    (message,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"][0]["content"] == text


def test_raw_response_inside_the_target(traced) -> None:  # type: ignore[no-untyped-def]
    """LangChain's path (`with_raw_response.create` then `.parse()`) under a user's llm target."""
    from fakes import json_response

    tel, mod = traced
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    text = mod.StreamingProvider(client).generate_langchain_style(USER)
    a = tel.only_span().attributes
    assert a[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-KLffX89D6uKL5HkDs1XyN0pedX56n"
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (1536, 8)
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop"]
    (message,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": text}]
