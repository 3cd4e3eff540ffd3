"""OpenAI Agents SDK: agents, tools, handoffs and guardrails, through its public `TracingProcessor`.

The SDK reports every agent turn, function tool, handoff and guardrail to the trace processors
registered with `agents.tracing.add_trace_processor`; ours turns each into the span of our own
lifecycle (node or tool), so no private method is patched. The SDK calls `on_span_start` and
`on_span_end` in the task that runs the step, so our span is made current there: the model calls the
agent makes (the OpenAI SDK, patched as a provider) nest under its `invoke_agent` span. The SDK's own
response/generation spans are not mapped: the provider patch already makes that LLM step.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_agenttrace import semconv
from otel_agenttrace._lifecycle import Invocation, Telemetry, guarded, start_node, start_tool
from otel_agenttrace.frameworks._target import FrameworkTarget
from otel_agenttrace.package import _instruments_openai_agents

NAME = "openai-agents"
INSTRUMENTS = _instruments_openai_agents


class ToolError(Exception):
    """A tool, handoff or guardrail step the SDK reported as failed (it reports a message, not the exception)."""


class _Open:
    __slots__ = ("attached", "inv", "previous")

    def __init__(self, inv: Invocation, previous: otel_context.Context, attached: otel_context.Context) -> None:
        self.inv, self.previous, self.attached = inv, previous, attached


class SpanBridge:
    """The processor's behaviour; `processor()` gives it the SDK's TracingProcessor base class."""

    def __init__(self, tel: Telemetry) -> None:
        self.tel = tel
        self.active = True
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()

    # --- TracingProcessor -------------------------------------------------------------------------------------

    def on_trace_start(self, trace: Any) -> None:
        pass

    def on_trace_end(self, trace: Any) -> None:
        pass

    def on_span_start(self, span: Any) -> None:
        if self.active:
            guarded("openai-agents span start", self._start, span)

    def on_span_end(self, span: Any) -> None:
        with self._lock:
            opened = self._open.pop(getattr(span, "span_id", ""), None)
        if opened is not None:
            guarded("openai-agents span end", self._end, span, opened)

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass

    # --- mapping ----------------------------------------------------------------------------------------------

    def _start(self, span: Any) -> None:
        data = span.span_data
        kind = getattr(data, "type", None)
        capture = self.tel.policy.enabled
        inv: Invocation
        if kind == "agent":
            inv = start_node(self.tel, str(data.name), "agent", attach=False)
        elif kind == "function":
            arguments = _json_or_text(data.input) if capture and data.input is not None else None
            inv = start_tool(self.tel, str(data.name), arguments, attach=False)
        elif kind == "handoff":
            arguments = {"from_agent": data.from_agent, "to_agent": data.to_agent} if capture else None
            inv = start_tool(self.tel, "handoff", arguments, attach=False)
        elif kind == "guardrail":
            inv = start_node(self.tel, str(data.name), "guardrail", attach=False)
        else:
            return  # response/generation (the provider patch makes that step), custom, speech, MCP listing
        previous = otel_context.get_current()
        attached = trace.set_span_in_context(inv.span, previous)
        otel_context.attach(attached)
        with self._lock:
            self._open[span.span_id] = _Open(inv, previous, attached)

    def _end(self, span: Any, opened: _Open) -> None:
        # Leave our span's context only where we entered it (the same task, nothing entered since):
        # restoring the previous context, rather than detaching a token, is safe from any task.
        if otel_context.get_current() is opened.attached:
            otel_context.attach(opened.previous)
        data = span.span_data
        output = None
        if self.tel.policy.enabled:
            if getattr(data, "type", None) == "function" and not opened.inv.content and data.input is not None:
                # The SDK fills a function span's input after starting it.
                opened.inv.content = {semconv.GEN_AI_TOOL_CALL_ARGUMENTS: _json_or_text(data.input)}
            result = _result_of(data)
            if result is not None:
                output = {semconv.GEN_AI_TOOL_CALL_RESULT: result}
        error = getattr(span, "error", None)
        if error:
            opened.inv.fail(ToolError(str(error.get("message") or "failed")), output=output, etype="ToolError")
        else:
            opened.inv.stop(None, output)


def _result_of(data: Any) -> Any:
    kind = getattr(data, "type", None)
    if kind == "function":
        return None if data.output is None else _json_or_text(data.output)
    if kind == "handoff":
        return {"to_agent": data.to_agent}
    if kind == "guardrail":
        return {"triggered": bool(data.triggered)}
    return None


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _register(tel: Telemetry, module: ModuleType) -> Callable[[], None]:
    base = getattr(module, "TracingProcessor", object)
    bridge_class = type("AgentTraceProcessor", (SpanBridge, base), {})
    bridge = bridge_class(tel)
    module.add_trace_processor(bridge)

    def undo() -> None:
        bridge.active = False  # the SDK has no remove; an inactive processor ignores everything

    return undo


TARGETS: tuple[FrameworkTarget, ...] = (
    FrameworkTarget("hook", "agents.tracing", "add_trace_processor", {}, NAME, on_import=_register),
)
