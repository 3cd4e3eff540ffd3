"""`workflow()`, `node()` and `tool()`: context managers and decorators over the shared lifecycle.

One `_Scope` serves every form. A decorated generator (sync or async) keeps its span open for the
whole iteration but makes it current only while the generator body runs, so the caller's context
never leaks into or out of it across `yield`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from contextvars import ContextVar
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_agenttrace import semconv
from otel_agenttrace._code import code_attributes
from otel_agenttrace._lifecycle import Invocation, Telemetry, guarded, start_node, start_tool, start_workflow
from otel_agenttrace.replay._tools import ToolBlock, acall_tool, call_tool

F = TypeVar("F", bound=Callable[..., Any])

_fallback: Telemetry | None = None


def telemetry() -> Telemetry:
    """The instrumentor's telemetry, or one on the global providers when `instrument()` was not called."""
    from otel_agenttrace.instrumentor import AgentTraceInstrumentor

    tel = AgentTraceInstrumentor.telemetry
    if tel is not None:
        return tel
    global _fallback
    if _fallback is None:
        from otel_agenttrace._capture import policy_from_env
        from otel_agenttrace.instrumentor import SCOPE, details_logger
        from otel_agenttrace.version import __version__

        _fallback = Telemetry(
            tracer=trace.get_tracer(SCOPE, __version__),
            meter=None,
            policy=policy_from_env(),
            logger=details_logger(None),  # details log records on the global logger provider
        )
    return _fallback


class _Scope:
    """A span kind and its attributes; entered as a context manager or applied as a decorator."""

    def __init__(self, start: Callable[[Telemetry, bool, tuple[Any, ...], dict[str, Any]], Invocation]) -> None:
        self._start = start
        self._code: dict[str, Any] = {}  # where a decorated function is defined: found once, when decorated
        # Per-context stack, so one scope object may be entered from many threads and tasks at once.
        self._active: ContextVar[tuple[Invocation, ...]] = ContextVar(f"agenttrace_scope_{id(self)}", default=())

    def _begin(
        self, attach: bool, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Invocation | None:
        inv: Invocation | None = guarded("scope start", self._start, telemetry(), attach, args, kwargs or {})
        if inv is not None and self._code:
            guarded("scope code", inv.span.set_attributes, self._code)
        return inv

    @staticmethod
    def _end(inv: Invocation | None, exc: BaseException | None, result: Any = None) -> None:
        if inv is None:
            return
        inv.detach()
        if exc is not None:
            guarded("scope fail", inv.fail, exc)
        else:
            output = None
            if (
                inv.attributes.get(semconv.GEN_AI_OPERATION_NAME) == semconv.Operation.EXECUTE_TOOL
                and result is not None
            ):
                output = {semconv.GEN_AI_TOOL_CALL_RESULT: result}
            guarded("scope stop", inv.stop, None, output)

    def __enter__(self) -> Invocation | None:
        inv = self._begin(True)
        if inv is not None:
            self._active.set((*self._active.get(), inv))
        return inv

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        stack = self._active.get()
        if stack:
            self._active.set(stack[:-1])
            self._end(stack[-1], exc)

    async def __aenter__(self) -> Invocation | None:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: F) -> F:
        self._code = code_attributes(fn)
        if inspect.isasyncgenfunction(fn):
            return self._wrap_async_gen(fn)  # type: ignore[return-value]
        if inspect.isgeneratorfunction(fn):
            return self._wrap_gen(fn)  # type: ignore[return-value]
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_call(*args: Any, **kwargs: Any) -> Any:
                inv = self._begin(True, args, kwargs)
                try:
                    result = await acall_tool(inv, fn, args, kwargs)
                except BaseException as exc:
                    self._end(inv, exc)
                    raise
                self._end(inv, None, result)
                return result

            return async_call  # type: ignore[return-value]

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            inv = self._begin(True, args, kwargs)
            try:
                result = call_tool(inv, fn, args, kwargs)
            except BaseException as exc:
                self._end(inv, exc)
                raise
            self._end(inv, None, result)
            return result

        return call  # type: ignore[return-value]

    # A generator runs in steps; each step (a send, or an exception the caller threw in) runs in the
    # node's context, and the step that finishes the generator ends the span.
    def _wrap_gen(self, fn: Callable[..., Generator[Any, Any, Any]]) -> Callable[..., Generator[Any, Any, Any]]:
        @functools.wraps(fn)
        def gen(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            inv = self._begin(False, args, kwargs)
            inner = fn(*args, **kwargs)
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                token = otel_context.attach(trace.set_span_in_context(inv.span)) if inv else None
                try:
                    item = inner.send(sent) if thrown is None else inner.throw(thrown)
                except StopIteration as stop:
                    self._end(inv, None, stop.value)
                    return stop.value
                except BaseException as exc:
                    self._end(inv, exc)
                    raise
                finally:
                    if token is not None:
                        otel_context.detach(token)
                sent, thrown = None, None
                try:
                    sent = yield item
                except GeneratorExit:
                    try:
                        inner.close()
                    finally:
                        self._end(inv, None)
                    raise
                except BaseException as exc:  # thrown in by the caller: the next step forwards it
                    thrown = exc

        return gen

    def _wrap_async_gen(self, fn: Callable[..., AsyncGenerator[Any, Any]]) -> Callable[..., AsyncGenerator[Any, Any]]:
        @functools.wraps(fn)
        async def agen(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
            inv = self._begin(False, args, kwargs)
            inner = fn(*args, **kwargs)
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                token = otel_context.attach(trace.set_span_in_context(inv.span)) if inv else None
                try:
                    item = await (inner.asend(sent) if thrown is None else inner.athrow(thrown))
                except StopAsyncIteration:
                    self._end(inv, None)
                    return
                except BaseException as exc:
                    self._end(inv, exc)
                    raise
                finally:
                    if token is not None:
                        otel_context.detach(token)
                sent, thrown = None, None
                try:
                    sent = yield item
                except GeneratorExit:
                    try:
                        await inner.aclose()
                    finally:
                        self._end(inv, None)
                    raise
                except BaseException as exc:  # thrown in by the caller: the next step forwards it
                    thrown = exc

        return agen


def workflow(name: str, **attributes: Any) -> _Scope:
    """An `invoke_workflow {name}` span: the root of a run. Context manager or decorator."""
    return _Scope(lambda tel, attach, args, kwargs: start_workflow(tel, name, attributes, attach))


def node(name: str, type: str | None = None, **attributes: Any) -> _Scope:
    """An `invoke_agent {name}` span for a workflow node (planner, executor, ...)."""
    return _Scope(lambda tel, attach, args, kwargs: start_node(tel, name, type, attributes, attach))


def _bound_arguments(fn: Callable[..., Any] | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if fn is None:
        return kwargs or None
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs)
    except TypeError:
        return {"args": list(args), **kwargs}
    return {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}


class _ToolScope(_Scope):
    def __init__(self, name: str | None, attributes: dict[str, Any]) -> None:
        self._fn: Callable[..., Any] | None = None
        self._name = name

        def start(tel: Telemetry, attach: bool, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Invocation:
            arguments = _bound_arguments(self._fn, args, kwargs) if tel.policy.enabled else None
            tool_name = str(self._name or getattr(self._fn, "__name__", "tool"))
            return start_tool(tel, tool_name, arguments, extra=attributes, attach=attach)

        super().__init__(start)
        self._blocks: ContextVar[tuple[ToolBlock, ...]] = ContextVar(f"agenttrace_tool_{id(self)}", default=())

    def __call__(self, fn: F) -> F:
        self._fn = fn
        return super().__call__(fn)

    # `with tool(...) as t:` — a block: its body always runs; `t.set_result(v)` is its result (replay/_tools).
    def __enter__(self) -> ToolBlock:  # type: ignore[override]
        block = ToolBlock(self._begin(True))
        self._blocks.set((*self._blocks.get(), block))
        return block

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        stack = self._blocks.get()
        if stack:
            self._blocks.set(stack[:-1])
            block = stack[-1]
            block.finish(exc)
            self._end(block.invocation, exc, block.result)

    async def __aenter__(self) -> ToolBlock:  # type: ignore[override]
        return self.__enter__()


def tool(name: str | Callable[..., Any] | None = None, **attributes: Any) -> Any:
    """An `execute_tool {name}` span around a hand-written tool function; arguments and result are
    captured as content under the capture policy. `@tool`, `@tool("search")` or `with tool("search") as t:`
    (then `t.set_result(value)` gives the block its result)."""
    if callable(name):
        return _ToolScope(None, attributes)(name)
    return _ToolScope(name, attributes)
