"""Where every command that reads a run gets it: the local store, a file, or a trace backend.

One syntax for all of them (docs/cli.md, "Sources"):

    CMD [RUN_ID | --last]                          the local store (an unambiguous prefix will do)
    CMD --from FILE [RUN_ID | --last]              OTLP JSON lines ('-': stdin) or a run-trace JSON file
    CMD --from tempo|jaeger URL TRACE_ID           a backend's query API
    CMD --from phoenix URL TRACE_ID [--project P]
        [--header 'Name: value']... [--connect-timeout S] [--read-timeout S] [--timeout S] [--max-size MIB]

How a command uses it (dump, show, view, profile, bundle, replay, ...):

    @click.command("view")
    @source_options                      # adds ids, --from, --last and the backend options
    @home_option
    @pass_app
    def view_command(app: App, ids: tuple[str, ...], source: str | None, last: bool) -> None:
        doc = load_run_trace(app, Selection(source, ids, last))   # checked run trace; failures exit in one line

A command that reads several runs (`diff A B`) takes the same decorator and calls
`load_run_trace` for each of `split_selection(Selection(source, ids, last), 2)`. `list` uses
`backend_options` with its own `--from`. The backend options are stored in click's context
(`expose_value=False`), so adding one never changes a command's signature.

Every source ends the same way: span records -> assemble -> check. A run-trace JSON file is
validated against the schema on read (a newer schema_version is refused) and used as it is.
Reading is bounded: HTTP by _http's timeouts, deadline and size limit; files by the same size
limit per document (JSON lines are parsed line by line, keeping only the wanted trace's spans).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click

from otel_agenttrace.cli._app import App, abort
from otel_agenttrace.exporter._records import SpanRecord

BACKENDS = ("tempo", "jaeger", "phoenix")
_HEX = re.compile(r"^[0-9a-f]{1,32}$")
_META = "agenttrace:backend-options"  # a key in click.Context.meta (not an attribute)
_CHUNK = 1024 * 1024
DEFAULT_MAX_MIB = 64.0


@dataclass(frozen=True)
class Selection:
    """The command line's choice of run: --from SOURCE (or the store), positional ids, --last."""

    source: str | None
    args: tuple[str, ...]
    last: bool


def split_selection(selection: Selection, count: int) -> list[Selection]:
    """`count` selections of one run each, for a command that reads several (`diff A B`)."""
    args = selection.args
    if selection.source in BACKENDS:
        if len(args) != count + 1:
            raise click.UsageError(f"--from {selection.source} takes URL and {count} trace ids")
        return [Selection(selection.source, (args[0], run), False) for run in args[1:]]
    if len(args) != count:
        raise click.UsageError(f"expected {count} run ids, got {len(args)}")
    return [Selection(selection.source, (run,), False) for run in args]


# --- options --------------------------------------------------------------------------------------------------------


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None and value != ():
            ctx.meta.setdefault(_META, {})[name] = value

    return callback


def backend_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--project`, `--header`, timeouts and `--max-size`, kept in click's context for `backend()`."""
    from otel_agenttrace.cli import _http

    options = [
        click.option(
            "--project",
            metavar="NAME",
            expose_value=False,
            callback=_store("project"),
            help="Phoenix project [default: default].",
        ),
        click.option(
            "--header",
            "headers",
            metavar="'NAME: VALUE'",
            multiple=True,
            expose_value=False,
            callback=_store("headers"),
            help="An HTTP header for the backend, e.g. 'Authorization: Bearer …' (repeatable; never logged). "
            "Also: $AGENTTRACE_BACKEND_HEADERS.",
        ),
        click.option(
            "--connect-timeout",
            type=click.FloatRange(min=0.001, max=3600),
            metavar="S",
            expose_value=False,
            callback=_store("connect_timeout"),
            help=f"Seconds to connect to the backend [default: {_http.CONNECT_TIMEOUT_S:g}].",
        ),
        click.option(
            "--read-timeout",
            type=click.FloatRange(min=0.001, max=3600),
            metavar="S",
            expose_value=False,
            callback=_store("read_timeout"),
            help=f"Longest silence in an answer, in seconds [default: {_http.READ_TIMEOUT_S:g}].",
        ),
        click.option(
            "--timeout",
            "deadline",
            type=click.FloatRange(min=0.001, max=86400),
            metavar="S",
            expose_value=False,
            callback=_store("deadline"),
            help=f"Seconds for every request of the command together [default: {_http.DEADLINE_S:g}].",
        ),
        click.option(
            "--max-size",
            type=click.FloatRange(min=0.001, max=1024 * 1024),
            metavar="MIB",
            expose_value=False,
            callback=_store("max_mib"),
            help=f"Refuse an answer or file document larger than this [default: {DEFAULT_MAX_MIB:g} MiB].",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def source_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """`[RUN_ID | --last] [--from FILE | --from tempo|jaeger|phoenix URL TRACE_ID]` and the backend options."""
    f = backend_options(f)
    f = click.argument("ids", nargs=-1, metavar="[RUN_ID | URL TRACE_ID]")(f)
    f = click.option(
        "--from",
        "source",
        metavar="FILE|tempo|jaeger|phoenix",
        help="Read the run from an OTLP JSON lines FILE ('-': stdin) or a run-trace JSON file, or from a "
        "backend: --from tempo|jaeger|phoenix URL TRACE_ID. Default: the local store.",
    )(f)
    f = click.option("--last", is_flag=True, help="The newest run (in the store, or in FILE).")(f)
    return f


def _settings() -> dict[str, Any]:
    ctx = click.get_current_context(silent=True)
    return dict(ctx.meta.get(_META, {})) if ctx is not None else {}


def max_bytes() -> int:
    return int(_settings().get("max_mib", DEFAULT_MAX_MIB) * 1024 * 1024)


def backend(kind: str, url: str) -> Any:
    """The `Backend` (see _backends) that `--from KIND URL` and the backend options name; one-line exit if bad."""
    from otel_agenttrace.cli import _http
    from otel_agenttrace.cli._backends import DEFAULT_PROJECT, Backend

    settings = _settings()
    try:
        base = _http.check_base_url(url)
        headers = dict(_http.headers_from_env())
        for text in settings.get("headers", ()):
            name, value = _http.parse_header(text)
            headers[name] = value
    except _http.BackendError as exc:
        abort(exc)
    except ValueError as exc:
        raise click.UsageError(f"--header: {exc}") from None
    client = _http.Client(
        headers=tuple(headers.items()),
        connect_timeout=settings.get("connect_timeout", _http.CONNECT_TIMEOUT_S),
        read_timeout=settings.get("read_timeout", _http.READ_TIMEOUT_S),
        deadline=settings.get("deadline", _http.DEADLINE_S),
        max_bytes=max_bytes(),
    )
    project = settings.get("project")
    if project is not None and kind != "phoenix":
        raise click.UsageError("--project applies to --from phoenix only")
    if project is not None and (not project or any(c in project for c in "/?#")):
        raise click.UsageError("--project: a Phoenix project name cannot be empty or hold '/', '?' or '#'")
    return Backend(kind, base, client, project or DEFAULT_PROJECT)


# --- loading one run ------------------------------------------------------------------------------------------------


def load_run_trace(app: App, selection: Selection) -> dict[str, Any]:
    """The checked run-trace document the selection names, with costs; every failure exits with one line."""
    from otel_agenttrace._cost import PriceFileError, annotate

    doc = _load_run_trace(app, selection)
    if "cost" not in doc:  # a saved run trace keeps the costs it was written with
        try:
            annotate(doc)
        except PriceFileError as exc:
            abort(f"AGENTTRACE_PRICES: {exc}")
    return doc


def _load_run_trace(app: App, selection: Selection) -> dict[str, Any]:
    from otel_agenttrace.exporter._schema import check_run_trace

    source, args, last = selection.source, selection.args, selection.last
    if source in BACKENDS:
        if last:
            raise click.UsageError(f"--last does not apply to --from {source}; give URL TRACE_ID")
        if len(args) != 2:
            raise click.UsageError(
                f"--from {source} takes URL TRACE_ID, e.g. --from {source} http://localhost:3200 4bf9…"
            )
        remote = backend(source, args[0])
        return check_run_trace(_assemble(_from_backend(remote, args[1]), f"{source} trace {args[1].lower()}"))
    if len(args) > 1:
        raise click.UsageError(f"expected at most one RUN_ID, got {len(args)}: {' '.join(args)}")
    wanted = args[0] if args else None
    if wanted is not None and last:
        raise click.UsageError("give a RUN_ID or --last, not both")
    if source is None:
        if wanted is None and not last:
            raise click.UsageError("give a RUN_ID (an abbreviation will do) or --last")
        return check_run_trace(_from_store(app, wanted))
    return _from_file(source, wanted, last)


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


def _open(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    try:
        if Path(path).is_dir():
            abort(f"cannot read {path}: is a directory")
        return open(path, "rb")
    except OSError as exc:
        abort(f"cannot read {path}: {exc.strerror or exc}")


class _Lines:
    """A binary stream as lines of at most `limit` bytes, refusing NUL bytes (JSON text has none)."""

    def __init__(self, stream: IO[bytes], label: str, limit: int) -> None:
        self.stream, self.label, self.limit = stream, label, limit
        self.buffer = b""
        self.eof = False

    def _fill(self) -> None:
        chunk = self.stream.read(_CHUNK)
        if not chunk:
            self.eof = True
            return
        if b"\0" in chunk:
            abort(f"{self.label}: binary data (NUL bytes), not UTF-8 JSON text")
        self.buffer += chunk

    def line(self) -> bytes | None:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line, self.buffer = self.buffer[: end + 1], self.buffer[end + 1 :]
                return line
            if len(self.buffer) > self.limit:
                abort(f"{self.label}: a JSON document over the {_mib(self.limit)} limit (see --max-size)")
            if self.eof:
                line, self.buffer = self.buffer, b""
                return line or None
            self._fill()

    def rest(self, size: int) -> bytes:
        """Everything left, `size` bytes having been read already: the whole is at most `limit` bytes."""
        parts = [self.buffer]
        self.buffer = b""
        while not self.eof:
            if size + sum(map(len, parts)) > self.limit:
                abort(f"{self.label}: a JSON document over the {_mib(self.limit)} limit (see --max-size)")
            self._fill()
            parts.append(self.buffer)
            self.buffer = b""
        data = b"".join(parts)
        if size + len(data) > self.limit:
            abort(f"{self.label}: a JSON document over the {_mib(self.limit)} limit (see --max-size)")
        return data


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB"


def _from_file(path: str, wanted: str | None, last: bool) -> dict[str, Any]:
    from otel_agenttrace._ids import distinct_prefixes
    from otel_agenttrace.exporter._records import (
        TraceFormatError,
        iter_json_documents,
        loads_bounded,
        read_otlp_documents,
    )

    label = "stdin" if path == "-" else path
    prefix = wanted.lower() if wanted is not None else None
    stream = _open(path)
    seen: set[str] = set()
    try:
        lines = _Lines(stream, label, max_bytes())
        first = lines.line()
        while first is not None and not first.strip():
            first = lines.line()
        if first is None:
            abort(f"{label}: empty file")
        try:
            try:
                head = loads_bounded(first, label)
            except TraceFormatError:
                head = None  # a document over several lines (a dump, pretty-printed OTLP): read it whole
            if head is None:
                text = _decode(first + lines.rest(len(first)), label)
                documents = list(iter_json_documents(text, label))
                if len(documents) == 1 and isinstance(documents[0], dict) and "schema_version" in documents[0]:
                    return _run_trace_document(documents[0], label, wanted)
                records = read_otlp_documents(documents, prefix, seen)
            elif isinstance(head, dict) and "schema_version" in head:
                if lines.rest(len(first)).strip():
                    abort(f"{label}: a run trace followed by more data")
                return _run_trace_document(head, label, wanted)
            else:
                # OTLP JSON lines, parsed as they come: only the wanted trace's spans are kept.
                records = read_otlp_documents([head], prefix, seen)
                number = 1
                while (line := lines.line()) is not None:
                    number += 1
                    if line.strip():
                        document = loads_bounded(line, f"{label} line {number}")
                        records.extend(read_otlp_documents([document], prefix, seen))
        except TraceFormatError as exc:
            abort(exc if str(exc).startswith(label) else f"{label}: {exc}")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    traces: dict[str, list[SpanRecord]] = {}
    for record in records:
        traces.setdefault(record.trace_id, []).append(record)
    if not traces and wanted is not None and seen:
        abort(f"no trace {wanted!r} in {label} ({_count(len(seen))}: {distinct_prefixes(sorted(seen))})")
    if not traces:
        abort(f"{label}: no spans")
    trace_id = _pick_trace(label, traces, wanted, last)
    return _check(_assemble(traces[trace_id], f"{label}: trace {trace_id}"), label)


def _decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        abort(f"{label}: not UTF-8 text (byte {exc.start})")


def _run_trace_document(doc: dict[str, Any], label: str, wanted: str | None) -> dict[str, Any]:
    doc = _check(doc, label)
    if wanted is not None and not str(doc["run_id"]).startswith(wanted.lower()):
        abort(f"{label} holds run {doc['run_id']}, not {wanted}")
    return doc


def _check(doc: dict[str, Any], label: str) -> dict[str, Any]:
    """A run-trace document this version can read and that matches the schema (one-line exit otherwise)."""
    from otel_agenttrace.exporter._records import TraceFormatError
    from otel_agenttrace.exporter._schema import check_run_trace, validate

    try:
        check_run_trace(doc)
    except TraceFormatError as exc:
        abort(f"{label}: {exc}")
    try:
        try:
            validate(doc)
        except RuntimeError:  # jsonschema not installed: check what every command relies on
            _check_shape(doc)
    except TraceFormatError as exc:
        abort(f"{label}: not a run trace ({exc})")
    return doc


_STEP_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "parent_id": (str, type(None)),
    "type": (str,),
    "name": (str,),
    "status": (str,),
    "usage": (dict, type(None)),
    "error": (dict, type(None)),
    "attributes": (dict, type(None)),
}


def _check_shape(doc: dict[str, Any]) -> None:
    from otel_agenttrace.exporter._records import TraceFormatError

    if not isinstance(doc.get("run_id"), str) or not isinstance(doc.get("steps"), list):
        raise TraceFormatError("not a run trace: it needs a run_id and a list of steps")
    top: dict[str, tuple[type, ...]] = {
        "usage": (dict, type(None)),
        "models": (list, type(None)),
        "service": (dict, type(None)),
    }
    for key, kinds in top.items():
        if not isinstance(doc.get(key), kinds):
            raise TraceFormatError(f"not a run trace: {key} has the wrong type")
    for i, step in enumerate(doc["steps"]):
        if not isinstance(step, dict):
            raise TraceFormatError(f"not a run trace: steps/{i} is not an object")
        for key, kinds in _STEP_FIELDS.items():
            if key in step and not isinstance(step[key], kinds):
                raise TraceFormatError(f"not a run trace: steps/{i}/{key} has the wrong type")


def _pick_trace(label: str, traces: dict[str, list[SpanRecord]], wanted: str | None, last: bool) -> str:
    from otel_agenttrace._ids import distinct_prefixes

    if wanted is not None:
        prefix = wanted.lower()
        matches = [t for t in traces if t.startswith(prefix)]
        if not matches:
            abort(f"no trace {wanted!r} in {label} ({_count(len(traces))}: {distinct_prefixes(sorted(traces))})")
        if len(matches) > 1:
            shown = distinct_prefixes(sorted(matches))
            abort(f"{wanted!r} is ambiguous in {label}: it starts {len(matches)} trace ids ({shown})")
        return matches[0]
    if last or len(traces) == 1:
        return max(traces, key=lambda t: min(r.start_ns for r in traces[t]))
    shown = distinct_prefixes(sorted(traces))
    abort(f"{label} holds {_count(len(traces))} ({shown}); pick one with RUN_ID, or --last")


def _count(n: int) -> str:
    return f"{n} trace" + ("" if n == 1 else "s")


# --- a backend ------------------------------------------------------------------------------------------------------


def _from_backend(remote: Any, trace_id: str) -> list[SpanRecord]:
    from otel_agenttrace.cli import _http
    from otel_agenttrace.cli._backends import fetch_trace
    from otel_agenttrace.exporter._records import TraceFormatError

    trace_id = trace_id.lower()
    if not _HEX.match(trace_id):
        abort(f"bad trace id {trace_id[:40]!r}: expected up to 32 hex digits")
    try:
        records = fetch_trace(remote, trace_id)
    except _http.BackendError as exc:
        abort(exc)
    except TraceFormatError as exc:
        abort(f"{remote.kind} trace {trace_id}: {exc}")
    if not records:
        abort(f"trace {trace_id} not found in {remote.describe()} (no spans)")
    return records


def _assemble(records: list[SpanRecord], label: str) -> dict[str, Any]:
    from otel_agenttrace.exporter._assemble import assemble
    from otel_agenttrace.exporter._records import TraceFormatError

    try:
        return assemble(records)
    except TraceFormatError as exc:
        abort(f"{label}: {exc}")
