"""otel-agenttrace: every run of an LLM agent as an OpenTelemetry trace you can ship, read, diff and replay."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from otel_agenttrace.version import __version__

if TYPE_CHECKING:
    from otel_agenttrace._api import node, tool, workflow
    from otel_agenttrace._mp import attach_run_context, run_context
    from otel_agenttrace.instrumentor import AgentTraceInstrumentor
    from otel_agenttrace.replay import replay

__all__ = [
    "AgentTraceInstrumentor",
    "__version__",
    "attach_run_context",
    "instrument",
    "node",
    "replay",
    "run_context",
    "tool",
    "uninstrument",
    "workflow",
]

# Imported on first use: the CLI (`agenttrace dump`) and the exporter import this package but need none
# of the instrumentation, whose imports (wrapt, asyncio, the OTel instrumentation API) cost 0.2 s.
_LAZY = {
    "AgentTraceInstrumentor": "otel_agenttrace.instrumentor",
    "node": "otel_agenttrace._api",
    "tool": "otel_agenttrace._api",
    "workflow": "otel_agenttrace._api",
    "run_context": "otel_agenttrace._mp",
    "attach_run_context": "otel_agenttrace._mp",
    "replay": "otel_agenttrace.replay",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_agenttrace' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def instrument(**kwargs: Any) -> AgentTraceInstrumentor:
    """Instrument every supported library that is installed (idempotent). Keyword arguments as
    `AgentTraceInstrumentor.instrument`: tracer_provider, meter_provider, logger_provider, capture_policy,
    run_root."""
    from otel_agenttrace.instrumentor import AgentTraceInstrumentor

    instrumentor = AgentTraceInstrumentor()
    instrumentor.instrument(**kwargs)
    return instrumentor


def uninstrument() -> None:
    """Restore every original method."""
    from otel_agenttrace.instrumentor import AgentTraceInstrumentor

    AgentTraceInstrumentor().uninstrument()
