"""A one-choice stream whose body is at hand keeps its last chunk alone, and reads what its ends need from the
events before it (OpenAI's finish reason, a usage a later chunk hides) in the body's last bytes
(`Endpoint.stream_tail`, `providers._tail`): the same attributes as the fold of every chunk, on the recorded
streams and the shapes recordings lack, however the body was read in pieces; and a body read ahead of the user
gives nothing the user was not handed."""

from __future__ import annotations

import gc
import itertools
import json
from typing import Any

import openai.types.chat
import pytest
from fakes import FakeResponse, fake_transport, openai_client
from hypothesis import given, settings
from hypothesis import strategies as st
from openai._models import construct_type

from otel_agenttrace import _lifecycle
from otel_agenttrace import semconv as sc
from otel_agenttrace._tap import TAIL, Tap
from otel_agenttrace.providers import openai as openai_provider
from otel_agenttrace.providers._tail import last_event, last_object, last_string
from tests.test_stream_ends import _OPENAI_STREAMS, _USAGE, _every_chunk, _openai_chunk

USER = [{"role": "user", "content": "Go on."}]

# One-choice streams. Not "first_without_id": its chunks carry two different ids (no server's do), and one that
# kept its last chunk alone reads the id of the last, not of the second.
_ONE_CHOICE = sorted(
    name for name, (data, n) in _OPENAI_STREAMS.items() if n == 1 and data and name != "first_without_id"
)


def _body(data: list[dict[str, Any]], separators: tuple[str, str] | None = None, newline: str = "\n") -> bytes:
    events = [f"data: {json.dumps(d, separators=separators)}{newline}{newline}" for d in data]
    return "".join([*events, f"data: [DONE]{newline}{newline}"]).encode()


def _ends_from_tail(chunks: list[Any], body: bytes) -> dict[str, Any]:
    """What a stream that kept its first and last chunk reads, as `_stream.StreamState` puts it together."""
    # The first chunk, or after Azure's prompt-filter frame (an empty id) the first with an id (`heading`).
    first = next((c for c in chunks if c.id != ""), chunks[-1])
    last = chunks[-1] if len(chunks) > 1 else None
    tail = openai_provider.chat_stream_tail(body, last)
    kept = [first, *tail] + ([last] if last is not None else [])
    return openai_provider.chat_stream_response(kept, 1)


def _split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts)})
    return [body[a:b] for a, b in itertools.pairwise(points)]


@pytest.mark.parametrize("layout", ["compact", "spaced", "crlf"])
@pytest.mark.parametrize("name", _ONE_CHOICE)
def test_the_ends_from_the_last_chunk_and_the_body_equal_the_fold(name: str, layout: str) -> None:
    data, _ = _OPENAI_STREAMS[name]
    separators = (",", ":") if layout == "compact" else None
    body = _body(data, separators, "\r\n" if layout == "crlf" else "\n")
    chunks = [construct_type(type_=openai.types.chat.ChatCompletionChunk, value=d) for d in data]
    tap = Tap(None, {"chunks": [body]}, False)
    assert _ends_from_tail(chunks, tap.last_bytes()) == _every_chunk(openai_provider.ChatStreamAccumulator, chunks)


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0), max_size=40), name=st.sampled_from(_ONE_CHOICE))
def test_the_body_read_in_any_pieces_gives_the_same_ends(cuts: list[int], name: str) -> None:
    data, _ = _OPENAI_STREAMS[name]
    body = _body(data)
    chunks = [construct_type(type_=openai.types.chat.ChatCompletionChunk, value=d) for d in data]
    tap = Tap(None, {"chunks": _split(body, cuts)}, False)
    tail = tap.last_bytes()
    assert body.endswith(tail)
    assert len(tail) >= min(TAIL, len(body))
    assert _ends_from_tail(chunks, tail) == _every_chunk(openai_provider.ChatStreamAccumulator, chunks)


def test_a_body_whose_read_broke_gives_no_bytes() -> None:
    assert Tap(None, {"chunks": [b"data: {}\n\n"], "broken": True}, False).last_bytes() == b""
    assert Tap(None, {"chunks": []}, False).last_bytes() == b""


def test_finish_reason_is_read_as_a_key_only() -> None:
    """A quoted word that is a value (the model wrote "finish_reason"), or inside a string (its quotes escaped),
    is no key; a null one is passed over for the last one set."""
    real = _openai_chunk([(0, "length")])
    mimic = _openai_chunk([(0, None)])
    mimic["choices"][0]["delta"]["content"] = '"finish_reason": "stop" and "finish_reason"'
    body = _body([real, mimic, _openai_chunk([(0, None)])])
    assert last_string(body, "finish_reason") == "length"
    assert last_string(b'{"finish_reason" : "stop" }', "finish_reason") == "stop"
    assert last_string(b'{"finish_reason":"st\\"op"}', "finish_reason") is None
    assert last_string(b'{"finish_reason":null}', "finish_reason") is None
    assert last_string(b'{"finish_reason":"sto', "finish_reason") is None  # cut short


def test_usage_is_the_last_object_set() -> None:
    body = _body([_openai_chunk([(0, "stop")], usage=_USAGE), _openai_chunk([], usage=None)])
    assert last_object(body, "usage") == _USAGE
    assert last_object(b'{"usage":{"prompt_tokens":1', "usage") is None  # cut short
    assert last_object(b'{"usage": [1]}', "usage") is None


def test_last_event_finds_a_data_line_of_its_type() -> None:
    body = (
        b'event: message_delta\r\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"}}\r\n\r\n'
        b'event: message_stop\r\ndata: {"type":"message_stop"}\r\n\r\n'
    )
    assert last_event(body, "message_delta") == {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}
    assert last_event(body[: body.index(b"end_turn")], "message_delta") is None
    assert last_event(b'data: {"text": "message_delta"}\n\n', "message_delta") is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_the_readers_never_raise(data: bytes) -> None:
    for blob in (data, b'"finish_reason":' + data, b'data: {"usage":' + data, data + b'"usage"'):
        last_string(blob, "finish_reason")
        last_object(blob, "usage")
        last_event(blob, "message_delta")
        openai_provider.chat_stream_tail(blob, None)


@settings(max_examples=60, deadline=None)
@given(prefix=st.text(max_size=200), reason=st.sampled_from(["stop", "length", "tool_calls", "content_filter"]))
def test_a_planted_finish_reason_is_found_whatever_the_text_before_it(prefix: str, reason: str) -> None:
    chunk = _openai_chunk([(0, None)])
    chunk["choices"][0]["delta"]["content"] = prefix
    body = _body([chunk, _openai_chunk([(0, reason)]), _openai_chunk([], usage=_USAGE)])
    assert last_string(body, "finish_reason") == reason


# --- through the real SDK ---------------------------------------------------------------------------------------


def _stream_body(count: int, *, trailing: int = 0) -> bytes:
    head = {"id": "chatcmpl-k1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-k"}
    text = [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None} for i in range(count)]
    frames = [{**head, "choices": [choice]} for choice in text]
    frames.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = {"prompt_tokens": 5, "completion_tokens": count, "total_tokens": 5 + count}
    frames.append({**head, "choices": [], "usage": usage})
    frames += [{**head, "choices": []} for _ in range(trailing)]
    return _body(frames, (",", ":"))


@pytest.fixture
def never_waited(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test transport answers from memory: no call waits, as natively (a loaded machine could make one look as
    if it had, and a call that waited keeps its chunks for the folding thread, body or not)."""
    monkeypatch.setattr(_lifecycle, "BLOCKED_S", 1e9)


def _client(body: bytes) -> Any:
    return openai_client(fake_transport(FakeResponse(200, body, "text/event-stream", streamed=True)), strict=False)


def test_a_stream_keeps_no_chunk_the_user_let_go(instrument, never_waited) -> None:
    """Halfway through a 40-chunk stream read one chunk at a time, the only chunk objects alive are the first
    (its ends' id and model), the one the user holds, and at most one more (the SDK's, ours)."""
    instrument(None)
    kind = openai.types.chat.ChatCompletionChunk
    stream = _client(_stream_body(40)).chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    alive = None
    for i, chunk in enumerate(stream):
        if i == 20:
            del chunk
            gc.collect()
            alive = sum(1 for o in gc.get_objects() if type(o) is kind)
    assert alive is not None and alive <= 3


@pytest.mark.parametrize("trailing", [0, 1, 3])
def test_a_whole_stream_has_its_finish_reason_and_usage(instrument, never_waited, trailing: int) -> None:
    tel = instrument(None)
    client = _client(_stream_body(30, trailing=trailing))
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=USER, stream=True))
    assert len(chunks) == 32 + trailing
    a = tel.only_span().attributes
    assert list(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop"]
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (5, 30)
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-k1"


def test_a_stream_left_early_takes_nothing_from_the_body_read_ahead(instrument, never_waited) -> None:
    """The whole body was read before the user's third chunk, but the stream was closed there: no finish reason
    or usage the user was never handed."""
    tel = instrument(None)
    stream = _client(_stream_body(30)).chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    read = [next(stream) for _ in range(3)]
    stream.close()
    assert read[2].choices[0].delta.content == "w2 "
    a = tel.only_span().attributes
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in a
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in a
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-k1"
