"""`agenttrace fixture add|list|check`: keep runs as regression fixtures and replay them (model mode).

Fixture files live under tests/agenttrace/SET/ by default ([tool.agenttrace] fixtures names other
directories); the pytest plugin collects the same files. Exit codes of `check`: 0 every fixture
reproduced (or skipped: no recording), 1 one diverged, 2 trouble (an unreadable fixture, no command).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from otel_agenttrace.cli import _format
from otel_agenttrace.cli._app import App, abort, home_option, pass_app

EXIT_TROUBLE = 2
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _shown(path: Path, root: Path) -> str:
    try:
        return _format.printable(path.resolve().relative_to(root).as_posix())
    except ValueError:
        return _format.printable(path)


@click.group("fixture")
def fixture_group() -> None:
    """Keep runs as regression fixtures and check them by replay.

    \b
      agenttrace fixture add --last --name refund-flow
      agenttrace fixture list
      agenttrace fixture check            # every fixture, model mode (no network)
      pytest                              # the same, through the pytest plugin
    """


@fixture_group.command("add")
@click.argument("run", required=False, metavar="RUN")
@click.option("--last", is_flag=True, help="The newest run in the store.")
@click.option("--set", "set_name", default="default", show_default=True, metavar="NAME", help="The fixture set.")
@click.option("--dir", "directory", metavar="DIR", help="The fixtures directory [default: tests/agenttrace].")
@click.option("--name", metavar="NAME", help="The fixture's name [default: <workflow>-<run id>].")
@home_option
@pass_app
def add_command(app: App, run: str | None, last: bool, set_name: str, directory: str | None, name: str | None) -> None:
    """Write RUN (with its recording) as a fixture file: DIR/SET/NAME.json.

    \b
    RUN is a run id (an abbreviation will do) or a file written by
    `agenttrace dump --with-recording`. The file is self-contained and
    reviewable: sorted keys, the command relative to the project root,
    the allow-listed environment, redacted.
    """
    from otel_agenttrace.cli.replay import _load
    from otel_agenttrace.replay import fixtures

    if run is not None and last:
        abort("give RUN or --last, not both", EXIT_TROUBLE)
    if run is None and not last:
        abort("give a RUN (a run id or a file) or --last", EXIT_TROUBLE)
    for label, value in (("--set", set_name), ("--name", name)):
        if value is not None and not _NAME.match(value):
            abort(f"{label} {value!r}: letters, digits, '.', '_' and '-' only", EXIT_TROUBLE)
    doc = _load(app, run, last)
    root = fixtures.project_root()
    base = Path(directory) if directory else fixtures.configured_dirs(root)[0]
    name = name or fixtures.default_name(doc)
    try:
        path = fixtures.write(doc, base / set_name, name, root)
    except OSError as exc:
        abort(f"cannot write the fixture: {exc.strerror or exc}", EXIT_TROUBLE)
    recording = doc.get("recording")
    if isinstance(recording, dict):
        what = f"{len(recording.get('exchanges') or [])} LLM exchanges, {len(recording.get('tools') or [])} tool calls"
    else:
        what = "no recording: checks will skip it"
    app.note(f"wrote {_shown(path, root)} (run {str(doc.get('run_id'))[:12]}, {what})")


@fixture_group.command("list")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
def list_command(paths: tuple[str, ...]) -> None:
    """List the fixtures under PATH (default: the configured fixture directories)."""
    from otel_agenttrace.replay import fixtures

    root = fixtures.project_root()
    rows: list[list[str]] = []
    for path in fixtures.find([Path(p) for p in paths] or [d for d in fixtures.configured_dirs(root) if d.is_dir()]):
        try:
            fixture = fixtures.load(path)
        except fixtures.FixtureError as exc:
            rows.append([_shown(path, root), "-", "-", "-", _format.clip(str(exc), 60)])
            continue
        run = fixture.run
        rows.append(
            [
                _shown(path, root),
                _format.printable(str(run.get("run_id"))[:12]),
                _format.clip(str(run.get("workflow") or "-"), 30),
                str(len(run.get("steps") or [])),
                "yes" if fixture.has_recording else "no",
            ]
        )
    if not rows:
        click.echo("no fixtures (write one with `agenttrace fixture add RUN`)", err=True)
        return
    for line in _format.table(["FIXTURE", "RUN", "WORKFLOW", "STEPS", "RECORDING"], rows, right=[3]):
        click.echo(line)


@fixture_group.command("check")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option(
    "--mode",
    type=click.Choice(["model", "live"]),
    default="model",
    show_default=True,
    help="model: LLM calls answered from the recording; live: sent for real (tool results still replayed).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@pass_app
def check_command(app: App, paths: tuple[str, ...], mode: str, as_json: bool) -> None:
    """Replay every fixture under PATH (default: the configured directories) and report each."""
    from otel_agenttrace.replay import fixtures

    root = fixtures.project_root()
    found = list(fixtures.find([Path(p) for p in paths] or [d for d in fixtures.configured_dirs(root) if d.is_dir()]))
    if not found:
        abort("no fixtures found (write one with `agenttrace fixture add RUN`)", EXIT_TROUBLE)
    results = []
    marks = {
        "passed": ("ok", "green"),
        "failed": ("FAIL", "red"),
        "skipped": ("skip", "yellow"),
        "error": ("ERROR", "red"),
    }
    for path in found:
        result = fixtures.check(path, mode, style=app.style)
        results.append(result)
        if not as_json:
            mark, colour = marks[result.status]
            head = app.style(mark.ljust(5), fg=colour, bold=True)
            app.out(f"{head} {_shown(path, root)}: {_format.clip(result.message, 200)}")
            for line in result.report:
                app.out(f"      {line}")
    if as_json:
        click.echo(json.dumps({"results": [r.to_dict() for r in results]}, ensure_ascii=False, default=str, indent=2))
    else:
        app.out(fixtures.summary(results))
    if any(r.status == fixtures.ERROR for r in results):
        sys.exit(EXIT_TROUBLE)
    sys.exit(1 if any(r.status == fixtures.FAILED for r in results) else 0)
