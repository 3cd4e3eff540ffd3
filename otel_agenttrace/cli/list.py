"""`agenttrace list`: the recent runs in the store, newest first."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import click

from otel_agenttrace.cli import _format
from otel_agenttrace.cli._app import App, home_option, pass_app

SHORT_ID = 12
STATUS_COLORS = {"ok": "green", "error": "red", "incomplete": "yellow"}


def _iso(ns: int | None) -> str | None:
    if not ns:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _as_json(run: Any) -> dict[str, Any]:
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
        "lost_spans": run.lost_spans,
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
    runs = app.store().list_runs(limit=limit) if app.home.exists() else []
    if as_json:
        app.out(json.dumps([_as_json(r) for r in runs], indent=2))
        return
    if not runs:
        app.note(f"no runs recorded yet in {app.home}")
        return
    headers = ("RUN ID", "WORKFLOW", "STATUS", "STARTED", "DURATION", "STEPS", "TOKENS IN/OUT", "MODELS")
    rows = [
        (
            r.run_id[:SHORT_ID],
            r.workflow or "-",
            f"{r.status}, lost {r.lost_spans} spans" if r.lost_spans else r.status,
            _format.local_time(r.started_ns),
            _format.duration(r.duration_ms),
            str(r.steps),
            _format.tokens(r.input_tokens, r.output_tokens),
            ", ".join(r.models or []) or "-",
        )
        for r in runs
    ]

    def paint(column: int, cell: str) -> str:
        return app.style(cell, fg=STATUS_COLORS[cell]) if column == 2 and cell in STATUS_COLORS else cell

    lines = _format.table(headers, rows, right=(4, 5, 6), paint=paint)
    app.out(app.style(lines[0], bold=True))
    for line in lines[1:]:
        app.out(line)
