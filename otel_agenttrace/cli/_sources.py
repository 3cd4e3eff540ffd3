"""Where `dump` and `show` get a run from: the local store, a file, or a trace backend.

Every source ends the same way: span records -> assemble -> check_run_trace. A file may also
hold a run-trace JSON written by `dump`; it is checked (a newer schema_version is refused) and
used as it is.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from otel_agenttrace.cli._app import App, abort
from otel_agenttrace.exporter._records import SpanRecord

BACKENDS = ("tempo", "jaeger")
_HEX = re.compile(r"^[0-9a-f]{1,32}$")


@dataclass(frozen=True)
class Selection:
    """The command line's choice of run: --from SOURCE (or the store), positional ids, --last."""

    source: str | None
    args: tuple[str, ...]
    last: bool


def source_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """`[RUN_ID | --last] [--from FILE | --from tempo URL TRACE_ID | --from jaeger URL TRACE_ID]`."""
    f = click.argument("ids", nargs=-1, metavar="[RUN_ID | URL TRACE_ID]")(f)
    f = click.option(
        "--from",
        "source",
        metavar="FILE|tempo|jaeger",
        help="Read the run from an OTLP JSON lines FILE ('-': stdin) or a run-trace JSON file, "
        "or from a backend: --from tempo URL TRACE_ID, --from jaeger URL TRACE_ID. Default: the local store.",
    )(f)
    f = click.option("--last", is_flag=True, help="The newest run (in the store, or in FILE).")(f)
    return f


def load_run_trace(app: App, selection: Selection) -> dict[str, Any]:
    """The checked run-trace document the selection names; every failure exits with one line."""
    from otel_agenttrace.exporter._schema import check_run_trace

    source, args, last = selection.source, selection.args, selection.last
    if source in BACKENDS:
        if last:
            raise click.UsageError(f"--last does not apply to --from {source}; give URL TRACE_ID")
        if len(args) != 2:
            raise click.UsageError(
                f"--from {source} takes URL TRACE_ID, e.g. --from {source} http://localhost:3200 4bf9…"
            )
        return check_run_trace(_assemble(_from_backend(source, args[0], args[1]), f"{source} trace {args[1]}"))
    if len(args) > 1:
        raise click.UsageError(f"expected at most one RUN_ID, got {len(args)}: {' '.join(args)}")
    wanted = args[0] if args else None
    if wanted is not None and last:
        raise click.UsageError("give a RUN_ID or --last, not both")
    if source is None:
        if wanted is None and not last:
            raise click.UsageError("give a RUN_ID (an abbreviation will do) or --last")
        return check_run_trace(_from_store(app, wanted))
    return _from_file(source, wanted, last, check_run_trace)


# --- the store ------------------------------------------------------------------------------------------------------


def _from_store(app: App, wanted: str | None) -> dict[str, Any]:
    if not app.home.exists():
        abort(f"no runs recorded yet: {app.home} does not exist (record one with `agenttrace run -- CMD`)")
    store = app.store()
    if wanted is None:
        run_id = store.last_run_id()
        if run_id is None:
            abort(f"no runs recorded yet in {app.home}")
    else:
        run_id = store.resolve(wanted.lower())
    records = store.spans(run_id)
    if not records:
        abort(f"run {run_id} has no spans in {app.home}")
    doc = _assemble(records, f"run {run_id}")
    summary = store.run(run_id)
    if summary is not None and summary.lost_spans and isinstance(doc.get("otel"), dict):
        doc["otel"]["lost_spans"] = summary.lost_spans  # the pipeline dropped some: say so, never look complete
    return doc


# --- a file ---------------------------------------------------------------------------------------------------------


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except IsADirectoryError:
        abort(f"cannot read {path}: is a directory")
    except UnicodeDecodeError:
        abort(f"cannot read {path}: not UTF-8 text")
    except OSError as exc:
        abort(f"cannot read {path}: {exc.strerror or exc}")


def _from_file(
    path: str, wanted: str | None, last: bool, check: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    from otel_agenttrace.exporter._records import TraceFormatError, read_otlp_json

    label = "stdin" if path == "-" else path
    text = _read_text(path)
    if not text.strip():
        abort(f"{label}: empty file")
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None  # OTLP JSON lines: several documents, one a line
    try:
        if isinstance(document, dict) and "schema_version" in document:
            doc = check(document)
            if not isinstance(doc.get("run_id"), str) or not isinstance(doc.get("steps"), list):
                abort(f"{label}: not a run trace: it needs a run_id and a list of steps")
            if wanted is not None and not str(doc.get("run_id", "")).startswith(wanted.lower()):
                abort(f"{label} holds run {doc.get('run_id')}, not {wanted}")
            return doc
        records = read_otlp_json(text)
    except TraceFormatError as exc:
        abort(f"{label}: {exc}")
    traces: dict[str, list[SpanRecord]] = {}
    for record in records:
        traces.setdefault(record.trace_id, []).append(record)
    if not traces:
        abort(f"{label}: no spans")
    trace_id = _pick_trace(label, traces, wanted, last)
    return check(_assemble(traces[trace_id], f"{label}: trace {trace_id}"))


def _pick_trace(label: str, traces: dict[str, list[SpanRecord]], wanted: str | None, last: bool) -> str:
    if wanted is not None:
        prefix = wanted.lower()
        matches = [t for t in traces if t.startswith(prefix)]
        if not matches:
            abort(f"no trace {wanted!r} in {label} ({_count(len(traces))}: {_ids(sorted(traces))})")
        if len(matches) > 1:
            abort(f"{wanted!r} is ambiguous in {label}: it starts {len(matches)} trace ids ({_ids(sorted(matches))})")
        return matches[0]
    if last or len(traces) == 1:
        return max(traces, key=lambda t: min(r.start_ns for r in traces[t]))
    abort(f"{label} holds {_count(len(traces))} ({_ids(sorted(traces))}); pick one with RUN_ID, or --last")


def _count(n: int) -> str:
    return f"{n} trace" + ("" if n == 1 else "s")


def _ids(ids: list[str], shown: int = 5) -> str:
    text = ", ".join(i[:12] for i in ids[:shown])
    return text + (f", … {len(ids) - shown} more" if len(ids) > shown else "")


# --- a backend ------------------------------------------------------------------------------------------------------


def _from_backend(kind: str, url: str, trace_id: str) -> list[SpanRecord]:
    from otel_agenttrace.cli import _http  # urllib and ssl: only for a backend
    from otel_agenttrace.exporter._records import TraceFormatError, read_jaeger, read_tempo

    trace_id = trace_id.lower()
    if not _HEX.match(trace_id):
        abort(f"bad trace id {trace_id!r}: expected up to 32 hex digits")
    try:
        base = _http.check_base_url(url)
        if kind == "tempo":
            body = _http.get_json(f"{base}/api/v2/traces/{trace_id}")
            reader = read_tempo
        else:
            reader = read_jaeger
            try:
                body = _http.get_json(f"{base}/api/v3/traces/{trace_id}")
            except _http.NotFoundError:
                # Jaeger before v2 has only the v1-style JSON API.
                body = _http.get_json(f"{base}/api/traces/{trace_id}")
    except _http.NotFoundError:
        abort(f"trace {trace_id} not found in {kind} at {url}")
    except _http.BackendError as exc:
        abort(str(exc))
    if not isinstance(body, dict):
        abort(f"{kind} at {url} answered {type(body).__name__}, not a JSON object")
    try:
        records = reader(body)
    except TraceFormatError as exc:
        abort(f"{kind} trace {trace_id}: {exc}")
    if not records:
        abort(f"trace {trace_id} not found in {kind} at {url} (no spans)")
    return records


def _assemble(records: list[SpanRecord], label: str) -> dict[str, Any]:
    from otel_agenttrace.exporter._assemble import assemble
    from otel_agenttrace.exporter._records import TraceFormatError

    try:
        return assemble(records)
    except TraceFormatError as exc:
        abort(f"{label}: {exc}")
