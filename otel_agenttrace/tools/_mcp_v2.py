"""mcp 2.x: the SDK makes its own spans and carries W3C trace context in `_meta`; we complete them.

The client span (`MCP send tools/call {tool}`, CLIENT) lives only inside
`JSONRPCDispatcher.send_raw_request`, and it has ended before `ClientSession.call_tool` returns.
So three hooks work together, tied by a context variable and the request id:

- `ClientSession.call_tool` (public) notes the tool name and arguments for this task;
- `jsonrpc_dispatcher.otel_span`, the function that starts the SDK's span: when that span is the
  tools/call of the noted call, it gets the tool attributes and the arguments;
- `JSONRPCDispatcher._resolve_pending`, which hands the response to the waiting caller while the
  span is still open: the result, and an error status when the result has isError.

The server span (`tools/call {tool}`, SERVER) is opened by `OpenTelemetryMiddleware` around the rest
of the middleware chain; we hand it a `call_next` that runs inside that span and sees the result.
In-process connections that skip JSON-RPC (`Client(server)` in its default mode) have no client
span: there the server span is the one tool-call step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode

from otel_agenttrace import semconv
from otel_agenttrace._lifecycle import Invocation, Telemetry, guarded, tool_attributes
from otel_agenttrace.replay import _tools as replay_tools
from otel_agenttrace.tools._mcp_common import (
    RESULT_TYPE,
    TOOL_ERROR,
    TOOLS_CALL,
    apply_content,
    call_args,
    error_data,
    finish_tool,
    rebuild_error,
    rebuild_result,
    recorded_result,
    result_json,
    session_id_from_request,
    tool_call_id,
    wire,
)


class _ClientCall:
    """One `ClientSession.call_tool` in flight, from the call to the SDK span it completes."""

    __slots__ = ("arguments", "dispatcher", "key", "name", "record", "span", "tel")

    def __init__(
        self, tel: Telemetry, dispatcher: Any, name: str, arguments: Any, record: replay_tools.ToolCall | None
    ) -> None:
        self.tel = tel
        self.dispatcher = dispatcher
        self.name = name
        self.arguments = arguments
        self.record = record  # the recording of this call, tied to its step's span once there is one
        self.span: Span | None = None
        self.key: tuple[int, str] | None = None

    def started(self, span: Span, request_id: str | None) -> None:
        self.span = span
        if self.record is not None:
            self.record.bind(span)
        if not span.is_recording():
            return
        span.set_attributes(tool_attributes(self.name, request_id))
        apply_content(self.tel, span, {semconv.GEN_AI_TOOL_CALL_ARGUMENTS: self.arguments}, event=False)
        if request_id is not None and self.dispatcher is not None:
            self.key = (id(self.dispatcher), request_id)
            _in_flight[self.key] = self

    def answered(self, outcome: Any) -> None:
        span = self.span
        if span is None:
            return
        content: dict[str, Any] = {semconv.GEN_AI_TOOL_CALL_ARGUMENTS: self.arguments}
        if isinstance(outcome, Mapping):  # a result; an ErrorData the SDK marks on the span itself
            content[semconv.GEN_AI_TOOL_CALL_RESULT] = result_json(outcome)
            if outcome.get("isError") is True:
                span.set_attribute(semconv.ERROR_TYPE, TOOL_ERROR)
                span.set_status(StatusCode.ERROR)
        if self.record is not None:  # while the span is open: the recording lives as long as the span
            guarded("mcp call_tool record", _record_outcome, self.record, outcome)
        apply_content(self.tel, span, content)

    def forget(self) -> None:
        if self.key is not None:
            _in_flight.pop(self.key, None)


_current: ContextVar[_ClientCall | None] = ContextVar("agenttrace_mcp_client_call", default=None)
# (id(dispatcher), request id) -> the call whose response is awaited; removed when it is answered or gone.
_in_flight: dict[tuple[int, str], _ClientCall] = {}


def _record_outcome(record: replay_tools.ToolCall, outcome: Any) -> None:
    """The server's answer as it came off the wire: a CallToolResult's wire form, or an ErrorData (the
    SDK raises it as MCPError, so that is what is recorded and rebuilt)."""
    if isinstance(outcome, Mapping):
        record.done(dict(outcome), result_type=RESULT_TYPE)
        return
    from mcp.shared.exceptions import MCPError

    data = wire(outcome)
    if isinstance(data, Mapping) and "code" in data:
        record.done(exc=MCPError(data["code"], str(data.get("message", "")), data.get("data")), error_data=data)


def _replayed(tel: Telemetry, record: replay_tools.ToolCall, name: str, arguments: Any) -> Any:
    """A tools/call answered from the recording, the server never contacted: our span stands for the step
    (named as the original's), with the result and status the SDK's span had."""
    recorded = record.served
    assert recorded is not None and record.engine is not None
    span_name = record.engine.step_name(recorded, f"MCP send {TOOLS_CALL} {name}")
    attributes = {**tool_attributes(name), semconv.MCP_METHOD_NAME: TOOLS_CALL}
    content = {semconv.GEN_AI_TOOL_CALL_ARGUMENTS: arguments} if arguments is not None else None
    inv = Invocation(tel, span_name, SpanKind.CLIENT, attributes, content)
    record.bind(inv.span)
    try:
        result = record.answer(rebuild_result, rebuild_error)
    except BaseException as exc:
        inv.detach()
        data = error_data(exc) if isinstance(exc, Exception) else None
        if isinstance(exc, Exception):
            guarded("mcp call_tool record", record.done, None, exc, None, data)
        # error.type as the SDK's span has it: the JSON-RPC error code
        code = data.get("code") if isinstance(data, Mapping) else None
        guarded("mcp call_tool fail", inv.fail, exc, None, None, str(code) if code is not None else None)
        raise
    inv.detach()
    guarded("mcp call_tool record", _record_result, record, result)
    guarded("mcp call_tool end", finish_tool, inv, result)
    return result


def _record_result(record: replay_tools.ToolCall, result: Any) -> None:
    data, result_type = recorded_result(result)
    record.done(data, result_type=result_type)


def client_call_tool(tel: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        name, arguments = call_args(args, kwargs)
        record = None
        if isinstance(name, str) and replay_tools.RUNTIME.active:
            record = replay_tools.begin(name, arguments)
            if record is not None and record.served is not None:
                return _replayed(tel, record, name, arguments)
        call = None
        if isinstance(name, str):
            call = guarded(
                "mcp call_tool", _ClientCall, tel, getattr(instance, "_dispatcher", None), name, arguments, record
            )
        if call is None:
            return await wrapped(*args, **kwargs)
        token = _current.set(call)
        try:
            return await wrapped(*args, **kwargs)
        finally:
            _current.reset(token)
            call.forget()

    return wrapper


class _Completing:
    """The SDK's span context manager, unchanged, except that entering it completes the noted call."""

    __slots__ = ("_call", "_cm", "_request_id")

    def __init__(self, cm: Any, call: _ClientCall, request_id: str | None) -> None:
        self._cm = cm
        self._call = call
        self._request_id = request_id

    def __enter__(self) -> Any:
        span = self._cm.__enter__()
        if isinstance(span, Span) and self._call.span is None:
            guarded("mcp client span", self._call.started, span, self._request_id)
        return span

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return self._cm.__exit__(exc_type, exc, tb)  # type: ignore[no-any-return]


def client_span(tel: Telemetry) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        cm = wrapped(*args, **kwargs)
        call = _current.get()
        if call is None or call.span is not None:
            return cm
        attributes = kwargs.get("attributes")
        if not isinstance(attributes, Mapping) or attributes.get(semconv.MCP_METHOD_NAME) != TOOLS_CALL:
            return cm
        return _Completing(cm, call, tool_call_id(attributes.get(semconv.JSONRPC_REQUEST_ID)))

    return wrapper


def _answered(instance: Any, request_id: Any, outcome: Any) -> None:
    key = tool_call_id(request_id)
    call = _in_flight.pop((id(instance), key), None) if key is not None else None
    if call is not None:
        call.answered(outcome)


def client_result(tel: Telemetry) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if _in_flight:
            request_id = args[0] if args else kwargs.get("request_id")
            outcome = args[1] if len(args) > 1 else kwargs.get("outcome")
            guarded("mcp client result", _answered, instance, request_id, outcome)
        return wrapped(*args, **kwargs)

    return wrapper


# --- server -----------------------------------------------------------------------------------


def _server_session_id(ctx: Any) -> str | None:
    connection = getattr(getattr(ctx, "session", None), "_connection", None)
    value = getattr(connection, "session_id", None)
    if isinstance(value, str) and value:
        return value
    return session_id_from_request(getattr(ctx, "request", None))


def _server_started(span: Span, ctx: Any) -> None:
    name = (ctx.params or {}).get("name")
    attrs = tool_attributes(name, tool_call_id(ctx.request_id)) if isinstance(name, str) else {}
    session_id = _server_session_id(ctx)
    if session_id:
        attrs[semconv.MCP_SESSION_ID] = session_id
    span.set_attributes(attrs)


def _server_content(tel: Telemetry, span: Span, ctx: Any, result: Any = None) -> None:
    content = {semconv.GEN_AI_TOOL_CALL_ARGUMENTS: (ctx.params or {}).get("arguments")}
    if result is not None:
        content[semconv.GEN_AI_TOOL_CALL_RESULT] = result_json(result)
    apply_content(tel, span, content)


def server_span(tel: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        ctx = args[0] if args else kwargs.get("ctx")
        call_next = args[1] if len(args) > 1 else kwargs.get("call_next")
        if getattr(ctx, "method", None) != TOOLS_CALL or not callable(call_next):
            return await wrapped(*args, **kwargs)

        async def traced_next(inner: Any) -> Any:
            # Runs inside the SDK's server span: it is the current span here.
            span = trace.get_current_span()
            if not span.is_recording():
                return await call_next(inner)
            guarded("mcp server span", _server_started, span, inner)
            # In-process without JSON-RPC (`Client(server)`), the server span is the call's only step.
            call = _current.get()
            record = call.record if call is not None and call.span is None else None
            if record is not None:
                guarded("mcp server record", record.bind, span)
            try:
                result = await call_next(inner)
            except BaseException as exc:
                guarded("mcp server content", _server_content, tel, span, inner)
                if record is not None and record.span is span and isinstance(exc, Exception):
                    guarded("mcp server record", record.done, None, exc, None, error_data(exc))
                raise
            guarded("mcp server content", _server_content, tel, span, inner, result)
            if record is not None and record.span is span:
                guarded("mcp server record", _record_result, record, result)
            return result

        return await wrapped(ctx, traced_next)

    return wrapper
