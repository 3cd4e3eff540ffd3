"""`agenttrace view`: write a run as one self-contained HTML file (and open it in the browser)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from otel_agenttrace.cli import _format
from otel_agenttrace.cli._app import App, abort, home_option, pass_app
from otel_agenttrace.cli._sources import Selection, load_run_trace, source_options


def default_path(run_id: str) -> Path:
    """agenttrace-run-<12 hex>.html in the current directory."""
    short = re.sub(r"[^0-9a-zA-Z]", "", run_id)[:12] or "trace"
    return Path(f"agenttrace-run-{short}.html")


@click.command("view")
@source_options
@click.option("-o", "--output", metavar="FILE", help="Write the page to FILE [default: ./agenttrace-run-<id>.html].")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default web browser.")
@click.option(
    "--compare",
    "other",
    metavar="OTHER",
    help="Another run, side by side, its steps aligned as replay compares runs: a run id in the store, or a file.",
)
@home_option
@pass_app
def view_command(
    app: App,
    ids: tuple[str, ...],
    source: str | None,
    last: bool,
    output: str | None,
    open_browser: bool,
    other: str | None,
) -> None:
    """Write a run as one self-contained HTML page: a timeline with filters, every LLM and tool call.

    \b
    The page needs no server and makes no network request: open it from disk, attach it to a bug
    report, or keep it as a CI artifact. The run's JSON is embedded (a download link in the header).
      agenttrace view --last --open
      agenttrace view 4bf92f35 -o run.html
      agenttrace view --from run.json
      agenttrace view 4bf92f35 --compare 0af76519     # two runs, aligned step by step
    """
    from otel_agenttrace import view

    doc = load_run_trace(app, Selection(source, ids, last))
    compare = _other_run(app, other) if other is not None else None
    path = Path(output) if output else default_path(str(doc.get("run_id") or ""))
    if output == "-":
        click.echo(view.render(doc, compare), nl=False)
        return
    try:
        size = _write_atomically(lambda d, p: view.write(d, p, compare), doc, path)
    except OSError as exc:
        abort(f"cannot write {path}: {exc.strerror or exc}")
    steps = len(doc.get("steps") or [])
    app.note(f"wrote {_format.printable(path)} ({steps} steps, {size / 1024:,.0f} KB)")
    if open_browser:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            app.note(f"no browser found: open {path.resolve().as_uri()} yourself")


def _other_run(app: App, other: str) -> dict[str, Any]:
    """--compare OTHER: a file if one is there by that name, else a run id (prefix) in the store."""
    if other != "-" and Path(other).is_file():
        return load_run_trace(app, Selection(other, (), True))
    return load_run_trace(app, Selection(None, (other,), False))


def _write_atomically(write: Callable[[dict[str, Any], str], int], doc: dict[str, Any], path: Path) -> int:
    """Write next to the target and rename: a browser reloading the file never sees half a page."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=".agenttrace-view-", suffix=".html", dir=directory)
    os.close(fd)
    try:
        size = write(doc, tmp)
        os.replace(tmp, path)  # mode 0600 from mkstemp: the page holds prompts and outputs
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return size

