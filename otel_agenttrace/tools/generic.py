"""Tool calls and workflow nodes of user classes named in configuration
(`ToolRegistry.execute(name, args)`, a node class's `run`)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from otel_agenttrace import semconv
from otel_agenttrace._config import TargetSpec, is_path
from otel_agenttrace._lifecycle import Invocation, Telemetry, guarded, start_node, start_tool
from otel_agenttrace._paths import bind, read
from otel_agenttrace.replay._tools import acall_tool, call_tool

# Targets running in this context: a subclass override calling super() is one step, not two.
_active: ContextVar[frozenset[str]] = ContextVar("agenttrace_active_targets", default=frozenset())


def _value(option: str | None, view: dict[str, Any], default: Any) -> Any:
    if option is None:
        return default
    return read(option, view) if is_path(option) else option


def _starter(tel: Telemetry, spec: TargetSpec, fn: Callable[..., Any]) -> Callable[[Any, tuple, dict], Invocation]:
    o = spec.options
    method = spec.qualname.rsplit(".", 1)[-1]

    def start(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Invocation:
        view = bind(fn, instance, args, kwargs)
        if spec.kind == "node":
            default = type(instance).__name__ if instance is not None else method
            node_type = _value(o.get("type"), view, None)
            return start_node(tel, str(_value(o.get("name"), view, default)), str(node_type) if node_type else None)
        name = str(_value(o.get("name"), view, method))
        call_id = _value(o.get("call_id"), view, None)
        arguments = None
        if tel.policy.enabled:
            arguments = read(o["arguments"], view) if "arguments" in o else read("args", view)
        return start_tool(tel, name, arguments, str(call_id) if call_id is not None else None)

    return start


def _end(spec: TargetSpec, inv: Invocation, exc: BaseException | None, result: Any) -> None:
    inv.detach()
    if exc is not None:
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
    skip = getattr(spec, "skip", None)  # a framework's row: true when a peer instrumentation traces this call

    def begin(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Invocation | None, Any]:
        active = _active.get()
        if label in active or (skip is not None and guarded(f"{spec.kind} target {label}", skip)):
            return None, None
        inv = guarded(f"{spec.kind} target {label}", start, instance, args, kwargs)
        return inv, _active.set(active | {label}) if inv is not None else None

    def finish(inv: Invocation | None, token: Any, exc: BaseException | None, result: Any = None) -> None:
        if inv is None:
            return
        _active.reset(token)
        guarded(f"{spec.kind} target {label}", _end, spec, inv, exc, result)

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
