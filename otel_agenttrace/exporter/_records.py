"""The neutral span record every source is read into, and the readers.

Every source (live ReadableSpans, the run store, OTLP JSON lines, Tempo's and Jaeger's query
APIs) becomes a list of SpanRecord; one pure assembler (_assemble.py) turns those into a run trace.
Ids are lower-case hex (32 chars trace, 16 chars span) whatever the source used; kinds and status
codes are the enum names without prefix ("CLIENT", "ERROR").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SpanRecord:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str  # INTERNAL | SERVER | CLIENT | PRODUCER | CONSUMER
    start_ns: int
    end_ns: int | None  # None: the span never ended (process died): an incomplete step
    status: str = "UNSET"  # UNSET | OK | ERROR
    status_message: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    scope: str | None = None
