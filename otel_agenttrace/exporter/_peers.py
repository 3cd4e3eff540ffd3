"""One LLM step per call, whoever made the span: LLM spans of other instrumentations, and the merge.

Several instrumentations may trace the same model call: a framework's own (Pydantic AI's `chat
{model}` span with `Agent.instrument_all()`), the SDK's own (the Anthropic SDK's spans), or another
SDK instrumentation (OpenTelemetry's openai-v2, OpenLLMetry, OpenInference) patched around ours or
inside it. Their spans nest: the outer one's call is the inner one's call. Both views are complete
only once both spans have ended, and the spans may even come from different sources (a backend holds
theirs and ours), so the merge is done here, on the records, rather than at span creation: every
instrumentation's spans are forwarded unchanged (a backend sees what each made), and the run trace
shows the call once and counts its tokens once.

Recognised as an LLM span (docs/configuration.md lists them):
- `gen_ai.operation.name` in chat / text_completion / generate_content / embeddings (the GenAI
  conventions: ours, Pydantic AI, openai-v2, the Anthropic SDK's own spans, OpenLLMetry's newer ones);
- `openinference.span.kind = LLM` (OpenInference), `llm.request.type` chat / completion (OpenLLMetry).
Tokens are read from `gen_ai.usage.*`, else the peer's own keys (OpenLLMetry's `gen_ai.usage.prompt_tokens`
and `completion_tokens`, OpenInference's `llm.token_count.prompt` and `completion`).
"""

from __future__ import annotations

from typing import Any

from otel_agenttrace.exporter._records import SpanRecord

# Attribute keys of other instrumentations, read only here (they are not ours: not in semconv/).
OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
OPENLLMETRY_REQUEST_TYPE = "llm.request.type"
PEER_USAGE: dict[str, tuple[str, ...]] = {
    "input_tokens": ("gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),  # semconv-ok: a peer's key
    "output_tokens": ("gen_ai.usage.completion_tokens", "llm.token_count.completion"),  # semconv-ok: a peer's key
}
_OURS = "otel_agenttrace"
# Step fields the surviving step takes from the other when it has none.
_FILLED = ("provider", "model", "input", "output", "system_instructions", "tool_definitions", "usage")
# Between two nested LLM spans there may be plain spans (HTTP), but no step of another kind.
_TRANSPARENT = "span"


def peer_operation(attributes: dict[str, Any]) -> str | None:
    """The LLM operation of a span that has no gen_ai.operation.name but a peer's marker, else None."""
    if attributes.get(OPENINFERENCE_SPAN_KIND) == "LLM":
        return "chat"
    request_type = attributes.get(OPENLLMETRY_REQUEST_TYPE)
    if request_type in ("chat", "completion"):
        return "chat" if request_type == "chat" else "text_completion"
    return None


def peer_usage(attributes: dict[str, Any]) -> dict[str, int]:
    usage: dict[str, int] = {}
    for name, keys in PEER_USAGE.items():
        for key in keys:
            value = attributes.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                usage[name] = value
                break
    return usage


def merge_nested_llm_steps(steps: list[dict[str, Any]], records: list[SpanRecord]) -> list[dict[str, Any]]:
    """`steps` (aligned with `records`) with each chain of nested LLM steps made one. Returns the same
    list when there is nothing to merge; otherwise a new list, re-indexed."""
    by_id = {step["id"]: step for step in steps}

    def outer_llm(step: dict[str, Any]) -> dict[str, Any] | None:
        parent = by_id.get(step["parent_id"]) if step["parent_id"] else None
        while parent is not None and parent["type"] == _TRANSPARENT:
            parent = by_id.get(parent["parent_id"]) if parent["parent_id"] else None
        return parent if parent is not None and parent["type"] == "llm_call" else None

    while True:
        inner_of: dict[str, list[dict[str, Any]]] = {}
        for step in steps:
            if step["type"] == "llm_call":
                outer = outer_llm(step)
                if outer is not None:
                    inner_of.setdefault(outer["id"], []).append(step)
        several = [outer_id for outer_id, inners in inner_of.items() if len(inners) > 1]
        if not several:
            break
        for outer_id in several:
            # Several calls inside one (a peer's span around retries or a batch): the inner steps are the
            # calls; the outer one stays as a plain span so that its tokens are not counted again.
            by_id[outer_id]["type"] = _TRANSPARENT
            by_id[outer_id]["usage"] = None
    if not inner_of:
        return steps

    scope = {record.span_id: record.scope for record in records}
    nested = {inners[0]["id"] for inners in inner_of.values()}
    dropped: dict[str, str] = {}  # dropped step id -> the step that carries its call now
    for top_id in inner_of:
        if top_id in nested:
            continue  # not the top of its chain
        chain = [by_id[top_id]]
        while chain[-1]["id"] in inner_of:
            chain.append(inner_of[chain[-1]["id"]][0])
        top = chain[0]
        ours = [step for step in chain if scope.get(step["id"]) == _OURS]
        # The run's root step stays (the document's otel.root_span_id names it); else ours, which saw the
        # exact request and response and holds the content; else the view nearest the wire.
        survivor = top if top["parent_id"] is None else (ours[-1] if ours else chain[-1])
        for other in reversed(chain):  # the view nearest the wire fills first
            if other is not survivor:
                _fill(survivor, other)
                dropped[other["id"]] = survivor["id"]
        survivor["node"] = survivor["node"] or top["node"]
        survivor["parent_id"] = top["parent_id"]
        _cover(survivor, chain)

    merged = [step for step in steps if step["id"] not in dropped]
    for step in merged:
        if step["parent_id"] in dropped:
            step["parent_id"] = dropped[step["parent_id"]]
    # A step may now start earlier (it covers its chain): keep the timeline chronological, and on equal starts
    # a parent before its children (by depth; the sort is stable, so siblings keep their order).
    depth = _depths(merged)
    merged.sort(key=lambda step: (step["relative_ms"], depth[step["id"]]))
    for index, step in enumerate(merged):
        step["index"] = index
    return merged


def _depths(steps: list[dict[str, Any]]) -> dict[str, int]:
    parent_of = {step["id"]: step["parent_id"] for step in steps}
    depth: dict[str, int] = {}
    for start in parent_of:
        chain: list[str] = []
        node: str | None = start
        while node is not None and node not in depth and node in parent_of and node not in chain:
            chain.append(node)
            node = parent_of[node]
        base = depth.get(node, -1) if node is not None else -1
        for step_id in reversed(chain):
            base += 1
            depth[step_id] = base
    return depth


def _cover(survivor: dict[str, Any], chain: list[dict[str, Any]]) -> None:
    """The call's step spans every view of it: from the first one's start to the last one's end (a peer's
    span around ours starts first; clocks of two processes may even order them the other way)."""
    first = min(chain, key=lambda step: step["relative_ms"])
    ends = [step["relative_ms"] + step["duration_ms"] for step in chain if step["duration_ms"] is not None]
    if first is not survivor:
        survivor["started_at"], survivor["relative_ms"] = first["started_at"], first["relative_ms"]
    if survivor["duration_ms"] is not None and ends:
        survivor["duration_ms"] = round(max(ends) - survivor["relative_ms"], 3)


def _fill(survivor: dict[str, Any], other: dict[str, Any]) -> None:
    for key in _FILLED:
        if survivor[key] in (None, [], {}) and other[key] not in (None, [], {}):
            survivor[key] = other[key]
    if other["status"] == "error" and survivor["status"] == "ok":
        survivor["status"], survivor["error"] = "error", other["error"]
    survivor["request"] = {**other["request"], **survivor["request"]}
    survivor["attributes"] = {**other["attributes"], **survivor["attributes"]}
