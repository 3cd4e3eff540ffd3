"""The store's view of a run's LLM calls, so that its summary counts each call once, as `dump` does.

Two instrumentations may trace one model call (a peer's LLM span around ours, or inside it:
exporter/_peers.py). Whether two LLM spans are one call is known only once the spans between them
have arrived, and they arrive in any order: children usually end (and are exported) before their
parents, a parent may come in a later batch or from another process. So the store keeps, per run, the
few facts the rule needs and re-applies the rule (`_peers.nested_chains`) after each batch:

- every LLM span: its parent, whether it is ours, its (input, output) tokens, its model;
- every plain span with a parent (HTTP spans, a framework's internals): its parent, since a chain of
  nested calls may pass through it. A workflow, node or tool span, like a span that has not arrived,
  ends a walk up the tree: neither is kept.

The merged call's tokens and model are the preferred view's (`_peers.preferred`), which does not depend
on which span survives as the step, so the totals need nothing else of the tree. It is one JSON value
in the run's row (`runs.calls`): a run of n LLM calls rewrites O(n) bytes per batch that touches it.
"""

from __future__ import annotations

import json
from typing import Any

from otel_agenttrace.exporter import _peers, _run
from otel_agenttrace.exporter._records import SpanRecord

_OURS = 1  # flags
_ENDED = 2
_NO_USAGE = -1  # tokens of a view whose usage is empty


class Calls:
    """The LLM spans and plain links of one run, and what they add up to."""

    __slots__ = ("_models", "_spans", "changed")

    def __init__(self, text: str | None = None) -> None:
        # span id -> [parent, flags, input, output, model index] (an LLM span) or [parent, flags] (a plain one)
        self._spans: dict[str, list[Any]] = {}
        self._models: list[str] = []  # every model seen, in order: entries point into it
        self.changed = False
        if text:
            self._models, self._spans = json.loads(text)

    def encode(self) -> str:
        return json.dumps([self._models, self._spans], separators=(",", ":"), ensure_ascii=False)

    def add(self, record: SpanRecord, finished: bool) -> None:
        span_id = record.span_id
        if not finished and span_id in self._spans:
            return  # a start record never replaces what the span's end said
        attrs = record.attributes
        step_type = _peers.step_type_of(attrs)
        parent = record.parent_id if record.parent_id != span_id else None
        flags = _ENDED if finished else 0
        if step_type == "llm_call":
            if _peers.is_ours(record.scope):
                flags |= _OURS
            usage = _peers.call_usage(attrs)
            model = _run.model_of(attrs)
            index = -1
            if model is not None:
                try:
                    index = self._models.index(model)
                except ValueError:
                    index = len(self._models)
                    self._models.append(model)
            tokens = usage if usage is not None else (_NO_USAGE, _NO_USAGE)
            self._spans[span_id] = [parent, flags, tokens[0], tokens[1], index]
        elif step_type == "span" and parent is not None:
            self._spans[span_id] = [parent, flags]
        elif span_id in self._spans:
            del self._spans[span_id]  # its end says it is another kind of step
        else:
            return
        self.changed = True

    def totals(self) -> tuple[int, int, list[str], int]:
        """(input tokens, output tokens, models, spans merged into another step's call)."""
        spans = self._spans
        llm_parent = {span_id: entry[0] for span_id, entry in spans.items() if len(entry) == 5}
        plain_parent = {span_id: entry[0] for span_id, entry in spans.items() if len(entry) == 2}
        chains: list[list[str]] = []
        demoted: set[str] = set()
        if plain_parent or _nests(llm_parent):
            chains, demoted = _peers.nested_chains(llm_parent, plain_parent)
        tokens_in = tokens_out = merged = 0
        used: set[int] = set()
        counted = [[span_id] for span_id in llm_parent if span_id not in demoted]
        if chains:
            in_chains = {span_id for chain in chains for span_id in chain}
            counted = [ids for ids in counted if ids[0] not in in_chains] + chains
        for ids in counted:
            merged += len(ids) - 1
            views = _peers.preferred([spans[span_id] for span_id in ids], _is_ours)
            usage = next((view for view in views if view[2] != _NO_USAGE), None)
            if usage is not None:
                tokens_in += usage[2]
                tokens_out += usage[3]
            model = next((view[4] for view in views if view[4] >= 0), -1)
            if model >= 0:
                used.add(model)
        return tokens_in, tokens_out, [m for i, m in enumerate(self._models) if i in used], merged


def _is_ours(entry: list[Any]) -> bool:
    return bool(entry[1] & _OURS)


def _nests(llm_parent: dict[str, str | None]) -> bool:
    """Whether an LLM span is the parent of another (the only nesting possible when no plain span is kept)."""
    return any(parent in llm_parent for parent in llm_parent.values())
