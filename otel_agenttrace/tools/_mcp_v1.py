"""mcp 1.x: no spans of its own, so we make the `execute_tool {tool}` spans and carry the trace context.

- `ClientSession.call_tool` (public): a CLIENT span around the call; the W3C trace context goes in the
  request's `_meta` through the method's own `meta` parameter (mcp >= 1.19 has it).
- `Server._handle_request` (every request a low-level or FastMCP server handles goes through it): for a
  tools/call, a SERVER span whose parent is the context extracted from `params._meta`.
- `RequestResponder.respond` (public), called inside `_handle_request` with the handler's answer:
  the result, and an error status when it has isError, before the server span ends.

Both spans carry the JSON-RPC request id as gen_ai.tool.call.id, so the two sides of a call match.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from functools import cache
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.trace import SpanKind

from otel_agenttrace import semconv
from otel_agenttrace._lifecycle import Invocation, Telemetry, guarded, internal_error, start_tool
from otel_agenttrace.replay import _tools as replay_tools
from otel_agenttrace.tools._mcp_common import (
    TOOLS_CALL,
    call_args,
    error_data,
    finish_tool,
    meta_dict,
    rebuild_error,
    rebuild_result,
    recorded_result,
    session_id_from_request,
    tool_call_id,
)


def _extra(request_id: str | None, session_id: str | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {semconv.MCP_METHOD_NAME: TOOLS_CALL}
    if request_id is not None:
        extra[semconv.JSONRPC_REQUEST_ID] = request_id
    if session_id:
        extra[semconv.MCP_SESSION_ID] = session_id
    return extra


# --- client -----------------------------------------------------------------------------------


_log = logging.getLogger("otel_agenttrace")
_warned_no_meta = False


@cache
def _takes_meta(fn: Callable[..., Any]) -> bool:
    try:
        return "meta" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _start_client(tel: Telemetry, instance: Any, name: str, arguments: Any) -> Invocation:
    # send_request takes the session's next id before it first awaits, so this is the id on the wire.
    request_id = tool_call_id(getattr(instance, "_request_id", None))
    return start_tool(tel, name, arguments, request_id, _extra(request_id), kind=SpanKind.CLIENT)


def _with_trace_context(wrapped: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """kwargs with the current (our client span's) trace context added to the request's `_meta`."""
    if not _takes_meta(getattr(wrapped, "__func__", wrapped)):
        global _warned_no_meta
        if not _warned_no_meta:
            _warned_no_meta = True
            _log.warning(
                "otel-agenttrace: this mcp version's ClientSession.call_tool has no `meta` parameter (mcp < 1.19); "
                "MCP servers get no trace context and their tool spans start traces of their own"
            )
        return kwargs
    meta = dict(kwargs.get("meta") or {})
    propagate.inject(meta)
    return {**kwargs, "meta": meta}


def client_call_tool(tel: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        name, arguments = call_args(args, kwargs)
        inv = guarded("mcp call_tool", _start_client, tel, instance, name, arguments) if isinstance(name, str) else None
        if inv is None:
            return await wrapped(*args, **kwargs)
        # Recorded for replay, or answered from the recording: then the server is not contacted at all.
        call = replay_tools.begin(name, arguments, inv.span) if replay_tools.RUNTIME.active else None
        try:
            if call is not None and call.served is not None:
                result = call.answer(rebuild_result, rebuild_error)
            else:
                call_kwargs = guarded("mcp trace context", _with_trace_context, wrapped, kwargs) or kwargs
                result = await wrapped(*args, **call_kwargs)
        except BaseException as exc:
            inv.detach()
            if call is not None and isinstance(exc, Exception):
                guarded("mcp call_tool record", call.done, None, exc, None, error_data(exc))
            guarded("mcp call_tool fail", inv.fail, exc)
            raise
        inv.detach()
        if call is not None:
            guarded("mcp call_tool record", _record, call, result)
        guarded("mcp call_tool end", finish_tool, inv, result)
        return result

    return wrapper


def _record(call: replay_tools.ToolCall, result: Any) -> None:
    data, result_type = recorded_result(result)
    call.done(data, result_type=result_type)


# --- server -----------------------------------------------------------------------------------


@dataclass
class _ServerCall:
    inv: Invocation
    responder: Any
    answered: bool = False


_server_call: ContextVar[_ServerCall | None] = ContextVar("agenttrace_mcp_server_call", default=None)


def _start_server(tel: Telemetry, message: Any, req: Any) -> tuple[_ServerCall, Token[otel_context.Context]]:
    params: Any = req.params
    parent = propagate.extract(meta_dict(getattr(params, "meta", None)))
    # Attached first so that the span starts under the caller's span (the run root only when there is none).
    token = otel_context.attach(parent)
    try:
        request_id = tool_call_id(getattr(message, "request_id", None))
        metadata = getattr(message, "message_metadata", None)
        session_id = session_id_from_request(getattr(metadata, "request_context", None))
        inv = start_tool(
            tel,
            params.name,
            getattr(params, "arguments", None),
            request_id,
            _extra(request_id, session_id),
            kind=SpanKind.SERVER,
        )
    except BaseException:
        otel_context.detach(token)
        raise
    return _ServerCall(inv, message), token


def _is_tool_call(req: Any) -> bool:
    import mcp.types

    return isinstance(req, mcp.types.CallToolRequest)


def server_request(tel: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        message = args[0] if args else kwargs.get("message")
        req = args[1] if len(args) > 1 else kwargs.get("req")
        started = guarded("mcp server span", _start_server, tel, message, req) if _is_tool_call(req) else None
        if started is None:
            return await wrapped(*args, **kwargs)
        call, parent_token = started
        call_token = _server_call.set(call)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.inv.detach()
            guarded("mcp server fail", call.inv.fail, exc)
            raise
        finally:
            _server_call.reset(call_token)
            call.inv.detach()
            otel_context.detach(parent_token)
        # Not answered: cancelled, or the transport closed before the answer went out.
        call.inv.stop()
        return result

    return wrapper


def server_respond(tel: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        call = _server_call.get()
        if call is not None and call.responder is instance and not call.answered:
            call.answered = True
            response = args[0] if args else kwargs.get("response")
            try:
                finish_tool(call.inv, response)
            except Exception as exc:
                internal_error("mcp server result", exc)
        return await wrapped(*args, **kwargs)

    return wrapper
