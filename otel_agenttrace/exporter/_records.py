"""The neutral span record every source is read into, and the readers.

Every source (live ReadableSpans, the run store, OTLP JSON lines, Tempo's, Jaeger's and Phoenix's
query APIs) becomes a list of SpanRecord; one pure assembler (_assemble.py) turns those into a run trace.
Ids are lower-case hex (32 chars trace, 16 chars span) whatever the source used; kinds and status
codes are the enum names without prefix ("CLIENT", "ERROR").
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry.semconv.attributes.otel_attributes import (
    OTEL_SCOPE_NAME,
    OTEL_SCOPE_VERSION,
    OTEL_STATUS_CODE,
    OTEL_STATUS_DESCRIPTION,
)
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan


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


class TraceFormatError(ValueError):
    """Input that cannot be read as spans or as a run trace (one-line message, never a traceback for bad input)."""


# ---------------------------------------------------------------------------------------------
# JSON from outside (files, backends, content attributes): nesting depth capped, no NaN/Infinity
# tokens (not JSON, and they would make our own output invalid), lone surrogates (escaped as
# \udXXX in the text) replaced so that every string can be written out again.

MAX_JSON_DEPTH = 256
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)  # one instance: json.loads(**kw) builds one a call


def loads_bounded(data: str | bytes, what: str = "JSON", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads for untrusted input; every failure is a one-line TraceFormatError naming `what`."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TraceFormatError(f"{what} is not UTF-8 text (byte {exc.start})") from None
    try:
        value = _DECODER.decode(data)
    except RecursionError:
        raise TraceFormatError(f"{what}: JSON nested too deeply (over {max_depth} levels)") from None
    except json.JSONDecodeError as exc:
        raise TraceFormatError(f"{what}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # an integer of thousands of digits, NaN/Infinity
        raise TraceFormatError(f"{what}: invalid JSON: {' '.join(str(exc).split())[:120]}") from None
    fix = "\\u" in data and bool(_SURROGATE_ESCAPE.search(data))
    if not fix and data.count("[") + data.count("{") <= max_depth:
        return value  # cannot nest deeper than it has brackets: skip the walk (the common, small case)
    return check_json_value(value, what, max_depth, fix_surrogates=fix)


def check_json_value(value: Any, what: str, max_depth: int = MAX_JSON_DEPTH, fix_surrogates: bool = False) -> Any:
    """`value` if it nests at most `max_depth` levels; with `fix_surrogates`, lone surrogates become U+FFFD."""
    if not isinstance(value, (dict, list)):
        return _clean(value) if fix_surrogates else value
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise TraceFormatError(f"{what}: JSON nested too deeply (over {max_depth} levels)")
        if isinstance(node, dict):
            if fix_surrogates and any(isinstance(k, str) and _SURROGATE.search(k) for k in node):
                items = [(_clean(k), v) for k, v in node.items()]
                node.clear()
                node.update(items)
            for key, child in node.items():
                if isinstance(child, (dict, list)):
                    stack.append((child, depth + 1))
                elif fix_surrogates and isinstance(child, str):
                    node[key] = _clean(child)
        else:
            for i, child in enumerate(node):
                if isinstance(child, (dict, list)):
                    stack.append((child, depth + 1))
                elif fix_surrogates and isinstance(child, str):
                    node[i] = _clean(child)
    return value


def _clean(value: Any) -> Any:
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


# ---------------------------------------------------------------------------------------------
# Live spans: on the exporter's hot path, so no copies beyond the attribute dicts.

_resource_cache: tuple[object, dict[str, Any]] | None = None


def _resource_attributes(resource: Any) -> dict[str, Any]:
    # Every span of a provider shares one Resource object; building its dict once is what keeps this
    # reader cheap. The dict is shared by the records of that resource: treat it as read-only.
    global _resource_cache
    cached = _resource_cache
    if cached is not None and cached[0] is resource:
        return cached[1]
    attributes = _plain_attributes(resource.attributes) if resource is not None else {}
    _resource_cache = (resource, attributes)
    return attributes


def _plain_attributes(attributes: Any) -> dict[str, Any]:
    if not attributes:
        return {}
    out = dict(attributes)
    # The SDK stores array values as tuples; the record promises lists. (Copy-then-patch beats a comprehension.)
    for key, value in out.items():
        if value.__class__ is tuple:
            out[key] = list(value)
    return out


def _raw_attributes(holder: Any) -> Any:
    """The attribute mapping of an SDK span or event, read without the public API's per-key overhead.

    The public `attributes` wraps BoundedAttributes in a MappingProxy whose item access costs a Python
    call per key (several microseconds a span). BoundedAttributes keeps a plain dict; use it when it is
    there and fall back to the public property for any other ReadableSpan implementation.
    """
    attributes = getattr(holder, "_attributes", None)
    raw = getattr(attributes, "_dict", attributes)
    return raw if raw.__class__ is dict else holder.attributes


def copy_span(
    span: ReadableSpan,
    *,
    name: str | None = None,
    attributes: Any = None,
    events: Any = None,
) -> ReadableSpan:
    """A copy of a finished span with its name, attributes or events replaced (None: the span's own); the rest
    is shared, and the original is never touched (other processors and the store path read it)."""
    from opentelemetry.sdk.trace import ReadableSpan

    return ReadableSpan(
        name=span.name if name is None else name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes if attributes is None else attributes,
        events=span.events if events is None else events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def from_readable_span(span: ReadableSpan) -> SpanRecord:
    """Read one SDK span (ended or not) into a SpanRecord."""
    context = span.context
    if context is None:
        raise TraceFormatError(f"span {span.name!r} has no span context")
    parent = span.parent
    status = span.status
    scope = span.instrumentation_scope
    start = span.start_time
    # `events` copies the event list on every access: skip it for the common span without events.
    pending = getattr(span, "_events", None)
    events = span.events if pending is None or len(pending) else ()
    return SpanRecord(
        trace_id=f"{context.trace_id:032x}",
        span_id=f"{context.span_id:016x}",
        parent_id=f"{parent.span_id:016x}" if parent is not None else None,
        name=span.name,
        kind=span.kind.name,
        start_ns=start if start is not None else 0,
        end_ns=span.end_time,
        status=status.status_code.name,
        status_message=status.description or None,
        attributes=_plain_attributes(_raw_attributes(span)),
        events=[SpanEvent(e.name, e.timestamp, _plain_attributes(_raw_attributes(e))) for e in events],
        resource=_resource_attributes(span.resource),
        scope=scope.name if scope is not None else None,
    )


# ---------------------------------------------------------------------------------------------
# Ids: OTLP/JSON says hex, but protobuf's own JSON mapping (Tempo, some Jaeger versions) says base64.
# The lengths never collide: a trace id is 32 hex chars or 24 (22 unpadded) base64 chars, a span id
# 16 hex or 12 (11) base64, so the length and alphabet decide.

_HEX = frozenset("0123456789abcdefABCDEF")


def _decode_id(value: Any, nbytes: int, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise TraceFormatError(f"{what} must be a non-empty string, got {value!r:.60}")
    if len(value) == 2 * nbytes and _HEX.issuperset(value):
        return value.lower()
    try:
        raw = base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != nbytes:
        raise TraceFormatError(f"{what} {value!r:.60} is neither {2 * nbytes} hex digits nor {nbytes} base64 bytes")
    return raw.hex()


def _decode_parent_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    parent = _decode_id(value, 8, "parentSpanId")
    return None if parent == "0000000000000000" else parent


# ---------------------------------------------------------------------------------------------
# OTLP/JSON (Collector file exporter, Tempo, Jaeger api/v3). Enums arrive as integers (OTLP/JSON)
# or as names (protobuf JSON mapping: "SPAN_KIND_CLIENT", "STATUS_CODE_ERROR"); 64-bit integers as
# strings or numbers; omitted fields are protobuf defaults.

_KINDS = ("INTERNAL", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")  # index = OTLP enum; 0 unspecified
_STATUSES = ("UNSET", "OK", "ERROR")


def _field(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """A field by its proto JSON name or its original (snake_case) name: proto JSON parsers accept both,
    and Phoenix writes the latter with explicit nulls for unset fields."""
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


_MAX_TIME_NS = 2**63 - 1


def _time(value: Any, what: str) -> int:
    """A timestamp in ns since the epoch: 0 (unset) up to 2**63 - 1 (year 2262), all that clocks use in practice."""
    ns = _int(value or 0, what)
    if not 0 <= ns <= _MAX_TIME_NS:
        raise TraceFormatError(f"{what} {str(ns)[:24]}{'…' if len(str(ns)) > 24 else ''} is out of range")
    return ns


def _enum(value: Any, names: tuple[str, ...], prefix: str, what: str) -> str:
    if value is None:
        return names[0]
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(names):
            return names[value]
    elif isinstance(value, str):
        name = value.upper().removeprefix(prefix)
        if name == "UNSPECIFIED":
            return names[0]
        if name in names:
            return name
        if name.isdigit() and int(name) < len(names):
            return names[int(name)]
    raise TraceFormatError(f"unknown {what} {value!r:.60}")


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise TraceFormatError(f"{what} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    elif isinstance(value, float) and value.is_integer():
        return int(value)
    raise TraceFormatError(f"{what} must be an integer, got {value!r:.60}")


def _double(value: Any) -> float | str:
    """A double; NaN and the infinities (proto JSON spells them as strings) stay strings: JSON has no such number."""
    number = float(value)
    return number if math.isfinite(number) else str(value if isinstance(value, str) else number)


def _any_value(value: Any) -> Any:
    if not isinstance(value, dict):
        raise TraceFormatError(f"attribute value must be an AnyValue object, got {value!r:.60}")
    if (text := _field(value, "stringValue", "string_value")) is not None:
        return text
    if (number := _field(value, "intValue", "int_value")) is not None:
        return _int(number, "intValue")
    if (double := _field(value, "doubleValue", "double_value")) is not None:
        return _double(double)
    if (flag := _field(value, "boolValue", "bool_value")) is not None:
        return bool(flag)
    if (array := _field(value, "arrayValue", "array_value")) is not None:
        return [_any_value(v) for v in array.get("values") or ()]
    if (kvlist := _field(value, "kvlistValue", "kvlist_value")) is not None:
        return _key_values(kvlist.get("values"))
    return _field(value, "bytesValue", "bytes_value")  # kept base64: the run trace is JSON


def _key_values(items: Any) -> dict[str, Any]:
    if not items:
        return {}
    if not isinstance(items, list):
        raise TraceFormatError(f"attributes must be a list of key/value objects, got {type(items).__name__}")
    out: dict[str, Any] = {}
    for item in items:
        key = item["key"]
        if not isinstance(key, str):
            raise TraceFormatError(f"attribute key must be a string, got {key!r:.60}")
        out[key] = _any_value(item.get("value") or {})
    return out


def _otlp_span(span: dict[str, Any], resource: dict[str, Any], scope: str | None) -> SpanRecord:
    status = span.get("status") or {}
    end = _time(_field(span, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano")
    return SpanRecord(
        trace_id=_decode_id(_field(span, "traceId", "trace_id"), 16, "traceId"),
        span_id=_decode_id(_field(span, "spanId", "span_id"), 8, "spanId"),
        parent_id=_decode_parent_id(_field(span, "parentSpanId", "parent_span_id")),
        name=_text(span.get("name")),
        kind=_enum(span.get("kind"), _KINDS, "SPAN_KIND_", "span kind"),
        start_ns=_time(_field(span, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano"),
        end_ns=end or None,
        status=_enum(status.get("code"), _STATUSES, "STATUS_CODE_", "status code"),
        status_message=_text(status.get("message")) or None,
        attributes=_key_values(span.get("attributes")),
        events=[
            SpanEvent(
                name=_text(event.get("name")),
                time_ns=_time(_field(event, "timeUnixNano", "time_unix_nano"), "timeUnixNano"),
                attributes=_key_values(event.get("attributes")),
            )
            for event in span.get("events") or ()
        ],
        resource=resource,
        scope=scope,
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TraceFormatError(f"expected a string, got {value!r:.60}")
    return value


def _read_resource_spans(resource_spans: Any, source: str) -> list[SpanRecord]:
    if resource_spans is None:
        return []
    if not isinstance(resource_spans, list):
        raise TraceFormatError(f"{source}: resourceSpans must be a list, got {type(resource_spans).__name__}")
    records: list[SpanRecord] = []
    with _reading(source):
        for rs in resource_spans:
            resource = _key_values((rs.get("resource") or {}).get("attributes"))
            # instrumentationLibrarySpans: the pre-1.0 OTLP name some older backends still return.
            for ss in _field(rs, "scopeSpans", "scope_spans") or rs.get("instrumentationLibrarySpans") or ():
                scope_obj = ss.get("scope") or ss.get("instrumentationLibrary") or {}
                scope = _text(scope_obj.get("name")) or None
                records.extend(_otlp_span(span, resource, scope) for span in ss.get("spans") or ())
    return records


@contextmanager
def _reading(source: str) -> Iterator[None]:
    """Any error reading a body's spans becomes one TraceFormatError that names the source."""
    try:
        yield
    except TraceFormatError as exc:
        raise TraceFormatError(f"{source}: {exc}") from None
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise TraceFormatError(f"{source}: malformed span data ({_one_line(exc)})") from None


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, KeyError) else f"missing key {exc}"
    return " ".join(text.split())[:200]


def read_otlp_json(text: str) -> list[SpanRecord]:
    """Spans of an OTLP/JSON file: the Collector `file` exporter's JSON lines, or one (pretty-printed) document.

    Lines that carry other signals (resourceLogs, resourceMetrics) are skipped.
    """
    return read_otlp_documents(iter_json_documents(text, "OTLP JSON"))


def iter_json_documents(text: str, what: str) -> Iterator[Any]:
    """The JSON documents of `text`: concatenated, one a line or pretty-printed (depth capped, no NaN)."""
    decoder = json.JSONDecoder(parse_constant=_no_constant)
    fix = bool(_SURROGATE_ESCAPE.search(text))
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos >= end:
            return
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise TraceFormatError(f"{what}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        except RecursionError:
            raise TraceFormatError(f"{what}: JSON nested too deeply (over {MAX_JSON_DEPTH} levels)") from None
        except ValueError as exc:
            raise TraceFormatError(f"{what}: invalid JSON: {' '.join(str(exc).split())[:120]}") from None
        yield check_json_value(doc, what, fix_surrogates=fix)


def read_otlp_documents(
    documents: Iterable[Any], trace_prefix: str | None = None, seen: set[str] | None = None
) -> list[SpanRecord]:
    """Spans of parsed ExportTraceServiceRequest documents (a list of them counts as several);
    with `trace_prefix`, only the spans of traces whose id starts with it (memory stays bounded by the run),
    the ids of all traces read going into `seen`."""
    records: list[SpanRecord] = []
    for doc in documents:
        for request in doc if isinstance(doc, list) else (doc,):
            if not isinstance(request, dict):
                raise TraceFormatError(
                    f"OTLP JSON: expected an ExportTraceServiceRequest object, got {type(request).__name__}"
                )
            spans = _read_resource_spans(_field(request, "resourceSpans", "resource_spans"), "OTLP JSON")
            if seen is not None:
                seen.update(r.trace_id for r in spans)
            if trace_prefix:
                spans = [r for r in spans if r.trace_id.startswith(trace_prefix)]
            records.extend(spans)
    return records


def read_tempo(body: dict[str, Any]) -> list[SpanRecord]:
    """Spans of a Tempo trace-by-id response: /api/v2/traces/{id} ({"trace": ...}) or /api/traces/{id} ({"batches"})."""
    if not isinstance(body, dict):
        raise TraceFormatError(f"Tempo: expected a JSON object, got {type(body).__name__}")
    if "trace" in body:
        trace = body["trace"]
        if trace is None:
            return []
        if not isinstance(trace, dict):
            raise TraceFormatError(f"Tempo: 'trace' must be an object, got {type(trace).__name__}")
    elif "batches" in body or "resourceSpans" in body:
        trace = body
    else:
        raise TraceFormatError("Tempo: no 'trace' (api/v2) or 'batches' (api/traces) in the response")
    # v2 names the list resourceSpans as OTLP does; v1 keeps Tempo's historical name, batches.
    return _read_resource_spans(trace.get("resourceSpans", trace.get("batches")), "Tempo")


# ---------------------------------------------------------------------------------------------
# Jaeger. api/v3 is OTLP-shaped (wrapped in "result"); the legacy api/traces is Jaeger's own model,
# where the OTLP→Jaeger translation turned kind, status and scope into tags and events into logs.
# These tag names belong to that wire format, not to the attributes the project writes.

_JAEGER_SPAN_KIND = "span.kind"
_JAEGER_ERROR = "error"
_JAEGER_EVENT = "event"
_JAEGER_LIBRARY_NAME = "otel.library.name"  # the scope tag before otel.scope.name
_JAEGER_DROPPED = frozenset({OTEL_SCOPE_VERSION, "otel.library.version", "internal.span.format"})


def _jaeger_tags(tags: Any) -> dict[str, Any]:
    if not tags:
        return {}
    out: dict[str, Any] = {}
    for tag in tags:
        value = tag.get("value")
        kind = tag.get("type")
        if kind == "int64":
            value = _int(value, f"tag {tag['key']}")
        elif kind == "float64":
            value = _double(value)
        elif kind == "bool" and isinstance(value, str):
            value = value.lower() == "true"
        key = tag["key"]
        if not isinstance(key, str):
            raise TraceFormatError(f"tag key must be a string, got {key!r:.60}")
        out[key] = value
    return out


def _jaeger_span(span: dict[str, Any], trace_id: str, processes: dict[str, Any]) -> SpanRecord:
    attributes = _jaeger_tags(span.get("tags"))
    parent_id = None
    for ref in span.get("references") or ():
        if ref.get("refType", "CHILD_OF") == "CHILD_OF":
            parent_id = _jaeger_id(ref.get("spanID"), 8, "references.spanID")
            break
    if parent_id is None and span.get("parentSpanID"):
        parent_id = _jaeger_id(span["parentSpanID"], 8, "parentSpanID")
    kind = str(attributes.pop(_JAEGER_SPAN_KIND, "internal")).upper()
    if kind not in _KINDS:
        kind = "INTERNAL"
    code = attributes.pop(OTEL_STATUS_CODE, None)
    message = attributes.pop(OTEL_STATUS_DESCRIPTION, None)
    flagged = attributes.pop(_JAEGER_ERROR, False) in (True, "true")
    status = str(code).upper() if code is not None else ("ERROR" if flagged else "UNSET")
    if status not in _STATUSES:
        status = "ERROR" if flagged else "UNSET"
    scope = attributes.pop(OTEL_SCOPE_NAME, None) or attributes.pop(_JAEGER_LIBRARY_NAME, None)
    attributes.pop(_JAEGER_LIBRARY_NAME, None)
    for key in _JAEGER_DROPPED:
        attributes.pop(key, None)
    process = span.get("process") or processes.get(span.get("processID") or "") or {}
    resource = _jaeger_tags(process.get("tags"))
    if process.get("serviceName"):
        resource[SERVICE_NAME] = process["serviceName"]
    events = []
    for log in span.get("logs") or ():
        fields = _jaeger_tags(log.get("fields"))
        events.append(SpanEvent(str(fields.pop(_JAEGER_EVENT, "")), _micros(log.get("timestamp"), "timestamp"), fields))
    start_ns = _micros(span.get("startTime"), "startTime")
    return SpanRecord(
        trace_id=_jaeger_id(span.get("traceID") or trace_id, 16, "traceID"),
        span_id=_jaeger_id(span.get("spanID"), 8, "spanID"),
        parent_id=parent_id,
        name=span.get("operationName") or "",
        kind=kind,
        start_ns=start_ns,
        end_ns=_time(start_ns + _micros(span.get("duration"), "duration"), "startTime + duration"),
        status=status,
        status_message=message or None,
        attributes=attributes,
        events=events,
        resource=resource,
        scope=scope or None,
    )


def _micros(value: Any, what: str) -> int:
    return _time(_int(value or 0, what) * 1000, what)


def _jaeger_id(value: Any, nbytes: int, what: str) -> str:
    # Jaeger's own model prints ids without leading zeros when the high half is zero (64-bit ids).
    if isinstance(value, str) and 0 < len(value) < 2 * nbytes and _HEX.issuperset(value):
        return value.lower().rjust(2 * nbytes, "0")
    return _decode_id(value, nbytes, what)


def read_jaeger(body: dict[str, Any]) -> list[SpanRecord]:
    """Spans of a Jaeger trace response: api/v3 ({"result": {"resourceSpans": ...}}) or legacy api/traces ({"data"})."""
    if not isinstance(body, dict):
        raise TraceFormatError(f"Jaeger: expected a JSON object, got {type(body).__name__}")
    if isinstance(body.get("error"), dict):
        raise TraceFormatError(f"Jaeger: {_one_line_text(body['error'].get('message') or body['error'])}")
    if "result" in body or "resourceSpans" in body:
        result = body.get("result", body)
        if not isinstance(result, dict):
            raise TraceFormatError(f"Jaeger: 'result' must be an object, got {type(result).__name__}")
        return _read_resource_spans(result.get("resourceSpans"), "Jaeger")
    if "data" not in body:
        raise TraceFormatError("Jaeger: no 'result' (api/v3) or 'data' (api/traces) in the response")
    data = body["data"]
    if not data and body.get("errors"):
        raise TraceFormatError(f"Jaeger: {_jaeger_error(body['errors'])}")
    if data is None:
        return []
    if not isinstance(data, list):
        raise TraceFormatError(f"Jaeger: 'data' must be a list, got {type(data).__name__}")
    records: list[SpanRecord] = []
    with _reading("Jaeger"):
        for trace in data:
            processes = trace.get("processes") or {}
            trace_id = trace.get("traceID")
            records.extend(_jaeger_span(span, trace_id, processes) for span in trace.get("spans") or ())
    return records


def _jaeger_error(errors: Any) -> str:
    """The first message of Jaeger's `errors` ([{"code": .., "msg": ..}] by its API; anything else tolerated)."""
    first = errors[0] if isinstance(errors, list) and errors else errors
    if isinstance(first, dict):
        first = first.get("msg") or first.get("message") or first
    return _one_line_text(first)


def _one_line_text(value: Any) -> str:
    return " ".join(str(value).split())[:200]


# ---------------------------------------------------------------------------------------------
# Phoenix: GET /v1/projects/{project}/spans/otlpv1 answers {"data": [OTLP span, ...], "next_cursor": ...},
# each span in OTLP's snake_case field names with explicit nulls, without resource or scope.


def read_phoenix(body: Any) -> tuple[list[SpanRecord], str | None]:
    """(spans, next page's cursor or None) of one page of Phoenix's spans/otlpv1 answer."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise TraceFormatError('Phoenix: expected {"data": [spans], "next_cursor": ...} in the response')
    cursor = body.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise TraceFormatError(f"Phoenix: next_cursor must be a string or null, got {type(cursor).__name__}")
    with _reading("Phoenix"):
        records = [_otlp_span(span, {}, None) for span in body["data"]]
    return records, cursor or None
