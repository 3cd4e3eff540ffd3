"""How the run store encodes spans: compact JSON that SQLite can always store, and span entries.

entry: [span_id, parent_id, name, kind, start_ns, end_ns, status, status_message, attributes, events, scope]
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from otel_agenttrace.exporter._records import SpanEvent, SpanRecord


def _jsonable(value: object) -> object:
    # Attribute values may be bytes (AnyValue); kept as base64 text, as the OTLP/JSON readers do.
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return str(value)


# One pre-built encoder: the C fast path, compact separators, no ASCII escaping of content.
_encode_raw = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_jsonable).encode
decode = json.loads
_SURROGATE = re.compile("[\ud800-\udfff]")


def encode(value: object) -> str:
    """JSON text that SQLite can store whatever Python strings it holds.

    A lone surrogate (a `surrogateescape`-decoded argument, say) cannot be encoded as UTF-8: it is
    replaced by U+FFFD, so a bad value spoils only its own characters, never the batch it came in.
    """
    text = _encode_raw(value)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def span_entry(r: SpanRecord, end_ns: int | None) -> list[Any]:
    events = [[e.name, e.time_ns, e.attributes or None] for e in r.events] if r.events else None
    return [
        r.span_id,
        r.parent_id,
        r.name,
        r.kind,
        r.start_ns,
        end_ns,
        r.status,
        r.status_message,
        r.attributes,
        events,
        r.scope,
    ]


def span_record(trace_id: str, entry: list[Any], resource: dict[str, Any]) -> SpanRecord:
    span_id, parent_id, name, kind, start_ns, end_ns, status, message, attributes, events, scope = entry
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        name=name,
        kind=kind,
        start_ns=start_ns,
        end_ns=end_ns,
        status=status,
        status_message=message,
        attributes=attributes or {},
        events=[SpanEvent(n, t, a or {}) for n, t, a in events] if events else [],
        resource=resource,
        scope=scope,
    )
