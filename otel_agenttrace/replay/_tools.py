"""Recording and replay of tool calls: our `tool()` API (decorated functions and `with tool():` blocks),
configured tool targets and the MCP client call through here.

Recording keeps the result (or the exception's class path and message) by reference; the export
thread decides whether it is JSON-representable (`_format`). Replay answers a matched call with its
recorded result, or raises the recorded exception, without running the tool: no side effects.
A caller whose results are not plain JSON (an MCP `CallToolResult`) records their JSON form with a
`result_type` and rebuilds the real object from it on replay.
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


class ToolCall:
    """One tool call from its start to its outcome: matched against the recording when a replay runs,
    recorded when content is captured. `bind(span)` ties it to its step (the span may start later than
    the match is decided: mcp 2.x makes its client span inside the call)."""

    __slots__ = ("anchor", "data", "engine", "policy", "runs", "served", "span", "trace_id")

    def __init__(self, name: str, arguments: Any, span: Any = None, runs: bool = False) -> None:
        node = current_node.get()
        self.policy = RUNTIME.recording_policy()
        self.data: dict[str, Any] = {"span_id": None, "node": node, "name": name, "arguments": arguments}
        self.served: dict[str, Any] | None = None
        self.span: Any = None
        self.anchor: Any = None
        self.trace_id: str | None = None
        self.runs = runs  # the tool runs even when a recording matches it (a `with tool():` block)
        self.engine = RUNTIME.engine
        if self.engine is not None:
            self.served = self.engine.match_tool(name, arguments, node, runs)
        if span is not None:
            self.bind(span)

    def bind(self, span: Any) -> None:
        """The span of this call's step: the recording is tied to it, and it is marked as replayed."""
        if self.span is not None:
            return
        self.span = span
        self.anchor = anchor_of(span)
        ctx = span.get_span_context()
        self.trace_id = format(ctx.trace_id, "032x")
        self.data["span_id"] = format(ctx.span_id, "016x")
        engine = self.engine
        if engine is not None:
            engine.note_trace(self.trace_id)
            if span.is_recording():
                replayed = self.served is not None and not self.runs
                span.set_attribute(semconv.AGENTTRACE_REPLAY_MODE, "replay" if replayed else "live")
                if engine.replay_of:
                    span.set_attribute(semconv.AGENTTRACE_REPLAY_OF, engine.replay_of)

    @property
    def recorded(self) -> dict[str, Any] | None:
        """The recorded call this one was matched with (None: none, or tools live)."""
        return self.served

    def answer(
        self,
        rebuild: Callable[[dict[str, Any]], Any] | None = None,
        rebuild_error: Callable[[dict[str, Any]], BaseException | None] | None = None,
    ) -> Any:
        """The recorded outcome: its result (through `rebuild` when it has a result_type), or its exception
        raised (through `rebuild_error` when it has data, else from its class path and message)."""
        from otel_agenttrace.replay._engine import rebuild_exception

        assert self.served is not None
        error = self.served.get("error")
        if error is not None:
            rebuilt = rebuild_error(error) if rebuild_error is not None and "data" in error else None
            raise rebuilt if rebuilt is not None else rebuild_exception(error)
        result = self.served.get("result")
        if rebuild is not None and self.served.get("result_type"):
            return rebuild(self.served)
        return result

    def done(
        self,
        result: Any = _MISSING,
        exc: BaseException | None = None,
        result_type: str | None = None,
        error_data: Any = None,
    ) -> None:
        """Record the outcome: `result` as JSON (`result_type` says what to rebuild from it), or `exc`
        (class path, message, and `error_data`: what rebuilds it beyond its message)."""
        if self.policy is None or self.trace_id is None:
            return  # not recording, or no span to tie the recording to
        if exc is not None:
            cls = type(exc)
            error: dict[str, Any] = {"type": f"{cls.__module__}.{cls.__qualname__}", "message": str(exc)}
            if error_data is not None:
                error["data"] = error_data
            self.data["error"] = error
        else:
            self.data["result"] = result
            if result_type is not None:
                self.data["result_type"] = result_type
        CHANNEL.put(Entry("tool", self.trace_id, self.data, self.policy), self.anchor)


def begin(name: str, arguments: Any, span: Any = None) -> ToolCall | None:
    """A ToolCall when a replay runs or a recording is kept, else None (one attribute check)."""
    if not RUNTIME.active:
        return None
    try:
        return ToolCall(name, arguments, span)
    except Exception as exc:
        internal_error("replay tool", exc)
        return None


def _begin(inv: Invocation | None, runs: bool = False) -> ToolCall | None:
    if inv is None or not RUNTIME.active:
        return None
    if inv.attributes.get(semconv.GEN_AI_OPERATION_NAME) != semconv.Operation.EXECUTE_TOOL:
        return None
    if RUNTIME.engine is None and not inv.span.is_recording():
        return None  # sampled out: no run to record it for, and nothing may be left behind
    try:
        name = str(inv.attributes.get(semconv.GEN_AI_TOOL_NAME, ""))
        content = inv.content
        if isinstance(content, Later):  # content built on demand (beside the span)
            content = content()
        arguments = (content or {}).get(semconv.GEN_AI_TOOL_CALL_ARGUMENTS)
        return ToolCall(name, arguments, inv.span, runs)
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


class ToolBlock:
    """What `with tool(name) as t:` gives. The block's body is user code that always runs, in a replay too:
    `t.set_result(value)` makes `value` the step's result; it is recorded, and in a replay compared with
    the recorded one (a difference, or another exception, is a `tool` divergence). `t.replaying` and
    `t.recorded` let a block that must not repeat a side effect use the recorded result instead."""

    __slots__ = ("_call", "_has_result", "invocation", "result")

    def __init__(self, inv: Invocation | None) -> None:
        self.invocation = inv
        self.result: Any = None
        self._has_result = False
        self._call = _begin(inv, runs=True) if inv is not None and RUNTIME.active else None

    @property
    def span(self) -> Any:
        from opentelemetry import trace

        return self.invocation.span if self.invocation is not None else trace.INVALID_SPAN

    def set_result(self, value: Any) -> None:
        self.result = value
        self._has_result = True

    @property
    def replaying(self) -> bool:
        """A replay matched this block with a recorded call (and `recorded` is its result)."""
        return self._call is not None and self._call.served is not None

    @property
    def recorded(self) -> Any:
        """The recorded result of this block in a replay (None when there is none)."""
        served = self._call.served if self._call is not None else None
        return served.get("result") if served is not None else None

    def finish(self, exc: BaseException | None) -> None:
        """The block ended: its outcome recorded, and compared with the recording in a replay."""
        call = self._call
        if call is None:
            return
        error = exc if isinstance(exc, Exception) else None
        try:
            if call.served is not None and call.engine is not None and (exc is None or error is not None):
                call.engine.check_outcome(call.served, call.data.get("node"), self.result, error)
            if error is not None:
                call.done(exc=error)
            elif exc is None:
                call.done(self.result)
        except Exception as failure:
            internal_error("replay tool block", failure)

    def __getattr__(self, name: str) -> Any:
        # `with tool(...) as inv:` gave the Invocation before: its attributes still answer.
        return getattr(self.invocation, name)
