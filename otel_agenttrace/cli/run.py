"""`agenttrace run -- CMD…`: run a program under `opentelemetry-instrument` with the agenttrace exporter.

No code change in the program: the environment selects the exporter and the run store, and
opentelemetry-instrument loads every installed instrumentor (agenttrace's among them) before the
program starts. The child's exit code is ours; the runs it recorded are listed on stderr at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from otel_agenttrace import environment_variables as env
from otel_agenttrace._defaults import has_service_name, sdk_defaults, service_name
from otel_agenttrace.cli import _format
from otel_agenttrace.cli._app import EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, App, abort, home_option, note, pass_app

# What `run` sets when the user has not, besides `_defaults.sdk_defaults` (the agenttrace exporter; metrics and
# logs to OTLP only where an endpoint is configured): our distro and configurator (opentelemetry-distro, when
# installed too, would otherwise be picked at random and send everything to a gRPC Collector), and a short
# batch delay so a crash loses little.
DEFAULTS: Mapping[str, str] = {
    "OTEL_PYTHON_DISTRO": "agenttrace",
    "OTEL_PYTHON_CONFIGURATOR": "agenttrace",
    "OTEL_BSP_SCHEDULE_DELAY": "200",
}
INSTRUMENT_SCRIPT = "opentelemetry-instrument"
# When the script is not next to the interpreter (an unusual install): the same entry point, inline.
INSTRUMENT_INLINE = (
    "import sys; from opentelemetry.instrumentation.auto_instrumentation import run; "
    "sys.argv[0] = 'opentelemetry-instrument'; sys.exit(run())"
)
MAX_REPORTED = 10


def child_environment(
    base: Mapping[str, str], command: Sequence[str], home: str, workflow: str | None, origin: str | None = None
) -> dict[str, str]:
    """The environment of the instrumented child: `base` plus agenttrace's defaults where `base` has none."""
    child = dict(base)
    for name, value in {**DEFAULTS, **sdk_defaults(base)}.items():
        if not child.get(name, "").strip():
            child[name] = value
    if not has_service_name(child):
        child["OTEL_SERVICE_NAME"] = service_name(command)
    # The store remembers which runs this invocation's process tree wrote: the summary lists those only.
    child[env.AGENTTRACE_RUN_ORIGIN] = origin or uuid.uuid4().hex
    if workflow:
        child[env.AGENTTRACE_WORKFLOW] = workflow
    child[env.AGENTTRACE_HOME] = home
    return child


def launcher(executable: str) -> list[str]:
    """opentelemetry-instrument next to this interpreter, else its entry point run by this interpreter."""
    suffix = ".exe" if os.name == "nt" else ""
    script = Path(sys.executable).parent / (INSTRUMENT_SCRIPT + suffix)
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), executable]
    return [sys.executable, "-c", INSTRUMENT_INLINE, executable]


def _resolve(program: str, path: str | None) -> str:
    found = shutil.which(program, path=path)
    if found is not None:
        return found
    if os.sep in program and os.path.exists(program):
        abort(f"cannot execute {program}: permission denied", EXIT_NOT_EXECUTABLE)
    abort(f"command not found: {program}", EXIT_NOT_FOUND)


@contextmanager
def _forwarding_signals() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Entered before the child starts, so no signal slips in between: Ctrl-C reaches the child from the
    terminal (we only wait), TERM/HUP are passed on to the children started inside.

    SIGINT gets a do-nothing handler, not SIG_IGN: an ignored SIGINT is inherited across exec, and a Python
    child would then have no KeyboardInterrupt; a handler is reset to the default at exec.
    """
    children: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    def wait_for_child(_signum: int, _frame: Any) -> None:
        pass  # the terminal sent it to the child's process group too: the child decides

    previous: dict[int, Any] = {signal.SIGINT: signal.signal(signal.SIGINT, wait_for_child)}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, forward)
    try:
        yield children
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _report(app: App, origin: str, exporter: str) -> None:
    """The runs the child recorded, on stderr; never changes the exit code."""
    from otel_agenttrace.exporter.store import StoreError

    runs: list[Any] = []
    try:
        if app.home.exists():
            runs = app.store().list_runs(limit=100, origin=origin)
    except StoreError as exc:
        note(f"cannot list the recorded runs: {exc}")
        return
    if not runs:
        hint = (
            f"OTEL_TRACES_EXPORTER={exporter} does not include agenttrace"
            if "agenttrace" not in exporter.split(",")
            else "did the program call an instrumented SDK, with otel-agenttrace installed in its Python?"
        )
        note(f"no run recorded in {app.home} ({hint})")
        return
    for run in reversed(runs[:MAX_REPORTED]):  # oldest first, the newest last: next to the prompt
        short = run.run_id[:12]
        lost = f", lost {run.lost_spans} spans" if run.lost_spans else ""
        note(
            f"run {short} {run.workflow or '-'} {run.status}{lost}, {run.steps} steps,"
            f" {_format.duration(run.duration_ms)}, tokens in/out {_format.tokens(run.input_tokens, run.output_tokens)}"
            f" → agenttrace show {short}"
        )
    if len(runs) > MAX_REPORTED:
        note(f"… and {len(runs) - MAX_REPORTED} more runs (agenttrace list)")


@click.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--workflow", metavar="NAME", help="Name of the run (AGENTTRACE_WORKFLOW) [default: the script name].")
@home_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- CMD [ARGS]...")
@pass_app
def run_command(app: App, workflow: str | None, command: tuple[str, ...]) -> None:
    """Run CMD with agenttrace recording every run: no code change needed.

    \b
    CMD runs under opentelemetry-instrument with, unless set:
    OTEL_TRACES_EXPORTER=agenttrace, OTEL_METRICS_EXPORTER/OTEL_LOGS_EXPORTER=none
    (OTLP when an endpoint for them is set), OTEL_SERVICE_NAME=<script name>,
    OTEL_PYTHON_DISTRO/OTEL_PYTHON_CONFIGURATOR=agenttrace, OTEL_BSP_SCHEDULE_DELAY=200.
    Exits with CMD's exit code; lists the runs CMD recorded on stderr.
      agenttrace run -- python my_agent.py --topic whales
      agenttrace run --workflow nightly --home /tmp/runs -- python -m my_agent
    """
    home = os.path.abspath(app.home)
    origin = uuid.uuid4().hex
    environment = child_environment(os.environ, command, home, workflow, origin)
    executable = _resolve(command[0], environment.get("PATH"))
    argv = [*launcher(executable), *command[1:]]
    with _forwarding_signals() as children:
        try:
            child = subprocess.Popen(argv, env=environment)
        except OSError as exc:
            abort(f"cannot start {command[0]}: {exc.strerror or exc}", EXIT_NOT_EXECUTABLE)
        children.append(child)
        code = child.wait()
    if code < 0:  # killed by a signal: report it the way a shell does
        code = 128 - code
    _report(app, origin, environment["OTEL_TRACES_EXPORTER"])
    sys.exit(code)
