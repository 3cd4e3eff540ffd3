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

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from otel_agenttrace import semconv as sc
from otel_agenttrace.exporter import _run
from otel_agenttrace.exporter._records import SpanRecord

_V = TypeVar("_V")

# Attribute keys of other instrumentations, read only here (they are not ours: not in semconv/).
OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
OPENLLMETRY_REQUEST_TYPE = "llm.request.type"
PEER_USAGE: dict[str, tuple[str, ...]] = {
    "input_tokens": ("gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),  # semconv-ok: a peer's key
    "output_tokens": ("gen_ai.usage.completion_tokens", "llm.token_count.completion"),  # semconv-ok: a peer's key
}
OURS = "otel_agenttrace"  # our tracer's instrumentation scope
# Step fields the merged step takes from the preferred view that has them (see preferred()), whichever step
# survives: the run's tokens, models and cost then do not depend on which spans have arrived.
_PREFERRED = ("usage", "model", "provider")
# Step fields the surviving step takes from the other when it has none.
_FILLED = ("input", "output", "system_instructions", "tool_definitions")
# Between two nested LLM spans there may be plain spans (HTTP), but no step of another kind.
_TRANSPARENT = "span"


def peer_operation(attributes: Mapping[str, Any]) -> str | None:
    """The LLM operation of a span that has no gen_ai.operation.name but a peer's marker, else None."""
    if attributes.get(OPENINFERENCE_SPAN_KIND) == "LLM":
        return "chat"
    request_type = attributes.get(OPENLLMETRY_REQUEST_TYPE)
    if request_type in ("chat", "completion"):
        return "chat" if request_type == "chat" else "text_completion"
    return None


def peer_usage(attributes: Mapping[str, Any]) -> dict[str, int]:
    usage: dict[str, int] = {}
    for name, keys in PEER_USAGE.items():
        for key in keys:
            value = attributes.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                usage[name] = value
                break
    return usage


def step_type_of(attributes: Mapping[str, Any]) -> str:
    """The run-trace step type of a span: workflow, node, llm_call, tool_call or span (a plain span)."""
    operation = attributes.get(sc.GEN_AI_OPERATION_NAME)
    step_type = _run.STEP_TYPES.get(operation, _TRANSPARENT) if isinstance(operation, str) else _TRANSPARENT
    if step_type == _TRANSPARENT and operation is None and peer_operation(attributes) is not None:
        step_type = "llm_call"  # another instrumentation's LLM span (OpenInference, OpenLLMetry)
    if attributes.get(sc.AGENTTRACE_RUN_ROOT) is True:
        step_type = "workflow"
    return step_type


def step_usage(attributes: Mapping[str, Any]) -> dict[str, int]:
    """An LLM step's usage as the assembled step has it: gen_ai.usage.* counts, else a peer's own keys."""
    counts: dict[str, int] = {}
    for key, name in _run.USAGE_KEYS.items():
        value = attributes.get(key)
        if value is not None:
            count = _run.usage_count(value)
            if count is not None:
                counts[name] = count
    return counts or peer_usage(attributes)


def call_usage(attributes: Mapping[str, Any]) -> tuple[int, int] | None:
    """(input, output) tokens of an LLM step; None when its usage is empty (no count at all: in a merge,
    another view of the call then gives the usage)."""
    counts = step_usage(attributes)
    if not counts:
        return None
    return counts.get("input_tokens", 0), counts.get("output_tokens", 0)


def is_ours(scope: str | None) -> bool:
    return scope == OURS


def nested_chains(
    llm_parent: Mapping[str, str | None], plain_parent: Mapping[str, str | None]
) -> tuple[list[list[str]], set[str]]:
    """Which LLM spans are views of one call: the one rule behind the assembled steps and the store's summary.

    `llm_parent` maps every LLM span to its parent id, `plain_parent` every plain span (one that is not a
    workflow, node, tool or LLM step: HTTP spans, a framework's internals) to its parent id. Any other
    id (another step, or a span that is not there) ends the walk up. An LLM span's outer call is its
    nearest ancestor that is not plain, when that is an LLM span. An outer call with several inner ones
    (a peer's span around retries or a batch) is not a view of them: it is demoted to a plain span, and
    the walk is redone. Returns the chains (outermost first, two spans or more, one inner each) and the
    demoted spans.
    """
    demoted: set[str] = set()

    def outer(span_id: str) -> str | None:
        seen = {span_id}
        node = llm_parent[span_id]
        while node is not None and node not in seen:
            seen.add(node)
            if node in llm_parent and node not in demoted:
                return node
            if node in demoted:
                node = llm_parent[node]
            elif node in plain_parent:
                node = plain_parent[node]
            else:
                return None
        return None

    while True:
        inner_of: dict[str, list[str]] = {}
        for span_id in llm_parent:
            if span_id not in demoted:
                found = outer(span_id)
                if found is not None:
                    inner_of.setdefault(found, []).append(span_id)
        several = [outer_id for outer_id, inners in inner_of.items() if len(inners) > 1]
        if not several:
            break
        demoted.update(several)
    nested = {inners[0] for inners in inner_of.values()}
    chains = []
    for top in inner_of:
        if top in nested:
            continue  # not the top of its chain
        chain = [top]
        while chain[-1] in inner_of:
            chain.append(inner_of[chain[-1]][0])
        chains.append(chain)
    return chains, demoted


def preferred(chain: Sequence[_V], ours: Callable[[_V], bool]) -> list[_V]:
    """The views of one call (outermost first) in the order their usage, model and provider are taken:
    ours first (it saw the exact request and response), then the view nearest the wire. Independent of
    which step survives, so that a summary that never sees the whole tree counts the same."""
    inward = list(reversed(chain))
    return [view for view in inward if ours(view)] + [view for view in inward if not ours(view)]


def counted_calls(records: Sequence[SpanRecord]) -> list[list[SpanRecord]]:
    """The LLM calls of one trace's records, each as its views in preferred() order: one entry per step
    the assembled run has, for what is summed per call without assembling (a run's cost in `list`)."""
    by_id: dict[str, SpanRecord] = {}
    for record in records:
        seen = by_id.get(record.span_id)
        if seen is None or seen.end_ns is None or record.end_ns is not None:  # the ended record wins
            by_id[record.span_id] = record
    llm_parent: dict[str, str | None] = {}
    plain_parent: dict[str, str | None] = {}
    for span_id, record in by_id.items():
        step_type = step_type_of(record.attributes)
        parent = record.parent_id if record.parent_id != span_id else None
        if step_type == "llm_call":
            llm_parent[span_id] = parent
        elif step_type == _TRANSPARENT:
            plain_parent[span_id] = parent
    chains, demoted = nested_chains(llm_parent, plain_parent)
    in_chains = {span_id for chain in chains for span_id in chain}
    calls = [[span_id] for span_id in llm_parent if span_id not in demoted and span_id not in in_chains]
    return [
        preferred([by_id[span_id] for span_id in ids], lambda record: is_ours(record.scope)) for ids in calls + chains
    ]


def merge_nested_llm_steps(steps: list[dict[str, Any]], records: list[SpanRecord]) -> list[dict[str, Any]]:
    """`steps` (aligned with `records`) with each chain of nested LLM steps made one. Returns the same
    list when there is nothing to merge; otherwise a new list, re-indexed."""
    llm_parent: dict[str, str | None] = {}
    plain_parent: dict[str, str | None] = {}
    for step in steps:
        if step["type"] == "llm_call":
            llm_parent[step["id"]] = step["parent_id"]
        elif step["type"] == _TRANSPARENT:
            plain_parent[step["id"]] = step["parent_id"]
    if not llm_parent:
        return steps
    chains, demoted = nested_chains(llm_parent, plain_parent)
    by_id = {step["id"]: step for step in steps}
    for outer_id in demoted:
        # Several calls inside one: the inner steps are the calls; the outer one stays as a plain span so
        # that its tokens are not counted again.
        by_id[outer_id]["type"] = _TRANSPARENT
        by_id[outer_id]["usage"] = None
    if not chains:
        return steps

    scope = {record.span_id: record.scope for record in records}
    dropped: dict[str, str] = {}  # dropped step id -> the step that carries its call now
    for ids in chains:
        chain = [by_id[step_id] for step_id in ids]
        top = chain[0]
        ours = [step for step in chain if is_ours(scope.get(step["id"]))]
        # The run's root step stays (the document's otel.root_span_id names it); else ours, which saw the
        # exact request and response and holds the content; else the view nearest the wire.
        survivor = top if top["parent_id"] is None else (ours[-1] if ours else chain[-1])
        order = preferred(chain, lambda step: is_ours(scope.get(step["id"])))
        for key in _PREFERRED:
            survivor[key] = next((step[key] for step in order if step[key] not in (None, {})), None)
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
    depth = _run.step_depths(merged)
    merged.sort(key=lambda step: (step["relative_ms"], depth[step["id"]]))
    for index, step in enumerate(merged):
        step["index"] = index
    return merged


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
