"""A replayed stream arrives in the chunks the SDK read when it was recorded, not one chunk per event;
a recording without chunk boundaries (made before they were kept) still replays, one chunk per event."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from fakes import fake_transport, openai_client, sse_response

import otel_agenttrace
from otel_agenttrace import workflow
from otel_agenttrace.exporter._schema import validate
from otel_agenttrace.replay._sse import carry_chunks, chunk_lengths, split_chunks

from .test_sdk_replay import no_network

KWARGS: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}


def read_chunks(client: Any) -> list[bytes]:
    """The stream's bytes as the SDK's response hands them over, chunk by chunk."""
    with client.chat.completions.with_streaming_response.create(**KWARGS) as response:
        return list(response.iter_bytes())


async def read_chunks_async(client: Any) -> list[bytes]:
    async with client.chat.completions.with_streaming_response.create(**KWARGS) as response:
        return [chunk async for chunk in response.iter_bytes()]


@pytest.mark.parametrize("async_", [False, True])
def test_a_stream_replays_in_its_recorded_chunks(recorder: Any, async_: bool) -> None:
    def run(client: Any) -> list[bytes]:
        with workflow("chunks"):
            return asyncio.run(read_chunks_async(client)) if async_ else read_chunks(client)

    original = run(openai_client(fake_transport(sse_response("openai/chat_stream_text.sse", chunk_size=7)), async_))
    assert len(original) > 10 and all(len(c) == 7 for c in original[:-1])
    doc = recorder.run()
    validate(doc)
    [exchange] = doc["recording"]["exchanges"]
    assert exchange["response"]["chunks"] == [len(c.decode()) for c in original]

    with otel_agenttrace.replay(doc) as r:
        assert run(openai_client(no_network(), async_)) == original
    r.assert_reproduced()

    old = copy.deepcopy(doc)  # a recording made before chunk boundaries were kept
    del old["recording"]["exchanges"][0]["response"]["chunks"]
    with otel_agenttrace.replay(old) as r:
        replayed = run(openai_client(no_network(), async_))
    r.assert_reproduced()
    assert b"".join(replayed) == b"".join(original)
    assert all(c.endswith(b"\n\n") for c in replayed)  # one chunk per event
    assert len(replayed) < len(original)


def test_chunk_lengths_count_characters_cut_between_chunks() -> None:
    text = 'data: {"t":"héllo"}\n\n'
    raw = text.encode()
    cut = raw.index("é".encode()) + 1  # inside the two bytes of é
    assert chunk_lengths([raw[:cut], raw[cut:]]) == [cut - 1, len(text) - cut + 1]
    assert chunk_lengths([]) == [0]


def test_boundaries_follow_their_event_through_redaction() -> None:
    original = 'data: {"k":"sk-secret"}\n\ndata: {"k":"plain"}\n\n'
    stored = 'data: {"k":"[REDACTED:key]"}\n\ndata: {"k":"plain"}\n\n'
    first = len('data: {"k":"sk-secret"}\n\n')
    # cut at 5 characters into each event, and at the event boundary
    lengths = [5, first - 5, 5, len(original) - first - 5]
    carried = carry_chunks(original, stored, lengths)
    assert carried is not None and sum(carried) == len(stored)
    pieces = split_chunks(stored, carried)
    assert pieces == [
        b"data:",
        b' {"k":"[REDACTED:key]"}\n\n',
        b"data:",
        b' {"k":"plain"}\n\n',
    ]
    assert carry_chunks(original, original, lengths) == lengths
    assert carry_chunks(original, "data: merged\n\n", lengths) is None  # events no longer line up
    assert split_chunks(stored, [1, 2]) is None  # lengths that do not fit are not used
