"""otel-agenttrace: every run of an LLM agent as an OpenTelemetry trace you can ship, read, diff and replay."""

from __future__ import annotations

from typing import Any

from otel_agenttrace._api import node, tool, workflow
from otel_agenttrace.instrumentor import AgentTraceInstrumentor
from otel_agenttrace.version import __version__

__all__ = ["AgentTraceInstrumentor", "__version__", "instrument", "node", "tool", "uninstrument", "workflow"]


def instrument(**kwargs: Any) -> AgentTraceInstrumentor:
    """Instrument every supported library that is installed (idempotent). Keyword arguments as
    `AgentTraceInstrumentor.instrument`: tracer_provider, meter_provider, capture_policy, run_root."""
    instrumentor = AgentTraceInstrumentor()
    instrumentor.instrument(**kwargs)
    return instrumentor


def uninstrument() -> None:
    """Restore every original method."""
    AgentTraceInstrumentor().uninstrument()
