"""The `agenttrace` command line: record runs, list them, dump them as run-trace JSON, show a timeline.

One module per command; `App` (in click's context) holds what they share. Every error a user
can cause ends as one line, `agenttrace: error: …`, on stderr with a non-zero exit code (docs/cli.md).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from otel_agenttrace.cli._app import EXIT_INTERRUPTED, EXIT_USAGE, PROG, App, abort, home_option
from otel_agenttrace.cli.bisect import bisect_command
from otel_agenttrace.cli.bundle import bundle_command
from otel_agenttrace.cli.diff import diff_command
from otel_agenttrace.cli.dump import dump_command
from otel_agenttrace.cli.fixture import fixture_group
from otel_agenttrace.cli.list import list_command
from otel_agenttrace.cli.profile import profile_command
from otel_agenttrace.cli.replay import replay_command
from otel_agenttrace.cli.run import run_command
from otel_agenttrace.cli.show import show_command
from otel_agenttrace.cli.view import view_command
from otel_agenttrace.version import __version__

__all__ = ["AgentTraceGroup", "cli", "main"]


class AgentTraceGroup(click.Group):
    """A click group whose every failure is one line on stderr, including click's own usage errors."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        from otel_agenttrace.exporter._records import TraceFormatError
        from otel_agenttrace.exporter.store import StoreError

        try:
            rv = super().main(args, prog_name or PROG, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else PROG
            abort(f"{exc.format_message().rstrip('.')} (see '{command} --help')", EXIT_USAGE)
        except click.ClickException as exc:
            abort(exc.format_message(), exc.exit_code)
        except click.Abort:
            abort("interrupted", EXIT_INTERRUPTED)
        except (StoreError, TraceFormatError) as exc:
            abort(exc)
        except json.JSONDecodeError as exc:
            abort(f"malformed JSON: {exc}")
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            abort(f"{where}{exc.strerror or exc}")
        if not standalone_mode:
            return rv
        # Non-standalone click returns the code of an explicit ctx.exit(); a command's return value is not one.
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(PROG, cls=AgentTraceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name=PROG)
@home_option
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Record every run of an LLM agent as an OpenTelemetry trace; list, dump and show the runs.

    \b
      agenttrace run -- python my_agent.py     # record (no code change)
      agenttrace list                          # recent runs
      agenttrace show --last                   # the newest run as a timeline
      agenttrace dump --last > run.json        # its run-trace JSON
      agenttrace view --last --open            # a self-contained HTML timeline
      agenttrace replay --last                 # re-run it against its recording (no network)
      agenttrace profile --last                # where the time, tokens and cost went
      agenttrace bundle --last -o bundle.zip   # a debug bundle for a person or a coding agent
      agenttrace diff 4bf92f35 9a1c07e2        # what changed between two runs
      agenttrace fixture add --last            # keep a run as a regression test (pytest runs it)
    """
    app = ctx.ensure_object(App)
    ctx.call_on_close(app.close)


cli.add_command(run_command)
cli.add_command(list_command)
cli.add_command(dump_command)
cli.add_command(show_command)
cli.add_command(view_command)
cli.add_command(replay_command)
cli.add_command(profile_command)
cli.add_command(bundle_command)
cli.add_command(diff_command)
cli.add_command(bisect_command)
cli.add_command(fixture_group)


def main() -> None:
    """The console script `agenttrace`."""
    cli.main(prog_name=PROG)
