"""Tool calls and workflow nodes of user classes named in configuration
(`ToolRegistry.execute(name, args)`, a node class's `run`), and of frameworks' target rows.

A target may be a plain, async, generator or async-generator function; a generator's span covers
its whole iteration (tools/_generators.py).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_agenttrace import semconv
from otel_agenttrace._code import code_attributes
from otel_agenttrace._config import TargetSpec, is_path
from otel_agenttrace._lifecycle import Invocation, Telemetry, current_node, guarded, start_node, start_tool
from otel_agenttrace._paths import bind, read
from otel_agenttrace.replay._tools import acall_tool, call_tool
from otel_agenttrace.tools._generators import End, Enter, traced_async_generator, traced_generator

# Targets running in this context: a subclass override calling super() is one step, not two.
_active: ContextVar[frozenset[str]] = ContextVar("agenttrace_active_targets", default=frozenset())


def _value(option: str | None, view: dict[str, Any], default: Any) -> Any:
    if option is None:
        return default
    return read(option, view) if is_path(option) else option


Starter = Callable[[Any, tuple, dict, bool], Invocation]


def _starter(tel: Telemetry, spec: TargetSpec, fn: Callable[..., Any]) -> Starter:
    o = spec.options
    method = spec.qualname.rsplit(".", 1)[-1]
    locate = getattr(spec, "code", None)  # a framework's row: the user's function behind the call
    fixed = code_attributes(fn) if locate is None else {}  # once per wrapped function, not per call

    def start(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], attach: bool) -> Invocation:
        view = bind(fn, instance, args, kwargs)
        code = fixed if locate is None else _location(locate(instance, args, kwargs))
        if spec.kind == "node":
            default = type(instance).__name__ if instance is not None else method
            node_type = _value(o.get("type"), view, None)
            name = str(_value(o.get("name"), view, default))
            return start_node(tel, name, str(node_type) if node_type else None, code, attach)
        name = str(_value(o.get("name"), view, method))
        call_id = _value(o.get("call_id"), view, None)
        arguments = None
        if tel.policy.enabled:
            arguments = read(o["arguments"], view) if "arguments" in o else read("args", view)
        return start_tool(tel, name, arguments, str(call_id) if call_id is not None else None, code, attach=attach)

    return start


def _location(fn: Any) -> dict[str, Any]:
    """The code.* attributes of a framework's user function, found once per function."""
    if fn is None:
        return {}
    try:
        return _cached_location(fn)
    except TypeError:  # an unhashable callable (a dataclass instance with __call__): found each time
        return code_attributes(fn)


@functools.lru_cache(maxsize=1024)
def _cached_location(fn: Any) -> dict[str, Any]:
    return code_attributes(fn)


def _end(spec: TargetSpec, inv: Invocation, exc: BaseException | None, result: Any) -> None:
    inv.detach()
    if exc is not None:
        flow = getattr(spec, "control_flow", None)  # a framework's row: its own signals are not failures
        if flow is None or not flow(exc):
            inv.fail(exc)
            return
    output = None
    if spec.kind == "tool" and inv.tel.policy.enabled:
        value = read(spec.options["result"], {}, result) if "result" in spec.options else result
        convert = getattr(spec, "result", None)  # a framework's row: its return value wraps the result
        if convert is not None:
            value = convert(value)
        if value is not None:
            output = {semconv.GEN_AI_TOOL_CALL_RESULT: value}
    inv.stop(None, output)


def make_wrapper(tel: Telemetry, spec: TargetSpec, fn: Callable[..., Any]) -> Callable[..., Any]:
    start = _starter(tel, spec, fn)
    label = spec.label
    where = f"{spec.kind} target {label}"
    skip = getattr(spec, "skip", None)  # a framework's row: true when a peer instrumentation traces this call
    # A framework's row may nest in itself (a subgraph's nodes inside a node); otherwise a call inside a call
    # of the same target (a subclass override calling super()) is one step.
    nests = getattr(spec, "nests", False)

    def begin(
        instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], attach: bool = True
    ) -> tuple[Invocation | None, Any]:
        active = _active.get()
        if (label in active and not nests) or (skip is not None and guarded(where, skip, instance, args, kwargs)):
            return None, None
        inv = guarded(where, start, instance, args, kwargs, attach)
        return inv, _active.set(active | {label}) if inv is not None and attach else None

    def finish(inv: Invocation | None, token: Any, exc: BaseException | None, result: Any = None) -> None:
        if inv is None:
            return
        _active.reset(token)
        guarded(f"{spec.kind} target {label}", _end, spec, inv, exc, result)

    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):

        def opener(instance: Any, args: Any, kwargs: Any) -> Callable[[], tuple[Enter, End] | None]:
            def open_() -> tuple[Enter, End] | None:
                inv, _ = begin(instance, args, kwargs, attach=False)
                return None if inv is None else _steps(spec, inv)

            return open_

        if inspect.isasyncgenfunction(fn):

            def async_gen_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
                return traced_async_generator(wrapped(*args, **kwargs), opener(instance, args, kwargs))

            return async_gen_wrapper

        def gen_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            return traced_generator(wrapped(*args, **kwargs), opener(instance, args, kwargs))

        return gen_wrapper

    if inspect.iscoroutinefunction(fn):

        async def async_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            inv, token = begin(instance, args, kwargs)
            try:
                result = await acall_tool(inv, wrapped, args, kwargs)
            except BaseException as exc:
                finish(inv, token, exc)
                raise
            finish(inv, token, None, result)
            return result

        return async_wrapper

    def sync_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        inv, token = begin(instance, args, kwargs)
        try:
            result = call_tool(inv, wrapped, args, kwargs)
        except BaseException as exc:
            finish(inv, token, exc)
            raise
        finish(inv, token, None, result)
        return result

    return sync_wrapper


def _steps(spec: TargetSpec, inv: Invocation) -> tuple[Enter, End]:
    """How a generator's body runs under its span: entered for each step, ended once."""
    label = spec.label
    context = trace.set_span_in_context(inv.span)
    node = inv.attributes.get(semconv.AGENTTRACE_NODE_NAME) if spec.kind == "node" else None

    def enter() -> Callable[[], None]:
        ctx_token = otel_context.attach(context)
        active_token = _active.set(_active.get() | {label})
        node_token = current_node.set(node) if node is not None else None

        def leave() -> None:
            if node_token is not None:
                current_node.reset(node_token)
            _active.reset(active_token)
            otel_context.detach(ctx_token)

        return leave

    def end(exc: BaseException | None) -> None:
        guarded(f"{spec.kind} target {label}", _end, spec, inv, exc, None)

    return enter, end
