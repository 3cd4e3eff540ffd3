"""`with_raw_response` and `with_streaming_response`: the span ends when the response's body does.

The OpenAI and Anthropic SDKs (both Stainless-generated) hand these callers an API-response object
instead of the parsed result: for `with_raw_response` the body is already read unless `stream=True`
(openai: `LegacyAPIResponse`; anthropic: `APIResponse`), for `with_streaming_response` nothing is
read until the user asks (`APIResponse` / `AsyncAPIResponse`). The public seams are the response
object's own methods: `parse()` gives the SDK's object (a model, or a `Stream` that the stream
proxy then follows); `read()`, `text()`, `json()`, `iter_bytes()`, `iter_text()`, `iter_lines()`
give the body, decoded here (JSON, or server-sent events) into the dicts the provider's mappings
read. Every ending funnels into the call's one `StreamState`: parse, body read, stream end,
`close()` (also the SDK's context-manager exit), an error, or garbage collection.
"""

from __future__ import annotations

import codecs
import inspect
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import wrapt

from otel_agenttrace._lifecycle import guarded
from otel_agenttrace._stream import Accumulator, Sink, StreamState, proxy

Response = Callable[[Any, bool], "tuple[dict[str, Any], dict[str, Any] | None]"]


_raw_types: dict[type, bool] = {}


def is_raw_response(result: Any) -> bool:
    """An SDK API-response wrapper (duck-typed by its class: both SDKs' have an `http_request` property and
    `parse()`). Asked of every result, so decided once per class: an attribute miss on a pydantic model
    costs an exception."""
    kind = type(result)
    known = _raw_types.get(kind)
    if known is None:
        known = isinstance(getattr(kind, "http_request", None), property) and callable(getattr(kind, "parse", None))
        _raw_types[kind] = known
    return known


class _Body:
    """The accumulator of a non-streamed body: one parsed object (SDK model or JSON dict)."""

    __slots__ = ("capture", "obj", "response")

    def __init__(self, response: Response, capture: bool) -> None:
        self.response = response
        self.capture = capture
        self.obj: Any = None

    def add(self, obj: Any) -> None:
        self.obj = obj

    def result(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        return ({}, None) if self.obj is None else self.response(self.obj, self.capture)


class Fields(dict):  # type: ignore[type-arg]
    """Decoded JSON that also reads like the SDK's model objects: attribute access (an absent key reads
    as None, nested objects wrapped as they are read), so the providers' per-chunk accumulators need
    no second, dict-reading form; `get()` and everything else see the plain dict."""

    __slots__ = ()

    def __getattr__(self, key: str) -> Any:
        return fields(self.get(key))


def fields(value: Any) -> Any:
    if isinstance(value, dict):
        return Fields(value)
    if isinstance(value, list):
        return [fields(v) for v in value]
    return value


class _SSEDecoder:
    """Server-sent events → the JSON of each event's data (`[DONE]` and non-JSON data are skipped)."""

    __slots__ = ("_bytes", "_data", "_line", "emit")

    def __init__(self, emit: Callable[[Any], None]) -> None:
        self.emit = emit
        self._bytes = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._line = ""
        self._data: list[str] = []

    def feed_bytes(self, chunk: bytes) -> None:
        self.feed_text(self._bytes.decode(chunk))

    def feed_text(self, text: str) -> None:
        *lines, self._line = (self._line + text).split("\n")
        for line in lines:
            self.feed_line(line)

    def feed_line(self, line: str) -> None:
        line = line.rstrip("\r")
        if not line:
            self._dispatch()
        elif line.startswith("data:"):
            self._data.append(line[5:].lstrip(" "))

    def end(self) -> None:
        if self._line:
            self.feed_line(self._line)
            self._line = ""
        self._dispatch()

    def _dispatch(self) -> None:
        if not self._data:
            return
        data, self._data = "\n".join(self._data), []
        if data.strip() == "[DONE]":
            return
        try:
            event = json.loads(data)
        except ValueError:
            return
        self.emit(fields(event))


class ServerErrorEvent(Exception):
    """An error event in a stream the user reads as bytes (the SDK raises its APIError for it when it
    parses the stream; read raw, nothing raises): recorded on the span, never raised."""

    def __init__(self, body: dict[str, Any]) -> None:
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else body.get("message")
        super().__init__(message or "error event in the stream")
        self.body = body  # error_type() reads the provider's error type from it, as from an APIError's


class RawCore:
    """What both proxy shells share: turning whatever the user reads into the call's one ending."""

    __slots__ = ("capture", "handed", "is_async", "is_stream", "sse", "state", "stream", "text_parts")

    def __init__(
        self,
        sink: Sink,
        raw: Any,
        response: Response,
        accumulator: Callable[[bool], Accumulator] | None,
        is_stream: Callable[[Any], bool] | None,
        capture: bool,
        is_async: bool,
    ) -> None:
        content_type = str(raw.http_response.headers.get("content-type", ""))
        self.sse = accumulator is not None and content_type.startswith("text/event-stream")
        acc: Accumulator = accumulator(capture) if self.sse and accumulator is not None else _Body(response, capture)
        self.state = StreamState(sink, acc)
        self.capture = capture
        self.is_async = is_async
        self.is_stream = is_stream
        self.stream: Any = None  # the proxy of the Stream that parse() gave, handed out again on a second parse()
        self.handed = False  # a stream proxy owns the ending now (it outlives a dropped raw response)
        self.text_parts: list[str] = []

    # -- parse() --------------------------------------------------------------------------------

    def parsed(self, result: Any, default_type: bool, raw: Any) -> Any:
        if self.is_stream is not None and self.is_stream(result):
            if self.stream is None or self.stream.__wrapped__ is not result:
                self.stream = proxy(result, self.state, self.is_async)
                self.handed = True
            return self.stream
        if not self.state.inv.done:
            if default_type:
                self.state.accumulator().add(result)
                self.state.finish()
            else:  # parse(to=...) of the user's own type: the body is read now, decode it ourselves
                self.body(raw.http_response.content)
        return result

    # -- the body, whole or in pieces -----------------------------------------------------------

    def body(self, content: bytes) -> None:
        if self.state.inv.done:
            return
        if self.sse:
            decoder = _SSEDecoder(self.event)
            decoder.feed_bytes(content)
            decoder.end()
        else:
            self.state.accumulator().add(json.loads(content))
        self.state.finish()

    def decoder(self) -> _SSEDecoder | None:
        return _SSEDecoder(self.event) if self.sse and not self.state.inv.done else None

    def event(self, event: Any) -> None:
        if isinstance(event, dict) and (event.get("type") == "error" or ("error" in event and "type" not in event)):
            self.state.fail(ServerErrorEvent(event))
        else:
            self.state.on_chunk(event)

    def piece(self, decoder: _SSEDecoder | None, piece: bytes | str, line: bool = False) -> None:
        if decoder is not None:
            if line:
                decoder.feed_line(str(piece))
            elif isinstance(piece, bytes):
                decoder.feed_bytes(piece)
            else:
                decoder.feed_text(piece)
        elif not self.sse:
            self.text_parts.append(piece.decode("utf-8", "replace") if isinstance(piece, bytes) else piece)

    def pieces_end(self, decoder: _SSEDecoder | None) -> None:
        if self.state.inv.done:
            return
        if decoder is not None:
            decoder.end()
            self.state.finish()
        elif not self.sse:
            self.state.accumulator().add(json.loads("".join(self.text_parts)))
            self.state.finish()

    # -- other endings --------------------------------------------------------------------------

    def fail(self, exc: BaseException) -> None:
        self.state.fail(exc)

    def close(self) -> None:
        self.state.close()

    def dropped(self) -> None:
        if not self.handed:
            self.state.abandon()


class LegacyResponseProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    """`with_raw_response` of a stream: `parse()` (sync in both clients) gives the Stream to follow."""

    def __init__(self, wrapped: Any, core: RawCore) -> None:
        super().__init__(wrapped)
        self._self_core = core

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        try:
            result = self.__wrapped__.parse(*args, **kwargs)
        except BaseException as exc:
            guarded("raw response", self._self_core.fail, exc)
            raise
        return guarded_parsed(self._self_core, result, kwargs.get("to") is None, self.__wrapped__)

    def __del__(self) -> None:
        guarded("raw response", self._self_core.dropped)


def guarded_parsed(core: RawCore, result: Any, default_type: bool, raw: Any) -> Any:
    out = guarded("raw response parse", core.parsed, result, default_type, raw)
    return result if out is None else out


class ResponseProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    """`with_streaming_response` (sync): the body is read through one of these methods, or never."""

    def __init__(self, wrapped: Any, core: RawCore) -> None:
        super().__init__(wrapped)
        self._self_core = core

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.__wrapped__, name)(*args, **kwargs)
        except BaseException as exc:
            guarded("raw response", self._self_core.fail, exc)
            raise

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        result = self._call("parse", *args, **kwargs)
        return guarded_parsed(self._self_core, result, kwargs.get("to") is None, self.__wrapped__)

    def read(self) -> Any:
        content = self._call("read")
        guarded("raw response body", self._self_core.body, content)
        return content

    def text(self) -> Any:
        text = self._call("text")
        guarded("raw response body", self._self_core.body, self.__wrapped__.http_response.content)
        return text

    def json(self) -> Any:
        data = self._call("json")
        guarded("raw response body", self._self_core.body, self.__wrapped__.http_response.content)
        return data

    def _tee(self, pieces: Iterator[Any], line: bool = False) -> Iterator[Any]:
        core = self._self_core
        decoder = guarded("raw response body", core.decoder)
        try:
            for piece in pieces:
                guarded("raw response body", core.piece, decoder, piece, line)
                yield piece
        except GeneratorExit:
            raise  # the user stopped reading; close() or garbage collection ends the span
        except BaseException as exc:
            guarded("raw response", core.fail, exc)
            raise
        guarded("raw response body", core.pieces_end, decoder)

    def iter_bytes(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        return self._tee(self.__wrapped__.iter_bytes(*args, **kwargs))

    def iter_text(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        return self._tee(self.__wrapped__.iter_text(*args, **kwargs))

    def iter_lines(self) -> Iterator[str]:
        return self._tee(self.__wrapped__.iter_lines(), line=True)

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            guarded("raw response", self._self_core.close)

    def __del__(self) -> None:
        guarded("raw response", self._self_core.dropped)


class AsyncResponseProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    """`with_streaming_response` (async): as `ResponseProxy`, every method awaited."""

    def __init__(self, wrapped: Any, core: RawCore) -> None:
        super().__init__(wrapped)
        self._self_core = core

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self.__wrapped__, name)(*args, **kwargs)
        except BaseException as exc:
            guarded("raw response", self._self_core.fail, exc)
            raise

    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._call("parse", *args, **kwargs)
        return guarded_parsed(self._self_core, result, kwargs.get("to") is None, self.__wrapped__)

    async def read(self) -> Any:
        content = await self._call("read")
        guarded("raw response body", self._self_core.body, content)
        return content

    async def text(self) -> Any:
        text = await self._call("text")
        guarded("raw response body", self._self_core.body, self.__wrapped__.http_response.content)
        return text

    async def json(self) -> Any:
        data = await self._call("json")
        guarded("raw response body", self._self_core.body, self.__wrapped__.http_response.content)
        return data

    async def _tee(self, pieces: AsyncIterator[Any], line: bool = False) -> AsyncIterator[Any]:
        core = self._self_core
        decoder = guarded("raw response body", core.decoder)
        try:
            async for piece in pieces:
                guarded("raw response body", core.piece, decoder, piece, line)
                yield piece
        except GeneratorExit:
            raise
        except BaseException as exc:
            guarded("raw response", core.fail, exc)
            raise
        guarded("raw response body", core.pieces_end, decoder)

    def iter_bytes(self, *args: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        return self._tee(self.__wrapped__.iter_bytes(*args, **kwargs))

    def iter_text(self, *args: Any, **kwargs: Any) -> AsyncIterator[str]:
        return self._tee(self.__wrapped__.iter_text(*args, **kwargs))

    def iter_lines(self) -> AsyncIterator[str]:
        return self._tee(self.__wrapped__.iter_lines(), line=True)

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            guarded("raw response", self._self_core.close)

    def __del__(self) -> None:
        guarded("raw response", self._self_core.dropped)


def wrap_raw(
    sink: Sink,
    raw: Any,
    response: Response,
    accumulator: Callable[[bool], Accumulator] | None,
    is_stream: Callable[[Any], bool] | None,
    capture: bool,
    is_async: bool,
) -> Any:
    """The object to give the user for an API-response wrapper; ends `sink` now when the body is here."""
    core = RawCore(sink, raw, response, accumulator, is_stream, capture, is_async)
    if not core.sse and raw.http_response.is_stream_consumed:
        # `with_raw_response` of a complete body (read before the call returned): the span ends with the call
        core.body(raw.http_response.content)
        return raw
    kind = type(raw)
    if not callable(getattr(kind, "read", None)):  # openai's LegacyAPIResponse: `parse()` gives the stream
        return LegacyResponseProxy(raw, core)
    if inspect.iscoroutinefunction(kind.parse):
        return AsyncResponseProxy(raw, core)
    return ResponseProxy(raw, core)
