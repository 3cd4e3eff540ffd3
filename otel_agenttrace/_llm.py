"""The wrapper every LLM endpoint shares; a provider only describes its request and response.

The sync and async shells differ only by `await`: starting, nesting, ending and error handling
are the shared steps below, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otel_agenttrace._beside import Later, Piece, snapshot_values
from otel_agenttrace._lifecycle import LLMInvocation, Telemetry, current_llm, guarded, internal_error
from otel_agenttrace._stream import Accumulator, AsyncStreamProxy, StreamProxy, StreamState

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
    # (capture) -> a fresh accumulator for a streamed result; None: the endpoint never streams
    accumulator: Callable[[bool], Accumulator] | None = None
    # result -> whether it is a stream to proxy
    is_stream: Callable[[Any], bool] | None = None
    # (instance, args, kwargs) -> the mapping `request`/`request_content` read; None: the kwargs themselves
    # (SDK methods take keyword arguments only; user methods configured as targets need binding)
    bind: Callable[[Any, tuple[Any, ...], dict[str, Any]], dict[str, Any]] | None = None


def _begin(tel: Telemetry, endpoint: Endpoint, instance: Any, kwargs: dict[str, Any]) -> LLMInvocation:
    attrs = endpoint.request(instance, kwargs)
    policy = tel.policy
    content: Piece | None = None
    if policy.enabled:
        # Beside the span (the default): a snapshot of the request, turned into content on the export thread.
        content = (
            Later(endpoint.request_content, snapshot_values(kwargs))
            if policy.beside
            else endpoint.request_content(kwargs)
        )
    return LLMInvocation(tel, endpoint.operation, attrs, content)


def _response(endpoint: Endpoint, result: Any, capture: bool) -> tuple[Attrs, Content]:
    try:
        return endpoint.response(result, capture)
    except Exception as exc:
        internal_error(f"{endpoint.operation} response", exc)
        return {}, None


def _finish(tel: Telemetry, endpoint: Endpoint, inv: LLMInvocation, result: Any, is_async: bool) -> Any:
    """The call returned: end the span, or hand it to a stream proxy that ends it later."""
    try:
        inv.detach()
        if endpoint.accumulator is not None and endpoint.is_stream is not None and endpoint.is_stream(result):
            state = StreamState(inv, endpoint.accumulator(tel.policy.enabled))
            return AsyncStreamProxy(result, state) if is_async else StreamProxy(result, state)
        policy = tel.policy
        if policy.enabled and policy.beside:
            attrs, _ = _response(endpoint, result, False)
            inv.stop(attrs, Later(_output, endpoint, result))
        else:
            inv.stop(*_response(endpoint, result, policy.enabled))
    except Exception as exc:
        internal_error(f"{endpoint.operation} end", exc)
    return result


def _output(endpoint: Endpoint, result: Any) -> Content:
    """The output content of a response, built on the export thread (content beside the span)."""
    return _response(endpoint, result, True)[1]  # an error is the caller's thread's error, reported once


def _failed(inv: LLMInvocation, exc: BaseException) -> None:
    inv.detach()
    guarded("llm fail", inv.fail, exc)


def _absorb(
    tel: Telemetry, endpoint: Endpoint, outer: LLMInvocation, instance: Any, kwargs: dict[str, Any], result: Any
) -> None:
    """A nested call: its (usually richer) SDK-level view fills in the outer span. Of a stream, only
    the request is known here (the outer call reads the stream and reports what it returns)."""
    attrs = endpoint.request(instance, kwargs)
    output = None
    if endpoint.is_stream is None or not endpoint.is_stream(result):
        response_attrs, output = endpoint.response(result, tel.policy.enabled)
        attrs.update(response_attrs)
    content = endpoint.request_content(kwargs) if tel.policy.enabled else None
    if content:
        output = {**content, **(output or {})}
    outer.absorb(attrs, output, authoritative=endpoint.bind is None)


def make_wrapper(tel: Telemetry, endpoint: Endpoint, is_async: bool) -> Callable[..., Any]:
    if is_async:

        async def async_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            view = kwargs if endpoint.bind is None else guarded("bind", endpoint.bind, instance, args, kwargs) or {}
            outer = current_llm.get()
            if outer is not None:
                result = await wrapped(*args, **kwargs)
                guarded("nested llm call", _absorb, tel, endpoint, outer, instance, view, result)
                return result
            inv = guarded("llm start", _begin, tel, endpoint, instance, view)
            if inv is None:
                return await wrapped(*args, **kwargs)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                _failed(inv, exc)
                raise
            return _finish(tel, endpoint, inv, result, True)

        return async_wrapper

    def sync_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        view = kwargs if endpoint.bind is None else guarded("bind", endpoint.bind, instance, args, kwargs) or {}
        outer = current_llm.get()
        if outer is not None:
            result = wrapped(*args, **kwargs)
            guarded("nested llm call", _absorb, tel, endpoint, outer, instance, view, result)
            return result
        inv = guarded("llm start", _begin, tel, endpoint, instance, view)
        if inv is None:
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


def finish_stream(tel: Telemetry, endpoint: Endpoint, inv: LLMInvocation, result: Any, is_async: bool) -> Any:
    return _finish(tel, endpoint, inv, result, is_async)


def fail_stream(inv: LLMInvocation, exc: BaseException) -> None:
    _failed(inv, exc)
