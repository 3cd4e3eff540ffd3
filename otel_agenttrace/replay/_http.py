"""Recording and replay at the HTTP layer of the SDKs' clients: `httpx2` and `httpx`, sync and async.

One wrapper around `Client.send` / `AsyncClient.send` (the method every SDK on httpx ends in) sees the
request as sent and the response as received. Recording keeps references (the request's bytes, the
read body, or each chunk of a stream as the SDK reads it, through a tee over the response's byte
stream: no buffering, the program sees the same bytes at the same time). Replay (model mode) answers
with an `httpx.Response` built from the recording, so the SDK rebuilds its own objects: streams,
`.parse()`, raw responses.

Only requests made inside an instrumented LLM call, or by a Stainless-generated SDK (OpenAI,
Anthropic: the `x-stainless-lang` header), are touched; every other request passes through.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import wrapt
from opentelemetry import trace

from otel_agenttrace import semconv
from otel_agenttrace._lifecycle import current_llm, current_node, internal_error
from otel_agenttrace.replay._channel import CHANNEL, Entry, anchor_of
from otel_agenttrace.replay._runtime import RUNTIME

MODULES = ("httpx2", "httpx")
# The response headers the SDKs read (ids, rate limits, retry hints, the content type that picks the decoder).
_HEADER_PREFIXES = ("x-ratelimit-", "anthropic-", "openai-", "retry-after", "x-request-id", "request-id")
_HEADERS = frozenset({"content-type", "content-encoding", "x-should-retry"})

_installed: list[tuple[Any, str]] = []
_stream_classes: dict[str, tuple[type, type, type, type]] = {}


def _is_llm(request: Any) -> bool:
    return current_llm.get() is not None or "x-stainless-lang" in request.headers


def kept_headers(raw: Any) -> dict[str, str]:
    """The response headers worth recording, from httpx's raw (bytes) header list; on the export thread."""
    out: dict[str, str] = {}
    for key, value in raw:
        name = key.decode("latin-1").lower()
        if name in _HEADERS or name.startswith(_HEADER_PREFIXES):
            out[name] = value.decode("latin-1")
    return out


def _call_span() -> Any:
    """The span of the call being sent: our LLM span, else whatever span is current."""
    inv = current_llm.get()
    return inv.span if inv is not None else trace.get_current_span()


def _mark(mode: str | None) -> tuple[int, int] | tuple[None, None]:
    """Mark the current LLM span as replayed (mode given); return (trace_id, span_id) of the call.
    The ids stay ints here: the export thread formats them."""
    span = _call_span()
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None, None
    engine = RUNTIME.engine
    if mode is not None and engine is not None and span.is_recording():
        span.set_attribute(semconv.AGENTTRACE_REPLAY_MODE, mode)
        if engine.replay_of:
            span.set_attribute(semconv.AGENTTRACE_REPLAY_OF, engine.replay_of)
    return ctx.trace_id, ctx.span_id


def _closed(entry: Entry) -> None:
    """The SDK closed the response: what it read is the recording (complete unless the connection broke)."""
    entry.data["complete"] = not entry.data.get("broken")
    entry.done = True


def _classes(module: Any) -> tuple[type, type, type, type]:
    """(sync tee, async tee, sync replayed, async replayed) byte streams for one httpx module."""
    name = module.__name__
    found = _stream_classes.get(name)
    if found is not None:
        return found

    # Only the first pass over the body is recorded: the OpenAI SDK iterates the byte stream again after `[DONE]`
    # to drain the connection, and an in-memory body (httpx's ByteStream) then yields all of it a second time.
    class Tee(module.SyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, inner: Any, entry: Entry) -> None:
            self._inner, self._entry = inner, entry
            self._read = False

        def __iter__(self) -> Iterator[bytes]:
            if self._read:
                yield from self._inner
                return
            self._read = True
            chunks = self._entry.data["chunks"]
            try:
                for chunk in self._inner:
                    chunks.append(chunk)
                    yield chunk
            except Exception:
                self._entry.data["broken"] = True
                raise

        def close(self) -> None:
            _closed(self._entry)
            self._inner.close()

    class AsyncTee(module.AsyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, inner: Any, entry: Entry) -> None:
            self._inner, self._entry = inner, entry
            self._read = False

        async def __aiter__(self) -> AsyncIterator[bytes]:
            if self._read:
                async for chunk in self._inner:
                    yield chunk
                return
            self._read = True
            chunks = self._entry.data["chunks"]
            try:
                async for chunk in self._inner:
                    chunks.append(chunk)
                    yield chunk
            except Exception:
                self._entry.data["broken"] = True
                raise

        async def aclose(self) -> None:
            _closed(self._entry)
            await self._inner.aclose()

    class Replayed(module.SyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, chunks: list[bytes]) -> None:
            self._chunks = chunks

        def __iter__(self) -> Iterator[bytes]:
            yield from self._chunks

    class AsyncReplayed(module.AsyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, chunks: list[bytes]) -> None:
            self._chunks = chunks

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in self._chunks:
                yield chunk

    found = _stream_classes[name] = (Tee, AsyncTee, Replayed, AsyncReplayed)
    return found


def _sse_chunks(text: str) -> list[bytes]:
    """A recorded stream body, cut after each server-sent event as a server would send it."""
    parts = text.split("\n\n")
    chunks = [p + "\n\n" for p in parts[:-1]]
    if parts[-1]:
        chunks.append(parts[-1])
    return [c.encode("utf-8") for c in chunks]


def _body_bytes(part: dict[str, Any]) -> bytes:
    if "body" in part:
        import json

        return json.dumps(part["body"], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return str(part.get("body_text", "")).encode("utf-8")


class _Call:
    """One LLM request through `send`: recorded, replayed, or both."""

    __slots__ = ("anchor", "entry", "is_async", "module", "policy", "request", "served")

    def __init__(self, module: Any, request: Any, is_async: bool) -> None:
        self.module, self.request, self.is_async = module, request, is_async
        self.policy = RUNTIME.recording_policy()
        self.entry: Entry | None = None
        self.served: dict[str, Any] | None = None
        self.anchor = anchor_of(_call_span())
        engine = RUNTIME.engine
        body = getattr(request, "_content", None)
        if engine is not None:
            trace_id, span_id = _mark(engine.mode)
            engine.note_trace(format(trace_id, "032x") if trace_id is not None else None)
            if engine.mode == "model":
                text = body.decode("utf-8", errors="replace") if body else None
                self.served = engine.match_exchange(request.method, request.url.path, current_node.get(), text)
        else:
            trace_id, span_id = _mark(None)
        if self.policy is not None and trace_id is not None:
            self.entry = Entry(
                "exchange",
                trace_id,
                {
                    "span_id": span_id,
                    "node": current_node.get(),
                    "method": request.method,
                    "url": request.url,  # its path is read on the export thread
                    "request_body": body,
                    "complete": False,
                },
                self.policy,
                done=False,
            )

    def replayed_response(self, stream: bool) -> Any:
        assert self.served is not None
        recorded = self.served.get("response") or {}
        headers = dict(recorded.get("headers") or {})
        headers.pop("content-encoding", None)
        body = _body_bytes(recorded)
        _, _, replayed, async_replayed = _classes(self.module)
        if recorded.get("stream"):
            from otel_agenttrace.replay._sse import split_chunks

            text = body.decode("utf-8")
            # the chunks as the SDK read them; a recording without them: one chunk per event
            chunks = split_chunks(text, recorded.get("chunks")) or _sse_chunks(text)
            byte_stream = async_replayed(chunks) if self.is_async else replayed(chunks)
            response = self.module.Response(
                int(recorded.get("status") or 200), headers=headers, stream=byte_stream, request=self.request
            )
        else:
            response = self.module.Response(
                int(recorded.get("status") or 200), headers=headers, content=body, request=self.request
            )
        with contextlib.suppress(Exception):  # only `elapsed` would be missing
            response._elapsed = datetime.timedelta(0)
        return response

    def recorded(self, response: Any, stream: bool) -> Any:
        """Record what the program receives; a stream's bytes as they are read."""
        entry = self.entry
        if entry is None:
            return response
        data = entry.data
        data["status"] = response.status_code
        data["headers"] = response.headers.raw  # filtered on the export thread (kept_headers)
        if stream and not hasattr(response, "_content"):
            data["chunks"] = []
            tee, async_tee, _, _ = _classes(self.module)
            response.stream = async_tee(response.stream, entry) if self.is_async else tee(response.stream, entry)
        else:
            # Read already (send without stream=True, or a transport that answered with the whole body):
            # the decoded body; its encoding no longer applies.
            data["decoded"] = True
            data["body"] = getattr(response, "_content", None)
            data["complete"] = True
            entry.done = True
        CHANNEL.put(entry, self.anchor)
        return response


def _request_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return args[0] if args else kwargs.get("request")


def _begin(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], is_async: bool) -> _Call | None:
    """The call to record or replay, or None: pass it through. ReplayDivergence goes to the program."""
    if not RUNTIME.active:
        return None
    try:
        request = _request_of(args, kwargs)
        if request is None or not _is_llm(request):
            return None
        return _Call(module, request, is_async)
    except Exception as exc:
        internal_error("replay send", exc)
        return None


def _end(call: _Call, response: Any, stream: bool) -> Any:
    try:
        return call.recorded(response, stream)
    except Exception as exc:
        internal_error("replay record", exc)
        return response


# The sync and async shells differ only by `await`: the steps are _begin, the call or the replayed
# response, and _end.


def _sync_send(module: Any) -> Any:
    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        call = _begin(module, args, kwargs, False)
        if call is None:
            return wrapped(*args, **kwargs)
        stream = bool(kwargs.get("stream", False))
        if call.served is None:
            return _end(call, wrapped(*args, **kwargs), stream)
        response = call.replayed_response(stream)
        if not stream:
            response.read()
        return _end(call, response, stream)

    return wrapper


def _async_send(module: Any) -> Any:
    async def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        call = _begin(module, args, kwargs, True)
        if call is None:
            return await wrapped(*args, **kwargs)
        stream = bool(kwargs.get("stream", False))
        if call.served is None:
            return _end(call, await wrapped(*args, **kwargs), stream)
        response = call.replayed_response(stream)
        if not stream:
            await response.aread()
        return _end(call, response, stream)

    return wrapper


def install() -> None:
    """Wrap `send` of every httpx module that is installed (idempotent)."""
    if _installed:
        return
    for name in MODULES:
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except ImportError:
                continue
        module = sys.modules[name]
        for owner, wrapper in ((module.Client, _sync_send(module)), (module.AsyncClient, _async_send(module))):
            wrapt.wrap_function_wrapper(owner, "send", wrapper)
            _installed.append((owner, "send"))


def uninstall() -> None:
    from opentelemetry.instrumentation.utils import unwrap

    while _installed:
        owner, method = _installed.pop()
        unwrap(owner, method)
