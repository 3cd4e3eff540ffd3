"""A streamed response's body as the SDK reads it: what a stream's content beside its span is decoded from.

Folded from the SDK's chunk objects, a stream's output costs the caller a fold (~7 attribute reads of pydantic
models a chunk, each through the `__getattr__` hook pydantic defines), or, left for another thread, ~10 tracked
objects a chunk for the cyclic collector to walk until then. The body's bytes are neither: kept by reference as
the SDK reads them, the output is decoded from them off the caller's thread (the same events the SDK made its
chunks of, read by the same accumulator as a `with_raw_response` stream's), and each chunk object dies as soon
as the user lets it go.

The replay recorder keeps these bytes already when it records the call (its tee over the response's byte
stream); otherwise a tee of the same kind is put over it here, before the SDK reads it. Only an httpx response
read whole as sent (no content encoding) is decoded from its bytes; anything else keeps the chunk objects. A call
that waited for its answer takes no tap: the folding thread runs in its waits, and folds and frees its chunks
there (`_llm._stream`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from otel_agenttrace import _stream
from otel_agenttrace._beside import Later
from otel_agenttrace._raw import _SSEDecoder
from otel_agenttrace._stream import Accumulator
from otel_agenttrace.replay._http import MODULES, _classes


class _Holder:
    """What a tee writes to (the replay recorder's `Entry` shape): the chunks read, `broken` if reading failed."""

    __slots__ = ("data", "done")

    def __init__(self) -> None:
        self.data: dict[str, Any] = {"chunks": []}
        self.done = False


# response class -> (sync tee, async tee) of its httpx module, or None: not an httpx response
_TEES: dict[type, tuple[type, type] | None] = {}


def _tees(kind: type) -> tuple[type, type] | None:
    found = _TEES.get(kind, False)
    if found is False:
        found = None
        name = kind.__module__.partition(".")[0]
        module = sys.modules.get(name)
        if name in MODULES and module is not None and kind is getattr(module, "Response", None):
            tee, async_tee, _, _ = _classes(module)
            found = (tee, async_tee)
        if len(_TEES) < 64:
            _TEES[kind] = found
    return found  # type: ignore[return-value]


class Tap:
    """The bytes of one response's body, as they are read; `own`: a tee of ours (no recording keeps them).
    `response` None: the body was read whole before the SDK parsed it (an in-memory transport), decoded."""

    __slots__ = ("data", "own", "response")

    def __init__(self, response: Any, data: dict[str, Any], own: bool) -> None:
        self.response = response
        self.data = data
        self.own = own

    def trim(self) -> None:
        """A long stream's content is folded from its chunks batch by batch: our copy of the bytes is let go."""
        if self.own:
            self.data["chunks"].clear()

    def decodable(self) -> bool:
        """Whether the body's bytes are the events as sent: read whole already (decoded), or read as they come
        with no content encoding (asked once the SDK reads them: httpx makes its decoder then)."""
        response = self.response
        return response is None or type(getattr(response, "_decoder", None)).__name__ == "IdentityDecoder"

    def output(self, make: Callable[..., Accumulator], count: int | None = None) -> Later | None:
        """The stream's output content, decoded off the caller's thread from the body read (`make(True, False)`
        folds its events), or None: the body does not decode as sent (a content encoding, a failed read).
        `count`: the stream was left after that many chunks (its body read so far, including a broken one,
        and maybe ahead of the user: only the events of those chunks). The response is let go either way."""
        decodable = self.decodable()
        self.response = None
        chunks = self.data.get("chunks")
        if not decodable or chunks is None or (count is None and self.data.get("broken")):
            return None
        return Later(_output, chunks, make, count)


def tap(stream: Any, is_async: bool) -> Tap | None:
    """A tap on the body of `stream`'s response (an SDK `Stream` keeps its httpx response as `.response`), or
    None: no httpx response, or its body is being read as a stream already."""
    response = getattr(stream, "response", None)
    if response is None:
        return None
    tees = _tees(type(response))
    if tees is None:
        return None
    body = response.stream
    if type(body) in tees:  # the replay recorder's
        return Tap(response, body._entry.data, False)
    if response.is_stream_consumed:
        content = getattr(response, "_content", None)  # read whole already, and decoded
        return None if content is None else Tap(None, {"chunks": [content]}, False)
    holder = _Holder()
    response.stream = tees[is_async](body, holder)
    return Tap(response, holder.data, True)


def decoded(chunks: list[bytes]) -> list[Any]:
    """The events of a server-sent event stream's bytes, each as decoded JSON (`_raw.Fields`)."""
    events: list[Any] = []
    decoder = _SSEDecoder(events.append)
    for chunk in chunks:
        decoder.feed_bytes(chunk)
    decoder.end()
    return events


def _output(chunks: list[bytes], make: Callable[..., Accumulator], count: int | None = None) -> dict[str, Any] | None:
    events = decoded(chunks)
    if count is not None:
        events = _handed(events, count)
    acc = make(True, False)
    _stream.fold(acc, events)
    return acc.result()[1]


def _handed(events: list[Any], count: int) -> list[Any]:
    """The events of the first `count` chunks an SDK handed out: each event but Anthropic's keep-alive `ping`,
    which its SDK skips (the OpenAI SDK hands out every event but `[DONE]`, which `decoded` skips too)."""
    out: list[Any] = []
    for event in events:
        if len(out) >= count:
            break
        if isinstance(event, dict) and event.get("type") == "ping":
            continue
        out.append(event)
    return out


__all__ = ["Tap", "decoded", "tap"]
