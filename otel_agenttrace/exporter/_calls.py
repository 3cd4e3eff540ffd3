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
on which span survives as the step, so the totals need nothing else of the tree.

Kept cheap for the write path: nothing more is written per span. A writer keeps this state in memory
for the runs it writes (RunStore), and reads back from the run's stored spans only what it has not
seen: all of them the first time it writes a run that exists, another writer's newer chunks after
that. While no kept span is the parent of another (one instrumentation: the common case), no call can
nest and the totals are running sums.
"""

from __future__ import annotations

from typing import Any

from otel_agenttrace import semconv as sc
from otel_agenttrace.exporter import _peers, _run
from otel_agenttrace.exporter._records import SpanRecord

_OURS = 1  # flags
_ENDED = 2
_NO_USAGE = -1  # tokens of a view whose usage is empty
_OPERATION = sc.GEN_AI_OPERATION_NAME
_RUN_ROOT = sc.AGENTTRACE_RUN_ROOT
_STEP_TYPES = _run.STEP_TYPES
_INPUT, _OUTPUT = sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS
_RESPONSE_MODEL, _REQUEST_MODEL = sc.GEN_AI_RESPONSE_MODEL, sc.GEN_AI_REQUEST_MODEL


class Calls:
    """The LLM spans and plain links of one run, and what they add up to."""

    __slots__ = ("_groups", "_in", "_nests", "_out", "_parents", "_spans", "_uses", "changed")

    def __init__(self) -> None:
        # span id -> [parent, flags, input, output, model] (an LLM span) or [parent, flags] (a plain one)
        self._spans: dict[str, list[Any]] = {}
        self._parents: set[str | None] = set()
        self._nests = False  # some kept span is the parent of another: calls may nest
        self._in = self._out = 0  # running sums over the LLM spans, as if none nested
        self._uses: dict[str, int] = {}  # model -> LLM spans that name it, in order of appearance
        self._groups: _Groups | None = None  # made once calls may nest
        self.changed = False  # since the last totals()

    def add(self, record: SpanRecord, finished: bool) -> None:
        span_id = record.span_id
        spans = self._spans
        if not finished and span_id in spans:
            return  # a start record never replaces what the span's end said
        attrs = record.attributes
        # _peers.step_type_of, inlined: this runs for every span the store writes.
        operation = attrs.get(_OPERATION)
        step_type = _STEP_TYPES.get(operation) if isinstance(operation, str) else None
        if step_type is None:
            llm = operation is None and _peers.peer_operation(attrs) is not None
            step_type = "llm_call" if llm else "span"
        if step_type != "workflow" and attrs.get(_RUN_ROOT) is True:
            step_type = "workflow"
        parent = record.parent_id if record.parent_id != span_id else None
        flags = _ENDED if finished else 0
        if step_type == "llm_call":
            if record.scope == _peers.OURS:
                flags |= _OURS
            tokens_in, tokens_out = attrs.get(_INPUT), attrs.get(_OUTPUT)
            if not (type(tokens_in) is int and type(tokens_out) is int and tokens_in >= 0 and tokens_out >= 0):
                usage = _peers.call_usage(attrs)  # the general case (the common one is two plain counts)
                tokens_in, tokens_out = usage if usage is not None else (_NO_USAGE, _NO_USAGE)
            model = attrs.get(_RESPONSE_MODEL) or attrs.get(_REQUEST_MODEL)
            if not isinstance(model, str) or not model:
                model = None
            if span_id not in spans:  # _apply, inlined for the common case: a new LLM span
                spans[span_id] = [parent, flags, tokens_in, tokens_out, model]
                parents = self._parents
                if parent in spans or span_id in parents:
                    self._nests = True
                parents.add(parent)
                if tokens_in >= 0:
                    self._in += tokens_in
                    self._out += tokens_out
                if model is not None:
                    uses = self._uses
                    uses[model] = uses.get(model, 0) + 1
                if self._groups is not None:
                    self._groups.touch(span_id, parent)
                self.changed = True
                return
            change = [span_id, parent, flags, tokens_in, tokens_out, model]
        elif step_type == "span" and parent is not None:
            change = [span_id, parent, flags]
        elif span_id in spans:
            change = [span_id]  # its end says it is another kind of step
        else:
            return
        self._apply(change)
        self.changed = True

    def _apply(self, change: list[Any]) -> None:
        span_id = change[0]
        spans = self._spans
        old = spans.get(span_id)
        if old is not None and len(old) == 5:
            self._count(old, -1)
        if len(change) == 1:
            spans.pop(span_id, None)
            if self._groups is not None and old is not None:
                self._groups.touch(span_id, old[0])
            return
        entry = change[1:]
        spans[span_id] = entry
        parent = entry[0]
        if parent in spans or span_id in self._parents:
            self._nests = True
        self._parents.add(parent)
        if len(entry) == 5:
            self._count(entry, 1)
        if self._groups is not None:
            self._groups.touch(span_id, parent)

    def _count(self, entry: list[Any], sign: int) -> None:
        if entry[2] >= 0:
            self._in += sign * entry[2]
            self._out += sign * entry[3]
        model = entry[4]
        if model is not None:
            self._uses[model] = self._uses.get(model, 0) + sign

    def totals(self) -> tuple[int, int, list[str], int]:
        """(input tokens, output tokens, models, spans merged into another step's call)."""
        if not self._nests:
            return self._in, self._out, [model for model, uses in self._uses.items() if uses > 0], 0
        groups = self._groups
        if groups is None:
            groups = self._groups = _Groups()
            for span_id, entry in self._spans.items():
                groups.touch(span_id, entry[0])
        groups.settle(self._spans)
        models = groups.models
        return groups.tokens_in, groups.tokens_out, [m for m in self._uses if models.get(m, 0) > 0], groups.merged


class _Groups:
    """The kept spans in groups connected by parent links (a union-find), and what each group's calls add
    up to. Calls of different groups cannot be views of one another, so a batch re-counts only the
    groups it touched: a run of n calls costs O(batch) per batch, not O(n). A group only grows (a span
    that leaves keeps its place): a larger group is re-counted whole, never wrongly."""

    __slots__ = ("_dirty", "_members", "_results", "_up", "_waiting", "merged", "models", "tokens_in", "tokens_out")

    def __init__(self) -> None:
        self._up: dict[str, str] = {}  # span id -> a span of its group, up to the group's root
        self._members: dict[str, list[str]] = {}  # group root -> its spans
        self._waiting: dict[str, list[str]] = {}  # parent id not kept (yet) -> spans under it
        self._dirty: set[str] = set()
        self._results: dict[str, tuple[int, int, int, tuple[str, ...]]] = {}
        self.tokens_in = self.tokens_out = self.merged = 0
        self.models: dict[str, int] = {}  # model -> calls that name it

    def touch(self, span_id: str, parent: str | None) -> None:
        if span_id not in self._up:
            self._up[span_id] = span_id
            self._members[span_id] = [span_id]
            if parent is not None:
                if parent in self._up:
                    self._union(span_id, parent)
                else:
                    self._waiting.setdefault(parent, []).append(span_id)
            for child in self._waiting.pop(span_id, ()):
                self._union(child, span_id)
        self._dirty.add(self._find(span_id))

    def _find(self, span_id: str) -> str:
        up = self._up
        root = span_id
        while up[root] != root:
            root = up[root]
        while up[span_id] != root:
            up[span_id], span_id = root, up[span_id]
        return root

    def _union(self, a: str, b: str) -> None:
        small, large = self._find(a), self._find(b)
        if small == large:
            return
        if len(self._members[small]) > len(self._members[large]):
            small, large = large, small
        self._forget(small)
        self._forget(large)
        self._up[small] = large
        self._members[large].extend(self._members.pop(small))
        self._dirty.discard(small)
        self._dirty.add(large)

    def _forget(self, root: str) -> None:
        result = self._results.pop(root, None)
        if result is not None:
            self._add(result, -1)

    def _add(self, result: tuple[int, int, int, tuple[str, ...]], sign: int) -> None:
        self.tokens_in += sign * result[0]
        self.tokens_out += sign * result[1]
        self.merged += sign * result[2]
        for model in result[3]:
            self.models[model] = self.models.get(model, 0) + sign

    def settle(self, spans: dict[str, list[Any]]) -> None:
        for root in self._dirty:
            self._forget(root)
            result = _group_totals({span_id: spans[span_id] for span_id in self._members[root] if span_id in spans})
            self._results[root] = result
            self._add(result, 1)
        self._dirty.clear()


def _group_totals(spans: dict[str, list[Any]]) -> tuple[int, int, int, tuple[str, ...]]:
    """(input tokens, output tokens, merged spans, the calls' models) of a group of kept spans."""
    llm_parent = {span_id: entry[0] for span_id, entry in spans.items() if len(entry) == 5}
    plain_parent = {span_id: entry[0] for span_id, entry in spans.items() if len(entry) == 2}
    chains, demoted = _peers.nested_chains(llm_parent, plain_parent)
    in_chains = {span_id for chain in chains for span_id in chain}
    calls = [[span_id] for span_id in llm_parent if span_id not in demoted and span_id not in in_chains]
    tokens_in = tokens_out = merged = 0
    models: list[str] = []
    for ids in calls + chains:
        merged += len(ids) - 1
        views = _peers.preferred([spans[span_id] for span_id in ids], _is_ours)
        usage = next((view for view in views if view[2] != _NO_USAGE), None)
        if usage is not None:
            tokens_in += usage[2]
            tokens_out += usage[3]
        model = next((view[4] for view in views if view[4] is not None), None)
        if model is not None:
            models.append(model)
    return tokens_in, tokens_out, merged, tuple(models)


def _is_ours(entry: list[Any]) -> bool:
    return bool(entry[1] & _OURS)
