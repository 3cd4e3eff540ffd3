"""A run's summary row in the store (`runs`): merged span by span as spans are written, read by `list`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from otel_agenttrace.exporter import _run
from otel_agenttrace.exporter._calls import Calls
from otel_agenttrace.exporter._records import SpanRecord
from otel_agenttrace.exporter._store_codec import decode, encode


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    workflow: str | None
    status: str  # ok | error | incomplete
    started_ns: int
    duration_ms: float | None  # None while nothing of the run has ended
    steps: int
    input_tokens: int
    output_tokens: int
    models: list[str] = field(default_factory=list)
    lost_spans: int = 0  # spans of this run the pipeline dropped (queue full at exit, writer stalled)


class Run:
    """The `runs` row of one trace, merged in Python span by span with the rules of `_run` (the root,
    the workflow, the status, tokens and models), the ones `_assemble.assemble` uses: `list` and
    `dump` agree. Tokens and models are re-counted from `calls` after each batch (`settle`): two
    instrumentations' spans of one call count once, whatever order they arrive in. While the run is
    being written `calls` is always there; a row read for a summary has none."""

    __slots__ = (
        "calls",
        "ended_ns",
        "errors",
        "finished",
        "input_tokens",
        "merged",
        "models",
        "open",
        "output_tokens",
        "root_name",
        "root_parentless",
        "root_span_id",
        "root_start_ns",
        "root_status",
        "run_id",
        "started_ns",
        "workflow",
    )

    def __init__(self, run_id: str, row: Sequence[Any] | None, merged: int = 0, calls: Calls | None = None) -> None:
        """`row`: the run's columns (_RUN_COLUMNS), None for a new run."""
        self.run_id = run_id
        self.workflow: str | None = None
        self.root_span_id: str | None = None
        self.root_name: str | None = None
        self.root_status: str | None = None
        self.root_start_ns = 0
        self.root_parentless = False
        self.started_ns: int | None = None
        self.ended_ns: int | None = None
        self.finished = self.open = self.errors = self.input_tokens = self.output_tokens = 0
        self.models: list[str] = []
        self.merged = merged
        self.calls: Calls | None = Calls() if row is None else calls
        if row is not None:
            (
                _,
                self.workflow,
                self.root_span_id,
                self.root_name,
                self.root_status,
                self.root_start_ns,
                root_parentless,
                self.started_ns,
                self.ended_ns,
                self.finished,
                self.open,
                self.errors,
                self.input_tokens,
                self.output_tokens,
                models,
            ) = row
            self.root_parentless = bool(root_parentless)
            self.models = decode(models)

    def add(self, record: SpanRecord, finished: bool) -> None:
        attrs = record.attributes
        start = record.start_ns
        if self.started_ns is None or start < self.started_ns:
            self.started_ns = start
        parentless = record.parent_id is None
        current = self.root_start_ns if self.root_span_id is not None else None
        is_root = record.span_id == self.root_span_id or _run.is_better_root(
            start, parentless, current, self.root_parentless
        )
        workflow = _run.workflow_attribute(attrs)
        if is_root:
            self.root_span_id, self.root_name, self.root_start_ns = record.span_id, record.name, start
            if record.span_id != self.root_span_id or finished:
                # A late start record of the root never undoes its finished status.
                self.root_status = record.status if finished else None
            self.root_parentless = parentless
            if workflow and parentless:
                self.workflow = workflow
        if workflow and self.workflow is None:
            self.workflow = workflow
        if self.calls is not None:
            self.calls.add(record, finished)
        if not finished:
            return
        self.finished += 1
        end = record.end_ns
        if end is not None and (self.ended_ns is None or end > self.ended_ns):
            self.ended_ns = end
        if record.status == "ERROR":
            self.errors += 1

    def settle(self) -> None:
        """Re-count tokens, models and merged spans after a batch that changed the run's calls."""
        calls = self.calls
        if calls is not None and calls.changed:
            self.input_tokens, self.output_tokens, self.models, self.merged = calls.totals()
            calls.changed = False

    def row(self) -> tuple[Any, ...]:
        self.settle()
        return (
            self.run_id,
            self.workflow,
            self.root_span_id,
            self.root_name,
            self.root_status,
            self.root_start_ns,
            int(self.root_parentless),
            self.started_ns,
            self.ended_ns,
            self.finished,
            self.open,
            self.errors,
            self.input_tokens,
            self.output_tokens,
            encode(self.models),
            self.merged,
        )


def summary(row: Sequence[Any]) -> RunSummary:
    """A run's summary from its row: _RUN_COLUMNS, merged, lost."""
    run = Run(row[0], row[:-2])
    started = run.started_ns or 0
    status = _run.run_status(run.root_status == "ERROR", run.open > 0)
    return RunSummary(
        run_id=run.run_id,
        workflow=run.workflow or run.root_name,
        status=status,
        started_ns=started,
        duration_ms=None if run.ended_ns is None else round(max(0, run.ended_ns - started) / 1e6, 3),
        steps=run.finished + run.open - int(row[-2] or 0),
        input_tokens=run.input_tokens,
        output_tokens=run.output_tokens,
        models=run.models,
        lost_spans=int(row[-1] or 0),
    )
