"""`_stream.source()`: a relay reads the OpenAI SDK stream's own `_iterator` (its `__iter__` only hands those
items on: one generator fewer per chunk), and any other stream through its own iteration, so that what that
iteration does besides (Anthropic's report to the SDK's tracing observer) still happens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import openai
import pytest

from otel_agenttrace._stream import source
from tests.fakes import fake_transport, openai_client, sse_response


class Plain:
    def __init__(self, items: list[Any]) -> None:
        self._iterator = iter(items)

    def __iter__(self) -> Iterator[Any]:
        for element in self._iterator:  # noqa: UP028 (the shape under test)
            yield element


class Counting(Plain):
    seen = 0

    def __iter__(self) -> Iterator[Any]:
        for element in self._iterator:
            self.seen += 1
            yield element


class APlain:
    def __init__(self, items: list[Any]) -> None:
        async def gen() -> AsyncIterator[Any]:
            for item in items:
                yield item

        self._iterator = gen()

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for item in self._iterator:
            yield item


def test_a_stream_that_only_hands_on_its_iterator_is_read_from_that_iterator() -> None:
    stream = Plain([1, 2])
    assert source(stream, False) is stream._iterator
    assert list(source(Plain([1, 2]), False)) == [1, 2]
    astream = APlain([1])
    assert source(astream, True) is astream._iterator


def test_a_stream_whose_iteration_does_more_is_iterated_as_it_is() -> None:
    stream = Counting([1, 2, 3])
    assert list(source(stream, False)) == [1, 2, 3]
    assert stream.seen == 3  # its own __iter__ ran


def test_without_an_iterator_attribute_the_stream_is_iterated() -> None:
    stream = Plain([1])
    del stream._iterator
    with pytest.raises(AttributeError):  # its own __iter__ reads _iterator: proof source() called it
        list(source(stream, False))


def test_the_sdks_streams_are_recognised_by_their_code() -> None:
    """Pins which SDK streams take the short way: a release that changes OpenAI's Stream.__iter__ makes its
    streams go the long way (still correct; this test says so), and Anthropic's observer is never skipped."""
    client = openai_client(fake_transport(sse_response("openai/chat_stream_text.sse")))
    stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "q"}], stream=True)
    assert isinstance(stream, openai.Stream)
    assert source(stream, False) is stream._iterator
    chunks = list(source(stream, False))
    assert chunks and all(isinstance(c, openai.types.chat.ChatCompletionChunk) for c in chunks)

    seen: list[Any] = []

    class Observer:
        def item(self, item: Any) -> None:
            seen.append(item)

    class Observed(anthropic.Stream):  # type: ignore[type-arg]  # the SDK's iteration, its observer at hand
        _observer = Observer()  # type: ignore[assignment]

    anthropic_stream = Observed.__new__(Observed)
    anthropic_stream._iterator = iter(["a", "b"])
    assert list(source(anthropic_stream, False)) == ["a", "b"]
    assert seen == ["a", "b"]  # the SDK's tracing observer saw every item
