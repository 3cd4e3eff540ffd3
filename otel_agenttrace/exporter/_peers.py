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
    "input_tokens": ("gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
    "output_tokens": ("gen_ai.usage.completion_tokens", "llm.token_count.completion"),
}
_OURS = "otel_agenttrace"
# Step fields the surviving step takes from the other when it has none.
_FILLED = ("provider", "model", "input", "output", "system_instructions", "tool_definitions", "usage", "error")
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
    """`steps` (aligned with `records`) with each pair of nested LLM steps made one. Returns the same list
    when there is nothing to merge; otherwise a new list, re-indexed."""
    by_id = {step["id"]: step for step in steps}
    scope = {record.span_id: record.scope for record in records}
    outer_of: dict[str, str] = {}  # inner LLM step -> the LLM step it nests in
    inners: dict[str, list[str]] = {}
    for step in steps:
        if step["type"] != "llm_call":
            continue
        parent = by_id.get(step["parent_id"]) if step["parent_id"] else None
        while parent is not None and parent["type"] == _TRANSPARENT:
            parent = by_id.get(parent["parent_id"]) if parent["parent_id"] else None
        if parent is not None and parent["type"] == "llm_call":
            outer_of[step["id"]] = parent["id"]
            inners.setdefault(parent["id"], []).append(step["id"])
    if not outer_of:
        return steps

    dropped: dict[str, str] = {}  # dropped step id -> the step that carries its call now
    for outer_id, inner_ids in inners.items():
        outer = by_id[outer_id]
        if len(inner_ids) > 1:
            # Several calls inside one (a peer's span around retries or a batch): the inner steps are
            # the calls; the outer one stays as a plain span so that its tokens are not counted again.
            outer["type"] = _TRANSPARENT
            outer["usage"] = None
            continue
        inner = by_id[inner_ids[0]]
        # Ours saw the exact request and response (and holds the content); else the one nearest the wire.
        survivor, other = (outer, inner) if scope.get(outer_id) == _OURS != scope.get(inner["id"]) else (inner, outer)
        _fill(survivor, other)
        if survivor is inner:
            survivor["parent_id"] = outer["parent_id"]
            survivor["node"] = survivor["node"] or outer["node"]
        dropped[other["id"]] = survivor["id"]

    def carrier(step_id: str) -> str:
        while step_id in dropped:
            step_id = dropped[step_id]
        return step_id

    merged = [step for step in steps if step["id"] not in dropped]
    for index, step in enumerate(merged):
        step["index"] = index
        parent_id = step["parent_id"]
        if parent_id in dropped:
            new_parent = carrier(parent_id)
            step["parent_id"] = by_id[new_parent]["parent_id"] if new_parent == step["id"] else new_parent
    return merged


def _fill(survivor: dict[str, Any], other: dict[str, Any]) -> None:
    for key in _FILLED:
        if survivor[key] in (None, [], {}) and other[key] not in (None, [], {}):
            survivor[key] = other[key]
    if other["status"] == "error" and survivor["status"] == "ok":
        survivor["status"], survivor["error"] = "error", other["error"]
    survivor["request"] = {**other["request"], **survivor["request"]}
    survivor["attributes"] = {**other["attributes"], **survivor["attributes"]}
