"""`agenttrace dump`: the run-trace JSON of one run, from the store, a file or a trace backend."""

from __future__ import annotations

import json
import re
from typing import Any

import click

from otel_agenttrace.cli._app import App, abort, home_option, pass_app
from otel_agenttrace.cli._sources import Selection, load_run_trace, source_options
from otel_agenttrace.exporter._check import check_before_write
from otel_agenttrace.exporter._records import TraceFormatError


@click.command("dump")
@source_options
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout ('-': stdout).")
@click.option(
    "--with-recording", is_flag=True, help="Include the replay recording (LLM exchanges, tool results): see replay."
)
@home_option
@pass_app
def dump_command(
    app: App, ids: tuple[str, ...], source: str | None, last: bool, output: str | None, with_recording: bool
) -> None:
    """Print a run as run-trace JSON (schema_version 2).

    The format is published as semconv/run-trace.schema.json.

    \b
      agenttrace dump --last > run.json
      agenttrace dump --last --with-recording > run.json   # replayable: agenttrace replay run.json
      agenttrace dump 4bf92f35                       # any unambiguous prefix of a run id
      agenttrace dump --from spans.jsonl [TRACE_ID]  # the Collector's file exporter output
      agenttrace dump --from tempo http://tempo:3200 TRACE_ID
      agenttrace dump --from jaeger http://jaeger:16686 TRACE_ID
    """
    doc = load_run_trace(app, Selection(source, ids, last))
    if source is None:  # the store keeps the command line and the recording beside the run
        from otel_agenttrace.replay._document import add_recording

        add_recording(doc, app.store(), with_recording)
    elif not with_recording:
        doc.pop("recording", None)
    text = render_checked(doc)
    if output is None or output == "-":
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        abort(f"cannot write {output}: {exc.strerror or exc}")


def render_checked(doc: dict[str, Any]) -> str:
    """The document's text, once it validates against the run-trace schema. Every command that writes a
    run trace goes through here: a document that does not validate is our bug, reported as one line
    (exit 1) instead of being written."""
    try:
        check_before_write(doc)
    except TraceFormatError as exc:
        abort(f"{exc} (not written: this is a bug in otel-agenttrace, please report it)")
    return render(doc)


def render(doc: dict[str, Any]) -> str:
    """Run-level fields indented, each step on one line: readable, diff-friendly (a changed step is a
    changed line), and written by the C JSON encoder (indent= falls back to the pure-Python one, 5x slower)."""
    compact = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    lines = ["{"]
    items = list(doc.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if key == "steps" and isinstance(value, list) and value:
            lines.append('  "steps": [')
            lines.extend(f"    {compact(step)}{',' if j < len(value) - 1 else ''}" for j, step in enumerate(value))
            lines.append(f"  ]{comma}")
        else:
            lines.append(f"  {compact(key)}: {compact(value)}{comma}")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    # The encoder escapes C0 but writes DEL and C1 (\x9b is CSI) raw; they can only sit inside strings,
    # where \u escapes mean the same: a dump printed on a terminal cannot drive it.
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text) if _C1.search(text) else text


_C1 = re.compile(r"[\x7f-\x9f]")
