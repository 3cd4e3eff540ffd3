"""The one pure function that turns the span records of one trace into a run trace (schema_version 2).

Every source is read into SpanRecords first (_records.py), so the live exporter, the store, the OTLP
file and the backends all produce the same JSON for the same spans. The output's shape is published
in semconv/run-trace.schema.json; tests validate every assembled document against it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME

from otel_agenttrace import semconv as sc
from otel_agenttrace.exporter import _run
from otel_agenttrace.exporter._peers import merge_nested_llm_steps, peer_usage, step_type_of
from otel_agenttrace.exporter._records import SpanRecord, TraceFormatError, loads_bounded
from otel_agenttrace.exporter._schema import SCHEMA_VERSION

_STEP_TYPES = _run.STEP_TYPES

# gen_ai.request.<param> -> request[<param>], derived from a constant so the prefix is not spelled twice.
_REQUEST_PREFIX = sc.GEN_AI_REQUEST_MODEL.rpartition(".")[0] + "."
_REQUEST_PREFIX_LEN = len(_REQUEST_PREFIX)
_USAGE = _run.USAGE_KEYS
# Attributes a step field carries already are dropped from step["attributes"]; every other one is kept.
# The model attributes stay only when they differ from the step's model (request model != response model).
_DROP, _COUNT, _MODEL = 0, 1, 2
_KEY_KIND: dict[str, int] = {
    **dict.fromkeys(sc.CONTENT_ATTRIBUTES, _DROP),
    **dict.fromkeys(
        (sc.GEN_AI_PROVIDER_NAME, sc.AGENTTRACE_NODE_NAME, sc.AGENTTRACE_RUN_ROOT, sc.AGENTTRACE_SPAN_STARTED),
        _DROP,
    ),
    sc.ERROR_TYPE: _DROP,
    **dict.fromkeys(_USAGE, _COUNT),
    sc.GEN_AI_REQUEST_MODEL: _MODEL,
    sc.GEN_AI_RESPONSE_MODEL: _MODEL,
}


def assemble(records: Sequence[SpanRecord]) -> dict[str, Any]:
    """The run-trace document of one trace's span records (any order, ended or still in flight)."""
    spans = _unique(records)
    preorder, parents, root = _tree(spans)
    run_start = min(r.start_ns for r in spans)

    # Nodes are inherited down the tree, so resolve them in tree order (a child may start before its parent).
    node_of: dict[str, str | None] = {}
    for record in preorder:
        attrs = record.attributes
        own = attrs.get(sc.AGENTTRACE_NODE_NAME) or attrs.get(sc.GEN_AI_AGENT_NAME)
        parent = parents[record.span_id]
        node_of[record.span_id] = own if own is not None else (node_of[parent] if parent is not None else None)

    rank = {r.span_id: i for i, r in enumerate(preorder)}
    order = sorted(spans, key=lambda r: (r.start_ns, rank[r.span_id]))
    steps = [
        _step(index, record, parents[record.span_id], node_of[record.span_id], run_start)
        for index, record in enumerate(order)
    ]

    ends = [r.end_ns for r in spans if r.end_ns is not None]
    run_end = max(ends) if ends else None
    root_step = next(step for step, record in zip(steps, order, strict=True) if record is root)
    status = _run.run_status(root_step["status"] == "error", any(s["status"] == "incomplete" for s in steps))
    # Two instrumentations' spans of one model call (a peer's and ours, nested) are one step.
    steps = merge_nested_llm_steps(steps, order)
    llm_steps = [s for s in steps if s["type"] == "llm_call"]
    models = list(dict.fromkeys(s["model"] for s in llm_steps if s["model"] is not None))

    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run_id": root.trace_id,
        "workflow": _run.workflow_name(root.attributes, root.name, (r.attributes for r in spans)),
        "status": status,
        "started_at": _iso(run_start),
        "ended_at": _iso(run_end) if run_end is not None else None,
        "duration_ms": _ms(run_end - run_start) if run_end is not None else None,
        "model": models[0] if models else None,
        "models": models,
        "usage": _run_usage(llm_steps),
        "service": {"name": _service_name(root, spans)},
        "steps": steps,
        "final_output": _final_output(llm_steps),
        "otel": {"trace_id": root.trace_id, "root_span_id": root.span_id},
    }
    doc.update(_replay_fields(steps))
    return doc


def _replay_fields(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """replay_of/replay_mode of a run made by `agenttrace replay` (its calls carry agenttrace.replay.*)."""
    modes = [s["attributes"].get(sc.AGENTTRACE_REPLAY_MODE) for s in steps if s["type"] == "llm_call"]
    of = next(
        (s["attributes"][sc.AGENTTRACE_REPLAY_OF] for s in steps if sc.AGENTTRACE_REPLAY_OF in s["attributes"]), None
    )
    if of is None:
        return {}
    return {"replay_of": of, "replay_mode": "model" if "model" in modes else "live"}


def _unique(records: Sequence[SpanRecord]) -> list[SpanRecord]:
    if not records:
        raise TraceFormatError("no spans: a run trace needs at least one span")
    trace_id = records[0].trace_id
    by_id: dict[str, SpanRecord] = {}
    for record in records:
        if record.trace_id != trace_id:
            raise TraceFormatError(f"spans of more than one trace ({trace_id}, {record.trace_id}): a run is one trace")
        seen = by_id.get(record.span_id)
        # A span seen twice is its start record and its end record (the store keeps both): the ended one wins.
        if seen is None or seen.end_ns is None or record.end_ns is not None:
            by_id[record.span_id] = record
    return list(by_id.values())


def _tree(spans: list[SpanRecord]) -> tuple[list[SpanRecord], dict[str, str | None], SpanRecord]:
    """The spans in depth-first preorder (siblings by start), each span's parent within the set, and the root."""
    position = {r.span_id: i for i, r in enumerate(spans)}
    parents: dict[str, str | None] = {}
    children: dict[str, list[SpanRecord]] = {}
    tops: list[SpanRecord] = []
    for r in spans:
        parent = r.parent_id if r.parent_id in position and r.parent_id != r.span_id else None
        parents[r.span_id] = parent
        if parent is None:
            tops.append(r)
        else:
            children.setdefault(parent, []).append(r)

    def key(r: SpanRecord) -> tuple[int, int]:
        return (r.start_ns, position[r.span_id])

    # Depth-first preorder, iteratively (agent traces can nest deeper than the recursion limit).
    seen: set[str] = set()
    preorder: list[SpanRecord] = []
    pending = sorted(tops, key=key, reverse=True)
    while True:
        while pending:
            r = pending.pop()
            if r.span_id in seen:
                continue
            seen.add(r.span_id)
            preorder.append(r)
            kids = children.get(r.span_id)
            if kids:
                pending.extend(sorted(kids, key=key, reverse=True))
        if len(preorder) == len(spans):
            break
        # Only a parent cycle leaves spans unvisited: cut it at its earliest span.
        cut = min((r for r in spans if r.span_id not in seen), key=key)
        parents[cut.span_id] = None
        tops.append(cut)
        pending.append(cut)

    return preorder, parents, min(tops, key=key)


def _step(index: int, record: SpanRecord, parent: str | None, node: str | None, run_start: int) -> dict[str, Any]:
    attrs = record.attributes
    step_type = step_type_of(attrs)

    response_model = attrs.get(sc.GEN_AI_RESPONSE_MODEL)
    request_model = attrs.get(sc.GEN_AI_REQUEST_MODEL)
    model = response_model or request_model or None

    request: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    usage: dict[str, int] = {}
    for key, value in attrs.items():
        kind = _KEY_KIND.get(key)
        if kind is None:
            if key.startswith(_REQUEST_PREFIX):
                request[key[_REQUEST_PREFIX_LEN:]] = value
            else:
                rest[key] = value
        elif kind == _COUNT:
            _add_usage(usage, key, value)
        elif kind == _MODEL and value != model:
            rest[key] = value

    # A tool call's input is its arguments; any other step's is its messages. Either falls back to the other.
    if step_type == "tool_call":
        input_value = _content(record, sc.GEN_AI_TOOL_CALL_ARGUMENTS, sc.GEN_AI_INPUT_MESSAGES)
        output_value = _content(record, sc.GEN_AI_TOOL_CALL_RESULT, sc.GEN_AI_OUTPUT_MESSAGES)
    else:
        input_value = _content(record, sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_TOOL_CALL_ARGUMENTS)
        output_value = _content(record, sc.GEN_AI_OUTPUT_MESSAGES, sc.GEN_AI_TOOL_CALL_RESULT)
    if step_type in _MESSAGE_STEPS:
        input_value = _messages(input_value)
        output_value = _messages(output_value)
    if step_type == "llm_call" and not usage:
        usage = peer_usage(attrs)
    end = record.end_ns
    if end is None:
        status = "incomplete"
    elif record.status == "ERROR":
        status = "error"
    else:
        status = "ok"
    provider = attrs.get(sc.GEN_AI_PROVIDER_NAME)
    return {
        "index": index,
        "id": record.span_id,
        "parent_id": parent,
        "type": step_type,
        "name": record.name,
        "node": node if isinstance(node, str) else None,
        "started_at": _iso(record.start_ns),
        "relative_ms": _ms(record.start_ns - run_start),
        "duration_ms": _ms(end - record.start_ns) if end is not None else None,
        "status": status,
        "provider": provider if isinstance(provider, str) else None,
        "model": model if isinstance(model, str) else None,
        "request": request,
        "input": input_value,
        "output": output_value,
        "system_instructions": _parts_or_text(_content(record, sc.GEN_AI_SYSTEM_INSTRUCTIONS)),
        "tool_definitions": _objects_or_text(_content(record, sc.GEN_AI_TOOL_DEFINITIONS)),
        "usage": usage or None,
        "error": _error(record) if status == "error" else None,
        "attributes": rest,
    }


# Any recorded content makes a valid document: what does not have the schema's shape is normalised or
# kept as its JSON text, never written as is (a `"role": null` from an llm target reading objects with
# no role attribute failed the schema).
_MESSAGE_STEPS = frozenset({"workflow", "node", "llm_call"})
UNKNOWN_ROLE = "unknown"


def _as_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _part(value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return value
    if isinstance(value, str):
        return {"type": "text", "content": value}
    return {"type": "json", "content": value}


def _messages(value: Any) -> Any:
    """Messages in the schema's shape: a list of {role: str, parts: [part]}; else a string or None."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, list):
        return _as_text(value)
    out = []
    for message in value:
        if not isinstance(message, dict):
            out.append({"role": UNKNOWN_ROLE, "parts": [_part(message)]})
            continue
        role, parts, name = message.get("role"), message.get("parts"), message.get("name", None)
        valid = (
            isinstance(role, str)
            and isinstance(parts, list)
            and (name is None or isinstance(name, str))
            and ("finish_reason" not in message or isinstance(message["finish_reason"], str))
        )
        if valid and isinstance(parts, list):
            for part in parts:  # a loop, not all(genexpr): this runs for every message of every step
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    valid = False
                    break
        if valid:
            out.append(message)
            continue
        fixed = dict(message)
        fixed["role"] = role if isinstance(role, str) else (str(role) if role is not None else UNKNOWN_ROLE)
        if isinstance(parts, list):
            fixed["parts"] = [_part(p) for p in parts]
        else:
            fixed["parts"] = [] if parts is None else [_part(parts)]
        if name is not None and not isinstance(name, str):
            fixed["name"] = str(name)
        if "finish_reason" in fixed and not isinstance(fixed["finish_reason"], str):
            if fixed["finish_reason"] is None:
                del fixed["finish_reason"]
            else:
                fixed["finish_reason"] = str(fixed["finish_reason"])
        out.append(fixed)
    return out


def _parts_or_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_part(p) for p in value]
    return _as_text(value)


def _objects_or_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return value
    return _as_text(value)


def _add_usage(usage: dict[str, int], key: str, value: Any) -> None:
    count = _run.usage_count(value)
    if count is not None:
        usage[_USAGE[key]] = count


CONTENT_MAX_DEPTH = 64


def _content(record: SpanRecord, key: str, fallback: str | None = None) -> Any:
    value = _content_value(record, key)
    if value is None and fallback is not None:
        value = _content_value(record, fallback)
    if isinstance(value, str):
        try:
            # Bounded: a tool may return "[" * 5000 + "]" * 5000; kept as text rather than nested past the cap.
            return loads_bounded(value, "content", max_depth=CONTENT_MAX_DEPTH)
        except TraceFormatError:
            return value  # not JSON (or cut at the size cap, or too deep): kept as text
    return value


def _content_value(record: SpanRecord, key: str) -> Any:
    value = record.attributes.get(key)
    if value is None and record.events:
        # EVENT_ONLY capture puts content on an event instead of the span.
        for event in record.events:
            value = event.attributes.get(key)
            if value is not None:
                break
    return value


def _error(record: SpanRecord) -> dict[str, Any]:
    error_type = record.attributes.get(sc.ERROR_TYPE)
    message = record.status_message
    for event in record.events:
        exc_type = event.attributes.get(sc.EXCEPTION_TYPE)
        if exc_type is not None or sc.EXCEPTION_MESSAGE in event.attributes:
            error_type = error_type or exc_type
            message = message or event.attributes.get(sc.EXCEPTION_MESSAGE)
            break
    # "_OTHER" is the conventions' fallback for an error of unknown type.
    return {"type": str(error_type) if error_type else "_OTHER", "message": str(message) if message else None}


def _run_usage(llm_steps: list[dict[str, Any]]) -> dict[str, int]:
    total = {"input_tokens": 0, "output_tokens": 0}
    for step in llm_steps:
        usage = step["usage"]
        if usage:
            for name, value in usage.items():
                total[name] = total.get(name, 0) + value
    return total


def _final_output(llm_steps: list[dict[str, Any]]) -> str | None:
    for step in reversed(llm_steps):
        output = step["output"]
        if isinstance(output, list) and output:
            message = output[0]
            parts = message.get("parts") if isinstance(message, dict) else None
            if not isinstance(parts, list):
                return None
            text = "".join(
                p["content"]
                for p in parts
                if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("content"), str)
            )
            return text or None
    return None


def _service_name(root: SpanRecord, spans: list[SpanRecord]) -> str | None:
    for record in (root, *spans):
        name = record.resource.get(SERVICE_NAME)
        if isinstance(name, str):
            return name
    return None


def _ms(ns: int) -> float:
    return round(ns / 1e6, 3)


_iso_seconds: dict[int, str] = {}


def _iso(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    # Steps crowd into few distinct seconds; formatting each second once halves the cost of this function.
    prefix = _iso_seconds.get(seconds)
    if prefix is None:
        if len(_iso_seconds) > 4096:
            _iso_seconds.clear()
        prefix = _iso_seconds[seconds] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{prefix}.{rest // 1000:06d}Z"
