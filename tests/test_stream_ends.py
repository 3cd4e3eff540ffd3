"""A stream's response attributes read from its ends (`Endpoint.stream_response`, the path a stream without
content on the caller's thread takes) equal those the full accumulator folds from every chunk: on every
recorded stream, as SDK models and as the raw-response path's decoded `Fields`, and on the shapes recordings
lack (n > 1 with interleaved choices, a first chunk without an id or with Azure's empty one, usage in its own last
chunk)."""

from __future__ import annotations

import json
from typing import Any

import anthropic.types
import openai.types.chat
import pydantic
import pytest
from openai._models import construct_type

from otel_agenttrace import semconv
from otel_agenttrace._raw import fields
from otel_agenttrace.providers import anthropic as anthropic_provider
from otel_agenttrace.providers import openai as openai_provider
from tests.fakes import load

_ANTHROPIC_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)


def _sse_data(name: str) -> list[dict[str, Any]]:
    out = []
    for line in load(name).decode().splitlines():
        if line.startswith("data:"):
            data = line[5:].strip()
            if data != "[DONE]":
                out.append(json.loads(data))
    return out


def _folded(accumulator: Any, chunks: list[Any], choices: int | None) -> dict[str, Any]:
    acc = accumulator(False)
    if choices is not None and hasattr(acc, "choices"):
        acc.choices = choices
    acc.add_all(chunks)
    attrs: dict[str, Any] = acc.result()[0]
    return attrs


def _every_chunk(accumulator: Any, chunks: list[Any]) -> dict[str, Any]:
    acc = accumulator(True)
    for chunk in chunks:
        acc.add(chunk)
    attrs: dict[str, Any] = acc.result()[0]
    return attrs


def _openai_chunk(
    index_reasons: list[tuple[int, str | None]], *, id_: str | None = "chatcmpl-1", usage: Any = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": id_,
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        **extra,
        "choices": [{"index": i, "delta": {"content": "x"}, "finish_reason": reason} for i, reason in index_reasons],
        "usage": usage,
    }


_USAGE = {
    "prompt_tokens": 11,
    "completion_tokens": 7,
    "total_tokens": 18,
    "prompt_tokens_details": {"cached_tokens": 0},
}

# name -> (decoded chunks, the request's n)
_OPENAI_STREAMS: dict[str, tuple[list[dict[str, Any]], int]] = {
    "text": (_sse_data("openai/chat_stream_text.sse"), 1),
    "tool_calls": (_sse_data("openai/chat_stream_tool_calls.sse"), 1),
    "n2_interleaved": (
        [
            _openai_chunk([(0, None), (1, None)], service_tier="default", system_fingerprint="fp_1"),
            _openai_chunk([(1, "length")]),
            _openai_chunk([(0, "stop")]),
            _openai_chunk([], usage=_USAGE),
        ],
        2,
    ),
    "first_without_id": (
        [
            _openai_chunk([], id_=None),
            _openai_chunk([(0, None)], id_="chatcmpl-2"),
            _openai_chunk([(0, "stop")], usage=_USAGE),
        ],
        1,
    ),
    "azure_prompt_filter_first": (  # Azure OpenAI: the prompt-filter frame's id and model are "", as are the
        # content-filter annotations' after the finish
        [
            _openai_chunk([], id_="", model="", prompt_filter_results=[{"prompt_index": 0}]),
            _openai_chunk([(0, None)], id_="chatcmpl-az", system_fingerprint="fp_az"),
            _openai_chunk([(0, "stop")], id_="chatcmpl-az", usage=_USAGE),
            _openai_chunk([(0, None)], id_="", model=""),
        ],
        1,
    ),
    "no_id_at_all": (
        [_openai_chunk([], id_=None), _openai_chunk([(0, "stop")], id_=None, model="gpt-4o", usage=_USAGE)],
        1,
    ),
    "no_usage": ([_openai_chunk([(0, None)]), _openai_chunk([(0, "tool_calls")])], 1),
    "long": ([_openai_chunk([(0, None)]) for _ in range(3000)] + [_openai_chunk([(0, "stop")], usage=_USAGE)], 1),
    "empty": ([], 1),
}


@pytest.mark.parametrize("form", ["model", "fields"])
@pytest.mark.parametrize("name", sorted(_OPENAI_STREAMS))
def test_openai_chat_stream_ends_equal_the_fold(name: str, form: str) -> None:
    data, n = _OPENAI_STREAMS[name]
    if form == "model":
        # as the SDK builds them without strict validation (a proxy's chunk may lack an id)
        chunks = [construct_type(type_=openai.types.chat.ChatCompletionChunk, value=d) for d in data]
    else:
        chunks = [fields(d) for d in data]
    ends = openai_provider.chat_stream_response(chunks, n)
    assert ends == _folded(openai_provider.ChatStreamAccumulator, chunks, n)
    assert ends == _every_chunk(openai_provider.ChatStreamAccumulator, chunks)
    if chunks and name != "no_usage":
        assert ends[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
        assert ends[semconv.GEN_AI_RESPONSE_FINISH_REASONS]


@pytest.mark.parametrize("form", ["model", "fields"])
def test_openai_azure_prompt_filter_frame_gives_no_id_or_model(form: str) -> None:
    data, n = _OPENAI_STREAMS["azure_prompt_filter_first"]
    if form == "model":
        chunks = [construct_type(type_=openai.types.chat.ChatCompletionChunk, value=d) for d in data]
    else:
        chunks = [fields(d) for d in data]
    attrs = openai_provider.chat_stream_response(chunks, n)
    assert (attrs[semconv.GEN_AI_RESPONSE_ID], attrs[semconv.GEN_AI_RESPONSE_MODEL]) == ("chatcmpl-az", "gpt-4o-mini")
    assert attrs[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_az"


def test_openai_n2_reasons_are_in_choice_order() -> None:
    data, n = _OPENAI_STREAMS["n2_interleaved"]
    chunks = [openai.types.chat.ChatCompletionChunk.model_validate(d) for d in data]
    attrs = openai_provider.chat_stream_response(chunks, n)
    assert list(attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop", "length"]
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-1"


@pytest.mark.parametrize("form", ["model", "fields"])
@pytest.mark.parametrize("name", ["messages_stream_text.sse", "messages_stream_tool_use.sse"])
def test_anthropic_stream_ends_equal_the_fold(name: str, form: str) -> None:
    data = _sse_data(f"anthropic/{name}")
    if form == "model":  # the SDK hands out no pings
        chunks = [_ANTHROPIC_EVENT.validate_python(d) for d in data if d["type"] != "ping"]
    else:
        chunks = [fields(d) for d in data]
    ends = anthropic_provider.stream_response(chunks, 1)
    assert ends == _every_chunk(anthropic_provider.StreamAccumulator, chunks)
    assert ends[semconv.GEN_AI_RESPONSE_ID].startswith("msg_")
    assert ends[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0


def _start(usage: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {"id": "msg_1", "model": "claude-x", "role": "assistant", "content": [], "usage": usage},
    }


def _delta(stop_reason: str | None, usage: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": usage}


_TEXT = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}}

# name -> decoded events (the shapes recordings lack)
_ANTHROPIC_STREAMS: dict[str, list[dict[str, Any]]] = {
    "two_deltas": [
        _start({"input_tokens": 5, "output_tokens": 1, "cache_read_input_tokens": None}),
        _TEXT,
        _delta(None, {"output_tokens": 3}),
        _delta("max_tokens", {"output_tokens": 9, "cache_creation_input_tokens": 4}),
        {"type": "message_stop"},
    ],
    "stop_then_usage_only_delta": [
        _start({"input_tokens": 5, "output_tokens": 1}),
        _delta("end_turn", {"output_tokens": 3}),
        _delta(None, {"output_tokens": 7, "cache_read_input_tokens": 0}),
    ],
    "no_start": [_TEXT, _delta("end_turn", {"output_tokens": 2})],
    "no_delta": [_start({"input_tokens": 5, "output_tokens": 1}), _TEXT],
    "long": [
        _start({"input_tokens": 5, "output_tokens": 1}),
        *[_TEXT] * 3000,
        _delta("end_turn", {"output_tokens": 3}),
    ],
    "empty": [],
}


@pytest.mark.parametrize("name", sorted(_ANTHROPIC_STREAMS))
def test_anthropic_stream_ends_equal_the_fold_on_other_shapes(name: str) -> None:
    chunks = [fields(d) for d in _ANTHROPIC_STREAMS[name]]
    ends = anthropic_provider.stream_response(chunks, 1)
    assert ends == _every_chunk(anthropic_provider.StreamAccumulator, chunks)
    assert ends == _folded(anthropic_provider.StreamAccumulator, chunks, None)
    if name == "two_deltas":
        assert ends[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 5 + 4 and ends[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
        assert semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS not in ends


# Content beside the span folds a stream's output alone (`make(True, False)`): the same messages the full
# accumulator gives, on every shape above and on deltas the recordings lack (a refusal, tool calls of two choices).
_OPENAI_CONTENT_ONLY: dict[str, list[dict[str, Any]]] = {
    **{name: data for name, (data, _) in _OPENAI_STREAMS.items()},
    "refusal_and_two_choices_tools": [
        {
            "id": "chatcmpl-3",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [
                {"index": 1, "delta": {"refusal": "I can"}, "finish_reason": None},
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "call_a", "function": {"name": "get_weather", "arguments": '{"lo'}}
                        ]
                    },
                    "finish_reason": None,
                },
            ],
        },
        {
            "id": "chatcmpl-3",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [
                {"index": 1, "delta": {"refusal": "not help"}, "finish_reason": "stop"},
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": 'cation": "Paris"}'}}]},
                    "finish_reason": "tool_calls",
                },
            ],
        },
    ],
}


def _outputs(accumulator: Any, chunks: list[Any]) -> tuple[Any, Any, dict[str, Any]]:
    full = accumulator(True)
    full.add_all(chunks)
    alone = accumulator(True, False)
    alone.add_all(chunks)
    attrs, output = alone.result()
    return full.result()[1], output, attrs


@pytest.mark.parametrize("form", ["model", "fields"])
@pytest.mark.parametrize("name", sorted(_OPENAI_CONTENT_ONLY))
def test_openai_content_alone_equals_the_full_fold(name: str, form: str) -> None:
    data = _OPENAI_CONTENT_ONLY[name]
    if form == "model":
        chunks = [construct_type(type_=openai.types.chat.ChatCompletionChunk, value=d) for d in data]
    else:
        chunks = [fields(d) for d in data]
    full, alone, attrs = _outputs(openai_provider.ChatStreamAccumulator, chunks)
    assert alone == full
    assert attrs == {}  # the stream's ends give them
    if name == "refusal_and_two_choices_tools":
        messages = alone[semconv.GEN_AI_OUTPUT_MESSAGES]
        assert [m["finish_reason"] for m in messages] == ["tool_call", "stop"]
        assert messages[0]["parts"][0]["arguments"] == {"location": "Paris"}
        assert messages[1]["parts"] == [{"type": "refusal", "content": "I cannot help"}]


@pytest.mark.parametrize("form", ["model", "fields"])
@pytest.mark.parametrize("name", ["messages_stream_text.sse", "messages_stream_tool_use.sse"])
def test_anthropic_content_alone_equals_the_full_fold(name: str, form: str) -> None:
    data = _sse_data(f"anthropic/{name}")
    if form == "model":
        chunks = [_ANTHROPIC_EVENT.validate_python(d) for d in data if d["type"] != "ping"]
    else:
        chunks = [fields(d) for d in data]
    full, alone, attrs = _outputs(anthropic_provider.StreamAccumulator, chunks)
    assert alone == full
    assert alone[semconv.GEN_AI_OUTPUT_MESSAGES][0]["parts"]
    assert alone[semconv.GEN_AI_OUTPUT_MESSAGES][0]["finish_reason"] in ("stop", "tool_call")
    assert attrs == {}
