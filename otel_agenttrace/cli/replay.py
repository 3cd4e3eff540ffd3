"""`agenttrace replay RUN [-- CMD…]`: re-run a recorded run's program with LLM calls (model mode) and tool
calls answered from its recording, then report the first divergent step. Exit codes as diff(1): 0
reproduced, 1 diverged, 2 trouble, 3 recording exhausted, 4 the program failed where the original did not."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from otel_agenttrace.cli._app import App, abort, home_option, pass_app

EXIT_TROUBLE = 2


def _load(app: App, run: str | None, last: bool) -> dict[str, Any]:
    from otel_agenttrace.exporter._records import TraceFormatError
    from otel_agenttrace.exporter.store import StoreError

    try:
        if run is not None and Path(run).is_file():
            from otel_agenttrace.replay._api import load_document

            return load_document(run)
        if not app.home.exists():
            abort(f"no runs recorded yet: {app.home} does not exist", EXIT_TROUBLE)
        from otel_agenttrace.replay._document import from_store

        store = app.store()
        run_id = store.last_run_id() if last or run is None else store.resolve(run.lower())
        if run_id is None:
            abort(f"no runs recorded yet in {app.home}", EXIT_TROUBLE)
        return from_store(store, run_id, with_recording=True)
    except (StoreError, TraceFormatError) as exc:
        abort(exc, EXIT_TROUBLE)
    except json.JSONDecodeError as exc:
        abort(f"{run}: malformed JSON: {exc}", EXIT_TROUBLE)
    except OSError as exc:
        abort(f"cannot read {run}: {exc.strerror or exc}", EXIT_TROUBLE)


def _short(value: Any, width: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def _print(app: App, outcome: Any) -> None:
    original = str(outcome.original.get("run_id"))[:12]
    replayed = str(outcome.replay.get("run_id"))[:12] if outcome.replay else "-"
    tools = "tools replayed" if outcome.tools == "replay" else "tools live"
    app.out(f"replay of run {original} ({outcome.mode} mode, {tools}) → run {replayed}: {outcome.result}")
    comparison = outcome.comparison
    if comparison is not None:
        c = comparison.counts()
        app.out(f"  steps: {c['same']} identical, {c['changed']} changed, {c['added']} added, {c['removed']} removed")
        first = comparison.first_divergence
        if first is not None:
            index = first.step.get("index")
            app.out(app.style(f"  first divergent step #{index}: {first.label()} ({first.kind})", bold=True))
            for change in first.changes[:3]:
                app.out(f"    {change.field}")
                app.out(app.style(f"      - original: {_short(change.a)}", fg="red"))
                app.out(app.style(f"      + replay:   {_short(change.b)}", fg="green"))
    for divergence in outcome.divergences:
        if divergence.kind != "step":
            app.out(f"  {divergence.kind}: {divergence.message}")


@click.command("replay")
@click.argument("run", required=False, metavar="RUN")
@click.option("--last", is_flag=True, help="Replay the newest run in the store.")
@click.option(
    "--mode",
    type=click.Choice(["model", "live"]),
    default="model",
    show_default=True,
    help="model: LLM calls answered from the recording (no network, no cost); live: LLM calls sent for real.",
)
@click.option(
    "--tools",
    type=click.Choice(["replay", "live"]),
    default="replay",
    show_default=True,
    help="replay: matching tool calls return their recorded results (no side effects); live: tools run.",
)
@click.option("--strict", is_flag=True, help="A request that does not match the recording exactly stops the program.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the outcome as JSON (the program's stdout goes to stderr)."
)
@home_option
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[-- CMD [ARGS]...]")
@pass_app
def replay_command(
    app: App,
    run: str | None,
    last: bool,
    mode: str,
    tools: str,
    strict: bool,
    as_json: bool,
    command: tuple[str, ...],
) -> None:
    """Replay a recorded run and report the first divergent step.

    \b
    RUN is a run id (an abbreviation will do) or a file written by
    `agenttrace dump --with-recording`. The recorded program is re-run
    (its argv with this Python, in its directory, with its allow-listed
    environment) unless a command follows `--` (a new version of the agent).
    Exit codes: 0 reproduced, 1 diverged, 2 trouble (bad input, unknown
    run, no recording), 3 recording exhausted (more LLM calls than
    recorded), 4 the program failed where the original did not.
      agenttrace replay --last
      agenttrace replay 4bf92f35 --strict
      agenttrace replay run.json --mode live -- python my_agent.py
    """
    from otel_agenttrace.replay._runner import ReplayTrouble, run_replay

    if run is not None and last:
        abort("give RUN or --last, not both", EXIT_TROUBLE)
    if run is None and not last:
        abort("give a RUN (a run id or a file) or --last", EXIT_TROUBLE)
    doc = _load(app, run, last)
    app.close()  # the replayed program writes to the store
    try:
        outcome = run_replay(
            doc,
            os.path.abspath(app.home),
            list(command) or None,
            mode=mode,
            tools=tools,
            strict=strict,
            stdout=sys.stderr if as_json else None,
        )
    except ReplayTrouble as exc:
        abort(exc, EXIT_TROUBLE)
    if as_json:
        click.echo(json.dumps(outcome.to_dict(), ensure_ascii=False, default=str, indent=2))
    else:
        _print(app, outcome)
    sys.exit(outcome.exit_code)
