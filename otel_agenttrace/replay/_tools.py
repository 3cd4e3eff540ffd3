"""Recording and replay of tool calls: our `tool()` API and configured tool targets call through here.

Recording keeps the result (or the exception's class path and message) by reference; the export
thread decides whether it is JSON-representable (`_format`). Replay answers a matched call with its
recorded result, or raises the recorded exception, without running the tool: no side effects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from otel_agenttrace import semconv
from otel_agenttrace._beside import Later
from otel_agenttrace._lifecycle import Invocation, current_node, internal_error
from otel_agenttrace.replay._channel import CHANNEL, Entry, anchor_of
from otel_agenttrace.replay._runtime import RUNTIME

_MISSING = object()


class _ToolCall:
    __slots__ = ("anchor", "data", "policy", "served", "trace_id")

    def __init__(self, inv: Invocation) -> None:
        name = str(inv.attributes.get(semconv.GEN_AI_TOOL_NAME, ""))
        content = inv.content
        if isinstance(content, Later):  # content built on demand (beside the span)
            content = content()
        arguments = (content or {}).get(semconv.GEN_AI_TOOL_CALL_ARGUMENTS)
        self.anchor = anchor_of(inv.span)
        ctx = inv.span.get_span_context()
        self.trace_id = format(ctx.trace_id, "032x")
        node = current_node.get()
        self.policy = RUNTIME.recording_policy()
        self.data: dict[str, Any] = {
            "span_id": format(ctx.span_id, "016x"),
            "node": node,
            "name": name,
            "arguments": arguments,
        }
        self.served: dict[str, Any] | None = None
        engine = RUNTIME.engine
        if engine is not None:
            engine.note_trace(self.trace_id)
            self.served = engine.match_tool(name, arguments, node)
            if inv.span.is_recording():
                inv.span.set_attribute(semconv.AGENTTRACE_REPLAY_MODE, "replay" if self.served is not None else "live")
                if engine.replay_of:
                    inv.span.set_attribute(semconv.AGENTTRACE_REPLAY_OF, engine.replay_of)

    def answer(self) -> Any:
        """The recorded outcome: its result, or its exception raised."""
        from otel_agenttrace.replay._engine import rebuild_exception

        assert self.served is not None
        if "error" in self.served:
            raise rebuild_exception(self.served["error"])
        return self.served.get("result")

    def done(self, result: Any = _MISSING, exc: BaseException | None = None) -> None:
        if self.policy is None:
            return
        if exc is not None:
            cls = type(exc)
            self.data["error"] = {"type": f"{cls.__module__}.{cls.__qualname__}", "message": str(exc)}
        else:
            self.data["result"] = result
        CHANNEL.put(Entry("tool", self.trace_id, self.data, self.policy), self.anchor)


def _begin(inv: Invocation | None) -> _ToolCall | None:
    if inv is None or not RUNTIME.active:
        return None
    if inv.attributes.get(semconv.GEN_AI_OPERATION_NAME) != semconv.Operation.EXECUTE_TOOL:
        return None
    if RUNTIME.engine is None and not inv.span.is_recording():
        return None  # sampled out: no run to record it for, and nothing may be left behind
    try:
        return _ToolCall(inv)
    except Exception as exc:
        internal_error("replay tool", exc)
        return None


def call_tool(inv: Invocation | None, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` as the tool span `inv` sees it: recorded, or answered from the recording."""
    call = _begin(inv)
    if call is None:
        return fn(*args, **kwargs)
    try:
        result = call.answer() if call.served is not None else fn(*args, **kwargs)
    except Exception as exc:
        call.done(exc=exc)
        raise
    call.done(result)
    return result


async def acall_tool(inv: Invocation | None, fn: Callable[..., Awaitable[Any]], args: Any, kwargs: Any) -> Any:
    call = _begin(inv)
    if call is None:
        return await fn(*args, **kwargs)
    try:
        result = call.answer() if call.served is not None else await fn(*args, **kwargs)
    except Exception as exc:
        call.done(exc=exc)
        raise
    call.done(result)
    return result
