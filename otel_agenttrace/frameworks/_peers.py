"""Spans made by other instrumentations that we recognise at span creation.

A peer's tool span already current (Pydantic AI's `execute_tool` span with `Agent.instrument_all()`)
means the framework traces the call itself: we add no second tool span. LLM spans of peers are
merged in the assembler instead (exporter/_peers.py), where both views are complete.
"""

from __future__ import annotations

from opentelemetry import trace

from otel_agenttrace import semconv

_OURS = "otel_agenttrace"


def peer_tool_span_active() -> bool:
    """The current span is another instrumentation's tool span (its own execute_tool span)."""
    span = trace.get_current_span()
    attributes = getattr(span, "attributes", None)  # SDK spans expose what they hold; others hold nothing
    if not attributes or not span.is_recording():
        return False
    scope = getattr(span, "instrumentation_scope", None)
    if scope is not None and getattr(scope, "name", None) == _OURS:
        return False
    return attributes.get(semconv.GEN_AI_OPERATION_NAME) == semconv.Operation.EXECUTE_TOOL
