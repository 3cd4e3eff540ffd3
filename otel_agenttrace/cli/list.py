"""`agenttrace list`: the recent runs in the store, or in a trace backend (`--from tempo|jaeger|phoenix URL`)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import click

from otel_agenttrace import semconv as sc
from otel_agenttrace.cli import _format
from otel_agenttrace.cli._app import App, abort, home_option, pass_app
from otel_agenttrace.cli._sources import BACKENDS, backend, backend_options
from otel_agenttrace.exporter import _run

if TYPE_CHECKING:
    from otel_agenttrace.exporter._records import SpanRecord
    from otel_agenttrace.exporter.store import RunSummary

SHORT_ID = 12
STATUS_COLORS = {"ok": "green", "error": "red", "incomplete": "yellow"}
MAX_LIMIT = 10_000
DEFAULT_SINCE = "7d"


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
    from otel_agenttrace.exporter._assemble import _iso
    from otel_agenttrace.exporter._peers import counted_calls, step_usage

    if not records:
        return None
    # One entry per call, whoever traced it (a peer's LLM span and ours are one call): as `show` counts.
    steps: list[dict[str, Any]] = []
    for views in counted_calls(records):
        usages = (step_usage(view.attributes) for view in views)
        usage = next((u for u in usages if u), None)
        model = next((m for m in (_run.model_of(view.attributes) for view in views) if m), None)
        providers = (view.attributes.get(sc.GEN_AI_PROVIDER_NAME) for view in views)
        provider = next((p for p in providers if isinstance(p, str)), None)
        steps.append({"type": "llm_call", "model": model, "provider": provider, "usage": usage})
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
        "lost_spans": run.lost_spans,
    }


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    from otel_agenttrace.exporter.store import parse_age

    if value is None:
        return None
    try:
        seconds = parse_age(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if seconds > 100 * 365 * 86400:
        raise click.BadParameter(f"{value!r} is more than 100 years")
    return seconds


@click.command("list")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1, max=MAX_LIMIT),
    default=20,
    show_default=True,
    help="At most this many runs.",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON array (full run ids, ISO times) instead of a table.")
@click.option(
    "--from",
    "source",
    type=click.Choice(BACKENDS),
    help="List the runs in a backend instead of the store: --from tempo|jaeger|phoenix URL.",
)
@click.argument("url", required=False, metavar="[URL]")
@click.option(
    "--since",
    metavar="AGE",
    callback=_since,
    help=f"Only runs started within AGE, e.g. 2h, 7d [default for a backend: {DEFAULT_SINCE}].",
)
@click.option("--service", metavar="NAME", help="Only runs of this service (service.name); backends only.")
@click.option("--status", type=click.Choice(["ok", "error", "incomplete"]), help="Only runs that ended this way.")
@backend_options
@home_option
@pass_app
def list_command(
    app: App,
    limit: int,
    as_json: bool,
    source: str | None,
    url: str | None,
    since: float | None,
    service: str | None,
    status: str | None,
) -> None:
    """List the recent runs, newest first: in the store, or in a backend.

    \b
      agenttrace list
      agenttrace list --status error --since 1d
      agenttrace list --from tempo http://tempo:3200 --service my-agent
      agenttrace list --from jaeger http://jaeger:16686
      agenttrace list --from phoenix http://localhost:6006 --project default
    """
    from otel_agenttrace._cost import PriceFileError

    if source is None:
        if url is not None:
            raise click.UsageError(f"unexpected argument {url!r} (a URL goes with --from tempo|jaeger|phoenix)")
        if service is not None:
            raise click.UsageError("--service applies to --from tempo|jaeger|phoenix URL")
        runs = _local_runs(app, limit, since, status)
        try:
            costs = [run_cost(app, r.run_id) for r in runs]
        except PriceFileError as exc:
            app.abort(f"AGENTTRACE_PRICES: {exc}")
    else:
        if url is None:
            raise click.UsageError(f"--from {source} takes a URL, e.g. --from {source} http://localhost:3200")
        try:
            found = _remote_runs(source, url, limit, since, service, status)
        except PriceFileError as exc:
            app.abort(f"AGENTTRACE_PRICES: {exc}")
        runs, costs = [r.summary for r in found], [r.cost for r in found]
    if as_json:
        app.out(json.dumps([_as_json(r, c) for r, c in zip(runs, costs, strict=True)], indent=2))
        return
    if not runs:
        where = f"{source} at {_safe(url)}" if source else str(app.home)
        app.note(f"no runs {'match' if since or status or service else 'recorded yet'} in {where}")
        return
    headers = ("RUN ID", "WORKFLOW", "STATUS", "STARTED", "DURATION", "STEPS", "TOKENS IN/OUT", "COST", "MODELS")
    text = _format.printable  # names come from the recorded program
    rows = [
        (
            text(r.run_id[:SHORT_ID]),
            text(r.workflow or "-"),
            text(f"{r.status}, lost {r.lost_spans} spans" if r.lost_spans else r.status),
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


def _safe(url: str | None) -> str:
    from otel_agenttrace.cli._http import safe_url

    return safe_url(url or "")


def _local_runs(app: App, limit: int, since: float | None, status: str | None) -> list[RunSummary]:
    if not app.home.exists():
        return []
    if since is None and status is None:
        return app.store().list_runs(limit=limit)
    # Filters read the runs table whole (one small row per run; retention bounds it) and keep the newest matches.
    cutoff = time.time_ns() - int(since * 1e9) if since is not None else 0
    runs = app.store().list_runs(limit=2**62)
    return [r for r in runs if r.started_ns >= cutoff and (status is None or r.status == status)][:limit]


def _remote_runs(
    kind: str, url: str, limit: int, since: float | None, service: str | None, status: str | None
) -> list[_Remote]:
    from otel_agenttrace.cli import _backends, _http
    from otel_agenttrace.exporter._records import TraceFormatError
    from otel_agenttrace.exporter.store import parse_age

    remote = backend(kind, url)
    if kind == "phoenix" and service is not None:
        raise click.UsageError(
            "--service does not apply to phoenix: its API has no resource attributes (see --project)"
        )
    now = time.time_ns()
    window = since if since is not None else parse_age(DEFAULT_SINCE)
    query = _backends.RunQuery(
        limit=limit,
        since_ns=max(0, now - int(window * 1e9)),
        until_ns=now,
        service=service,
        errors_only=status == "error",
    )
    try:
        found = _backends.find_runs(remote, query)
    except _http.BackendError as exc:
        abort(exc)
    except TraceFormatError as exc:
        abort(f"{remote.describe()}: {exc}")
    summaries = [_summary(records) for records in found]
    runs = [
        r
        for r in summaries
        if r is not None
        and r.started_ns >= query.since_ns
        and (status is None or r.status == status)
        and (service is None or r.service == service)
    ]
    runs.sort(key=lambda r: (r.started_ns, r.run_id), reverse=True)
    return runs[:limit]


class _Remote:
    __slots__ = ("cost", "run_id", "service", "started_ns", "status", "summary")

    def __init__(self, summary: RunSummary, service: str | None, cost: dict[str, Any] | None) -> None:
        self.summary, self.service, self.cost = summary, service, cost
        self.run_id, self.started_ns, self.status = summary.run_id, summary.started_ns, summary.status


def _summary(records: list[SpanRecord]) -> _Remote | None:
    """The list columns of a run read from a backend: the assembled run trace, as the local store sums it up."""
    from otel_agenttrace.exporter._assemble import assemble
    from otel_agenttrace.exporter._records import TraceFormatError
    from otel_agenttrace.exporter.store import RunSummary

    try:
        doc = assemble(records)
    except TraceFormatError:
        return None  # a trace we cannot read is not listed; `dump --from` on it says why
    usage = doc.get("usage") or {}
    summary = RunSummary(
        run_id=doc["run_id"],
        workflow=doc.get("workflow"),
        status=doc.get("status") or "incomplete",
        started_ns=min(r.start_ns for r in records),
        duration_ms=doc.get("duration_ms"),
        steps=len(doc.get("steps") or ()),
        input_tokens=int(usage.get("input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
        models=list(doc.get("models") or []),
    )
    return _Remote(summary, (doc.get("service") or {}).get("name"), records_cost(records))
