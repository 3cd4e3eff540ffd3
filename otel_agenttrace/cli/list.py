"""`agenttrace list`: the recent runs in the store, newest first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import click

from otel_agenttrace import semconv as sc
from otel_agenttrace.cli import _format
from otel_agenttrace.cli._app import App, home_option, pass_app

if TYPE_CHECKING:
    from otel_agenttrace.exporter._records import SpanRecord

SHORT_ID = 12
STATUS_COLORS = {"ok": "green", "error": "red", "incomplete": "yellow"}


def _iso(ns: int | None) -> str | None:
    if not ns:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def run_cost(app: App, run_id: str) -> dict[str, Any] | None:
    """A stored run's cost (see records_cost)."""
    return records_cost(app.store().spans(run_id))


def records_cost(records: Sequence[SpanRecord]) -> dict[str, Any] | None:
    """The cost of a run's span records, priced like `show` prices the run, from the LLM spans' model
    and usage only (no content is parsed: a 10,000-step run costs a read of its spans, not an assembly)."""
    from otel_agenttrace._cost import default_table
    from otel_agenttrace.exporter._assemble import _STEP_TYPES, _USAGE, _iso

    if not records:
        return None
    steps: list[dict[str, Any]] = []
    for record in records:
        attrs = record.attributes
        operation = attrs.get(sc.GEN_AI_OPERATION_NAME)
        if record.end_ns is None or not isinstance(operation, str) or _STEP_TYPES.get(operation) != "llm_call":
            continue
        usage = {}
        for key, name in _USAGE.items():
            value = attrs.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                usage[name] = value
        model = attrs.get(sc.GEN_AI_RESPONSE_MODEL) or attrs.get(sc.GEN_AI_REQUEST_MODEL)
        provider = attrs.get(sc.GEN_AI_PROVIDER_NAME)
        steps.append({"type": "llm_call", "model": model, "provider": provider, "usage": usage or None})
    started = _iso(min(r.start_ns for r in records))
    cost: dict[str, Any] | None = default_table().annotate({"started_at": started, "steps": steps}).get("cost")
    return cost


def _as_json(run: Any, cost: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "workflow": run.workflow,
        "status": run.status,
        "started_at": _iso(run.started_ns),
        "started_ns": run.started_ns,
        "duration_ms": run.duration_ms,
        "steps": run.steps,
        "input_tokens": run.input_tokens,
        "output_tokens": run.output_tokens,
        "models": list(run.models or []),
        "cost": cost,
    }


@click.command("list")
@click.option(
    "-n", "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many runs."
)
@click.option("--json", "as_json", is_flag=True, help="A JSON array (full run ids, ISO times) instead of a table.")
@home_option
@pass_app
def list_command(app: App, limit: int, as_json: bool) -> None:
    """List the recent runs in the store, newest first."""
    from otel_agenttrace._cost import PriceFileError

    runs = app.store().list_runs(limit=limit) if app.home.exists() else []
    try:
        costs = [run_cost(app, r.run_id) for r in runs]
    except PriceFileError as exc:
        app.abort(f"AGENTTRACE_PRICES: {exc}")
    if as_json:
        app.out(json.dumps([_as_json(r, c) for r, c in zip(runs, costs, strict=True)], indent=2))
        return
    if not runs:
        app.note(f"no runs recorded yet in {app.home}")
        return
    headers = ("RUN ID", "WORKFLOW", "STATUS", "STARTED", "DURATION", "STEPS", "TOKENS IN/OUT", "COST", "MODELS")
    text = _format.printable  # names come from the recorded program
    rows = [
        (
            text(r.run_id[:SHORT_ID]),
            text(r.workflow or "-"),
            text(r.status),
            _format.local_time(r.started_ns),
            _format.duration(r.duration_ms),
            str(r.steps),
            _format.tokens(r.input_tokens, r.output_tokens),
            _format.run_cost(cost),
            text(", ".join(r.models or [])) or "-",
        )
        for r, cost in zip(runs, costs, strict=True)
    ]

    def paint(column: int, cell: str) -> str:
        return app.style(cell, fg=STATUS_COLORS[cell]) if column == 2 and cell in STATUS_COLORS else cell

    lines = _format.table(headers, rows, right=(4, 5, 6, 7), paint=paint)
    app.out(app.style(lines[0], bold=True))
    for line in lines[1:]:
        app.out(line)
