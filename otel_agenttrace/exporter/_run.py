"""What a run is: the rules the store's run summaries (`list`), the assembler (`dump`, `show`, `view`)
and the comparisons (`diff`, `bisect`, replay) share, so that they agree on every run.

- The root is a parentless span, the earliest of them; with none (a trace read in part), the earliest span.
- The workflow is the root's `gen_ai.workflow.name`, else any span's, else the root span's name.
- The status is `error` when the root failed, else `incomplete` when a span has not ended, else `ok`.
- Tokens and models come from LLM calls only: `gen_ai.operation.name` chat, text_completion,
  embeddings, and `generate_content` (a GenAI operation that semconv.Operation lacks), or another
  instrumentation's LLM span (exporter/_peers.py); the model is the response model, else the request
  model. A call that two instrumentations traced (their LLM spans nest) counts once: _peers.py says how.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from otel_agenttrace import semconv as sc

GENERATE_CONTENT: Final = "generate_content"
LLM_OPERATIONS: Final = frozenset(sc.LLM_OPERATIONS | {GENERATE_CONTENT})

OK, ERROR, INCOMPLETE = "ok", "error", "incomplete"

# gen_ai.operation.name -> step type; any other span is a plain "span" step.
STEP_TYPES: Final[dict[str, str]] = {
    sc.Operation.INVOKE_WORKFLOW: "workflow",
    sc.Operation.INVOKE_AGENT: "node",
    sc.Operation.CHAT: "llm_call",
    sc.Operation.TEXT_COMPLETION: "llm_call",
    sc.Operation.EMBEDDINGS: "llm_call",
    GENERATE_CONTENT: "llm_call",
    sc.Operation.EXECUTE_TOOL: "tool_call",
}
# gen_ai.usage.* -> the step's usage key.
USAGE_KEYS: Final[dict[str, str]] = {
    sc.GEN_AI_USAGE_INPUT_TOKENS: "input_tokens",
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: "output_tokens",
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: "cache_read_input_tokens",
    sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: "cache_creation_input_tokens",
}


def usage_count(value: Any) -> int | None:
    """A token count as a run keeps it: a non-negative integer (numbers and numeric text are read; a bool
    is not a count), else None: a count that is not a number is dropped rather than guessed."""
    if isinstance(value, bool):
        return None
    try:
        count = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return count if count >= 0 else None


def is_llm_call(attributes: Mapping[str, Any]) -> bool:
    return attributes.get(sc.GEN_AI_OPERATION_NAME) in LLM_OPERATIONS


def model_of(attributes: Mapping[str, Any]) -> str | None:
    """The model an LLM call used: the response model, else the requested one."""
    model = attributes.get(sc.GEN_AI_RESPONSE_MODEL) or attributes.get(sc.GEN_AI_REQUEST_MODEL)
    return model if isinstance(model, str) and model else None


def tokens_of(attributes: Mapping[str, Any]) -> tuple[int, int]:
    """(input, output) tokens an LLM call reported; a missing or nonsensical count is 0."""
    counts = []
    for key in (sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS):
        value = attributes.get(key)
        counts.append(value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0)
    return counts[0], counts[1]


def workflow_attribute(attributes: Mapping[str, Any]) -> str | None:
    name = attributes.get(sc.GEN_AI_WORKFLOW_NAME)
    return str(name) if name else None


def workflow_name(root_attributes: Mapping[str, Any], root_name: str, others: Iterable[Mapping[str, Any]]) -> str:
    """The root's workflow attribute, else the first span's that has one, else the root span's name."""
    name = workflow_attribute(root_attributes)
    if name:
        return name
    for attributes in others:
        name = workflow_attribute(attributes)
        if name:
            return name
    return root_name


def is_better_root(start_ns: int, parentless: bool, root_start_ns: int | None, root_parentless: bool) -> bool:
    """Whether a span (start, parentless) is a better root than the current one: parentless first, then earliest."""
    if root_start_ns is None:
        return True
    if parentless != root_parentless:
        return parentless
    return start_ns < root_start_ns


def run_status(root_failed: bool, incomplete: bool) -> str:
    if root_failed:
        return ERROR
    return INCOMPLETE if incomplete else OK


def step_depths(steps: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Each step's depth under its `parent_id` chain among `steps` (0: no parent among them).

    Iterative, as a run can nest deeper than the recursion limit; a parent cycle ends the walk."""
    parent_of = {s.get("id"): s.get("parent_id") for s in steps}
    depths: dict[str, int] = {}
    for start in parent_of:
        chain: list[str] = []
        node = start
        while node is not None and node not in depths and node in parent_of and node not in chain:
            chain.append(node)
            node = parent_of[node]
        base = depths.get(node, -1) if node is not None else -1
        for step_id in reversed(chain):
            base += 1
            depths[step_id] = base
    return depths
