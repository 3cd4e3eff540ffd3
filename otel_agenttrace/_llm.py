"""The wrapper every LLM endpoint shares; a provider only describes its request and response.

The sync and async shells differ only by `await`: starting, nesting, ending and error handling
are the shared steps below, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otel_agenttrace import semconv
from otel_agenttrace._beside import Later, Piece, snapshot_values
from otel_agenttrace._capture import BESIDE
from otel_agenttrace._lifecycle import LLMInvocation, Telemetry, current_llm, guarded, internal_error
from otel_agenttrace._raw import is_raw_response, wrap_raw
from otel_agenttrace._stream import Accumulator, Sink, StreamState
from otel_agenttrace._stream import proxy as stream_proxy
from otel_agenttrace._tap import tap

Attrs = dict[str, Any]
Content = dict[str, Any] | None


@dataclass(frozen=True)
class Endpoint:
    """How one provider method maps to a GenAI span."""

    operation: str
    # (instance, kwargs) -> span attributes known at start (model, params, server)
    request: Callable[[Any, dict[str, Any]], Attrs]
    # kwargs -> input content (messages, system instructions, tool definitions); only called when capturing
    request_content: Callable[[dict[str, Any]], Content]
    # (result, capture) -> (response attributes, output content)
    response: Callable[[Any, bool], tuple[Attrs, Content]]
    # With content beside the span: (result -> what of it the output content is built from, kept until the
    # content is rendered off the caller's thread; that -> the output content, as `response(result, True)[1]`).
    # The less of the response is kept, the fewer objects the cyclic collector walks meanwhile. None: the whole
    # result is kept, and `response` builds the output from it.
    output_from: tuple[Callable[[Any], Any], Callable[[Any], Content]] | None = None
    # the arguments `request_content` reads: beside the span only these are snapshot (None: every argument)
    content_args: tuple[str, ...] | None = None
    # (capture[, attributes]) -> a fresh accumulator for a streamed result (`_stream.Accumulator`); None: the
    # endpoint never streams
    accumulator: Callable[..., Accumulator] | None = None
    # result -> whether it is a stream to proxy
    is_stream: Callable[[Any], bool] | None = None
    # (kept chunks, the request's `n`) -> a whole stream's response attributes, no content, read from its first
    # and last chunks; None: the accumulator folds every chunk
    stream_response: Callable[[list[Any], int], Attrs] | None = None
    # (instance, args, kwargs) -> the mapping `request`/`request_content` read; None: the kwargs themselves
    # (SDK methods take keyword arguments only; user methods configured as targets need binding)
    bind: Callable[[Any, tuple[Any, ...], dict[str, Any]], dict[str, Any]] | None = None
    # the SDK's `with_raw_response` / `with_streaming_response` reach this method (they return an
    # API-response wrapper whose body is read later; see _raw.py)
    raw_responses: bool = False


class Absorb:
    """The sink of a nested SDK call's stream or raw response: what it reads when it ends goes into the
    outer call's span (one merged step), which is still open while the user's method consumes it."""

    __slots__ = ("done", "outer")

    def __init__(self, outer: LLMInvocation) -> None:
        self.outer = outer
        self.done = False

    def elapsed(self) -> float:
        return self.outer.elapsed()

    def blocked(self) -> bool:
        return self.outer.blocked()

    def quiet(self) -> None:
        self.outer.quiet()

    def stop(self, attributes: Any = None, output: dict[str, Any] | None = None) -> None:
        if self.done:
            return
        self.done = True
        if not self.outer.done:  # read after the outer call returned: nothing left to fill in
            self.outer.absorb(dict(attributes or {}), output, authoritative=True)

    def fail(
        self, exc: BaseException, attributes: Any = None, output: dict[str, Any] | None = None, etype: str | None = None
    ) -> None:
        # What arrived still describes the response; the error itself reaches the outer call if it is one.
        self.stop(attributes, output)


def _begin(tel: Telemetry, endpoint: Endpoint, instance: Any, kwargs: dict[str, Any]) -> LLMInvocation:
    attrs = endpoint.request(instance, kwargs)
    capture = tel.policy.capture
    content: Piece | None = None
    if capture == BESIDE:
        # Beside the span (the default): a snapshot of the request, made into content off this thread (Entry).
        content = Later(endpoint.request_content, snapshot_values(kwargs, endpoint.content_args))
    elif capture:
        content = endpoint.request_content(kwargs)
    return LLMInvocation(tel, endpoint.operation, attrs, content, capture)


def _response(endpoint: Endpoint, result: Any, capture: bool) -> tuple[Attrs, Content]:
    try:
        return endpoint.response(result, capture)
    except Exception as exc:
        internal_error(f"{endpoint.operation} response", exc)
        return {}, None


def _deferred(tel: Telemetry, endpoint: Endpoint, sink: Sink, result: Any, is_async: bool) -> Any:
    """A result whose response is read later (a stream, an API-response wrapper): the proxy to hand
    the user instead, which reports to `sink` when it ends; None for a complete response."""
    if endpoint.accumulator is not None and endpoint.is_stream is not None and endpoint.is_stream(result):
        return _stream(tel, endpoint, endpoint.accumulator, sink, result, is_async)
    if endpoint.raw_responses and is_raw_response(result):
        response = _guarded_response(endpoint)
        return wrap_raw(sink, result, response, endpoint.accumulator, endpoint.is_stream, tel.policy.enabled, is_async)
    return None


def _stream(
    tel: Telemetry,
    endpoint: Endpoint,
    accumulator: Callable[..., Accumulator],
    sink: Sink,
    result: Any,
    is_async: bool,
) -> Any:
    """The proxy of a streamed result, which reports to `sink` when the stream ends."""
    if isinstance(sink, LLMInvocation):
        capture = sink.capture
        if capture == BESIDE or not capture:
            # No content on this thread: the stream's ends give the response attributes (its accumulator is
            # made only if a batch fills first). Beside the span, the content is folded from the kept chunks
            # off this thread (`_beside.Entry`).
            state = StreamState(
                sink,
                None,
                bool(capture),
                accumulator,
                endpoint.stream_response,
                sink.attributes.get(semconv.GEN_AI_REQUEST_CHOICE_COUNT, 1),
            )
            if capture and endpoint.raw_responses and not sink.blocked():
                # Its accumulator folds decoded events (it reads `with_raw_response` streams): the content is
                # decoded from the body's bytes off this thread (`_tap`), and the chunks die as the user lets
                # them go. A call that waited for its answer (on its socket) leaves them to the folding thread
                # instead, which runs in its waits and frees them there (no tee on every network read).
                try:
                    state.tap = tap(result, is_async)
                except Exception as exc:
                    internal_error("stream body", exc)
        else:
            state = StreamState(sink, accumulator(True))
    else:
        state = StreamState(sink, accumulator(tel.policy.enabled))
    return stream_proxy(result, state, is_async)


def _guarded_response(endpoint: Endpoint) -> Callable[[Any, bool], tuple[Attrs, Content]]:
    return lambda result, capture: _response(endpoint, result, capture)


def _finish(tel: Telemetry, endpoint: Endpoint, inv: LLMInvocation, result: Any, is_async: bool) -> Any:
    """The call returned: end the span, or hand it to a proxy that ends it later."""
    try:
        inv.detach()
        # _deferred()'s tests first: most results are complete responses, and those need no further call
        is_stream, accumulator = endpoint.is_stream, endpoint.accumulator
        if accumulator is not None and is_stream is not None and is_stream(result):
            return _stream(tel, endpoint, accumulator, inv, result, is_async)
        if endpoint.raw_responses and is_raw_response(result):
            deferred = _deferred(tel, endpoint, inv, result, is_async)
            if deferred is not None:
                return deferred
        capture = inv.capture
        if capture == BESIDE:
            # Beside the span (the default): the output is built from the response off this thread.
            output_from, output = endpoint.output_from, None
            try:  # _response(), inlined: on every call's path
                attrs = endpoint.response(result, False)[0]
            except Exception as exc:
                internal_error(f"{endpoint.operation} response", exc)
                # The output is built by `response` too, then: the same error, reported once.
                attrs, output_from = {}, None
            if output_from is not None:
                try:
                    output = Later(output_from[1], output_from[0](result))
                except Exception as exc:  # the whole result is kept instead: its attributes are read already
                    internal_error(f"{endpoint.operation} response", exc)
            inv.stop(attrs, Later(_output, endpoint, result) if output is None else output)
        else:
            inv.stop(*_response(endpoint, result, bool(capture)))
    except Exception as exc:
        internal_error(f"{endpoint.operation} end", exc)
    return result


def _output(endpoint: Endpoint, result: Any) -> Content:
    """The output content of a response, built off the caller's thread (content beside the span)."""
    return _response(endpoint, result, True)[1]  # an error is the caller's thread's error, reported once


def _failed(inv: LLMInvocation, exc: BaseException) -> None:
    inv.detach()
    guarded("llm fail", inv.fail, exc)


def _absorb(
    tel: Telemetry,
    endpoint: Endpoint,
    outer: LLMInvocation,
    instance: Any,
    kwargs: dict[str, Any],
    result: Any,
    is_async: bool,
) -> Any:
    """A nested call: its (usually richer) SDK-level view fills in the outer span. A stream or raw
    response fills it in when the outer call has read it (the proxy returned here reports then)."""
    attrs = endpoint.request(instance, kwargs)
    content = endpoint.request_content(kwargs) if tel.policy.enabled else None
    proxy = _deferred(tel, endpoint, Absorb(outer), result, is_async)
    output = None
    if proxy is None:
        response_attrs, output = endpoint.response(result, tel.policy.enabled)
        attrs.update(response_attrs)
    if content:
        output = {**content, **(output or {})}
    outer.absorb(attrs, output, authoritative=endpoint.bind is None)
    return proxy


def _bound(bind: Callable[..., dict[str, Any]], instance: Any, args: Any, kwargs: Any) -> dict[str, Any]:
    """The mapping a user target's request is read from (an SDK method's is its kwargs, with no call)."""
    try:
        return bind(instance, args, kwargs) or {}
    except Exception as exc:
        internal_error("bind", exc)
        return {}


def make_wrapper(tel: Telemetry, endpoint: Endpoint, is_async: bool) -> Callable[..., Any]:
    if is_async:

        async def async_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            bind = endpoint.bind
            view = kwargs if bind is None else _bound(bind, instance, args, kwargs)
            outer = current_llm.get()
            if outer is not None:
                result = await wrapped(*args, **kwargs)
                proxy = guarded("nested llm call", _absorb, tel, endpoint, outer, instance, view, result, True)
                return result if proxy is None else proxy
            try:  # guarded(), inlined: on every call's path
                inv = _begin(tel, endpoint, instance, view)
            except Exception as exc:
                internal_error("llm start", exc)
                inv = None
            if inv is None:  # called outside the except block: the user's errors get no __context__ of ours
                return await wrapped(*args, **kwargs)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                _failed(inv, exc)
                raise
            return _finish(tel, endpoint, inv, result, True)

        return async_wrapper

    def sync_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        bind = endpoint.bind
        view = kwargs if bind is None else _bound(bind, instance, args, kwargs)
        outer = current_llm.get()
        if outer is not None:
            result = wrapped(*args, **kwargs)
            proxy = guarded("nested llm call", _absorb, tel, endpoint, outer, instance, view, result, False)
            return result if proxy is None else proxy
        try:  # guarded(), inlined: on every call's path
            inv = _begin(tel, endpoint, instance, view)
        except Exception as exc:
            internal_error("llm start", exc)
            inv = None
        if inv is None:  # called outside the except block: the user's errors get no __context__ of ours
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            _failed(inv, exc)
            raise
        return _finish(tel, endpoint, inv, result, False)

    return sync_wrapper


def start_stream(tel: Telemetry, endpoint: Endpoint, instance: Any, kwargs: dict[str, Any]) -> LLMInvocation | None:
    """For helpers (e.g. Anthropic's `messages.stream()`) that issue the request later themselves."""
    if current_llm.get() is not None:
        return None
    inv: LLMInvocation | None = guarded("llm start", _begin, tel, endpoint, instance, kwargs)
    return inv


def absorb_nested(
    tel: Telemetry, endpoint: Endpoint, instance: Any, kwargs: dict[str, Any], result: Any, is_async: bool
) -> Any:
    """For helpers: a result `start_stream` made no span for because another LLM call is current folds
    into that call (its stream reports when the outer call reads it)."""
    outer = current_llm.get()
    if outer is None:
        return result
    proxy = guarded("nested llm call", _absorb, tel, endpoint, outer, instance, kwargs, result, is_async)
    return result if proxy is None else proxy


def finish_stream(tel: Telemetry, endpoint: Endpoint, inv: LLMInvocation, result: Any, is_async: bool) -> Any:
    return _finish(tel, endpoint, inv, result, is_async)


def fail_stream(inv: LLMInvocation, exc: BaseException) -> None:
    _failed(inv, exc)
